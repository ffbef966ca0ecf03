//! A manifest that does not exist.
janus_runtime::janus!("no-such-manifest.json");

fn main() {}
