//! minLength > maxLength and minimum > maximum.
janus_runtime::janus!("../manifests/min_greater_than_max.json");

fn main() {}
