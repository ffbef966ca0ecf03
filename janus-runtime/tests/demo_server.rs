//! The demo server example, run as a process: it prints one line when ready,
//! answers `demo.add`, `demo.sleep` and the built-ins, and exits cleanly on
//! SIGINT, SIGTERM or SIGHUP, removing its socket files (both, with `--stream`) even if a mode was
//! changed while it ran.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use janus_runtime::Client;
use janus_runtime::wire::Dialect;
use rustix::process::{Pid, Signal, kill_process};
use serde_json::json;

/// `cargo test` builds the examples next to the test binaries.
fn demo_server_binary() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("examples").join("demo_server");
    assert!(
        bin.exists(),
        "{} is missing; run through `cargo test`",
        bin.display()
    );
    bin
}

/// Kills the server if the test fails before stopping it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn run_and_stop(signal: Signal) {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("demo.sock");
    let mut guard = Running(Some(
        Command::new(demo_server_binary())
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let child = guard.0.as_mut().unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert_eq!(first_line, format!("listening on {}\n", path.display()));

    let client = Client::builder()
        .reply_dir(dir.path())
        .connect(&path)
        .await
        .unwrap();
    assert_eq!(
        client
            .call("demo", "add", json!({"a": 20, "b": 22}))
            .await
            .unwrap(),
        json!({"sum": 42})
    );
    assert_eq!(
        client
            .call("demo", "sleep", json!({"ms": 20}))
            .await
            .unwrap(),
        json!({"slept_ms": 20})
    );
    let err = client
        .call("demo", "add", json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(-32602));
    assert_eq!(err.error_object().unwrap().field(), Some("b"));
    let err = client
        .call("demo", "add", json!({"a": 1, "b": "2"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.error_object().unwrap().constraints(),
        Some(&json!({"type": "integer"}))
    );
    assert_eq!(client.request("ping").send().await.unwrap()["pong"], true);
    let info = client.request("get_info").send().await.unwrap();
    assert_eq!(info["channels"], json!(["demo"]));
    let manifest = client.request("manifest").send().await.unwrap();
    assert!(
        manifest["channels"]["demo"]["requests"]["add"].is_object(),
        "{manifest}"
    );
    // Clients of the older dialects (seeds 001 and 003), enveloped or not,
    // are answered in kind: their calls correlate and decode.
    for (dialect, enveloped) in [(Dialect::V1, false), (Dialect::V1Epoch, true)] {
        let v1 = Client::builder()
            .reply_dir(dir.path())
            .dialect(dialect)
            .envelope(enveloped)
            .connect(&path)
            .await
            .unwrap();
        assert_eq!(
            v1.call("demo", "add", json!({"a": 2, "b": 3}))
                .await
                .unwrap(),
            json!({"sum": 5}),
            "{dialect:?}, enveloped: {enveloped}"
        );
        let err = v1.call("demo", "add", json!({"a": 1})).await.unwrap_err();
        assert_eq!(err.code(), Some(-32602), "{dialect:?}");
    }

    // A request running when the signal arrives still gets its answer. One
    // poll sends it; the server reads datagrams from one sender in order, so
    // once a later ping is answered the slow request is running.
    let mut slow = Box::pin(client.call("demo", "sleep", json!({"ms": 300})));
    tokio::select! {
        biased;
        _ = &mut slow => unreachable!("a 300 ms sleep cannot be answered yet"),
        _ = std::future::ready(()) => {}
    }
    assert_eq!(client.request("ping").send().await.unwrap()["pong"], true);
    // Someone changes the socket's mode while it runs: still ours to remove.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    kill_process(Pid::from_child(child), signal).unwrap();
    assert_eq!(slow.await.unwrap(), json!({"slept_ms": 300}));
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "the socket file is removed");
}

#[tokio::test]
async fn demo_server_stops_on_sigterm() {
    run_and_stop(Signal::TERM).await;
}

#[tokio::test]
async fn demo_server_stops_on_sigint() {
    run_and_stop(Signal::INT).await;
}

#[tokio::test]
async fn demo_server_stops_on_sighup() {
    run_and_stop(Signal::HUP).await;
}

/// Sends one framed request over a stream connection and reads its answer.
fn stream_call(
    conn: &mut std::os::unix::net::UnixStream,
    request: &serde_json::Value,
) -> serde_json::Value {
    use janus_runtime::frame;
    let max = frame::DEFAULT_MAX_FRAME;
    frame::write_frame(conn, request.to_string().as_bytes(), max).unwrap();
    serde_json::from_slice(&frame::read_frame(conn, max).unwrap()).unwrap()
}

#[tokio::test]
async fn demo_server_serves_a_stream_socket_too_and_removes_both() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("demo.sock");
    let stream = dir.path().join("demo-stream.sock");
    let mut guard = Running(Some(
        Command::new(demo_server_binary())
            .arg(&path)
            .arg("--stream")
            .arg(&stream)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let child = guard.0.as_mut().unwrap();
    // Ready once both lines are printed: synchronise on them, read on a
    // thread so that a server that never prints fails the test instead of
    // hanging it.
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("demo_server printed no line within 30 s (a stale example binary? `cargo test` without `--test` rebuilds it)")
    };
    assert_eq!(next_line(), format!("listening on {}", path.display()));
    assert_eq!(next_line(), format!("listening on {}", stream.display()));

    let mut conn = std::os::unix::net::UnixStream::connect(&stream).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let now = janus_runtime::wire::timestamp_now();
    let sum = stream_call(
        &mut conn,
        &json!({"id": "s1", "request": "add", "channelId": "demo", "args": {"a": 20, "b": 22}, "timestamp": now}),
    );
    assert_eq!(sum["request_id"], "s1", "{sum}");
    assert_eq!(sum["result"], json!({"sum": 42}));
    // The same channel over datagrams.
    let client = Client::builder()
        .reply_dir(dir.path())
        .connect(&path)
        .await
        .unwrap();
    assert_eq!(
        client
            .call("demo", "add", json!({"a": 1, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 3})
    );

    kill_process(Pid::from_child(child), Signal::TERM).unwrap();
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        !path.exists() && !stream.exists(),
        "both socket files are removed"
    );
    // Its stdout said nothing more than the two lines.
    reader.join().unwrap();
    assert_eq!(lines.try_iter().collect::<Vec<_>>(), Vec::<String>::new());
}
