//! The manifest reader of janus-codegen: JSON with positions, the manifest
//! schema, validation and name resolution (everything `janus check`,
//! `janus!` and `build.rs` run before emitting code).
//!
//! Properties: no panic and no unbounded work on any text; a manifest is
//! either accepted or refused with at least one error, and `check` agrees
//! with `parse`; every diagnostic renders.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = janus_codegen::parse("fuzz.json", text);
    let diagnostics = janus_codegen::check("fuzz.json", text);
    match parsed {
        Ok(checked) => {
            assert!(
                !diagnostics.iter().any(|d| d.is_error()),
                "parse accepted what check refuses"
            );
            drop(checked);
        }
        Err(errors) => {
            assert!(
                diagnostics.iter().any(|d| d.is_error()),
                "parse refused what check accepts"
            );
            let _ = errors.to_string();
        }
    }
    for diagnostic in &diagnostics {
        let _ = diagnostic.to_string();
    }
});
