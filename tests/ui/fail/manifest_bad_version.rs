//! `version` is not a semantic version.
janus_runtime::janus!("../manifests/bad_version.json");

fn main() {}
