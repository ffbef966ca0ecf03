//! End to end over real Unix datagram sockets: the generated server (from the
//! seed manifest's snapshot) answering the generated client and hand-crafted
//! untyped requests.

use janus_runtime::{CallError, Client, Server, ServerHandle};
use janus_tests::fixtures::Users;
use janus_tests::user_management::models::{Age, Status, UserProfile};
use janus_tests::user_management::user_service::{
    CreateUserArgs, CreateUserError, Email, Role, UserServiceClient, UserServiceServer, Username,
};
use serde_json::{Value, json};

struct Fixture {
    _dir: tempfile::TempDir,
    server: ServerHandle,
    client: Client,
}

async fn start() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("janus-e2e")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let path = dir.path().join("users.sock");
    let server = Server::bind(&path)
        .expect("bind")
        .channel(UserServiceServer::new(Users::default()))
        .spawn();
    let client = Client::connect(&path).await.expect("connect");
    Fixture {
        _dir: dir,
        server,
        client,
    }
}

fn args(username: &str) -> CreateUserArgs {
    CreateUserArgs {
        username: Username::new(username).expect("valid username"),
        email: Email::new("john@example.com").expect("valid email"),
        role: Role::Admin,
        profile: Some(UserProfile {
            first_name: None,
            last_name: None,
            age: Some(Age::new(42).expect("valid age")),
            preferences: None,
        }),
    }
}

#[tokio::test]
async fn generated_client_and_server_round_trip() {
    let f = start().await;
    let reply = f
        .client
        .create_user(args("john_doe"))
        .await
        .expect("created");
    assert_eq!(reply.user_id, "u-john_doe");
    assert_eq!(reply.status, Status::Created);
    assert_eq!(reply.message, "john@example.com (admin, age 42)");
    f.server.shutdown().await;
}

#[tokio::test]
async fn default_role_is_applied_when_absent() {
    let f = start().await;
    let reply = f
        .client
        .call(
            "user-service",
            "create-user",
            json!({"username": "jane", "email": "jane@example.com"}),
        )
        .await
        .expect("created");
    assert_eq!(reply["message"], "jane@example.com (user, age unknown)");
    f.server.shutdown().await;
}

#[tokio::test]
async fn declared_application_error_arrives_typed() {
    let f = start().await;
    f.client.create_user(args("dup_user")).await.expect("first");
    match f.client.create_user(args("dup_user")).await {
        Err(CallError::Application { error, object }) => {
            assert_eq!(error, CreateUserError::UsernameExists);
            assert_eq!(object.code, -32000);
            assert_eq!(object.error_type(), Some("USERNAME_EXISTS"));
            assert_eq!(object.details(), Some("`dup_user` is taken"));
        }
        other => panic!("expected USERNAME_EXISTS, got {other:?}"),
    }
    f.server.shutdown().await;
}

/// Each hand-crafted request breaks one rule; the server answers -32602 naming
/// the field and the constraint, without running the handler.
#[tokio::test]
async fn every_constraint_violation_is_a_32602_naming_field_and_constraint() {
    let f = start().await;
    let ok = json!({"username": "john_doe", "email": "john@example.com"});
    let with = |key: &str, value: Value| {
        let mut v = ok.clone();
        v[key] = value;
        v
    };
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            with("username", json!("jo")),
            "username",
            "minLength",
            "`jo` is shorter than minLength 3 (2 characters)",
        ),
        (
            with("username", json!("x".repeat(51))),
            "username",
            "maxLength",
            "is longer than maxLength 50 (51 characters)",
        ),
        (
            with("username", json!("john doe")),
            "username",
            "pattern",
            "`john doe` does not match pattern `^[a-zA-Z0-9_]{3,50}$`",
        ),
        (
            with("username", json!(5)),
            "username",
            "type",
            "expected a string, found number 5",
        ),
        (
            with("email", json!("not-an-email")),
            "email",
            "pattern",
            "does not match pattern",
        ),
        (
            with("role", json!("root")),
            "role",
            "enum",
            "`root` is not one of `admin`, `moderator`, `user`, `guest`",
        ),
        (
            json!({"email": "john@example.com"}),
            "username",
            "required",
            "argument `username` is required but missing",
        ),
        (
            with("usrname", json!("x")),
            "usrname",
            "additionalProperties",
            "unknown member `usrname` (did you mean `username`?); expected one of",
        ),
        (
            with("profile", json!({"age": 12})),
            "profile.age",
            "minimum",
            "12 is less than minimum 13",
        ),
        (
            with("profile", json!({"age": 121})),
            "profile.age",
            "maximum",
            "121 is greater than maximum 120",
        ),
        (
            with("profile", json!({"age": 30.5})),
            "profile.age",
            "type",
            "expected an integer, found number 30.5",
        ),
        (
            with("profile", json!({"firstName": "y".repeat(101)})),
            "profile.firstName",
            "maxLength",
            "is longer than maxLength 100",
        ),
        (
            with("profile", json!({"nickname": "jd"})),
            "profile.nickname",
            "additionalProperties",
            "unknown member `nickname`",
        ),
        (
            with("profile", json!("me")),
            "profile",
            "type",
            "expected an object, found string `me`",
        ),
    ];
    for (args, field, keyword, details) in cases {
        let err = f
            .client
            .call("user-service", "create-user", args.clone())
            .await
            .expect_err(&format!("{args} must be refused"));
        let obj = err
            .error_object()
            .unwrap_or_else(|| panic!("{args}: {err}"));
        assert_eq!(obj.code, -32602, "{args}: {obj}");
        assert_eq!(obj.field(), Some(field), "{args}: {obj}");
        assert!(
            obj.constraints().and_then(|c| c.get(keyword)).is_some(),
            "{args}: constraints {:?} lack {keyword}",
            obj.constraints()
        );
        assert!(
            obj.details().is_some_and(|d| d.contains(details)),
            "{args}: details {:?} lack {details:?}",
            obj.details()
        );
    }
    // Nothing above reached the handler: the name is still free.
    f.client
        .create_user(args("john_doe"))
        .await
        .expect("handler never ran");
    f.server.shutdown().await;
}

#[tokio::test]
async fn validate_builtin_uses_the_generated_checks() {
    let f = start().await;
    let verdict = f
        .client
        .call(
            "user-service",
            "validate",
            json!({"channelId": "user-service", "request": "create-user", "args": {"username": "jo", "email": "a@b.co"}}),
        )
        .await
        .expect("validate answers");
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["errors"][0]["data"]["field"], "username");
    let verdict = f
        .client
        .call(
            "user-service",
            "validate",
            json!({"channelId": "user-service", "request": "create-user", "args": {"username": "john", "email": "a@b.co"}}),
        )
        .await
        .expect("validate answers");
    assert_eq!(verdict["valid"], true, "{verdict}");
    f.server.shutdown().await;
}

#[tokio::test]
async fn manifest_builtin_returns_the_manifest() {
    let f = start().await;
    let served = f
        .client
        .call("user-service", "manifest", json!({}))
        .await
        .expect("manifest answers");
    let expected: Value =
        serde_json::from_str(janus_tests::user_management::MANIFEST).expect("JSON");
    assert_eq!(served, expected);
    let file: Value =
        serde_json::from_str(include_str!("../manifests/user-management.json")).expect("JSON");
    assert_eq!(served, file);
    f.server.shutdown().await;
}

/// The same generated client and server, unchanged, over the stream
/// transport: typed results, declared errors, the server's checks.
#[tokio::test]
async fn generated_client_and_server_over_the_stream_transport() {
    let dir = tempfile::Builder::new()
        .prefix("janus-e2e")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let path = dir.path().join("users-stream.sock");
    let server = Server::builder()
        .stream(&path)
        .build()
        .expect("bind")
        .channel(UserServiceServer::new(Users::default()))
        .spawn();
    let client = Client::connect_stream(&path).await.expect("connect");
    let reply = client.create_user(args("john_doe")).await.expect("created");
    assert_eq!(reply.user_id, "u-john_doe");
    assert_eq!(reply.message, "john@example.com (admin, age 42)");
    match client.create_user(args("john_doe")).await {
        Err(CallError::Application { error, .. }) => {
            assert_eq!(error, CreateUserError::UsernameExists)
        }
        other => panic!("expected USERNAME_EXISTS, got {other:?}"),
    }
    let bad = client
        .call(
            "user-service",
            "create-user",
            json!({"username": "x", "email": "john@example.com"}),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.error_object().map(|e| e.code), Some(-32602), "{bad}");
    assert!(client.reply_path().is_none());
    server.shutdown().await;
}
