//! Request names that `janus_runtime::Client` methods would hide.
janus_runtime::janus!("../manifests/client_methods.json");

fn main() {}
