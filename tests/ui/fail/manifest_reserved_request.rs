//! Request names reserved for built-in requests.
janus_runtime::janus!("../manifests/reserved_request.json");

fn main() {}
