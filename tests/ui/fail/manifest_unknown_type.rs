//! An unknown `type`.
janus_runtime::janus!("../manifests/unknown_type.json");

fn main() {}
