//! Wire names that become the same Rust identifier.
janus_runtime::janus!("../manifests/name_collision.json");

fn main() {}
