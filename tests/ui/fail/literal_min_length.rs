//! A literal checked while compiling: a username shorter than minLength 3.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = api::user_service::username!("jo");
}
