//! Generation from the seed manifest, checked at the text level.

use janus_codegen::{ManifestSource, Options, generate};

const SEED: &str = include_str!("../../testdata/manifests/user-management.json");

#[test]
fn seed_manifest_generates() {
    let g = generate(
        "user-management.json",
        SEED,
        &Options::default(),
        &ManifestSource::Literal(SEED.to_owned()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(g.warnings.is_empty(), "{:?}", g.warnings);
    let text = g.to_formatted_string("user-management.json");
    if std::env::var_os("JANUS_PRINT").is_some() {
        println!("{text}");
    }
    assert!(text.contains("pub struct CreateUserArgs"));
}
