//! A required argument (`email`) left out: an ordinary rustc error.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}
use api::user_service::{self, CreateUserArgs, Role};

fn main() {
    let _ = CreateUserArgs {
        username: user_service::username!("john_doe"),
        role: Role::User,
        profile: None,
    };
}
