//! `janus serve` as a process: valid and invalid requests answered as a
//! generated server answers them, synthesised results that the generated
//! client types accept, built-ins, logging, Ctrl-C, and start-up failures.

mod common;

use common::{Serve, janus_async, janus_run, manifest, temp_dir};
use janus_runtime::{Client, Service};
use janus_tests::all_types::catalog;
use janus_tests::inheritance::{directory, models as dir_models};
use janus_tests::user_management::models::CreateUserResponse;
use serde_json::{Value, json};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_valid_and_invalid_requests_and_stops_on_ctrl_c() {
    let seed = manifest("user-management.json");
    let serve = Serve::start(&seed, &[]);
    let sock = serve.sock();

    // Valid: a result synthesised from the response model.
    let out = janus_async(args(&[
        "call",
        &sock,
        "create-user",
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
    ]))
    .await
    .expect_code(0);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    let typed: CreateUserResponse =
        serde_json::from_value(result.clone()).expect("the generated model accepts the result");
    assert_eq!(typed.status.as_str(), "created", "the first enum value");
    assert_eq!(result["userId"], "example");

    // Invalid: -32602 naming the field and the constraint, as a generated server does.
    let out = janus_async(args(&[
        "call",
        &sock,
        "create-user",
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
        "-a",
        "profile.age=150",
    ]))
    .await
    .expect_code(1);
    assert_eq!(
        out.stderr,
        "error: -32602 Invalid params\n  details: argument `profile.age`: 150 is greater than maximum 120\n  errorType: INVALID_PARAMS\n  field: profile.age\n  value: 150\n  constraints: {\"maximum\":120}\n"
    );

    // Built-ins: the manifest as written, and `validate` as the generated server answers it.
    let out = janus_async(args(&["call", &sock, "manifest"]))
        .await
        .expect_code(0);
    let served: Value = serde_json::from_str(&out.stdout).unwrap();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&seed).unwrap()).unwrap();
    assert_eq!(served, file);
    let probe = json!({"username": "john_doe", "email": "not-an-email"});
    let out = janus_async(args(&[
        "call",
        &sock,
        "validate",
        "--args",
        &json!({"request": "create-user", "args": probe}).to_string(),
    ]))
    .await
    .expect_code(0);
    let verdict: Value = serde_json::from_str(&out.stdout).unwrap();
    let generated = janus_tests::user_management::user_service::UserServiceServer::new(NoUsers)
        .validate("create-user", &probe)
        .unwrap_err();
    assert_eq!(verdict, json!({"valid": false, "errors": [generated]}));
    janus_async(args(&["ping", &sock])).await.expect_code(0);

    // Ctrl-C: a clean exit, the socket removed, every request logged on one line.
    let socket = serve.socket.clone();
    let (status, lines, stderr) = serve.interrupt();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(!socket.exists(), "socket file removed");
    assert!(lines[0].contains("listening on"), "{lines:?}");
    let logged: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("user-service/create-user"))
        .collect();
    assert_eq!(logged.len(), 2, "{lines:?}");
    assert!(logged[0].contains(" ok "), "{}", logged[0]);
    assert!(
        logged[1].contains(" -32602 argument `profile.age`: 150 is greater than maximum 120 "),
        "{}",
        logged[1]
    );
    assert!(
        logged
            .iter()
            .all(|l| l.lines().count() == 1 && l.contains(" ms (pid "))
    );
    // Built-ins are logged too (the server's observer sees every request).
    assert!(lines.iter().any(|l| l.contains(" ping ok ")), "{lines:?}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("janus serve: stopped after"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthesised_results_decode_into_the_generated_types() {
    let serve = Serve::start(&manifest("all-types.json"), &["--quiet"]);
    let client = Client::connect(&serve.socket).await.unwrap();
    let call = |request: &'static str, args: Value| {
        let client = client.clone();
        async move {
            client
                .call(catalog::CHANNEL_ID, request, args)
                .await
                .unwrap()
        }
    };
    let put = call(
        "put-item",
        json!({"sku": "ABC-1234", "title": "Lamp", "price": 12.5, "condition": "new"}),
    )
    .await;
    let _: catalog::PutItemResponse = serde_json::from_value(put).unwrap();
    let _: catalog::CountItemsResponse =
        serde_json::from_value(call("count-items", Value::Null).await).unwrap();
    let state: catalog::ItemStateResponse =
        serde_json::from_value(call("item-state", json!({"sku": "ABC-1234"})).await).unwrap();
    assert_eq!(state.as_str(), "in-stock");
    let _: Vec<catalog::ListTagsResponseItem> =
        serde_json::from_value(call("list-tags", Value::Null).await).unwrap();
    let _: f64 = serde_json::from_value(call("ratio", Value::Null).await).unwrap();
    let _: bool = serde_json::from_value(call("flag", Value::Null).await).unwrap();
    assert_eq!(call("raw", Value::Null).await, Value::Null);
    assert_eq!(call("any-object", Value::Null).await, json!({}));
    drop(client);
    serve.interrupt();

    let serve = Serve::start(&manifest("inheritance.json"), &["--quiet"]);
    let client = Client::connect(&serve.socket).await.unwrap();
    let chart: dir_models::TeamNode = client
        .call_typed(directory::CHANNEL_ID, "org-chart", &json!({}))
        .await
        .unwrap();
    assert!(
        chart.parent.is_some(),
        "a recursive model, filled in a few levels deep"
    );
    let people: Vec<dir_models::Employee> = client
        .call_typed(directory::CHANNEL_ID, "list-people", &Value::Null)
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
    let team: directory::AddTeamResponse = client
        .call_typed(
            directory::CHANNEL_ID,
            "add-team",
            &json!({"members": [{"id": "a-1", "name": "Ann"}]}),
        )
        .await
        .unwrap();
    assert_eq!(team.size.get(), 0);
    // Arguments of a request that takes none.
    let e = client
        .call("health", "status", json!({"verbose": true}))
        .await
        .unwrap_err();
    assert_eq!(e.error_object().and_then(|o| o.field()), Some("verbose"));
    drop(client);
    serve.interrupt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_answers_still_arrive_and_are_logged() {
    let serve = Serve::start(&manifest("user-management.json"), &["--delay", "200"]);
    let out = janus_async(args(&[
        "call",
        &serve.sock(),
        "create-user",
        "--timeout",
        "10",
        "-a",
        "username=abc",
        "-a",
        "email=a@b.cc",
    ]))
    .await
    .expect_code(0);
    assert!(
        out.stdout.contains("\"status\": \"created\""),
        "{}",
        out.stdout
    );
    // Built-ins are answered by the runtime itself, without the delay.
    janus_async(args(&["ping", &serve.sock(), "--timeout", "10"]))
        .await
        .expect_code(0);
    // A request whose timeout passes first: the server cancels it (and
    // answers -32006 just as the caller gives up: either may come first).
    let out = janus_async(args(&[
        "call",
        &serve.sock(),
        "create-user",
        "--timeout",
        "0.1",
        "-a",
        "username=abc",
        "-a",
        "email=a@b.cc",
    ]))
    .await;
    assert!(
        out.code == 3 || (out.code == 1 && out.stderr.contains("-32006 Handler timeout")),
        "{out:?}"
    );
    let (status, lines, _) = serve.interrupt();
    assert!(status.success());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("user-service/create-user ok")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(
            "user-service/create-user -32006 the handler for `create-user` did not finish"
        )),
        "{lines:?}"
    );
}

#[test]
fn start_up_failures_exit_with_their_codes() {
    let dir = temp_dir();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": "1.0.0", "channels": {}}"#).unwrap();
    let sock = dir.path().join("s.sock");
    let out = janus_run(&[
        "serve".as_ref(),
        bad.as_os_str(),
        "--socket".as_ref(),
        sock.as_os_str(),
    ])
    .expect_code(1);
    assert!(
        out.stderr.contains("the manifest defines no channels"),
        "{}",
        out.stderr
    );
    assert!(!sock.exists());

    // Outside the allowed directories.
    let seed = manifest("user-management.json");
    let out = janus_run(&[
        "serve".as_ref(),
        seed.as_os_str(),
        "--socket".as_ref(),
        "/proc/janus.sock".as_ref(),
    ])
    .expect_code(4);
    assert!(
        out.stderr.contains("cannot serve on /proc/janus.sock"),
        "{}",
        out.stderr
    );

    // A socket a live server holds is never taken over.
    let first = Serve::start_at(&seed, &sock, &["--quiet"]);
    let out = janus_run(&[
        "serve".as_ref(),
        seed.as_os_str(),
        "--socket".as_ref(),
        sock.as_os_str(),
    ])
    .expect_code(4);
    assert!(out.stderr.contains("cannot serve on"), "{}", out.stderr);
    let (status, ..) = first.interrupt();
    assert!(status.success());
    // The process removed its socket before it exited.
    assert!(!sock.exists());
}

/// A handler that is never called: the generated dispatcher's `validate`
/// does not reach it.
struct NoUsers;

impl janus_tests::user_management::user_service::UserServiceHandler for NoUsers {
    async fn create_user(
        &self,
        _ctx: &janus_runtime::RequestContext,
        _args: janus_tests::user_management::user_service::CreateUserArgs,
    ) -> Result<
        CreateUserResponse,
        janus_runtime::HandlerError<janus_tests::user_management::user_service::CreateUserError>,
    > {
        Err(janus_runtime::HandlerError::internal("not called"))
    }
}
