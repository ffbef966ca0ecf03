//! Invalid JSON: a missing comma.
janus_runtime::janus!("../manifests/syntax.json");

fn main() {}
