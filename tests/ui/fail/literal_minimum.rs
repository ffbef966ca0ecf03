//! A literal checked while compiling: an age below minimum 13.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = api::models::age!(12);
}
