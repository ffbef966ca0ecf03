//! An unknown `janus!` option names the ones that exist.
janus_runtime::janus!("../manifests/user-management.json", clients = false);

fn main() {}
