//! Defaults that break their own constraints or type.
janus_runtime::janus!("../manifests/bad_default.json");

fn main() {}
