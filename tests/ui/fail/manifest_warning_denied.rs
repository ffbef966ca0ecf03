//! A manifest warning (inline properties disagreeing with the model) shows as
//! a compiler warning at the manifest path; here warnings are denied.
#![deny(warnings)]

mod api {
    janus_runtime::janus!("../manifests/warning.json");
}

fn main() {
    let _ = api::MANIFEST;
}
