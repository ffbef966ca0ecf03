//! Models that extend each other.
janus_runtime::janus!("../manifests/extends_cycle.json");

fn main() {}
