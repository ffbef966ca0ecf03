//! Unknown keys, with the expected ones and a suggestion.
janus_runtime::janus!("../manifests/unknown_keys.json");

fn main() {}
