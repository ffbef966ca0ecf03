//! `janus serve --socket P --stream-socket Q` as a process: the same
//! channels on both sockets, both files removed on Ctrl-C.

mod common;

use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{Serve, manifest, temp_dir};
use janus_runtime::frame;
use serde_json::{Value, json};

/// Sends one request over a stream connection and reads its answer.
fn call_stream(conn: &mut UnixStream, request: &Value) -> Value {
    let max = frame::DEFAULT_MAX_FRAME;
    frame::write_frame(conn, request.to_string().as_bytes(), max).unwrap();
    serde_json::from_slice(&frame::read_frame(conn, max).unwrap()).unwrap()
}

#[test]
fn serves_the_manifest_on_a_datagram_and_a_stream_socket() {
    let dir = temp_dir();
    let dgram = dir.path().join("mock.sock");
    let stream = dir.path().join("mock-stream.sock");
    let serve = Serve::start_at(
        &manifest("user-management.json"),
        &dgram,
        &["--stream-socket", stream.to_str().unwrap()],
    );
    let mut conn = UnixStream::connect(&stream).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let created = call_stream(
        &mut conn,
        &json!({
            "id": "s1",
            "request": "create-user",
            "channelId": "user-service",
            "args": {"username": "john_doe", "email": "john@example.com"},
            "timestamp": janus_runtime::wire::timestamp_now(),
        }),
    );
    assert_eq!(created["request_id"], "s1", "{created}");
    assert_eq!(created["success"], true, "{created}");
    assert_eq!(created["result"]["status"], "created", "{created}");
    let info = call_stream(
        &mut conn,
        &json!({"id": "s2", "request": "get_info", "timestamp": janus_runtime::wire::timestamp_now()}),
    );
    assert_eq!(
        info["result"]["transports"],
        json!(["SOCK_DGRAM", "SOCK_STREAM"]),
        "{info}"
    );
    let (status, lines, stderr) = serve.interrupt();
    assert!(status.success(), "{stderr}");
    let listening = lines.iter().find(|l| l.contains("listening on")).unwrap();
    assert!(
        listening.contains(&format!(
            "{} (datagram) and {} (stream)",
            dgram.display(),
            stream.display()
        )),
        "{listening}"
    );
    assert!(lines.iter().any(|l| l.contains("create-user")), "{lines:?}");
    assert!(!dgram.exists() && !stream.exists());
}
