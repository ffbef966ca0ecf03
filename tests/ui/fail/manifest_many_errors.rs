//! Every problem is reported at once.
janus_runtime::janus!("../manifests/many_errors.json");

fn main() {}
