//! Channel and request names outside [A-Za-z0-9_-].
janus_runtime::janus!("../manifests/bad_names.json");

fn main() {}
