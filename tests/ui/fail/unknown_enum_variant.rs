//! `root` is not one of the manifest's roles: an ordinary rustc error.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}
use api::user_service::Role;

fn main() {
    let _ = Role::Root;
}
