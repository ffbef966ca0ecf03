//! Every way a datagram can be wrong, over a real socket: each row asserts
//! the exact code and `errorType` of the answer (or that nothing was sent
//! anywhere), and that the server still answers `ping` afterwards.

mod common;

use common::{Harness, Peer, TestService, now};
use janus_runtime::DropCounts;
use serde_json::{Value, json};

/// Where a row's datagram comes from.
enum From {
    /// A socket bound in the allowed directory; answers come back to it.
    Bound,
    /// An unbound socket: the server sees no address.
    Anonymous,
}

enum Expect {
    /// An error answer to the sender.
    Answer {
        code: i64,
        error_type: &'static str,
        request_id: Option<&'static str>,
    },
    /// No answer anywhere; the named drop counter goes up.
    Dropped(fn(&DropCounts) -> u64),
}

/// Builds a row's datagram from the paths of this run.
type MakeDatagram = Box<dyn Fn(&Paths) -> Vec<u8>>;

struct Row {
    name: &'static str,
    from: From,
    datagram: MakeDatagram,
    expect: Expect,
}

/// Paths a row may refer to.
struct Paths {
    /// The sender's own path (bound rows).
    me: String,
    /// A socket outside the allowed directory that must never hear anything.
    trap: String,
    /// A socket inside the allowed directory that must never hear anything.
    victim: String,
    allowed: String,
}

fn req(fields: Value) -> Vec<u8> {
    fields.to_string().into_bytes()
}

fn answer(code: i64, error_type: &'static str, request_id: Option<&'static str>) -> Expect {
    Expect::Answer {
        code,
        error_type,
        request_id,
    }
}

fn rows() -> Vec<Row> {
    let ts = now();
    let row = |name, from, expect, f: MakeDatagram| Row {
        name,
        from,
        datagram: f,
        expect,
    };
    let t = ts.clone();
    let base = move |p: &Paths, extra: Value| {
        let mut v = json!({"id": "r1", "request": "ping", "reply_to": p.me, "timestamp": t});
        for (k, val) in extra.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        req(v)
    };
    let b = base.clone();
    let with = move |extra: Value| -> MakeDatagram {
        let b = b.clone();
        Box::new(move |p: &Paths| b(p, extra.clone()))
    };
    let b2 = base.clone();
    vec![
        row(
            "not JSON",
            From::Bound,
            answer(-32700, "PARSE_ERROR", None),
            Box::new(|_| b"{\"id\": oops".to_vec()),
        ),
        row(
            "not UTF-8",
            From::Bound,
            answer(-32700, "PARSE_ERROR", None),
            Box::new(|_| b"{\"id\":\"\xff\xfe\"}".to_vec()),
        ),
        row(
            "empty datagram",
            From::Bound,
            answer(-32700, "PARSE_ERROR", None),
            Box::new(|_| Vec::new()),
        ),
        row(
            "JSON array",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            Box::new(|_| b"[1,2,3]".to_vec()),
        ),
        row(
            "JSON string",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            Box::new(|_| b"\"ping\"".to_vec()),
        ),
        row(
            "NUL byte",
            From::Bound,
            answer(-32005, "INVALID_CHARACTER_ENCODING", None),
            Box::new(move |p| {
                let mut d = b2(p, json!({}));
                d.insert(1, 0);
                d
            }),
        ),
        row(
            "channel name breaks the rules",
            From::Bound,
            answer(-32005, "SECURITY_VIOLATION", Some("r1")),
            with(json!({"request": "add", "channelId": "bad channel"})),
        ),
        row(
            "request name breaks the rules",
            From::Bound,
            answer(-32005, "SECURITY_VIOLATION", Some("r1")),
            with(json!({"request": "../etc/passwd"})),
        ),
        row(
            "request name too long",
            From::Bound,
            answer(-32005, "SECURITY_VIOLATION", Some("r1")),
            with(json!({"request": "x".repeat(257)})),
        ),
        row(
            "missing id",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            with(json!({"id": null})),
        ),
        row(
            "id not a string",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            with(json!({"id": 42})),
        ),
        row(
            "id with bad characters",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            with(json!({"id": "a b"})),
        ),
        row(
            // An object naming no request is not one (every response looks
            // like this): never answered, so no two servers answer each other.
            "missing request and method",
            From::Bound,
            Expect::Dropped(|d| d.not_a_request),
            with(json!({"request": null})),
        ),
        row(
            "a response",
            From::Bound,
            Expect::Dropped(|d| d.not_a_request),
            Box::new(|_| {
                br#"{"id":"x","request_id":"r1","success":true,"result":{"pong":true},"timestamp":"2025-08-06T12:34:56.789Z"}"#.to_vec()
            }),
        ),
        row(
            "an enveloped response",
            From::Bound,
            Expect::Dropped(|d| d.not_a_request),
            Box::new(|_| br#"{"type":"response","payload":"e30="}"#.to_vec()),
        ),
        row(
            "request not a string",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"request": ["ping"]})),
        ),
        row(
            "method differs from request",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"method": "echo"})),
        ),
        row(
            "missing timestamp",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"timestamp": null})),
        ),
        row(
            "timestamp not a date",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"timestamp": "yesterday"})),
        ),
        row(
            "timeout too small",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"timeout": 0.01})),
        ),
        row(
            "timeout too large",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"timeout": 301})),
        ),
        row(
            "timeout not a number",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"timeout": "30"})),
        ),
        row(
            "reply_to not a string",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", None),
            with(json!({"reply_to": 7})),
        ),
        row(
            "ambiguous routing",
            From::Bound,
            answer(-32600, "INVALID_REQUEST", Some("r1")),
            with(json!({"request": "add", "args": {"a": 1, "b": 2}})),
        ),
        row(
            "unknown channel",
            From::Bound,
            answer(-32004, "RESOURCE_NOT_FOUND", Some("r1")),
            with(json!({"request": "add", "channelId": "nope"})),
        ),
        row(
            "unknown request",
            From::Bound,
            answer(-32601, "METHOD_NOT_FOUND", Some("r1")),
            with(json!({"request": "nope", "channelId": "test"})),
        ),
        row(
            "unknown request, no channel",
            From::Bound,
            answer(-32601, "METHOD_NOT_FOUND", Some("r1")),
            with(json!({"request": "nope"})),
        ),
        row(
            "args not an object",
            From::Bound,
            answer(-32602, "INVALID_PARAMS", Some("r1")),
            with(json!({"args": [1, 2]})),
        ),
        row(
            "argument missing",
            From::Bound,
            answer(-32602, "INVALID_PARAMS", Some("r1")),
            with(json!({"request": "greet", "channelId": "test", "args": {}})),
        ),
        row(
            "argument of the wrong type",
            From::Bound,
            answer(-32602, "INVALID_PARAMS", Some("r1")),
            with(json!({"request": "greet", "channelId": "test", "args": {"name": 5}})),
        ),
        row(
            "argument breaks a constraint",
            From::Bound,
            answer(-32602, "INVALID_PARAMS", Some("r1")),
            with(json!({"request": "greet", "channelId": "test", "args": {"name": "jo"}})),
        ),
        row(
            "args over the size limit",
            From::Bound,
            answer(-32005, "MESSAGE_TOO_LARGE", Some("r1")),
            with(json!({"request": "echo", "args": {"message": "x".repeat(2000)}})),
        ),
        row(
            "message over the size limit",
            From::Bound,
            answer(-32005, "MESSAGE_TOO_LARGE", Some("r1")),
            Box::new({
                let t = ts.clone();
                // In protocol order, as every implementation sends: the id survives the cut.
                move |p| {
                    format!(
                        r#"{{"id":"r1","method":"echo","request":"echo","reply_to":"{}","args":{{"message":"{}"}},"timestamp":"{t}"}}"#,
                        p.me,
                        "x".repeat(100_000)
                    )
                    .into_bytes()
                }
            }),
        ),
        row(
            "message over the size limit, id beyond the cut",
            From::Bound,
            answer(-32005, "MESSAGE_TOO_LARGE", None),
            with(json!({"request": "echo", "args": {"message": "x".repeat(100_000)}})),
        ),
        row(
            "reply_to outside the allowed directories",
            From::Bound,
            answer(-32005, "INVALID_SOCKET_PATH", Some("r1")),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": p.trap}))
            }),
        ),
        row(
            "reply_to with ..",
            From::Bound,
            answer(-32005, "PATH_TRAVERSAL_ATTEMPT", Some("r1")),
            Box::new({
                let b = base.clone();
                move |p| {
                    b(
                        p,
                        json!({"reply_to": format!("{}/../outside/trap.sock", p.allowed)}),
                    )
                }
            }),
        ),
        row(
            "reply_to too long",
            From::Bound,
            answer(-32005, "INVALID_SOCKET_PATH", Some("r1")),
            Box::new({
                let b = base.clone();
                move |p| {
                    b(
                        p,
                        json!({"reply_to": format!("{}/{}.sock", p.allowed, "x".repeat(110))}),
                    )
                }
            }),
        ),
        row(
            "reply_to relative",
            From::Bound,
            answer(-32005, "INVALID_SOCKET_PATH", Some("r1")),
            with(json!({"reply_to": "reply.sock"})),
        ),
        row(
            "reply_to with a space",
            From::Bound,
            answer(-32005, "INVALID_SOCKET_PATH", Some("r1")),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": format!("{}/a b.sock", p.allowed)}))
            }),
        ),
        row(
            "reply_to differs from the sender",
            From::Bound,
            answer(-32009, "SECURITY_VIOLATION", Some("r1")),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": p.victim}))
            }),
        ),
        row(
            "reply_to nonexistent",
            From::Anonymous,
            Expect::Dropped(|d| d.reply_to_missing),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": format!("{}/nobody.sock", p.allowed)}))
            }),
        ),
        row(
            "reply_to a stale socket",
            From::Anonymous,
            Expect::Dropped(|d| d.receiver_gone),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": format!("{}/stale.sock", p.allowed)}))
            }),
        ),
        row(
            "reply_to a regular file",
            From::Anonymous,
            Expect::Dropped(|d| d.reply_to_not_socket),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": format!("{}/plain-file", p.allowed)}))
            }),
        ),
        row(
            "reply_to a symlink to a socket",
            From::Anonymous,
            Expect::Dropped(|d| d.reply_to_not_socket),
            Box::new({
                let b = base.clone();
                move |p| {
                    b(
                        p,
                        json!({"reply_to": format!("{}/link-to-victim.sock", p.allowed)}),
                    )
                }
            }),
        ),
        row(
            "reply_to through a symlinked directory",
            From::Anonymous,
            Expect::Dropped(|d| d.invalid_reply_to),
            Box::new({
                let b = base.clone();
                move |p| {
                    b(
                        p,
                        json!({"reply_to": format!("{}/escape/trap.sock", p.allowed)}),
                    )
                }
            }),
        ),
        row(
            "reply_to outside, anonymous sender",
            From::Anonymous,
            Expect::Dropped(|d| d.invalid_reply_to),
            Box::new({
                let b = base.clone();
                move |p| b(p, json!({"reply_to": p.trap}))
            }),
        ),
        row(
            "malformed, anonymous sender, no reply_to",
            From::Anonymous,
            Expect::Dropped(|d| d.unanswerable),
            Box::new(|_| b"{oops".to_vec()),
        ),
    ]
}

#[tokio::test]
async fn every_bad_datagram_gets_the_right_answer_or_none() {
    let h = Harness::start_with(
        |b| b.max_args_size(1024).max_message_size(64 * 1024),
        |server, events| server.channel(TestService::new("other", events)),
    )
    .await;
    let trap = Peer::bound(&h.outside.join("trap.sock"), &h.server_path);
    let victim = h.peer("victim.sock");
    drop(std::os::unix::net::UnixDatagram::bind(h.allowed.join("stale.sock")).unwrap());
    std::fs::write(h.allowed.join("plain-file"), b"untouched").unwrap();
    std::os::unix::fs::symlink(
        h.allowed.join("victim.sock"),
        h.allowed.join("link-to-victim.sock"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&h.outside, h.allowed.join("escape")).unwrap();

    let rows = rows();
    assert!(rows.len() >= 40);
    for (i, row) in rows.iter().enumerate() {
        let peer = match row.from {
            From::Bound => h.peer(&format!("row{i}.sock")),
            From::Anonymous => h.anonymous(),
        };
        let paths = Paths {
            me: peer
                .path
                .as_ref()
                .map(|p| p.to_str().unwrap().to_owned())
                .unwrap_or_else(|| format!("{}/anonymous.sock", h.allowed.display())),
            trap: trap.path_str().to_owned(),
            victim: victim.path_str().to_owned(),
            allowed: h.allowed.to_str().unwrap().to_owned(),
        };
        let before = h.handle.stats();
        peer.send(&(row.datagram)(&paths)).await;
        match &row.expect {
            Expect::Answer {
                code,
                error_type,
                request_id,
            } => {
                let got = peer.recv().await;
                let name = row.name;
                assert_eq!(got["success"], false, "{name}: {got}");
                assert_eq!(got["result"], Value::Null, "{name}: {got}");
                assert_eq!(got["error"]["code"], *code, "{name}: {got}");
                assert_eq!(
                    got["error"]["data"]["errorType"], *error_type,
                    "{name}: {got}"
                );
                let details = got["error"]["data"]["details"].as_str().unwrap_or("");
                assert!(details.len() > 10, "{name}: the answer must say why: {got}");
                match request_id {
                    Some(id) => assert_eq!(got["request_id"], *id, "{name}: {got}"),
                    None => assert_eq!(got["request_id"], Value::Null, "{name}: {got}"),
                }
                if *error_type == "INVALID_PARAMS" && row.name.contains("constraint") {
                    assert_eq!(got["error"]["data"]["field"], "name", "{got}");
                    assert_eq!(got["error"]["data"]["value"], "jo", "{got}");
                    assert_eq!(
                        got["error"]["data"]["constraints"],
                        json!({"minLength": 3}),
                        "{got}"
                    );
                }
                if row.name == "ambiguous routing" {
                    assert!(
                        details.contains("`other`") && details.contains("`test`"),
                        "{details}"
                    );
                }
            }
            Expect::Dropped(counter) => {
                h.settled_after(before.received + 1).await;
                let after = h.handle.stats();
                assert_eq!(
                    counter(&after.dropped),
                    counter(&before.dropped) + 1,
                    "{}: {after:?}",
                    row.name
                );
                assert_eq!(
                    after.answered, before.answered,
                    "{}: nothing may be sent",
                    row.name
                );
            }
        }
        h.assert_alive().await;
        h.settled().await;
        assert!(
            trap.try_recv().is_none(),
            "{}: the trap outside heard something",
            row.name
        );
        assert!(
            victim.try_recv().is_none(),
            "{}: the victim heard something",
            row.name
        );
        assert!(
            peer.try_recv().is_none(),
            "{}: more than one answer",
            row.name
        );
    }
    assert_eq!(
        std::fs::read(h.allowed.join("plain-file")).unwrap(),
        b"untouched"
    );
    let stats = h.handle.stats();
    assert_eq!(stats.truncated, 2, "{stats:?}");
    assert_eq!(stats.handler_panics, 0);
}

#[tokio::test]
async fn too_many_in_flight_is_refused() {
    let mut h = Harness::start_with(
        |b| {
            b.max_in_flight(1)
                .shutdown_grace(std::time::Duration::from_millis(50))
        },
        |s, _| s,
    )
    .await;
    let peer = h.peer("busy.sock");
    let blocker = json!({"id": "slow", "request": "forever", "channelId": "test", "reply_to": peer.path_str(), "timestamp": now(), "timeout": 5});
    peer.send(blocker.to_string().as_bytes()).await;
    h.expect_event(common::Event::Started("forever".into()))
        .await;
    let got = peer
        .request(json!({"id": "second", "request": "add", "channelId": "test", "args": {"a": 1, "b": 1}, "reply_to": peer.path_str(), "timestamp": now()}))
        .await
        .unwrap();
    assert_eq!(got["error"]["code"], -32010, "{got}");
    assert_eq!(got["error"]["data"]["errorType"], "RESOURCE_LIMIT_EXCEEDED");
    assert_eq!(got["request_id"], "second");
    assert_eq!(h.handle.stats().rejected_busy, 1);
    h.handle.shutdown().await;
}

#[tokio::test]
async fn a_uid_outside_the_allow_list_is_refused() {
    let me = rustix::process::getuid().as_raw();
    let h = Harness::start_with(|b| b.allowed_uids([me + 1]), |s, _| s).await;
    let peer = h.peer("intruder.sock");
    let got = peer
        .request(
            json!({"id": "x1", "request": "ping", "reply_to": peer.path_str(), "timestamp": now()}),
        )
        .await
        .unwrap();
    assert_eq!(got["error"]["code"], -32002, "{got}");
    assert_eq!(got["error"]["data"]["errorType"], "AUTHENTICATION_FAILED");
    assert!(
        got["error"]["data"]["details"]
            .as_str()
            .unwrap()
            .contains(&me.to_string())
    );

    let allowed = Harness::start_with(|b| b.allowed_uids([me]), |s, _| s).await;
    allowed.assert_alive().await;
}

#[tokio::test]
async fn every_vector_request_from_other_clients_is_answered() {
    let h = Harness::start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors");
    let mut answered = 0;
    for sub in ["go-client-sends", "rust-client-sends", "ts-client-sends"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            // Same bytes, but answers go to our socket (bound, so reply_to must name it).
            let original: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            let peer = h.peer(&format!("vec-{answered}.sock"));
            let mut request = original.clone();
            request["reply_to"] = json!(peer.path_str());
            let got = peer
                .request(request)
                .await
                .unwrap_or_else(|| panic!("{}: no answer", file.display()));
            assert_eq!(got["request_id"], original["id"], "{}", file.display());
            let name = original["request"].as_str().unwrap();
            match name {
                "bogus_req" => assert_eq!(got["error"]["code"], -32601, "{got}"),
                "ping" => assert_eq!(got["result"]["pong"], true, "{got}"),
                "echo" => assert_eq!(got["result"]["echo"], "hello wire", "{got}"),
                "get_info" => assert_eq!(got["result"]["protocol"], "SOCK_DGRAM", "{got}"),
                "manifest" => assert!(got["result"]["channels"]["test"].is_object(), "{got}"),
                other => panic!("unexpected vector request {other}"),
            }
            answered += 1;
        }
    }
    assert_eq!(answered, 25);
}

#[tokio::test]
async fn a_truncated_datagram_is_never_parsed() {
    // A valid request whose end is cut off by the receive limit must not be
    // run as if whole: it is refused as too large.
    let mut h = Harness::start_with(|b| b.max_message_size(4096), |s, _| s).await;
    let peer = h.peer("cut.sock");
    let request = format!(
        r#"{{"id":"cut1","request":"record","channelId":"test","reply_to":"{}","timestamp":"{}","args":{{"pad":"{}"}}}}"#,
        peer.path_str(),
        now(),
        "y".repeat(5000)
    );
    peer.send(request.as_bytes()).await;
    let got = peer.recv().await;
    assert_eq!(
        got["error"]["data"]["errorType"], "MESSAGE_TOO_LARGE",
        "{got}"
    );
    assert_eq!(got["request_id"], "cut1");
    h.settled().await;
    assert!(h.events.try_recv().is_err(), "the handler must not run");
}
