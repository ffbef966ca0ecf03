//! Dialects over real datagram sockets. A raw client written here (plain
//! socket, hand-written JSON, no project code) speaks v1 (seed 003) and
//! v1-epoch (seed 001), enveloped or not, to the generated `user-service`
//! server and correlates every answer by `commandId`; our client speaks each
//! dialect to our server; our client calls a v1 server written here.
//! The generated server also listens on a stream socket: our client in each
//! dialect, and a raw v1 client (plain `std` stream, 4-byte big-endian
//! length and JSON), are run against it too.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use janus_runtime::wire::Dialect;
use janus_runtime::{
    BoxFuture, CallError, Client, ErrorObject, RequestContext, Server, ServerBuilder, ServerHandle,
    Service,
};
use janus_tests::fixtures::Users;
use janus_tests::user_management::models::Status;
use janus_tests::user_management::user_service::{
    CreateUserArgs, CreateUserError, Email, Role, UserServiceClient, UserServiceServer, Username,
};
use serde_json::{Value, json};
use tokio::net::UnixDatagram;

/// Seed 003's `SocketCommand`, as the seed prints it.
const SEED_003_COMMAND: &str = include_str!("../../testdata/seeds/003-socket-command.json");

/// Seed 001's `SocketCommand`, as the seed prints it (its `reply_to` is
/// replaced by the test's socket).
const SEED_001_COMMAND: &str = include_str!("../../testdata/seeds/001-socket-command.json");

/// The envelope example of seeds 001 and 003: seed 003's command, without
/// `reply_to`.
const SEED_ENVELOPE: &str = include_str!("../../testdata/seeds/envelope.json");

const SEED_ID: &str = "550e8400-e29b-41d4-a716-446655440000";

/// The four forms a v1 client may use: (epoch timestamps, enveloped).
const V1_FORMS: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

/// Every form our client can send in.
const ALL_FORMS: [(Dialect, bool); 6] = [
    (Dialect::V2, false),
    (Dialect::V2, true),
    (Dialect::V1, false),
    (Dialect::V1, true),
    (Dialect::V1Epoch, false),
    (Dialect::V1Epoch, true),
];

/// The transports the generated server is reached over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Datagram,
    Stream,
}

/// Both transports, datagrams first.
const TRANSPORTS: [Transport; 2] = [Transport::Datagram, Transport::Stream];

/// A channel `slow` beside `user-service`: `wait` never finishes, `crash`
/// panics.
struct Slow;

impl Service for Slow {
    fn channel_id(&self) -> &str {
        "slow"
    }

    fn requests(&self) -> Vec<String> {
        vec!["wait".into(), "crash".into()]
    }

    fn call(
        &self,
        _ctx: RequestContext,
        request: &str,
        _args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let crash = request == "crash";
        Box::pin(async move {
            if crash {
                panic!("the `crash` handler panics on purpose");
            }
            std::future::pending().await
        })
    }
}

/// A generated `user-service` server (and `slow`) in a private directory,
/// on a datagram socket and a stream socket.
struct Fixture {
    dir: tempfile::TempDir,
    path: PathBuf,
    stream_path: PathBuf,
    server: ServerHandle,
}

impl Fixture {
    async fn start() -> Fixture {
        Self::start_with(|b| b).await
    }

    async fn start_with(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("janus-dialect")
            .tempdir_in("/tmp")
            .unwrap();
        let path = dir.path().join("users.sock");
        let stream_path = dir.path().join("users-stream.sock");
        let builder = Server::builder()
            .allowed_dirs([dir.path().to_str().unwrap()])
            .stream(&stream_path);
        let server = configure(builder)
            .bind(&path)
            .unwrap()
            .channel(UserServiceServer::new(Users::default()))
            .channel(Slow)
            .spawn();
        Fixture {
            dir,
            path,
            stream_path,
            server,
        }
    }

    /// A raw peer bound in the fixture's directory.
    fn peer(&self, name: &str) -> RawPeer {
        RawPeer::bind(&self.dir.path().join(name), &self.path)
    }

    /// A raw peer connected to the fixture's stream socket.
    fn stream_peer(&self) -> RawStream {
        RawStream::connect(&self.stream_path)
    }

    /// A raw peer over `transport`, named `name` when it needs an address.
    fn raw(&self, transport: Transport, name: &str) -> Raw {
        match transport {
            Transport::Datagram => Raw::Datagram(self.peer(name)),
            Transport::Stream => Raw::Stream(self.stream_peer()),
        }
    }

    async fn client_over(&self, transport: Transport, dialect: Dialect, envelope: bool) -> Client {
        let builder = Client::builder()
            .reply_dir(self.dir.path())
            .dialect(dialect)
            .envelope(envelope);
        match transport {
            Transport::Datagram => builder.connect(&self.path).await,
            Transport::Stream => builder.connect_stream(&self.stream_path).await,
        }
        .unwrap()
    }
}

/// A plain datagram socket: what a client of another implementation has.
struct RawPeer {
    socket: UnixDatagram,
    path: String,
    server: PathBuf,
}

impl RawPeer {
    fn bind(path: &Path, server: &Path) -> RawPeer {
        RawPeer {
            socket: UnixDatagram::bind(path).unwrap(),
            path: path.to_str().unwrap().to_owned(),
            server: server.to_owned(),
        }
    }

    async fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, &self.server).await.unwrap();
    }

    /// The next datagram (10 s at most: a missing answer fails the test).
    async fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 1 << 17];
        let n = tokio::time::timeout(Duration::from_secs(10), self.socket.recv(&mut buf))
            .await
            .expect("no answer within 10 s")
            .unwrap();
        buf.truncate(n);
        buf
    }
}

/// A plain blocking stream connection, framed by hand (a 4-byte big-endian
/// length, then the JSON): what a stream client of another implementation
/// has. Its blocking calls run off the runtime that serves.
struct RawStream {
    stream: UnixStream,
}

impl RawStream {
    fn connect(server: &Path) -> RawStream {
        let stream = UnixStream::connect(server).unwrap();
        // A missing answer fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawStream { stream }
    }

    async fn send(&self, bytes: &[u8]) {
        let mut stream = self.stream.try_clone().unwrap();
        let mut frame = u32::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
        frame.extend_from_slice(bytes);
        tokio::task::spawn_blocking(move || stream.write_all(&frame))
            .await
            .unwrap()
            .unwrap();
    }

    /// The next frame's payload (10 s at most).
    async fn recv(&self) -> Vec<u8> {
        let mut stream = self.stream.try_clone().unwrap();
        tokio::task::spawn_blocking(move || {
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).expect("no answer within 10 s");
            let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut payload).unwrap();
            payload
        })
        .await
        .unwrap()
    }
}

/// A raw v1 client over either transport.
enum Raw {
    Datagram(RawPeer),
    Stream(RawStream),
}

impl Raw {
    /// Where answers are asked for: the datagram peer's address; over a
    /// stream the answer comes back on the connection and `reply_to` is
    /// ignored, so the seeds' own value stays.
    fn reply_to(&self) -> Option<&str> {
        match self {
            Raw::Datagram(peer) => Some(&peer.path),
            Raw::Stream(_) => None,
        }
    }

    async fn send(&self, bytes: &[u8]) {
        match self {
            Raw::Datagram(peer) => peer.send(bytes).await,
            Raw::Stream(peer) => peer.send(bytes).await,
        }
    }

    async fn recv(&self) -> Vec<u8> {
        match self {
            Raw::Datagram(peer) => peer.recv().await,
            Raw::Stream(peer) => peer.recv().await,
        }
    }
}

/// The member names of a JSON object, in the order they appear.
fn keys(bytes: &[u8]) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Keys>(bytes).unwrap().0
}

/// The raw JSON of member `key` of an object.
fn member(bytes: &[u8], key: &str) -> Vec<u8> {
    let map: HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(bytes).unwrap();
    map[key].get().as_bytes().to_vec()
}

/// Wraps a message in the envelope, as a v1 client does.
fn seal(kind: &str, message: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"type":"{kind}","payload":"{}"}}"#,
        BASE64.encode(message)
    )
    .into_bytes()
}

/// Opens an answer: checks the envelope when `enveloped`, returns the bytes
/// of the `SocketResponse` inside.
fn open(answer: Vec<u8>, enveloped: bool) -> Vec<u8> {
    if !enveloped {
        return answer;
    }
    assert_eq!(keys(&answer), ["type", "payload"], "{}", show(&answer));
    let v: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["type"], "response");
    BASE64.decode(v["payload"].as_str().unwrap()).unwrap()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the timestamp has the form of the dialect: epoch seconds with
/// millisecond precision, or RFC 3339 UTC with three fraction digits.
fn assert_timestamp(response: &Value, epoch: bool) {
    let ts = &response["timestamp"];
    if epoch {
        let t = ts
            .as_f64()
            .unwrap_or_else(|| panic!("not epoch seconds: {response}"));
        assert!(t > 1.7e9, "{response}");
        assert_eq!((t * 1000.0).round() / 1000.0, t, "ms precision: {response}");
    } else {
        let s = ts
            .as_str()
            .unwrap_or_else(|| panic!("not RFC 3339: {response}"));
        let bytes = s.as_bytes();
        assert!(
            s.len() == 24 && bytes[10] == b'T' && bytes[19] == b'.' && s.ends_with('Z'),
            "{response}"
        );
    }
}

/// Checks a `SocketResponse` to `id` on `channel`: the key order, and the
/// timestamp form. Returns it as JSON.
fn socket_response(bytes: &[u8], id: &str, channel: &str, epoch: bool) -> Value {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let outcome = if v["success"] == true {
        "result"
    } else {
        "error"
    };
    assert_eq!(
        keys(bytes),
        ["commandId", "channelId", "success", outcome, "timestamp"],
        "{v}"
    );
    assert_eq!(v["commandId"], id, "{v}");
    assert_eq!(v["channelId"], channel, "{v}");
    assert_timestamp(&v, epoch);
    v
}

/// A hand-written `SocketCommand` in the seeds' key order.
fn command(
    id: &str,
    channel: &str,
    name: &str,
    reply_to: &str,
    args: &Value,
    timeout: &str,
    epoch: bool,
) -> Vec<u8> {
    let timestamp = if epoch {
        "1722249000.123".to_owned()
    } else {
        r#""2025-07-29T10:50:00.000Z""#.to_owned()
    };
    format!(
        r#"{{"id":"{id}","channelId":"{channel}","command":"{name}","reply_to":"{reply_to}","args":{args},"timeout":{timeout},"timestamp":{timestamp}}}"#
    )
    .into_bytes()
}

/// The seed's own command for `epoch`, answered at `reply_to` (or, without
/// one, exactly as the seed prints it).
fn seed_command(epoch: bool, reply_to: Option<&str>) -> String {
    let Some(reply_to) = reply_to else {
        return if epoch {
            SEED_001_COMMAND
        } else {
            SEED_003_COMMAND
        }
        .to_owned();
    };
    if epoch {
        SEED_001_COMMAND.replace("/tmp/client_response_123456.sock", reply_to)
    } else {
        SEED_003_COMMAND.replace(
            "\"command\": \"create-user\",",
            &format!("\"command\": \"create-user\",\n  \"reply_to\": \"{reply_to}\","),
        )
    }
}

#[tokio::test]
async fn the_seeds_commands_are_answered_in_kind() {
    for (transport, (epoch, enveloped)) in TRANSPORTS
        .into_iter()
        .flat_map(|t| V1_FORMS.map(|form| (t, form)))
    {
        let f = Fixture::start().await;
        let peer = f.raw(transport, "seed.sock");
        let message = seed_command(epoch, peer.reply_to());
        let message = if enveloped {
            seal("command", message.as_bytes())
        } else {
            message.into_bytes()
        };
        let case = format!("{transport:?} epoch={epoch} enveloped={enveloped}");

        peer.send(&message).await;
        let answer = open(peer.recv().await, enveloped);
        let v = socket_response(&answer, SEED_ID, "user-service", epoch);
        assert_eq!(v["success"], true, "{case}: {v}");
        assert_eq!(
            v["result"],
            json!({"userId": "u-john_doe", "status": "created", "message": "john@example.com (user, age unknown)"}),
            "{case}"
        );

        // The same again: the application error keeps its manifest name.
        peer.send(&message).await;
        let answer = open(peer.recv().await, enveloped);
        let v = socket_response(&answer, SEED_ID, "user-service", epoch);
        assert_eq!(v["success"], false, "{case}: {v}");
        assert_eq!(
            keys(&member(&answer, "error")),
            ["code", "message", "details"],
            "{case}"
        );
        assert_eq!(v["error"]["code"], "USERNAME_EXISTS", "{case}: {v}");
        assert_eq!(v["error"]["details"], "`john_doe` is taken", "{case}: {v}");
        let stream = f.server.stats().stream;
        let expected = u64::from(transport == Transport::Stream);
        assert_eq!(
            (stream.accepted, stream.framing_errors),
            (expected, 0),
            "{case}"
        );
        f.server.shutdown().await;
    }
}

#[tokio::test]
async fn the_seeds_envelope_is_run_as_a_notification() {
    // The seed's envelope holds seed 003's command, which has no `reply_to`:
    // over datagrams that is fire-and-forget. It ran if the name is taken.
    let f = Fixture::start().await;
    let peer = f.peer("envelope.sock");
    peer.send(SEED_ENVELOPE.as_bytes()).await;
    let again = seal("command", seed_command(false, Some(&peer.path)).as_bytes());
    // Datagrams from one socket to another arrive in order, and the
    // handler finishes without waiting, on the task that read it: the
    // notification has run when the second command is read.
    peer.send(&again).await;
    let answer = open(peer.recv().await, true);
    let v = socket_response(&answer, SEED_ID, "user-service", false);
    assert_eq!(v["error"]["code"], "USERNAME_EXISTS", "{v}");
    assert_eq!(f.server.stats().notifications, 1);
    f.server.shutdown().await;
}

#[tokio::test]
async fn the_seeds_envelope_is_answered_over_the_stream() {
    // Over a connection an answer needs no `reply_to`: the seed's envelope
    // is a command like any other, answered in kind on the connection.
    let f = Fixture::start().await;
    let peer = f.stream_peer();
    peer.send(SEED_ENVELOPE.as_bytes()).await;
    let answer = open(peer.recv().await, true);
    let v = socket_response(&answer, SEED_ID, "user-service", false);
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["result"]["userId"], "u-john_doe", "{v}");
    assert_eq!(f.server.stats().notifications, 0);
    f.server.shutdown().await;
}

/// One error class of the mapping table, as a v1 client meets it.
struct Row {
    channel: &'static str,
    command: &'static str,
    args: Value,
    timeout: &'static str,
    code: &'static str,
    field: Option<&'static str>,
}

fn error_rows() -> Vec<Row> {
    let row = |channel, command, args, code, field| Row {
        channel,
        command,
        args,
        timeout: "30.0",
        code,
        field,
    };
    let user = |extra: Value| {
        let mut args = json!({"username": "jane_doe", "email": "jane@example.com"});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    vec![
        row(
            "no-such-service",
            "create-user",
            user(json!({})),
            "RESOURCE_NOT_FOUND",
            None,
        ),
        row(
            "user-service",
            "delete-user",
            json!({}),
            "HANDLER_NOT_FOUND",
            None,
        ),
        row(
            "user-service",
            "create-user",
            json!({"email": "jane@example.com"}),
            "MISSING_REQUIRED_ARGUMENT",
            Some("username"),
        ),
        row(
            "user-service",
            "create-user",
            user(json!({"username": "no spaces"})),
            "INVALID_ARGUMENT",
            Some("username"),
        ),
        row(
            "user-service",
            "create-user",
            user(json!({"username": 5})),
            "INVALID_ARGUMENT",
            Some("username"),
        ),
        row(
            "user-service",
            "create-user",
            user(json!({"role": "superuser"})),
            "INVALID_ENUM_VALUE",
            Some("role"),
        ),
        row(
            "user-service",
            "create-user",
            user(json!({"profile": {"age": 500}})),
            "ARGUMENT_OUT_OF_RANGE",
            Some("profile.age"),
        ),
        Row {
            timeout: "0.1",
            ..row("slow", "wait", json!({}), "HANDLER_TIMEOUT", None)
        },
        row("slow", "crash", json!({}), "INTERNAL_ERROR", None),
        row(
            "user-service",
            "create-user",
            user(json!({"username": "x".repeat(3000)})),
            "MESSAGE_TOO_LARGE",
            None,
        ),
        Row {
            timeout: "999.0",
            ..row(
                "user-service",
                "create-user",
                user(json!({})),
                "PROTOCOL_VIOLATION",
                None,
            )
        },
        row(
            "bad channel",
            "create-user",
            user(json!({})),
            "SECURITY_VIOLATION",
            None,
        ),
    ]
}

#[tokio::test]
async fn every_error_class_is_answered_in_kind_and_correlated_by_command_id() {
    let f = Fixture::start_with(|b| b.max_args_size(2048)).await;
    for (transport, (epoch, enveloped)) in TRANSPORTS
        .into_iter()
        .flat_map(|t| V1_FORMS.map(|form| (t, form)))
    {
        let case = format!("{transport:?} epoch={epoch} enveloped={enveloped}");
        let peer = f.raw(transport, &format!("rows-{epoch}-{enveloped}.sock"));
        // Over a stream `reply_to` is ignored: one that names nothing.
        let reply_to = peer.reply_to().unwrap_or("/tmp/nobody-listens.sock");
        let rows = error_rows();
        // Every row in flight at once; answers come back in any order.
        for (i, row) in rows.iter().enumerate() {
            let message = command(
                &format!("row-{i}"),
                row.channel,
                row.command,
                reply_to,
                &row.args,
                row.timeout,
                epoch,
            );
            let message = if enveloped {
                seal("command", &message)
            } else {
                message
            };
            peer.send(&message).await;
        }
        let mut answers = HashMap::new();
        for _ in &rows {
            let answer = open(peer.recv().await, enveloped);
            let v: Value = serde_json::from_slice(&answer).unwrap();
            let id = v["commandId"]
                .as_str()
                .unwrap_or_else(|| panic!("{case}: {v}"));
            assert!(
                answers.insert(id.to_owned(), answer).is_none(),
                "{case}: two answers to {id}"
            );
        }
        for (i, row) in rows.iter().enumerate() {
            let answer = &answers[&format!("row-{i}")];
            let v = socket_response(answer, &format!("row-{i}"), row.channel, epoch);
            let what = format!("{case}, row {i} ({}): {v}", row.code);
            assert_eq!(v["success"], false, "{what}");
            assert_eq!(v["error"]["code"], row.code, "{what}");
            let error_keys = keys(&member(answer, "error"));
            assert_eq!(error_keys[..3], ["code", "message", "details"], "{what}");
            assert!(
                !v["error"]["details"].as_str().unwrap().is_empty(),
                "{what}"
            );
            match row.field {
                Some(field) => {
                    // A missing argument has no value to show.
                    let expected: &[&str] = if row.code == "MISSING_REQUIRED_ARGUMENT" {
                        &["field", "constraints"]
                    } else {
                        &["field", "value", "constraints"]
                    };
                    assert_eq!(error_keys[3..], *expected, "{what}");
                    assert_eq!(v["error"]["field"], field, "{what}");
                    assert!(v["error"]["constraints"].is_object(), "{what}");
                }
                None => assert_eq!(error_keys.len(), 3, "{what}"),
            }
        }
    }
    let stream = f.server.stats().stream;
    assert_eq!((stream.accepted, stream.framing_errors), (4, 0));
    // Still serving, in every form.
    let peer = f.peer("after.sock");
    peer.send(&command(
        "after",
        "user-service",
        "create-user",
        &peer.path,
        &json!({"username": "still_here", "email": "a@example.com"}),
        "30.0",
        false,
    ))
    .await;
    let v = socket_response(&peer.recv().await, "after", "user-service", false);
    assert_eq!(v["success"], true, "{v}");
    f.server.shutdown().await;
}

/// The six keys of a v2 response, in order.
const V2_KEYS: [&str; 6] = [
    "result",
    "error",
    "success",
    "request_id",
    "id",
    "timestamp",
];

#[tokio::test]
async fn undecodable_and_cut_commands_are_answered_in_kind() {
    let f = Fixture::start_with(|b| b.max_message_size(4096)).await;
    for (epoch, enveloped) in V1_FORMS {
        let case = format!("epoch={epoch} enveloped={enveloped}");
        let peer = f.peer(&format!("cut-{epoch}-{enveloped}.sock"));
        let ts = if epoch {
            "1722249000.123"
        } else {
            r#""2025-07-29T10:50:00.000Z""#
        };
        let head = |id: &str| {
            format!(
                r#"{{"id":"{id}","channelId":"user-service","command":"create-user","reply_to":"{}","timestamp":{ts},"args":"#,
                peer.path
            )
        };
        let wrap = |m: String| {
            if enveloped {
                seal("command", m.as_bytes())
            } else {
                m.into_bytes()
            }
        };
        // Not JSON: answered to the sender, with the id read before the break.
        peer.send(&wrap(format!("{}{{\"username\":,}}}}", head("broken"))))
            .await;
        let answer = open(peer.recv().await, enveloped);
        let v = socket_response(&answer, "broken", "user-service", epoch);
        assert_eq!(v["error"]["code"], "DECODING_FAILED", "{case}: {v}");
        // Cut by the receive limit: never run, refused as too large.
        let pad = "x".repeat(5000);
        peer.send(&wrap(format!(r#"{}{{"username":"{pad}"}}}}"#, head("cut"))))
            .await;
        let answer = open(peer.recv().await, enveloped);
        let v = socket_response(&answer, "cut", "user-service", epoch);
        assert_eq!(v["error"]["code"], "MESSAGE_TOO_LARGE", "{case}: {v}");
        let details = v["error"]["details"].as_str().unwrap();
        assert!(details.contains("at most 4096 bytes"), "{case}: {details}");
        // A v1 command without `channelId`.
        let no_channel = format!(
            r#"{{"id":"lost","command":"create-user","reply_to":"{}","timestamp":{ts}}}"#,
            peer.path
        );
        peer.send(&wrap(no_channel)).await;
        let answer = open(peer.recv().await, enveloped);
        let v: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            keys(&answer),
            ["commandId", "channelId", "success", "error", "timestamp"]
        );
        assert_eq!(v["channelId"], Value::Null, "{case}: {v}");
        assert_eq!(v["error"]["code"], "PROTOCOL_VIOLATION", "{case}: {v}");
        assert!(
            v["error"]["details"]
                .as_str()
                .unwrap()
                .contains("requires `channelId`"),
            "{case}: {v}"
        );
    }
    assert_eq!(f.server.stats().truncated, 4);
    f.server.shutdown().await;
}

#[tokio::test]
async fn contradictory_dialects_are_invalid_requests() {
    let f = Fixture::start().await;
    let peer = f.peer("mixed.sock");
    for enveloped in [false, true] {
        for other in ["request", "method"] {
            let message = format!(
                r#"{{"id":"mixed","channelId":"user-service","command":"create-user","{other}":"delete-user","reply_to":"{}","timestamp":"2025-07-29T10:50:00.000Z"}}"#,
                peer.path
            );
            let message = if enveloped {
                seal("command", message.as_bytes())
            } else {
                message.into_bytes()
            };
            peer.send(&message).await;
            // `request`/`method` make it v2: answered as v2 (enveloped as sent).
            let answer = open(peer.recv().await, enveloped);
            assert_eq!(keys(&answer), V2_KEYS, "{}", show(&answer));
            let v: Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(v["request_id"], "mixed", "{v}");
            assert_eq!(v["error"]["code"], -32600, "{v}");
            let details = v["error"]["data"]["details"].as_str().unwrap();
            assert!(
                details.contains("`command`") && details.contains(&format!("`{other}`")),
                "{details}"
            );
        }
    }
    f.server.shutdown().await;
}

fn typed_args(username: &str) -> CreateUserArgs {
    CreateUserArgs {
        username: Username::new(username).unwrap(),
        email: Email::new("john@example.com").unwrap(),
        role: Role::User,
        profile: None,
    }
}

fn remote(result: Result<Value, CallError>) -> ErrorObject {
    match result {
        Err(CallError::Remote(e)) => e,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn our_client_round_trips_with_our_server_in_every_dialect() {
    let f = Fixture::start().await;
    let forms = TRANSPORTS
        .into_iter()
        .flat_map(|t| ALL_FORMS.map(|form| (t, form)));
    for (i, (transport, (dialect, envelope))) in forms.enumerate() {
        let case = format!("{transport:?} {dialect} envelope={envelope}");
        let client = f.client_over(transport, dialect, envelope).await;
        let name = format!("user_{i}");
        let created = client.create_user(typed_args(&name)).await.unwrap();
        assert_eq!(created.user_id, format!("u-{name}"), "{case}");
        assert_eq!(created.status, Status::Created, "{case}");
        match client.create_user(typed_args(&name)).await {
            Err(CallError::Application {
                error: CreateUserError::UsernameExists,
                object,
            }) => assert_eq!(
                object.details(),
                Some(format!("`{name}` is taken").as_str()),
                "{case}"
            ),
            other => panic!("{case}: {other:?}"),
        }
        // Errors the typed client cannot produce, sent untyped.
        let e = remote(
            client
                .call(
                    "user-service",
                    "create-user",
                    json!({"username": "jane_doe", "email": "jane@example.com", "role": "superuser"}),
                )
                .await,
        );
        assert_eq!((e.code, e.field()), (-32602, Some("role")), "{case}: {e:?}");
        let e = remote(client.call("user-service", "drop-table", json!({})).await);
        assert_eq!(e.code, -32601, "{case}: {e:?}");
        let e = remote(
            client
                .call("no-such-service", "create-user", json!({}))
                .await,
        );
        assert_eq!(e.code, -32004, "{case}: {e:?}");
        let e = remote(client.call("slow", "crash", json!({})).await);
        assert_eq!(e.code, -32603, "{case}: {e:?}");
        // A built-in, named with its channel as a v1 client must.
        let pong = client
            .request("ping")
            .channel("user-service")
            .send()
            .await
            .unwrap();
        assert_eq!(pong["pong"], true, "{case}: {pong}");
        // Without a channel a v1 command cannot be written: nothing is sent.
        if dialect.is_v1() {
            let received = f.server.stats().received;
            match client.request("ping").send().await {
                Err(CallError::Encode(e)) => {
                    assert!(e.to_string().contains("always names its channel"), "{e}")
                }
                other => panic!("{case}: {other:?}"),
            }
            assert_eq!(f.server.stats().received, received, "{case}");
        }
    }
    // The stream rows went over their own connections, cleanly framed.
    let stream = f.server.stats().stream;
    assert_eq!((stream.accepted, stream.framing_errors), (6, 0));
    f.server.shutdown().await;
}

/// A v1 server as another implementation writes it: it reads a
/// `SocketCommand` (opening the envelope), answers a `SocketResponse` in
/// the same form (seed 001's timestamps for numeric ones) to `reply_to`, and
/// hands each command it read to the test.
async fn v1_server(socket: UnixDatagram, seen: tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = socket.recv(&mut buf).await.unwrap();
        let outer = buf[..n].to_vec();
        let outer_json: Value = serde_json::from_slice(&outer).unwrap();
        let enveloped = outer_json.get("type").is_some();
        let bytes = if enveloped {
            BASE64
                .decode(outer_json["payload"].as_str().unwrap())
                .unwrap()
        } else {
            outer.clone()
        };
        let cmd: Value = serde_json::from_slice(&bytes).unwrap();
        let id = cmd["id"].as_str().unwrap();
        let channel = cmd["channelId"].as_str().unwrap();
        let timestamp = if cmd["timestamp"].is_number() {
            "1722249001.234"
        } else {
            r#""2025-07-29T10:50:01.234Z""#
        };
        let ok = |result: &str| format!(r#""success": true, "result": {result}"#);
        let fail = |error: &str| format!(r#""success": false, "error": {error}"#);
        let outcome = match (
            cmd["command"].as_str().unwrap(),
            cmd["args"]["username"].as_str(),
        ) {
            ("create-user", Some("taken")) => fail(
                r#"{"code": "USERNAME_EXISTS", "message": "Username exists", "details": "`taken` is taken"}"#,
            ),
            // Seed 001's error response example.
            ("create-user", Some("bad_name")) => fail(
                r#"{
    "code": "VALIDATION_FAILED",
    "message": "Username contains invalid characters",
    "details": "Username must contain only alphanumeric characters and underscores",
    "field": "username",
    "value": "invalid-value",
    "constraints": {"pattern": "^[a-zA-Z0-9_]+$", "minLength": 3, "maxLength": 50}
  }"#,
            ),
            // Seed 001's success response example.
            ("create-user", _) => ok(
                r#"{"userId": "12345", "status": "created", "message": "User created successfully"}"#,
            ),
            ("ping", _) => ok(r#"{"pong": true}"#),
            // Seed 001's timeout example.
            ("slow", _) => fail(
                r#"{"code": "COMMAND_TIMEOUT", "message": "Command execution exceeded timeout limit", "details": "Operation timed out after 30.0 seconds", "timeout": 30.0, "elapsed": 30.1}"#,
            ),
            ("quota", _) => fail(
                r#"{"code": "QUOTA_EXHAUSTED", "message": "No quota left", "details": "0 of 10 calls left"}"#,
            ),
            _ => fail(
                r#"{"code": "HANDLER_NOT_FOUND", "message": "No handler", "details": "no such command"}"#,
            ),
        };
        let response = format!(
            "{{\n  \"commandId\": \"{id}\",\n  \"channelId\": \"{channel}\",\n  {outcome},\n  \"timestamp\": {timestamp}\n}}"
        );
        let response = if enveloped {
            seal("response", response.as_bytes())
        } else {
            response.into_bytes()
        };
        let reply_to = cmd["reply_to"].as_str().unwrap();
        socket.send_to(&response, reply_to).await.unwrap();
        seen.send(outer).unwrap();
    }
}

#[tokio::test]
async fn our_client_calls_a_v1_server() {
    let dir = tempfile::Builder::new()
        .prefix("janus-v1-server")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("v1.sock");
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(v1_server(UnixDatagram::bind(&path).unwrap(), tx));
    for (dialect, envelope) in ALL_FORMS.into_iter().filter(|(d, _)| d.is_v1()) {
        let case = format!("{dialect} envelope={envelope}");
        let client = Client::builder()
            .reply_dir(dir.path())
            .dialect(dialect)
            .envelope(envelope)
            .connect(&path)
            .await
            .unwrap();

        // The generated client, unchanged, against the v1 server.
        let created = client.create_user(typed_args("john_doe")).await.unwrap();
        assert_eq!(created.user_id, "12345", "{case}");
        assert_eq!(created.status, Status::Created, "{case}");
        assert_eq!(created.message, "User created successfully", "{case}");

        // What it sent: a `SocketCommand` in the seeds' key order.
        let outer = seen.recv().await.unwrap();
        let sent = if envelope {
            assert_eq!(keys(&outer), ["type", "payload"], "{case}");
            let v: Value = serde_json::from_slice(&outer).unwrap();
            assert_eq!(v["type"], "command", "{case}");
            BASE64.decode(v["payload"].as_str().unwrap()).unwrap()
        } else {
            outer
        };
        assert_eq!(
            keys(&sent),
            [
                "id",
                "channelId",
                "command",
                "reply_to",
                "args",
                "timeout",
                "timestamp"
            ],
            "{case}: {}",
            show(&sent)
        );
        let sent: Value = serde_json::from_slice(&sent).unwrap();
        assert_eq!(sent["channelId"], "user-service", "{case}");
        assert_eq!(sent["command"], "create-user", "{case}");
        assert_eq!(
            sent["reply_to"],
            client.reply_path().unwrap().to_str().unwrap(),
            "{case}"
        );
        assert_timestamp(&sent, dialect == Dialect::V1Epoch);

        // String codes mapped back: a declared error by its name...
        match client.create_user(typed_args("taken")).await {
            Err(CallError::Application {
                error: CreateUserError::UsernameExists,
                object,
            }) => assert_eq!(object.details(), Some("`taken` is taken"), "{case}"),
            other => panic!("{case}: {other:?}"),
        }
        // ... the seed's validation error with its field, value, constraints...
        match client.create_user(typed_args("bad_name")).await {
            Err(CallError::Application {
                error: CreateUserError::ValidationFailed,
                object,
            }) => {
                assert_eq!(object.code, -32005, "{case}");
                assert_eq!(object.field(), Some("username"), "{case}");
                assert_eq!(object.value(), Some(&json!("invalid-value")), "{case}");
                assert_eq!(
                    object.constraints().unwrap()["pattern"],
                    "^[a-zA-Z0-9_]+$",
                    "{case}"
                );
            }
            other => panic!("{case}: {other:?}"),
        }
        // ... protocol names to their codes, unknown names kept.
        let e = remote(client.call("user-service", "slow", json!({})).await);
        assert_eq!(
            (e.code, e.error_type()),
            (-32006, Some("COMMAND_TIMEOUT")),
            "{case}"
        );
        let e = remote(client.call("user-service", "nothing", json!({})).await);
        assert_eq!(e.code, -32601, "{case}");
        let e = remote(client.call("user-service", "quota", json!({})).await);
        assert_eq!(
            (e.code, e.error_type()),
            (-32000, Some("QUOTA_EXHAUSTED")),
            "{case}"
        );
        assert_eq!(e.details(), Some("0 of 10 calls left"), "{case}");
        let pong = client
            .request("ping")
            .channel("user-service")
            .send()
            .await
            .unwrap();
        assert_eq!(pong, json!({"pong": true}), "{case}");
        // Drain what the server saw of the calls after the first.
        for _ in 0..6 {
            seen.recv().await.unwrap();
        }
        assert_eq!(client.stats().uncorrelated + client.stats().malformed, 0);
    }
    server.abort();
    assert!(server.await.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn security_and_limit_errors_are_answered_in_kind() {
    for (epoch, enveloped) in V1_FORMS {
        let case = format!("epoch={epoch} enveloped={enveloped}");
        let wrap = |m: Vec<u8>| if enveloped { seal("command", &m) } else { m };
        let user = json!({"username": "a_b", "email": "a@example.com"});
        let user_command = |id: &str, name: &str, reply_to: &str| {
            command(id, "user-service", name, reply_to, &user, "30.0", epoch)
        };
        let expect = |answer: Vec<u8>, id: &str, code: &str| {
            let answer = open(answer, enveloped);
            let v = socket_response(&answer, id, "user-service", epoch);
            assert_eq!(v["error"]["code"], code, "{case}: {v}");
        };

        // One handler at a time; shutdown cancels what runs at once.
        let f = Fixture::start_with(|b| b.max_in_flight(1).shutdown_grace(Duration::ZERO)).await;
        let peer = f.peer("me.sock");
        // `reply_to` is not the sender's address: answered to the sender.
        let elsewhere = f.dir.path().join("elsewhere.sock");
        let elsewhere = elsewhere.to_str().unwrap();
        peer.send(&wrap(user_command("spoof", "create-user", elsewhere)))
            .await;
        expect(peer.recv().await, "spoof", "SECURITY_VIOLATION");
        let up = format!("{}/../up.sock", f.dir.path().display());
        peer.send(&wrap(user_command("up", "create-user", &up)))
            .await;
        expect(peer.recv().await, "up", "PATH_TRAVERSAL_ATTEMPT");
        // A NUL byte inside the arguments.
        let mut nul = user_command("nul", "create-user", &peer.path);
        let at = show(&nul).find("a_b").unwrap() + 1;
        nul[at] = 0;
        peer.send(&wrap(nul)).await;
        expect(peer.recv().await, "nul", "INVALID_CHARACTER_ENCODING");
        // The one handler slot taken: the next command is refused.
        let hold = command(
            "hold",
            "slow",
            "wait",
            &peer.path,
            &json!({}),
            "30.0",
            epoch,
        );
        peer.send(&wrap(hold)).await;
        peer.send(&wrap(user_command("over", "create-user", &peer.path)))
            .await;
        expect(peer.recv().await, "over", "RESOURCE_LIMIT_EXCEEDED");
        f.server.shutdown().await;
        let answer = open(peer.recv().await, enveloped);
        let v = socket_response(&answer, "hold", "slow", epoch);
        assert_eq!(v["error"]["code"], "SERVICE_UNAVAILABLE", "{case}: {v}");

        // A caller whose uid is not allowed.
        let locked = Fixture::start_with(|b| b.allowed_uids([u32::MAX - 7])).await;
        let peer = locked.peer("me.sock");
        peer.send(&wrap(user_command("who", "create-user", &peer.path)))
            .await;
        expect(peer.recv().await, "who", "AUTHENTICATION_FAILED");
        locked.server.shutdown().await;
    }
}
