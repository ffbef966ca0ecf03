//! Snapshot tests: every manifest under `tests/manifests/` has a checked-in
//! generated `.rs` under `tests/snapshots/`. The test regenerates each one and
//! compares byte for byte; `JANUS_BLESS=1 cargo test -p janus-tests --test
//! snapshots` rewrites them (review the diff). The `janus-tests` library
//! compiles them all, once, as modules under `#![deny(warnings)]`.

use std::path::{Path, PathBuf};

use janus_codegen::{ManifestSource, Options, generate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("manifests"))
        .expect("tests/manifests exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn render(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("manifest readable");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("UTF-8 file name");
    let generated = generate(
        name,
        &text,
        &Options::default(),
        &ManifestSource::Literal(text.clone()),
    )
    .unwrap_or_else(|e| panic!("{name} must generate:\n{e}"));
    generated.to_formatted_string(name)
}

fn snapshot_path(manifest: &Path) -> PathBuf {
    let stem = manifest.file_stem().and_then(|s| s.to_str()).expect("stem");
    root()
        .join("snapshots")
        .join(format!("{}.rs", stem.replace('-', "_")))
}

#[test]
fn snapshots_match_the_generator() {
    let bless = std::env::var_os("JANUS_BLESS").is_some();
    let mut stale = Vec::new();
    for manifest in manifests() {
        let fresh = render(&manifest);
        let snap = snapshot_path(&manifest);
        let old = std::fs::read_to_string(&snap).unwrap_or_default();
        if old != fresh {
            if bless {
                std::fs::write(&snap, &fresh).expect("snapshot writable");
            } else {
                stale.push(snap.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots differ from the generator (rerun with JANUS_BLESS=1 and review the diff): {stale:?}"
    );
}

#[test]
fn generation_is_deterministic() {
    for manifest in manifests() {
        assert_eq!(
            render(&manifest),
            render(&manifest),
            "{}",
            manifest.display()
        );
    }
}

/// Every snapshot is compiled once, as a module of the `janus-tests` library
/// (under `#![deny(warnings, missing_docs)]`), rather than as one crate per
/// snapshot: this test makes sure none is left out.
#[test]
fn the_library_compiles_every_snapshot() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs readable");
    let missing: Vec<String> = manifests()
        .iter()
        .map(|m| {
            let file = snapshot_path(m);
            let name = file.file_name().and_then(|n| n.to_str()).expect("name");
            format!("include!(\"../snapshots/{name}\");")
        })
        .filter(|line| !lib.contains(line.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/src/lib.rs must include every snapshot as a module; missing: {missing:?}"
    );
}
