//! `janus call`, `ping` and `bench` with `--dialect` and `--envelope`, as
//! processes: against `janus serve` (answering in kind), and against a v1
//! server written here that checks what it receives.

mod common;

use common::{Serve, janus_async, janus_run, manifest, temp_dir};
use serde_json::{Value, json};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `--dialect D` and, when `envelope`, `--envelope`.
fn wire(dialect: &str, envelope: bool) -> Vec<String> {
    let mut out = args(&["--dialect", dialect]);
    if envelope {
        out.push("--envelope".into());
    }
    out
}

const FORMS: [(&str, bool); 6] = [
    ("v2", false),
    ("v2", true),
    ("v1", false),
    ("v1", true),
    ("v1-epoch", false),
    ("v1-epoch", true),
];

#[test]
fn call_ping_and_bench_speak_every_dialect_to_janus_serve() {
    let serve = Serve::start(&manifest("user-management.json"), &["--quiet"]);
    let sock = serve.sock();
    for (dialect, envelope) in FORMS {
        let case = format!("--dialect {dialect} envelope={envelope}");
        let mut call = args(&[
            "call",
            &sock,
            "create-user",
            "--channel",
            "user-service",
            "-a",
            "username=john_doe",
            "-a",
            "email=john@example.com",
        ]);
        call.extend(wire(dialect, envelope));
        let out = janus_run(&call).expect_code(0);
        let result: Value = serde_json::from_str(&out.stdout).expect("JSON result");
        assert!(result["userId"].is_string(), "{case}: {result}");

        // An argument error comes back with its field, whatever the dialect.
        let mut bad = call.clone();
        bad[6] = "username=no spaces".into();
        let out = janus_run(&bad).expect_code(1);
        assert!(
            out.stderr.starts_with("error: -32602 Invalid params\n"),
            "{case}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("  field: username\n"),
            "{case}: {}",
            out.stderr
        );

        let mut ping = args(&[
            "ping",
            &sock,
            "--channel",
            "user-service",
            "-c",
            "2",
            "-i",
            "0",
        ]);
        ping.extend(wire(dialect, envelope));
        let out = janus_run(&ping).expect_code(0);
        assert_eq!(
            out.stdout
                .lines()
                .filter(|l| l.starts_with("pong from"))
                .count(),
            2,
            "{case}: {}",
            out.stdout
        );

        let mut bench = args(&[
            "bench",
            &sock,
            "-n",
            "40",
            "-c",
            "4",
            "--channel",
            "user-service",
            "--json",
        ]);
        bench.extend(wire(dialect, envelope));
        let out = janus_run(&bench).expect_code(0);
        let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
        assert_eq!(report["ok"], 40, "{case}: {report}");
        assert_eq!(report["errors"], json!({}), "{case}: {report}");
    }
    let (status, ..) = serve.interrupt();
    assert!(status.success());
}

#[test]
fn a_v1_dialect_needs_a_channel_and_unknown_dialects_are_refused() {
    let dir = temp_dir();
    // No server at all: the usage errors are found before anything is sent.
    let sock = dir.path().join("none.sock").display().to_string();
    for command in ["call", "ping", "bench"] {
        let mut line = args(&[command, &sock]);
        if command == "call" {
            line.push("create-user".into());
        }
        line.extend(wire("v1-epoch", false));
        let out = janus_run(&line).expect_code(2);
        assert!(
            out.stderr
                .contains("--dialect v1-epoch sends a SocketCommand, which always names its channel: give --channel"),
            "{command}: {}",
            out.stderr
        );
    }
    let out = janus_run(&args(&["ping", &sock, "--dialect", "v3"])).expect_code(2);
    assert!(
        out.stderr
            .contains("unknown dialect `v3`; expected v2, v1 or v1-epoch"),
        "{}",
        out.stderr
    );
}

/// A v1 server of another implementation: one `SocketCommand` (checked by
/// the test), answered with a `SocketResponse` in the same form.
async fn v1_server_once(socket: tokio::net::UnixDatagram, answer: &'static str) -> Value {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    let mut buf = vec![0u8; 65536];
    let n = socket.recv(&mut buf).await.expect("a command");
    let outer: Value = serde_json::from_slice(&buf[..n]).expect("JSON");
    let enveloped = outer["type"] == "command";
    let command: Value = if enveloped {
        let inner = BASE64.decode(outer["payload"].as_str().unwrap()).unwrap();
        serde_json::from_slice(&inner).expect("JSON inside the envelope")
    } else {
        outer.clone()
    };
    let reply = format!(
        r#"{{"commandId":{},"channelId":{},{answer},"timestamp":1722249001.234}}"#,
        command["id"], command["channelId"]
    );
    let reply = if enveloped {
        format!(
            r#"{{"type":"response","payload":"{}"}}"#,
            BASE64.encode(reply)
        )
    } else {
        reply
    };
    socket
        .send_to(reply.as_bytes(), command["reply_to"].as_str().unwrap())
        .await
        .expect("answer sent");
    json!({"enveloped": enveloped, "command": command})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_talks_to_a_v1_server() {
    let dir = temp_dir();
    let path = dir.path().join("v1.sock");
    let sock = path.display().to_string();
    let seed = manifest("user-management.json").display().to_string();
    let socket = tokio::net::UnixDatagram::bind(&path).expect("bind");

    // With --manifest the channel comes from the manifest; success.
    let server = tokio::spawn(v1_server_once(
        socket,
        r#""success":true,"result":{"userId":"12345","status":"created","message":"User created successfully"}"#,
    ));
    let mut line = args(&[
        "call",
        &sock,
        "create-user",
        "--manifest",
        &seed,
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
    ]);
    line.extend(wire("v1-epoch", true));
    let out = janus_async(line).await.expect_code(0);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["userId"],
        "12345"
    );
    let seen = server.await.unwrap();
    assert_eq!(seen["enveloped"], true, "{seen}");
    let command = &seen["command"];
    assert_eq!(command["command"], "create-user", "{seen}");
    assert_eq!(command["channelId"], "user-service", "{seen}");
    assert!(command["timestamp"].is_f64(), "{seen}");
    assert!(command.get("request").is_none() && command.get("method").is_none());

    // A string error code: named on stderr, exit 1.
    let socket = tokio::net::UnixDatagram::bind(dir.path().join("v1b.sock")).expect("bind");
    let server = tokio::spawn(v1_server_once(
        socket,
        r#""success":false,"error":{"code":"ARGUMENT_OUT_OF_RANGE","message":"Age out of range","details":"age must be at most 120","field":"profile.age","value":130,"constraints":{"maximum":120}}"#,
    ));
    let mut line = args(&[
        "call",
        &dir.path().join("v1b.sock").display().to_string(),
        "create-user",
        "--channel",
        "user-service",
        "--args",
        r#"{"username":"old_timer","email":"o@example.com","profile":{"age":130}}"#,
    ]);
    line.extend(wire("v1", false));
    let out = janus_async(line).await.expect_code(1);
    assert_eq!(
        out.stderr,
        "error: -32602 Age out of range\n  details: age must be at most 120\n  errorType: ARGUMENT_OUT_OF_RANGE\n  field: profile.age\n  value: 130\n  constraints: {\"maximum\":120}\n"
    );
    let seen = server.await.unwrap();
    assert_eq!(seen["enveloped"], false, "{seen}");
    assert!(seen["command"]["timestamp"].is_string(), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn janus_serve_answers_a_raw_v1_client_in_kind() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    let serve = Serve::start(&manifest("user-management.json"), &["--quiet"]);
    let dir = temp_dir();
    let me = dir.path().join("raw.sock");
    let socket = tokio::net::UnixDatagram::bind(&me).expect("bind");
    // Seed 001's command, enveloped.
    let command = format!(
        r#"{{"id":"550e8400-e29b-41d4-a716-446655440000","channelId":"user-service","command":"create-user","reply_to":"{}","args":{{"username":"john_doe","email":"john@example.com","role":"user"}},"timeout":30.0,"timestamp":1722249000.123}}"#,
        me.display()
    );
    let envelope = format!(
        r#"{{"type":"command","payload":"{}"}}"#,
        BASE64.encode(&command)
    );
    socket
        .send_to(envelope.as_bytes(), &serve.socket)
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), socket.recv(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let outer: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(outer["type"], "response", "{outer}");
    let inner = BASE64.decode(outer["payload"].as_str().unwrap()).unwrap();
    let answer: Value = serde_json::from_slice(&inner).unwrap();
    assert_eq!(
        answer["commandId"], "550e8400-e29b-41d4-a716-446655440000",
        "{answer}"
    );
    assert_eq!(answer["channelId"], "user-service", "{answer}");
    assert_eq!(answer["success"], true, "{answer}");
    assert!(answer["result"]["userId"].is_string(), "{answer}");
    assert!(answer["timestamp"].is_f64(), "{answer}");
    let (status, ..) = serve.interrupt();
    assert!(status.success());
}
