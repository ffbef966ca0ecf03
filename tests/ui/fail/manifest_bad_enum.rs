//! Enum values that break their own constraints or type.
janus_runtime::janus!("../manifests/bad_enum.json");

fn main() {}
