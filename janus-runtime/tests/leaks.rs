//! No socket file and no pending entry outlives its use: after thousands of
//! calls, timeouts, cancelled futures, dropped clients and panicking callers.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Event, Harness};
use janus_runtime::{Client, RequestOutcome, RequestRecord};
use serde_json::json;
use tokio::task::JoinSet;

fn socket_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_calls_leave_nothing_behind() {
    // What became of each request, as the server reports it: (request, error code).
    let (records_tx, mut records) = tokio::sync::mpsc::unbounded_channel();
    let mut h = Harness::start_with(
        |b| {
            // Steps 2 to 4 leave up to 800 handlers running for up to their
            // 1 s deadline (300 sleeping, 300 `forever`, 200 `hang`): more
            // than the default in-flight limit of 500, which is not what
            // this test is about (the limit has tests of its own).
            b.max_handler_timeout(Duration::from_secs(1))
                .max_in_flight(2_000)
                .observe(move |r: &RequestRecord| {
                    let code = match &r.outcome {
                        RequestOutcome::Error(e) => Some(e.code),
                        _ => None,
                    };
                    let _ = records_tx.send((r.request.clone().unwrap_or_default(), code));
                })
        },
        |s, _| s,
    )
    .await;

    // 1. Short-lived clients: 20 clients x 100 calls, each client dropped after use.
    for c in 0..20 {
        let client = h.client().await;
        let mut calls = JoinSet::new();
        for i in 0..100 {
            let client = client.clone();
            calls.spawn(async move { client.call("test", "add", json!({"a": c, "b": i})).await });
        }
        while let Some(r) = calls.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(client.stats().pending, 0);
    }
    assert_eq!(socket_files(&h.allowed), ["server.sock"]);

    let client = h.client().await;

    // 2. Timeouts: 300 calls that give up before the handler finishes.
    let impatient = client.with_timeout(Duration::from_millis(100));
    let mut calls = JoinSet::new();
    for _ in 0..300 {
        let c = impatient.clone();
        calls.spawn(async move { c.call("test", "sleep", json!({"ms": 400})).await });
    }
    while let Some(r) = calls.join_next().await {
        let err = r.unwrap().unwrap_err();
        assert!(err.is_timeout() || err.code() == Some(-32006), "{err:?}");
    }
    assert_eq!(client.stats().pending, 0);

    // 3. Cancelled futures: 300 calls dropped while waiting.
    let mut cancelled = 0;
    for _ in 0..300 {
        let call = client.call("test", "forever", json!({}));
        if tokio::time::timeout(Duration::from_millis(2), call)
            .await
            .is_err()
        {
            cancelled += 1;
        }
    }
    assert_eq!(cancelled, 300);
    assert_eq!(
        client.stats().pending,
        0,
        "dropping a call's future forgets it"
    );

    // 4. Clients dropped with calls in flight (tasks aborted mid-call).
    // `hang` is only called here, so its events are this step's alone.
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let doomed = h.client().await;
        for _ in 0..20 {
            let d = doomed.clone();
            tasks.spawn(async move { d.call("test", "hang", json!({})).await });
        }
    }
    // Wait until all 200 handlers have started, then abort every caller.
    let mut started = 0;
    while started < 200 {
        if let Event::Started(name) = tokio::time::timeout(Duration::from_secs(10), h.events.recv())
            .await
            .expect("the hanging handlers start")
            .unwrap()
            && name == "hang"
        {
            started += 1;
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    // 5. A caller that panics while holding a client.
    let dir = h.allowed.clone();
    let server = h.server_path.clone();
    let panicked = tokio::spawn(async move {
        let c = Client::builder()
            .reply_dir(&dir)
            .connect(&server)
            .await
            .unwrap();
        c.call("test", "add", json!({"a": 1, "b": 1}))
            .await
            .unwrap();
        panic!("the caller panics while holding a client");
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());

    // Every reply socket but the live client's is gone.
    let live = client
        .reply_path()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut expected = vec!["server.sock".to_owned(), live];
    expected.sort();
    assert_eq!(socket_files(&h.allowed), expected);

    // Late answers (to timed-out, cancelled and orphaned calls) are read,
    // counted and dropped as they arrive; a new call is answered.
    assert_eq!(
        client
            .call("test", "add", json!({"a": 2, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 4})
    );
    // The server reads its queue in order, so every datagram sent before that
    // call has been received: wait for the outcome of each one.
    let received = h.handle.stats().received;
    let mut abandoned = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..received {
        let (request, code) = tokio::time::timeout(Duration::from_secs(30), records.recv())
            .await
            .expect("every request has an outcome within its 1 s timeout")
            .unwrap();
        if matches!(request.as_str(), "sleep" | "forever" | "hang") {
            // Each of them outlives its deadline: all are cancelled at it.
            assert_eq!(code, Some(-32006), "{request}");
            *abandoned.entry(request).or_default() += 1;
        }
    }
    assert_eq!(abandoned.get("hang"), Some(&200), "{abandoned:?}");
    assert!(
        abandoned.get("sleep").is_some_and(|&n| n <= 300),
        "{abandoned:?}"
    );
    assert!(
        abandoned.get("forever").is_some_and(|&n| n <= 300),
        "{abandoned:?}"
    );
    let timeouts = h.handle.stats().handler_timeouts;
    assert_eq!(
        timeouts,
        abandoned.values().sum::<u64>(),
        "exactly the abandoned handlers time out: {abandoned:?}"
    );
    let stats = client.stats();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert!(stats.late_replies > 0, "{stats:?}");
    assert_eq!(stats.uncorrelated + stats.malformed, 0, "{stats:?}");

    // Once the clients are gone, nothing is left to answer: the server settles.
    drop(impatient);
    drop(client);
    h.settled().await;
    let server = h.handle.stats();
    assert_eq!(server.in_flight, 0, "{server:?}");
    h.handle.shutdown().await;
    assert!(
        socket_files(&h.allowed).is_empty(),
        "{:?}",
        socket_files(&h.allowed)
    );
}

#[tokio::test]
async fn a_server_bound_but_never_served_leaves_no_file() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("unused.sock");
    let server = janus_runtime::Server::bind(&path).unwrap();
    assert!(path.exists());
    drop(server);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_misconfigured_server_fails_to_serve_and_cleans_up() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("bad.sock");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = janus_runtime::Server::bind(&path)
        .unwrap()
        .channel(common::TestService::new("test", tx.clone()))
        .channel(common::TestService::new("test", tx))
        .serve()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("added twice"), "{err}");
    assert!(!path.exists());
}

#[tokio::test]
async fn dropping_the_serve_future_stops_the_server() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("dropped.sock");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let server = janus_runtime::Server::builder()
        .allowed_dirs([dir.path().to_str().unwrap()])
        .bind(&path)
        .unwrap()
        .channel(common::TestService::new("test", tx));
    let handle = server.handle();
    let serving = tokio::spawn(server.serve());
    let client = Client::builder()
        .reply_dir(dir.path())
        .connect(&path)
        .await
        .unwrap();
    assert_eq!(client.request("ping").send().await.unwrap()["pong"], true);
    serving.abort();
    assert!(serving.await.unwrap_err().is_cancelled());
    tokio::time::timeout(Duration::from_secs(10), handle.stopped())
        .await
        .expect("the server stops when its serve future is dropped");
    assert!(!path.exists());
}
