//! A literal checked while compiling: a username that breaks the pattern.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = api::user_service::username!("john doe");
}
