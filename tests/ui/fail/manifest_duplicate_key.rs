//! Duplicate keys, every one reported.
janus_runtime::janus!("../manifests/duplicate_key.json");

fn main() {}
