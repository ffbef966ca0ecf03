//! A literal checked while compiling: a string where an integer literal is expected.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = api::models::age!("30");
}
