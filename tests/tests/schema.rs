//! The one checker as generated servers and clients use it, over real Unix
//! datagram sockets: every violation in one `-32602`, integral floats as
//! integers, non-finite numbers refused, the depth limit on both sides, and
//! responses checked by the client with the member's path.

use janus_runtime::constraints::schema::{MAX_DEPTH, MAX_DEPTH_KEYWORD};
use janus_runtime::{
    BoxFuture, CallError, Client, ErrorObject, HandlerError, RequestContext, Server, ServerHandle,
    Service,
};
use janus_tests::all_types::catalog::Price;
use janus_tests::fixtures::Users;
use janus_tests::inheritance::{directory, models as dir_models};
use janus_tests::user_management::user_service::{
    self, CreateUserArgs, Email, Role, UserServiceClient, UserServiceServer, Username,
};
use serde_json::{Value, json};

struct Fixture {
    _dir: tempfile::TempDir,
    _server: ServerHandle,
    client: Client,
}

async fn serve(service: impl Service) -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("janus-schema")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let path = dir.path().join("s.sock");
    let server = Server::bind(&path).expect("bind").channel(service).spawn();
    let client = Client::connect(&path).await.expect("connect");
    Fixture {
        _dir: dir,
        _server: server,
        client,
    }
}

async fn create_user(f: &Fixture, args: Value) -> Result<Value, CallError> {
    f.client
        .request(user_service::CREATE_USER)
        .channel(user_service::CHANNEL_ID)
        .args(args)
        .send()
        .await
}

fn remote(e: CallError) -> ErrorObject {
    match e {
        CallError::Remote(object) => object,
        other => panic!("expected an error response, got {other:?}"),
    }
}

#[tokio::test]
async fn one_invalid_params_error_carries_every_violation_in_manifest_order() {
    let f = serve(UserServiceServer::new(Users::default())).await;
    let e = remote(
        create_user(
            &f,
            json!({"username": "x", "email": "bad", "role": "root", "profile": {"age": 130}, "nick": 1}),
        )
        .await
        .expect_err("refused"),
    );
    assert_eq!(e.code, -32602);
    let errors = e
        .data
        .as_ref()
        .and_then(|d| d["errors"].as_array())
        .expect("data.errors");
    let fields: Vec<&str> = errors.iter().filter_map(|x| x["field"].as_str()).collect();
    // Unknown members first, then the arguments in wire-name order; the
    // username breaks two rules.
    assert_eq!(
        fields,
        [
            "nick",
            "email",
            "profile.age",
            "role",
            "username",
            "username"
        ]
    );
    let keywords: Vec<&str> = errors
        .iter()
        .filter_map(|x| {
            x["constraints"]
                .as_object()?
                .keys()
                .next()
                .map(String::as_str)
        })
        .collect();
    assert_eq!(
        keywords,
        [
            "additionalProperties",
            "pattern",
            "maximum",
            "enum",
            "minLength",
            "pattern"
        ]
    );
    // The first is also where single-error peers look.
    assert_eq!(e.field(), Some("nick"));
    assert_eq!(e.data.as_ref().expect("data")["value"], json!(1));
    assert!(
        e.details()
            .expect("details")
            .starts_with("6 problems with the arguments: "),
        "{e}"
    );
    // The server keeps serving.
    create_user(
        &f,
        json!({"username": "john_doe", "email": "j@example.com"}),
    )
    .await
    .expect("valid");
}

#[tokio::test]
async fn integral_floats_are_accepted_as_integers() {
    let f = serve(UserServiceServer::new(Users::default())).await;
    for (name, age) in [("ann_a", json!(30.0)), ("bob_b", json!(3e1))] {
        let reply = create_user(
            &f,
            json!({"username": name, "email": "j@example.com", "profile": {"age": age}}),
        )
        .await
        .expect("an integral float is an integer");
        assert!(
            reply["message"]
                .as_str()
                .expect("message")
                .ends_with("age 30)"),
            "{reply}"
        );
    }
    let e = remote(
        create_user(
            &f,
            json!({"username": "cy_c", "email": "j@example.com", "profile": {"age": 30.5}}),
        )
        .await
        .expect_err("a fraction is not"),
    );
    assert_eq!(e.field(), Some("profile.age"));
}

#[test]
fn number_types_refuse_nan_and_infinities() {
    for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = Price::new(n).expect_err("not a JSON number");
        assert_eq!(e.violation().keyword(), "type", "{e}");
    }
    assert!(Price::new(12.5).is_ok());
}

struct Dir {
    chart_depth: usize,
}

fn chain(levels: usize) -> dir_models::TeamNode {
    let mut node = dir_models::TeamNode {
        name: String::from("leaf"),
        members: None,
        parent: None,
        children: None,
    };
    for _ in 1..levels {
        node = dir_models::TeamNode {
            name: String::from("n"),
            members: None,
            parent: Some(Box::new(node)),
            children: None,
        };
    }
    node
}

impl directory::DirectoryHandler for Dir {
    async fn add_team(
        &self,
        _: &RequestContext,
        _: directory::AddTeamArgs,
    ) -> Result<directory::AddTeamResponse, HandlerError<directory::AddTeamError>> {
        Err(HandlerError::server("not here"))
    }
    async fn list_people(
        &self,
        _: &RequestContext,
    ) -> Result<Vec<dir_models::Employee>, HandlerError> {
        Ok(vec![])
    }
    async fn org_chart(&self, _: &RequestContext) -> Result<dir_models::TeamNode, HandlerError> {
        Ok(chain(self.chart_depth))
    }
}

#[tokio::test]
async fn results_decode_as_deep_as_the_limit_and_no_deeper_silently() {
    use directory::DirectoryClient;
    let f = serve(directory::DirectoryServer::new(Dir {
        chart_depth: MAX_DEPTH,
    }))
    .await;
    let chart = f.client.org_chart().await.expect("within the limit");
    let mut levels = 1;
    let mut node = &chart;
    while let Some(parent) = &node.parent {
        levels += 1;
        node = parent;
    }
    assert_eq!(levels, MAX_DEPTH);

    let f = serve(directory::DirectoryServer::new(Dir {
        chart_depth: MAX_DEPTH + 1,
    }))
    .await;
    match f.client.org_chart().await.expect_err("beyond the limit") {
        CallError::InvalidResponse { request, errors } => {
            assert_eq!(request, directory::ORG_CHART);
            assert_eq!(errors[0].violation().keyword(), MAX_DEPTH_KEYWORD);
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn arguments_nested_beyond_the_limit_are_refused_before_parsing() {
    let f = serve(directory::DirectoryServer::new(Dir { chart_depth: 1 })).await;
    let nest = |levels: usize| {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    };
    for levels in [MAX_DEPTH + 1, 200] {
        let e = remote(
            f.client
                .request(directory::ADD_TEAM)
                .channel(directory::CHANNEL_ID)
                .args(json!({"members": [], "deep": nest(levels)}))
                .send()
                .await
                .expect_err("too deep"),
        );
        assert_eq!(e.code, -32602, "{e}");
        assert!(
            e.details().expect("details").contains("limit of 64 levels"),
            "{e}"
        );
    }
    // Within the limit the arguments are parsed and checked as usual.
    let e = remote(
        f.client
            .request(directory::ADD_TEAM)
            .channel(directory::CHANNEL_ID)
            .args(json!({"members": [], "deep": nest(MAX_DEPTH - 2)}))
            .send()
            .await
            .expect_err("unknown member"),
    );
    assert_eq!(e.field(), Some("deep"));
}

/// A `user-service` that answers `create-user` with a result breaking the
/// manifest (`userId` a number, `status` not one of its values).
struct BadUsers;

impl Service for BadUsers {
    fn channel_id(&self) -> &str {
        user_service::CHANNEL_ID
    }
    fn requests(&self) -> Vec<String> {
        vec![user_service::CREATE_USER.to_owned()]
    }
    fn call(
        &self,
        _: RequestContext,
        _: &str,
        _: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        Box::pin(async { Ok(json!({"userId": 5, "status": "gone", "message": "m"})) })
    }
}

#[tokio::test]
async fn the_client_checks_responses_and_names_the_member() {
    let f = serve(BadUsers).await;
    let args = CreateUserArgs {
        username: Username::new("john_doe").expect("valid"),
        email: Email::new("j@example.com").expect("valid"),
        role: Role::User,
        profile: None,
    };
    match f.client.create_user(args).await.expect_err("bad result") {
        CallError::InvalidResponse { request, errors } => {
            assert_eq!(request, user_service::CREATE_USER);
            let found: Vec<(&str, &str)> = errors
                .iter()
                .map(|e| (e.path(), e.violation().keyword()))
                .collect();
            assert_eq!(found, [("status", "enum"), ("userId", "type")]);
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}
