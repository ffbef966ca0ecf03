//! A literal checked while compiling: a literal checked for `Username` cannot become an `Email`.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = { let email: api::user_service::Email = api::user_service::username!("john_doe"); email };
}
