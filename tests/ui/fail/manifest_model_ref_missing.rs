//! A `modelRef` to a model that does not exist.
janus_runtime::janus!("../manifests/model_ref_missing.json");

fn main() {}
