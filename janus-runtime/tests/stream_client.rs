//! The stream client over real sockets, against a small stream server
//! written here: correlation of many calls on one connection, connections
//! lost with calls in flight, reconnection, the datagram client's stream
//! fallback, limits and leaks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use janus_runtime::frame::FrameCodec;
use janus_runtime::wire::Response;
use janus_runtime::{CallError, Client, Server, Transport};
use serde_json::{Value, json};
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

/// A stream server: `echo` answers its args, `sleep` answers after
/// `args.ms`, `big` answers a string of `args.len` bytes, `hangup` closes
/// the connection without answering; anything else gets `-32601`.
struct TestServer {
    path: PathBuf,
    tasks: JoinSet<()>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Connections closed by their client, one message each.
    closed: mpsc::UnboundedReceiver<()>,
    /// Requests received, one message each (their `request`).
    received: mpsc::UnboundedReceiver<String>,
}

impl TestServer {
    fn start(path: &Path) -> TestServer {
        let listener = UnixListener::bind(path).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let (received_tx, received) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        let count = accepted.clone();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let closed = closed_tx.clone();
                let received = received_tx.clone();
                conns.spawn(serve_connection(stream, closed, received));
            }
        });
        TestServer {
            path: path.to_owned(),
            tasks,
            accepted,
            closed,
            received,
        }
    }

    /// Stops listening and closes every connection.
    async fn stop(mut self) {
        self.tasks.shutdown().await;
        std::fs::remove_file(&self.path).unwrap();
    }
}

async fn serve_connection(
    stream: tokio::net::UnixStream,
    closed: mpsc::UnboundedSender<()>,
    received: mpsc::UnboundedSender<String>,
) {
    let framed = Framed::new(stream, FrameCodec::default());
    let (sink, mut frames) = framed.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut sink = sink;
        while let Some(bytes) = out_rx.recv().await {
            if sink.send(bytes).await.is_err() {
                break;
            }
        }
    });
    let mut handlers = JoinSet::new();
    while let Some(Ok(frame)) = frames.next().await {
        let request: Value = serde_json::from_slice(&frame).unwrap();
        let id = request["id"].as_str().unwrap().to_owned();
        let name = request["request"].as_str().unwrap_or_default().to_owned();
        let _ = received.send(name.clone());
        let args = request["args"].clone();
        if name == "hangup" {
            break;
        }
        let out = out_tx.clone();
        handlers.spawn(async move {
            let response = match name.as_str() {
                "echo" => Response::success(&id, args),
                "sleep" => {
                    let ms = args["ms"].as_u64().unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Response::success(&id, json!({"slept_ms": ms}))
                }
                "big" => {
                    let len = args["len"].as_u64().unwrap() as usize;
                    Response::success(&id, json!({"data": "b".repeat(len)}))
                }
                _ => Response::error(
                    Some(&id),
                    janus_runtime::ErrorObject::new(
                        janus_runtime::ErrorCode::MethodNotFound,
                        "unknown",
                    ),
                ),
            };
            let _ = out.send(response.encode().unwrap());
        });
    }
    handlers.shutdown().await;
    writer.abort();
    let _ = closed.send(());
}

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("janus-stream")
        .tempdir_in("/tmp")
        .unwrap()
}

#[tokio::test]
async fn sixty_four_calls_in_flight_on_one_connection_each_get_their_answer() {
    let dir = dir();
    let server = TestServer::start(&dir.path().join("s.sock"));
    let client = Client::connect_stream(&server.path).await.unwrap();
    assert_eq!(client.transport(), Transport::Stream);
    assert!(client.reply_path().is_none());
    let mut calls = JoinSet::new();
    for i in 0..64u64 {
        let client = client.clone();
        // Later calls are answered first.
        calls.spawn(async move {
            let slept = client
                .call("c", "sleep", json!({"ms": 64 - i}))
                .await
                .unwrap();
            (i, slept)
        });
    }
    let mut seen = 0;
    while let Some(done) = calls.join_next().await {
        let (i, slept) = done.unwrap();
        assert_eq!(slept, json!({"slept_ms": 64 - i}));
        seen += 1;
    }
    assert_eq!(seen, 64);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1, "one connection");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.answered, stats.pending), (64, 64, 0));
    assert_eq!(stats.reconnect_attempts, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_connections_of_two_thousand_calls_are_all_matched() {
    let dir = dir();
    let server = TestServer::start(&dir.path().join("s.sock"));
    let mut clients = JoinSet::new();
    for c in 0..8u64 {
        let path = server.path.clone();
        clients.spawn(async move {
            let client = Client::connect_stream(&path).await.unwrap();
            let mut calls = JoinSet::new();
            for worker in 0..16u64 {
                let client = client.clone();
                calls.spawn(async move {
                    for n in 0..125u64 {
                        let tag = json!({"c": c, "w": worker, "n": n});
                        assert_eq!(client.call("c", "echo", tag.clone()).await.unwrap(), tag);
                    }
                });
            }
            while let Some(r) = calls.join_next().await {
                r.unwrap();
            }
            client.stats()
        });
    }
    while let Some(stats) = clients.join_next().await {
        let stats = stats.unwrap();
        assert_eq!(
            (stats.answered, stats.late_replies, stats.pending),
            (2000, 0, 0)
        );
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 8);
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_fails_every_call_in_flight_at_once() {
    let dir = dir();
    let mut server = TestServer::start(&dir.path().join("s.sock"));
    let client = Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_stream(&server.path)
        .await
        .unwrap();
    let mut calls = JoinSet::new();
    for _ in 0..10 {
        let client = client.clone();
        calls.spawn(async move { client.call("c", "sleep", json!({"ms": 60_000})).await });
    }
    for _ in 0..10 {
        assert_eq!(server.received.recv().await.unwrap(), "sleep");
    }
    let hangup = client.call("c", "hangup", Value::Null).await.unwrap_err();
    assert!(matches!(hangup, CallError::Transport { .. }), "{hangup:?}");
    while let Some(outcome) = calls.join_next().await {
        match outcome.unwrap().unwrap_err() {
            CallError::Transport { context, .. } => {
                assert!(context.contains("not resent"), "{context}")
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
    let stats = client.stats();
    assert_eq!(stats.connections_lost, 1);
    assert_eq!(stats.failed_by_disconnect, 11);
    assert_eq!(stats.pending, 0);
    // Nothing was resent: the server saw each request once.
    assert_eq!(server.received.recv().await.unwrap(), "hangup");
    assert!(server.received.try_recv().is_err());
    // The next call reconnects.
    assert_eq!(
        client.call("c", "echo", json!({"again": 1})).await.unwrap(),
        json!({"again": 1})
    );
    assert_eq!(client.stats().reconnect_attempts, 1);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
    server.stop().await;
}

#[tokio::test]
async fn the_next_call_reconnects_to_a_restarted_server() {
    let dir = dir();
    let path = dir.path().join("s.sock");
    let server = TestServer::start(&path);
    let client = Client::connect_stream(&path).await.unwrap();
    assert_eq!(client.call("c", "echo", json!(1)).await.unwrap(), json!(1));
    server.stop().await;
    let server = TestServer::start(&path);
    // Whether or not the client has noticed the old connection close, the
    // call goes out on a new one: it was never sent on the old.
    assert_eq!(client.call("c", "echo", json!(2)).await.unwrap(), json!(2));
    let stats = client.stats();
    assert_eq!(stats.reconnect_attempts, 1);
    assert_eq!(stats.failed_by_disconnect, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_failed_reconnect_backs_off_and_calls_fail_fast_meanwhile() {
    let dir = dir();
    let path = dir.path().join("s.sock");
    let server = TestServer::start(&path);
    let client = Client::connect_stream(&path).await.unwrap();
    server.stop().await;
    let first = client.call("c", "echo", json!(1)).await.unwrap_err();
    match &first {
        CallError::Transport { context, source } => {
            assert!(context.contains("1 in a row"), "{context}");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{source}");
        }
        other => panic!("{other:?}"),
    }
    // The next attempt is ~1 s away, beyond this call's deadline: it fails
    // at once, without trying.
    let quick = client
        .request("echo")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    match &quick {
        CallError::Transport { context, .. } => {
            assert!(context.contains("next attempt is in"), "{context}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.stats().reconnect_attempts, 1);
    // A call that can wait for the backoff gets through once the server is back.
    let server = TestServer::start(&path);
    assert_eq!(client.call("c", "echo", json!(3)).await.unwrap(), json!(3));
    assert_eq!(client.stats().reconnect_attempts, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_datagram_client_sends_what_is_too_large_for_a_datagram_over_its_fallback() {
    let dir = dir();
    let dgram_path = dir.path().join("d.sock");
    let server = Server::builder()
        .allowed_dirs([dir.path().to_str().unwrap()])
        .bind(&dgram_path)
        .unwrap()
        .spawn();
    let stream = TestServer::start(&dir.path().join("s.sock"));
    let five_mib = "x".repeat(5 * 1024 * 1024);
    let plain = Client::builder()
        .reply_dir(dir.path())
        .connect(&dgram_path)
        .await
        .unwrap();
    let err = plain
        .call("c", "echo", json!({ "blob": five_mib }))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::TooLarge { .. }), "{err:?}");

    let client = Client::builder()
        .reply_dir(dir.path())
        .stream_fallback(&stream.path)
        .connect(&dgram_path)
        .await
        .unwrap();
    assert_eq!(client.transport(), Transport::Datagram);
    assert!(client.max_message_size() >= 10 * 1024 * 1024);
    // Small requests go by datagram (the datagram server answers `ping`)...
    let pong = client.request("ping").send().await.unwrap();
    assert_eq!(pong["pong"], true);
    assert_eq!(stream.accepted.load(Ordering::SeqCst), 0);
    // ... a large one over the stream.
    let back = client
        .call("c", "echo", json!({ "blob": five_mib }))
        .await
        .unwrap();
    assert_eq!(back["blob"].as_str().unwrap().len(), five_mib.len());
    assert_eq!(stream.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(client.stats().pending, 0);
    server.shutdown().await;
    stream.stop().await;
}

#[tokio::test]
async fn nine_mib_answers_arrive_whole_and_over_ten_mib_is_refused_before_sending() {
    let dir = dir();
    let mut server = TestServer::start(&dir.path().join("s.sock"));
    let client = Client::connect_stream(&server.path).await.unwrap();
    let big = client
        .call("c", "big", json!({"len": 9 * 1024 * 1024}))
        .await
        .unwrap();
    assert_eq!(big["data"].as_str().unwrap().len(), 9 * 1024 * 1024);
    assert_eq!(server.received.recv().await.unwrap(), "big");
    let err = client
        .call("c", "echo", json!({"blob": "x".repeat(11 * 1024 * 1024)}))
        .await
        .unwrap_err();
    match err {
        CallError::TooLarge { limit, .. } => assert_eq!(limit, 10 * 1024 * 1024),
        other => panic!("{other:?}"),
    }
    assert!(server.received.try_recv().is_err(), "nothing was sent");
    server.stop().await;
}

#[tokio::test]
async fn notifications_go_out_on_the_connection() {
    let dir = dir();
    let mut server = TestServer::start(&dir.path().join("s.sock"));
    let client = Client::connect_stream(&server.path).await.unwrap();
    client.notify("c", "echo", json!({"n": 1})).await.unwrap();
    assert_eq!(server.received.recv().await.unwrap(), "echo");
    assert_eq!(client.stats().sent, 1);
    server.stop().await;
}

#[tokio::test]
async fn connecting_tells_stream_and_datagram_sockets_apart() {
    let dir = dir();
    let dgram_path = dir.path().join("d.sock");
    let _dgram = std::os::unix::net::UnixDatagram::bind(&dgram_path).unwrap();
    let err = Client::connect_stream(&dgram_path).await.unwrap_err();
    assert!(err.to_string().contains("is a datagram socket"), "{err}");
    let auto = Client::builder()
        .reply_dir(dir.path())
        .connect_auto(&dgram_path)
        .await
        .unwrap();
    assert_eq!(auto.transport(), Transport::Datagram);
    let server = TestServer::start(&dir.path().join("s.sock"));
    let auto = Client::builder().connect_auto(&server.path).await.unwrap();
    assert_eq!(auto.transport(), Transport::Stream);
    assert_eq!(auto.call("c", "echo", json!(7)).await.unwrap(), json!(7));
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        1,
        "no probe connection"
    );
    let err = Client::connect_stream(dir.path().join("none.sock"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_calls_with_timeouts_and_drops_leave_nothing_behind() {
    let dir = dir();
    let mut server = TestServer::start(&dir.path().join("s.sock"));
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let client = Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_stream(&server.path)
        .await
        .unwrap();
    for round in 0..4 {
        let mut calls = JoinSet::new();
        for i in 0..500u64 {
            let client = client.clone();
            calls.spawn(async move {
                match i % 5 {
                    // Times out: the answer comes late.
                    0 => {
                        let _ = client
                            .request("sleep")
                            .args(json!({"ms": 300}))
                            .timeout(Duration::from_millis(100))
                            .send()
                            .await;
                    }
                    // Given up by its caller.
                    1 => {
                        let call = client.call("c", "sleep", json!({"ms": 200}));
                        let _ = tokio::time::timeout(Duration::from_millis(1), call).await;
                    }
                    _ => {
                        client.call("c", "echo", json!(i)).await.unwrap();
                    }
                }
            });
        }
        while let Some(r) = calls.join_next().await {
            r.unwrap();
        }
        if round % 2 == 1 {
            // Drop the connection with calls in flight.
            let stuck = {
                let client = client.clone();
                tokio::spawn(async move { client.call("c", "sleep", json!({"ms": 60_000})).await })
            };
            while server.received.recv().await.unwrap() != "sleep" {}
            let _ = client.call("c", "hangup", Value::Null).await;
            assert!(stuck.await.unwrap().is_err());
        }
        assert_eq!(client.stats().pending, 0, "round {round}");
    }
    // A live connection again, then the client goes away.
    client.call("c", "echo", json!(0)).await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.connections_lost, 2);
    assert_eq!(stats.pending, 0);
    drop(client);
    // The server sees the last connection close: its tasks are gone.
    let mut closes = 0;
    while closes < 3 {
        server.closed.recv().await.unwrap();
        closes += 1;
    }
    // The connection's tasks end once they see it closed, on another worker
    // thread: poll the count until it is back, for at most 10 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while metrics.num_alive_tasks() > before && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        metrics.num_alive_tasks() <= before,
        "{} tasks alive, {before} before",
        metrics.num_alive_tasks()
    );
    server.stop().await;
}

// ---- against our own server ----

/// Our server on a datagram and a stream socket at once.
fn our_server(dir: &Path) -> (janus_runtime::ServerHandle, PathBuf, PathBuf) {
    let dgram = dir.join("ours.sock");
    let stream = dir.join("ours-stream.sock");
    let server = Server::builder()
        .allowed_dirs([dir.to_str().unwrap()])
        .enable_slow_process(true)
        .datagram(&dgram)
        .stream(&stream)
        .build()
        .unwrap()
        .spawn();
    (server, dgram, stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_answers_sixty_four_calls_in_flight_and_eight_connections() {
    let dir = dir();
    let (server, _, stream) = our_server(dir.path());
    let client = Client::connect_stream(&stream).await.unwrap();
    let mut calls = JoinSet::new();
    for i in 0..64u64 {
        let client = client.clone();
        calls.spawn(async move {
            let back = client
                .request("echo")
                .args(json!({"message": i}))
                .send()
                .await
                .unwrap();
            assert_eq!(back["echo"], i);
        });
    }
    while let Some(r) = calls.join_next().await {
        r.unwrap();
    }
    let mut clients = JoinSet::new();
    for c in 0..8u64 {
        let stream = stream.clone();
        clients.spawn(async move {
            let client = Client::connect_stream(&stream).await.unwrap();
            let mut calls = JoinSet::new();
            for w in 0..8u64 {
                let client = client.clone();
                calls.spawn(async move {
                    for n in 0..250u64 {
                        let tag = format!("{c}-{w}-{n}");
                        let back = client
                            .request("echo")
                            .args(json!({ "message": tag }))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(back["echo"], tag);
                    }
                });
            }
            while let Some(r) = calls.join_next().await {
                r.unwrap();
            }
            let stats = client.stats();
            assert_eq!((stats.answered, stats.pending), (2000, 0));
        });
    }
    while let Some(r) = clients.join_next().await {
        r.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn our_server_restarted_under_a_connected_client() {
    let dir = dir();
    let (server, _, stream) = our_server(dir.path());
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_stream(&stream)
        .await
        .unwrap();
    assert_eq!(client.request("ping").send().await.unwrap()["pong"], true);
    server.shutdown().await;
    let (server, _, _) = our_server(dir.path());
    let pong = client.request("ping").send().await.unwrap();
    assert_eq!(pong["pong"], true);
    assert!(client.stats().reconnect_attempts >= 1);
    server.shutdown().await;
}

#[tokio::test]
async fn five_mib_through_the_fallback_to_our_server() {
    let dir = dir();
    let (server, dgram, stream) = our_server(dir.path());
    let client = Client::builder()
        .reply_dir(dir.path())
        .stream_fallback(&stream)
        .connect(&dgram)
        .await
        .unwrap();
    let message = "m".repeat(5 * 1024 * 1024 - 1024);
    let back = client
        .request("echo")
        .args(json!({ "message": message }))
        .send()
        .await
        .unwrap();
    assert_eq!(back["echo"].as_str().unwrap().len(), message.len());
    let small = client
        .request("echo")
        .args(json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(small["echo"], "hi");
    assert_eq!(
        client.stats().reconnect_attempts,
        1,
        "one connection opened"
    );
    server.shutdown().await;
}
