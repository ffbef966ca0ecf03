//! A pattern the regex crate cannot compile (look-around).
janus_runtime::janus!("../manifests/bad_pattern.json");

fn main() {}
