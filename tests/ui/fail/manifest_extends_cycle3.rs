//! Three models that extend each other in a ring: one error for the cycle,
//! not one per model on it.
janus_runtime::janus!("../manifests/extends_cycle3.json");

fn main() {}
