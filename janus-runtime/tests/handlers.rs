//! Handlers that misbehave, fire-and-forget requests, and what handlers
//! learn about their caller — over real sockets.

mod common;

use std::time::Duration;

use common::{Event, Harness};
use janus_runtime::{CallError, Client};
use serde::{Deserialize, Serialize};
use serde_json::json;

fn remote_code(err: &CallError) -> i32 {
    err.code()
        .unwrap_or_else(|| panic!("expected a remote error, got {err:?}"))
}

#[tokio::test]
async fn a_panicking_handler_gets_internal_error_and_the_server_keeps_serving() {
    let h = Harness::start().await;
    let client = h.client().await;
    for _ in 0..3 {
        let err = client.call("test", "panic", json!({})).await.unwrap_err();
        assert_eq!(remote_code(&err), -32603);
        let obj = err.error_object().unwrap();
        assert_eq!(obj.error_type(), Some("INTERNAL_ERROR"));
        assert!(obj.details().unwrap().contains("panicked"), "{obj}");
    }
    let sum = client
        .call("test", "add", json!({"a": 40, "b": 2}))
        .await
        .unwrap();
    assert_eq!(sum, json!({"sum": 42}));
    assert_eq!(h.handle.stats().handler_panics, 3);
}

#[tokio::test]
async fn a_handler_that_outlives_its_timeout_is_cancelled() {
    let h = Harness::start_with(
        |b| b.max_handler_timeout(Duration::from_millis(200)),
        |s, _| s,
    )
    .await;
    let client = h.client().await.with_timeout(Duration::from_secs(20));
    let err = client
        .call("test", "sleep", json!({"ms": 20_000}))
        .await
        .unwrap_err();
    assert_eq!(remote_code(&err), -32006);
    let obj = err.error_object().unwrap();
    assert_eq!(obj.error_type(), Some("HANDLER_TIMEOUT"));
    assert!(obj.details().unwrap().contains("0.2 s"), "{obj}");
    // The request's own timeout also bounds the handler, and the caller
    // hears why: its request announced a little less than it waits.
    let h2 = Harness::start().await;
    let short = h2.client().await.with_timeout(Duration::from_secs(2));
    let err = short.call("test", "forever", json!({})).await.unwrap_err();
    assert_eq!(remote_code(&err), -32006, "{err:?}");
    h2.settled().await;
    assert_eq!(h2.handle.stats().handler_timeouts, 1);
    assert_eq!(h.handle.stats().handler_timeouts, 1);
    assert_eq!(
        client
            .call("test", "add", json!({"a": 1, "b": 1}))
            .await
            .unwrap(),
        json!({"sum": 2})
    );
}

#[tokio::test]
async fn shutdown_cancels_a_handler_that_never_returns() {
    let mut h =
        Harness::start_with(|b| b.shutdown_grace(Duration::from_millis(100)), |s, _| s).await;
    let client = h.client().await;
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.call("test", "forever", json!({})).await })
    };
    h.expect_event(Event::Started("forever".into())).await;
    assert_eq!(h.handle.stats().in_flight, 1);
    tokio::time::timeout(Duration::from_secs(10), h.handle.shutdown())
        .await
        .expect("shutdown must not wait for a handler that never returns");
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(remote_code(&err), -32001, "{err:?}");
    assert!(!h.server_path.exists(), "the socket file is removed");
    // Nothing answers any more.
    let err = client
        .with_timeout(Duration::from_millis(200))
        .call("test", "add", json!({"a": 1, "b": 1}))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn shutdown_lets_running_handlers_finish() {
    let mut h = Harness::start().await;
    let client = h.client().await;
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.call("test", "sleep", json!({"ms": 300})).await })
    };
    h.expect_event(Event::Started("sleep".into())).await;
    h.handle.shutdown().await;
    assert_eq!(call.await.unwrap().unwrap(), json!({"slept_ms": 300}));
    assert!(!h.server_path.exists());
}

#[tokio::test]
async fn a_fire_and_forget_request_runs_and_sends_nothing() {
    let mut h = Harness::start().await;
    let client = h.client().await;
    client
        .notify("test", "record", json!({"tag": "fire"}))
        .await
        .unwrap();
    h.expect_event(Event::Started("record".into())).await;
    h.expect_event(Event::Recorded(json!({"tag": "fire"})))
        .await;
    h.settled_after(1).await;
    let stats = h.handle.stats();
    assert_eq!(stats.notifications, 1);
    assert_eq!(stats.answered, 0, "{stats:?}");
    // A failing notification is counted, and still not answered.
    client.notify("test", "nope", json!({})).await.unwrap();
    h.settled_after(2).await;
    let stats = h.handle.stats();
    assert_eq!(stats.answered, 0);
    assert_eq!(stats.dropped.notification_failed, 1);
    // A call made afterwards is the first thing the client hears.
    assert_eq!(
        client
            .call("test", "add", json!({"a": 1, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 3})
    );
    let cs = client.stats();
    assert_eq!(
        (cs.late_replies, cs.uncorrelated, cs.malformed, cs.answered),
        (0, 0, 0, 1),
        "{cs:?}"
    );
}

#[tokio::test]
async fn handlers_see_the_callers_credentials() {
    let h = Harness::start_with(|b| b.max_handler_timeout(Duration::from_secs(7)), |s, _| s).await;
    let client = h.client().await.with_timeout(Duration::from_secs(12));
    let me = client.call("test", "whoami", json!({})).await.unwrap();
    assert_eq!(me["pid"], std::process::id(), "{me}");
    assert_eq!(me["uid"], rustix::process::getuid().as_raw(), "{me}");
    assert_eq!(me["gid"], rustix::process::getgid().as_raw(), "{me}");
    assert_eq!(me["channel"], "test");
    assert_eq!(
        me["reply_to"],
        client.reply_path().unwrap().to_str().unwrap()
    );
    assert_eq!(
        me["timeout_ms"], 7000,
        "min(request timeout, server maximum)"
    );
}

#[derive(Serialize)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(Deserialize, Debug, PartialEq)]
struct AddResult {
    sum: i64,
}

#[tokio::test]
async fn typed_calls_builtins_and_validation() {
    let h = Harness::start().await;
    let client = h.client().await;
    let r: AddResult = client
        .call_typed("test", "add", &AddArgs { a: 2, b: 3 })
        .await
        .unwrap();
    assert_eq!(r, AddResult { sum: 5 });
    // A result of the wrong shape is a decode error, not a panic.
    let err = client
        .call_typed::<_, Vec<String>>("test", "add", &AddArgs { a: 2, b: 3 })
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Decode(_)), "{err:?}");

    let pong = client.request("ping").send().await.unwrap();
    assert_eq!(pong["pong"], true);
    let echo = client
        .request("echo")
        .args(json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(echo, json!({"echo": "hi"}));
    let info = client.request("get_info").send().await.unwrap();
    assert_eq!(info["implementation"], "janus-rust");
    assert_eq!(info["channels"], json!(["test"]));
    // Routed by name alone when exactly one channel has the request.
    let sum = client
        .request("add")
        .args(json!({"a": 1, "b": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(sum, json!({"sum": 2}));

    let ok = client
        .request("validate")
        .args(json!({"channelId": "test", "request": "greet", "args": {"name": "alice"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok, json!({"valid": true, "errors": []}));
    let bad = client
        .request("validate")
        .args(json!({"channelId": "test", "request": "greet", "args": {"name": "al"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["errors"][0]["data"]["field"], "name");
    let unknown = client
        .request("validate")
        .args(json!({"request": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown["errors"][0]["code"], -32601);
    assert_eq!(h.handle.stats().in_flight, 0);
}

#[tokio::test]
async fn an_answer_too_large_for_a_datagram_becomes_an_error() {
    let h = Harness::start_with(|b| b.max_message_size(64 * 1024), |s, _| s).await;
    let client = h.client().await;
    let ok = client
        .call("test", "big", json!({"bytes": 1000}))
        .await
        .unwrap();
    assert_eq!(ok.as_str().unwrap().len(), 1000);
    let err = client
        .call("test", "big", json!({"bytes": 100_000}))
        .await
        .unwrap_err();
    assert_eq!(remote_code(&err), -32005);
    assert_eq!(
        err.error_object().unwrap().error_type(),
        Some("MESSAGE_TOO_LARGE")
    );
}

#[tokio::test]
async fn large_messages_up_to_the_limit_travel_whole() {
    let h = Harness::start().await;
    let client = h.client().await;
    let limit = client.max_message_size();
    assert!(limit >= 200_000, "{limit}");
    // An echo of ~1 MiB (or what the OS allows) in both directions.
    let size = (limit / 2).min(1 << 20);
    let message = "m".repeat(size);
    let echo = client
        .request("echo")
        .args(json!({"message": message}))
        .send()
        .await
        .unwrap();
    assert_eq!(echo["echo"].as_str().unwrap().len(), size);
    let err = client
        .request("echo")
        .args(json!({"message": "m".repeat(limit)}))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_client_survives_a_server_restart() {
    let h = Harness::start().await;
    let client = h.client().await;
    assert_eq!(
        client
            .call("test", "add", json!({"a": 1, "b": 1}))
            .await
            .unwrap(),
        json!({"sum": 2})
    );
    h.handle.shutdown().await;
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let again = janus_runtime::Server::builder()
        .allowed_dirs([h.allowed.to_str().unwrap()])
        .bind(&h.server_path)
        .unwrap()
        .channel(common::TestService::new("test", tx))
        .spawn();
    assert_eq!(
        client
            .call("test", "add", json!({"a": 2, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 4})
    );
    again.shutdown().await;
}

#[test]
fn clients_and_handles_can_be_shared_across_tasks() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Client>();
    shareable::<janus_runtime::ServerHandle>();
}

#[tokio::test]
async fn an_observer_sees_every_request_whatever_became_of_it() {
    use janus_runtime::{RequestOutcome, RequestRecord};
    let (tx, mut records) = tokio::sync::mpsc::unbounded_channel::<RequestRecord>();
    let mut h = Harness::start_with(
        move |b| {
            b.observe(move |record| {
                let _ = tx.send(record.clone());
            })
        },
        |s, _| s,
    )
    .await;
    let client = h.client().await;
    client.request("ping").send().await.unwrap();
    client
        .call("test", "add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    client.call("test", "nope", json!({})).await.unwrap_err();
    client.call("test", "panic", json!({})).await.unwrap_err();
    client
        .notify("test", "record", json!({"n": 1}))
        .await
        .unwrap();
    h.expect_event(Event::Started("record".into())).await;
    let peer = h.peer("raw.sock");
    peer.send(b"not json").await;
    peer.recv().await;
    let anon = h.anonymous();
    let unanswerable = json!({"id": "u1", "request": "ping", "timestamp": common::now(),
        "reply_to": format!("{}/nobody.sock", h.allowed.display())});
    anon.send(unanswerable.to_string().as_bytes()).await;

    let mut seen = Vec::new();
    for _ in 0..7 {
        let r = tokio::time::timeout(Duration::from_secs(10), records.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(r);
    }
    let find = |name: &str| {
        seen.iter()
            .find(|r| r.request.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name}: {seen:?}"))
    };
    assert_eq!(find("ping").outcome, RequestOutcome::Success);
    let add = find("add");
    assert_eq!(add.outcome, RequestOutcome::Success);
    assert_eq!(add.channel.as_deref(), Some("test"));
    assert_eq!(add.peer.unwrap().pid as u32, std::process::id());
    assert!(matches!(&find("nope").outcome, RequestOutcome::Error(e) if e.code == -32601));
    assert!(matches!(&find("panic").outcome, RequestOutcome::Error(e) if e.code == -32603));
    let record = find("record");
    assert!(record.notification);
    assert_eq!(record.outcome, RequestOutcome::Success);
    assert!(seen.iter().any(|r| r.request.is_none()
        && matches!(&r.outcome, RequestOutcome::Error(e) if e.code == -32700)));
    assert!(seen.iter().any(|r| r.request_id.as_deref() == Some("u1")
        && matches!(r.outcome, RequestOutcome::Unanswered { reason } if reason.contains("names nothing"))));
}

#[tokio::test]
async fn a_panicking_observer_does_not_stop_the_server() {
    let h = Harness::start_with(
        |b| b.observe(|_| panic!("the observer panics on purpose")),
        |s, _| s,
    )
    .await;
    let client = h.client().await;
    for _ in 0..3 {
        assert_eq!(client.request("ping").send().await.unwrap()["pong"], true);
    }
}
