//! `janus call` and `janus ping` as processes against real servers over
//! real sockets: the generated server of the seed manifest (from the
//! `janus-tests` snapshots), and a hand-written server that answers like
//! implementations in other languages do.

mod common;

use common::{janus_async, manifest, temp_dir};
use janus_runtime::{Server, ServerHandle};
use janus_tests::fixtures::Users;
use janus_tests::user_management::user_service::UserServiceServer;
use serde_json::{Value, json};

struct Fixture {
    _dir: tempfile::TempDir,
    sock: String,
    server: ServerHandle,
}

fn start() -> Fixture {
    let dir = temp_dir();
    let path = dir.path().join("users.sock");
    let server = Server::builder()
        .bind(&path)
        .expect("bind")
        .channel(UserServiceServer::new(Users::default()))
        .spawn();
    Fixture {
        sock: path.display().to_string(),
        _dir: dir,
        server,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn seed() -> String {
    manifest("user-management.json").display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_is_printed_as_json_and_exits_0() {
    let f = start();
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "create-user",
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
    ]))
    .await
    .expect_code(0);
    let result: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        result,
        json!({"userId": "u-john_doe", "status": "created", "message": "john@example.com (user, age unknown)"})
    );
    assert!(
        out.stdout.contains("\n  \"userId\""),
        "pretty: {}",
        out.stdout
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);

    // --args, --channel and a built-in.
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "create-user",
        "--channel",
        "user-service",
        "--args",
        r#"{"username": "mary", "email": "m@example.com", "role": "admin", "profile": {"age": 30}}"#,
    ]))
    .await
    .expect_code(0);
    assert!(
        out.stdout.contains("m@example.com (admin, age 30)"),
        "{}",
        out.stdout
    );
    let out = janus_async(args(&["call", &f.sock, "get_info"]))
        .await
        .expect_code(0);
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["channels"], json!(["user-service"]));
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_responses_go_to_stderr_and_exit_1() {
    let f = start();
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "create-user",
        "-a",
        "username=jo",
        "-a",
        "email=john@example.com",
    ]))
    .await
    .expect_code(1);
    assert!(out.stdout.is_empty());
    assert_eq!(
        out.stderr,
        "error: -32602 Invalid params\n  details: 2 problems with the arguments: argument `username`: `jo` is shorter than minLength 3 (2 characters); argument `username`: `jo` does not match pattern `^[a-zA-Z0-9_]{3,50}$`\n  errorType: INVALID_PARAMS\n  field: username\n  value: \"jo\"\n  constraints: {\"minLength\":3}\n  errors:\n    - `username`: `jo` is shorter than minLength 3 (2 characters)\n    - `username`: `jo` does not match pattern `^[a-zA-Z0-9_]{3,50}$`\n"
    );
    // A declared application error.
    for expected in [0, 1] {
        let out = janus_async(args(&[
            "call",
            &f.sock,
            "create-user",
            "-a",
            "username=taken",
            "-a",
            "email=t@example.com",
        ]))
        .await
        .expect_code(expected);
        if expected == 1 {
            assert!(
                out.stderr.starts_with("error: -32000 Server error\n"),
                "{}",
                out.stderr
            );
            assert!(
                out.stderr.contains("  details: `taken` is taken\n"),
                "{}",
                out.stderr
            );
            assert!(
                out.stderr.contains("  errorType: USERNAME_EXISTS\n"),
                "{}",
                out.stderr
            );
        }
    }
    // Unknown request.
    let out = janus_async(args(&["call", &f.sock, "delete-user"]))
        .await
        .expect_code(1);
    assert!(
        out.stderr.starts_with("error: -32601 Method not found"),
        "{}",
        out.stderr
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_exit_3_and_missing_servers_exit_4() {
    let f = start();
    // A server that receives and never answers.
    let silent_path = f._dir.path().join("silent.sock");
    let silent = tokio::net::UnixDatagram::bind(&silent_path).expect("bind");
    let silent_sock = silent_path.display().to_string();
    let out = janus_async(args(&[
        "call",
        &silent_sock,
        "anything",
        "--timeout",
        "0.3",
    ]))
    .await
    .expect_code(3);
    assert!(
        out.stderr
            .contains(&format!("janus: no answer from {silent_sock} within 0.3 s")),
        "{}",
        out.stderr
    );
    let mut buf = [0u8; 4096];
    let (n, _) = silent
        .recv_from(&mut buf)
        .await
        .expect("the request arrived");
    assert!(n > 0);
    janus_async(args(&["ping", &silent_sock, "--timeout", "0.2"]))
        .await
        .expect_code(3);
    let nobody = format!("{}/nobody.sock", f._dir.path().display());
    let out = janus_async(args(&["call", &nobody, "ping"]))
        .await
        .expect_code(4);
    assert!(
        out.stderr.contains("no server is receiving at"),
        "{}",
        out.stderr
    );
    let out = janus_async(args(&["ping", &nobody, "--timeout", "0.5"]))
        .await
        .expect_code(4);
    assert!(out.stderr.contains("transport failure"), "{}", out.stderr);
    // A reply directory that does not exist: the client cannot be made.
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "ping",
        "--reply-dir",
        "/nonexistent-dir",
    ]))
    .await
    .expect_code(4);
    assert!(
        out.stderr.contains("cannot create a client"),
        "{}",
        out.stderr
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let f = start();
    for bad in [
        args(&["call", &f.sock, "ping", "--args", "{not json"]),
        args(&["call", &f.sock, "ping", "-a", "novalue"]),
        args(&["call", &f.sock, "ping", "--args", "[1]", "-a", "x=1"]),
        args(&["call", &f.sock, "ping", "--timeout", "0"]),
        args(&["call", &f.sock]),
        args(&[
            "call",
            &f.sock,
            "create-user",
            "--manifest",
            "/nonexistent.json",
        ]),
    ] {
        let out = janus_async(bad.clone()).await;
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
        assert!(!out.stderr.is_empty(), "{bad:?}");
    }
    assert_eq!(f.server.stats().received, 0, "nothing reached the server");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_manifest_arguments_are_converted_and_checked_before_sending() {
    let f = start();
    let seed = seed();
    // Converted to the declared types: `007` stays a string, `30` becomes an integer.
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "create-user",
        "--manifest",
        &seed,
        "-a",
        "username=007",
        "-a",
        "email=bond@example.com",
        "-a",
        "profile.age=30",
    ]))
    .await
    .expect_code(0);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["userId"], "u-007");
    assert_eq!(result["message"], "bond@example.com (user, age 30)");
    let received = f.server.stats().received;

    // A value that cannot take its type: usage, nothing sent.
    let out = janus_async(args(&[
        "call",
        &f.sock,
        "create-user",
        "--manifest",
        &seed,
        "-a",
        "username=john",
        "-a",
        "email=j@example.com",
        "-a",
        "profile.age=abc",
    ]))
    .await
    .expect_code(2);
    assert!(
        out.stderr
            .contains("-a profile.age=abc: `profile.age` must be an integer (")
            && out
                .stderr
                .contains("user-management.json: /models/UserProfile/properties/age)"),
        "{}",
        out.stderr
    );

    // Arguments that break the manifest: the server's own error, found
    // locally; nothing sent.
    let bad = [
        "-a",
        "username=jo",
        "-a",
        "email=john@example.com",
        "-a",
        "profile.age=150",
    ];
    let mut local = args(&["call", &f.sock, "create-user", "--manifest", &seed]);
    local.extend(args(&bad));
    let local = janus_async(local).await.expect_code(1);
    assert!(
        local.stderr.contains("nothing was sent"),
        "{}",
        local.stderr
    );
    assert_eq!(
        f.server.stats().received,
        received,
        "nothing reached the server"
    );
    let mut remote = args(&["call", &f.sock, "create-user"]);
    remote.extend(args(&bad));
    let remote = janus_async(remote).await.expect_code(1);
    let body = |s: &str| {
        s.split_once('\n')
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        body(&local.stderr),
        body(&remote.stderr),
        "same error as the server's"
    );
    // Members are checked in wire-name order: `profile` before `username`.
    assert!(
        remote.stderr.contains("field: profile.age"),
        "{}",
        remote.stderr
    );

    // Requests the manifest does not have.
    let out = janus_async(args(&["call", &f.sock, "delete-user", "--manifest", &seed]))
        .await
        .expect_code(2);
    assert!(
        out.stderr.contains("has no request `delete-user`"),
        "{}",
        out.stderr
    );
    // Built-ins need no manifest entry.
    janus_async(args(&["call", &f.sock, "ping", "--manifest", &seed]))
        .await
        .expect_code(0);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_prints_round_trip_times() {
    let f = start();
    let out = janus_async(args(&["ping", &f.sock, "-c", "3", "-i", "0.01"]))
        .await
        .expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    for (i, line) in lines[..3].iter().enumerate() {
        assert!(
            line.starts_with(&format!("pong from {}: seq={} time=", f.sock, i + 1)),
            "{line}"
        );
        assert!(line.contains(" ms (server time "), "{line}");
    }
    assert!(
        lines[3].starts_with("3 pings: min/avg/max = "),
        "{}",
        lines[3]
    );
    f.server.shutdown().await;
}

/// A server written like those of other implementations: no `channelId`
/// expected, and answers that leave out `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_against_servers_that_route_by_request_name() {
    let dir = temp_dir();
    let path = dir.path().join("foreign.sock");
    let socket = tokio::net::UnixDatagram::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let (n, _) = socket.recv_from(&mut buf).await.expect("a request");
        let request: Value = serde_json::from_slice(&buf[..n]).expect("JSON request");
        let reply = json!({
            "result": {"sum": request["args"]["a"].as_i64().unwrap_or(0) + request["args"]["b"].as_i64().unwrap_or(0)},
            "success": true,
            "request_id": request["id"],
            "id": "ABCDEF-1",
            "timestamp": "2025-08-06T12:34:56.789Z",
        });
        let reply_to = request["reply_to"].as_str().expect("reply_to").to_owned();
        socket
            .send_to(reply.to_string().as_bytes(), &reply_to)
            .await
            .expect("answer sent");
        request
    });
    let out = janus_async(args(&[
        "call",
        &path.display().to_string(),
        "add",
        "-a",
        "a=2",
        "-a",
        "b=3",
    ]))
    .await
    .expect_code(0);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"sum": 5})
    );
    let request = server.await.unwrap();
    assert!(
        request.get("channelId").is_none(),
        "no channelId: {request}"
    );
    assert_eq!(request["method"], "add");
    assert_eq!(request["request"], "add");
    assert_eq!(request["args"], json!({"a": 2, "b": 3}));
    // The client waits 30 s and announces a little less, so that a server
    // cancelling at the announced timeout still reaches it with -32006.
    assert_eq!(request["timeout"], json!(29.9));
}

#[tokio::test]
async fn with_a_manifest_the_result_is_checked_and_the_broken_member_named() {
    let dir = temp_dir();
    let path = dir.path().join("liar.sock");
    let socket = tokio::net::UnixDatagram::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let (n, _) = socket.recv_from(&mut buf).await.expect("a request");
        let request: Value = serde_json::from_slice(&buf[..n]).expect("JSON request");
        let reply = json!({
            "result": {"userId": 7, "status": "created", "message": "m"},
            "error": null,
            "success": true,
            "request_id": request["id"],
            "id": "ABCDEF-2",
            "timestamp": "2025-08-06T12:34:56.789Z",
        });
        let reply_to = request["reply_to"].as_str().expect("reply_to").to_owned();
        socket
            .send_to(reply.to_string().as_bytes(), &reply_to)
            .await
            .expect("answer sent");
    });
    let out = janus_async(args(&[
        "call",
        &path.display().to_string(),
        "create-user",
        "--manifest",
        &seed(),
        "-a",
        "username=john_doe",
        "-a",
        "email=john@example.com",
    ]))
    .await
    .expect_code(1);
    server.await.unwrap();
    assert!(
        out.stderr
            .contains("result.userId: breaks `type`: expected a string, found number 7"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_130_and_removes_the_reply_socket() {
    let dir = temp_dir();
    let silent_path = dir.path().join("silent.sock");
    let silent = tokio::net::UnixDatagram::bind(&silent_path).expect("bind");
    let replies = dir.path().join("replies");
    std::fs::create_dir(&replies).unwrap();
    for command in [
        vec!["call", "anything", "--timeout", "60"],
        vec!["bench", "-n", "10", "--timeout", "60"],
    ] {
        let mut child = common::janus()
            .arg(command[0])
            .arg(&silent_path)
            .args(&command[1..])
            .arg("--reply-dir")
            .arg(&replies)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Once the request has arrived, the client and its socket exist.
        let mut buf = [0u8; 4096];
        silent.recv_from(&mut buf).await.expect("a request");
        assert_eq!(std::fs::read_dir(&replies).unwrap().count(), 1);
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::INT,
        )
        .unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(130), "{command:?}");
        assert_eq!(
            std::fs::read_dir(&replies).unwrap().count(),
            0,
            "{command:?} left its reply socket"
        );
    }
}
