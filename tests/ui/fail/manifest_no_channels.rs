//! A manifest without channels.
janus_runtime::janus!("../manifests/no_channels.json");

fn main() {}
