//! A literal checked while compiling: a username longer than maxLength 50.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

fn main() {
    let _value = api::user_service::username!("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijx");
}
