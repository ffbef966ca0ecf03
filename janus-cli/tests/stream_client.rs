//! `janus call`, `ping` and `bench` against a stream socket, as processes:
//! the socket's kind is detected, `--transport` forces one.

mod common;

use common::{Serve, janus_run, manifest, temp_dir};
use serde_json::Value;

#[test]
fn call_ping_and_bench_detect_a_stream_socket() {
    let dir = temp_dir();
    let dgram = dir.path().join("mock.sock");
    let stream = dir.path().join("mock-stream.sock");
    let s = stream.to_str().unwrap();
    let d = dgram.to_str().unwrap();
    let serve = Serve::start_at(
        &manifest("user-management.json"),
        &dgram,
        &["--stream-socket", s],
    );
    let out = janus_run(&["call", s, "get_info"]).expect_code(0);
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        info["transports"]
            .as_array()
            .unwrap()
            .contains(&"SOCK_STREAM".into()),
        "{info}"
    );
    let out = janus_run(&[
        "call",
        s,
        "create-user",
        "--manifest",
        manifest("user-management.json").to_str().unwrap(),
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
    ])
    .expect_code(0);
    assert!(out.stdout.contains("\"created\""), "{}", out.stdout);
    let out = janus_run(&["ping", s, "-c", "2", "-i", "0"]).expect_code(0);
    assert_eq!(out.stdout.matches("pong from").count(), 2, "{}", out.stdout);
    let out = janus_run(&["bench", s, "-n", "500", "-c", "8", "--json"]).expect_code(0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["ok"], 500, "{report}");
    // The same commands still find the datagram socket.
    janus_run(&["ping", d]).expect_code(0);
    janus_run(&["ping", d, "--transport", "dgram"]).expect_code(0);
    janus_run(&["ping", s, "--transport", "stream"]).expect_code(0);
    // Forcing the wrong kind is a transport failure that says why.
    let out = janus_run(&["ping", d, "--transport", "stream"]).expect_code(4);
    assert!(
        out.stderr.contains("is a datagram socket"),
        "{}",
        out.stderr
    );
    let out = janus_run(&[
        "ping",
        s,
        "--transport",
        "dgram",
        "--timeout",
        "1",
        "--reply-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    let (status, _, stderr) = serve.interrupt();
    assert!(status.success(), "{stderr}");
}
