//! trybuild UI tests: every `ui/fail` case must fail to compile with its
//! reviewed `.stderr`. Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p janus-tests --test ui` and review the
//! diff.
//!
//! The `ui/pass` programs must compile under `#![deny(warnings)]` and run;
//! they are test targets of this package (`ui_pass_*` in `Cargo.toml`), built
//! with the workspace's own dependencies. Were they given to trybuild, it
//! would build every dependency in full a second time instead of only
//! type-checking them for the failing cases.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("ui/fail/*.rs");
}

/// Every `ui/pass` program is a test target of this package, so none is
/// silently skipped.
#[test]
fn every_pass_case_is_a_test_target() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    let mut cases: Vec<String> = std::fs::read_dir(dir.join("ui/pass"))
        .expect("ui/pass")
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.into_string().ok())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "ui/pass holds no case");
    for case in &cases {
        assert!(
            cargo_toml.contains(&format!("path = \"ui/pass/{case}\"")),
            "ui/pass/{case} is not a [[test]] target in tests/Cargo.toml"
        );
    }
}
