//! A plain string where the manifest wants a validated `Username`.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}
use api::user_service::{self, CreateUserArgs, Role};

fn main() {
    let _ = CreateUserArgs {
        username: String::from("john_doe"),
        email: user_service::email!("john@example.com"),
        role: Role::User,
        profile: None,
    };
}
