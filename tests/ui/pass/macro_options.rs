//! `janus!` options: client only, server only, extra derives.
#![deny(warnings)]

mod client_only {
    janus_runtime::janus!("../manifests/user-management.json", server = false);
}

mod server_only {
    janus_runtime::janus!(
        "../manifests/user-management.json",
        client = false,
        derive = [Eq, ::std::cmp::PartialEq]
    );
}

fn main() {
    // Client side: the trait exists and is implemented for the runtime's client.
    fn assert_client<C: client_only::user_service::UserServiceClient>() {}
    assert_client::<janus_runtime::Client>();
    // Server side: the extra derive reached the structs (derives already
    // present, like `PartialEq`, are not repeated).
    fn assert_eq_impl<T: Eq>() {}
    assert_eq_impl::<server_only::models::UserProfile>();
    assert_eq_impl::<server_only::user_service::CreateUserArgs>();
    let _ = server_only::user_service::CHANNEL_ID;
}
