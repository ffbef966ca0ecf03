//! The generated constructors and setters: arguments built with `new` and
//! `with_…` equal their struct literal, and round-trip over a real socket to
//! the generated server.

use janus_runtime::{Client, Server};
use janus_tests::fixtures::Users;
use janus_tests::user_management::models::{Age, FirstName, UserProfile};
use janus_tests::user_management::user_service::{
    CreateUserArgs, Email, Role, UserServiceClient, UserServiceServer, Username,
};
use serde_json::json;

fn username(s: &str) -> Username {
    Username::new(s).expect("valid username")
}

fn email(s: &str) -> Email {
    Email::new(s).expect("valid email")
}

#[test]
fn new_takes_the_mandatory_fields_and_starts_the_others_at_their_default() {
    let built = CreateUserArgs::new(email("jane@example.com"), username("jane"));
    let literal = CreateUserArgs {
        email: email("jane@example.com"),
        username: username("jane"),
        role: Role::User,
        profile: None,
    };
    assert_eq!(built, literal);
    assert_eq!(
        serde_json::to_value(&built).expect("serializes"),
        json!({"email": "jane@example.com", "username": "jane", "role": "user"})
    );
    assert_eq!(UserProfile::new(), UserProfile::default());
}

#[test]
fn setters_set_their_field_and_chain() {
    let profile = UserProfile::new()
        .with_age(Age::new(42).expect("valid age"))
        .with_first_name(FirstName::new("Jane").expect("valid first name"));
    let built = CreateUserArgs::new(email("jane@example.com"), username("jane"))
        .with_role(Role::Admin)
        .with_profile(profile.clone());
    assert_eq!(built.role, Role::Admin);
    assert_eq!(built.profile, Some(profile));
    assert_eq!(
        serde_json::to_value(&built).expect("serializes"),
        json!({
            "email": "jane@example.com",
            "username": "jane",
            "role": "admin",
            "profile": {"age": 42, "firstName": "Jane"},
        })
    );
}

#[tokio::test]
async fn built_arguments_round_trip_over_a_socket() {
    let dir = tempfile::Builder::new()
        .prefix("janus-builders")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let path = dir.path().join("users.sock");
    let server = Server::bind(&path)
        .expect("bind")
        .channel(UserServiceServer::new(Users::default()))
        .spawn();
    let client = Client::connect(&path).await.expect("connect");

    let args = CreateUserArgs::new(email("jane@example.com"), username("jane"))
        .with_role(Role::Admin)
        .with_profile(UserProfile::new().with_age(Age::new(42).expect("valid age")));
    let reply = client.create_user(args).await.expect("created");
    assert_eq!(reply.user_id, "u-jane");
    assert_eq!(reply.message, "jane@example.com (admin, age 42)");

    let plain = CreateUserArgs::new(email("joe@example.com"), username("joe"));
    let reply = client.create_user(plain).await.expect("created");
    assert_eq!(reply.message, "joe@example.com (user, age unknown)");
    server.shutdown().await;
}
