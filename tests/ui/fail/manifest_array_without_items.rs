//! An array without `items`.
janus_runtime::janus!("../manifests/array_without_items.json");

fn main() {}
