//! The server over the stream transport, driven by a raw client (a std
//! `UnixStream` and the frame codec) so that only the server is under test.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Event, TestService, now};
use janus_runtime::frame::{self, BytesMut};
use janus_runtime::{Client, Server, ServerBuilder, ServerHandle};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc;

/// A server (datagram and stream sockets) on its own runtime, in a private
/// directory; the tests talk to it from plain threads.
struct Stream {
    _dir: TempDir,
    allowed: PathBuf,
    dgram_path: PathBuf,
    stream_path: PathBuf,
    handle: ServerHandle,
    events: mpsc::UnboundedReceiver<Event>,
    rt: tokio::runtime::Runtime,
}

impl Stream {
    fn start() -> Stream {
        Self::start_with(|b| b)
    }

    fn start_with(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Stream {
        let dir = tempfile::Builder::new()
            .prefix("janus-stream")
            .tempdir_in("/tmp")
            .unwrap();
        let allowed = dir.path().join("allowed");
        std::fs::create_dir(&allowed).unwrap();
        let dgram_path = allowed.join("server.sock");
        let stream_path = allowed.join("stream.sock");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let builder = Server::builder()
            .allowed_dirs([allowed.to_str().unwrap()])
            .stream(&stream_path);
        let server = configure(builder)
            .bind(&dgram_path)
            .unwrap()
            .channel(TestService::new("test", tx));
        let handle = rt.block_on(async { server.spawn() });
        Stream {
            _dir: dir,
            allowed,
            dgram_path,
            stream_path,
            handle,
            events,
            rt,
        }
    }

    fn connect(&self) -> Raw {
        Raw::connect(&self.stream_path)
    }

    /// Waits for the test service to report `event` (skipping others).
    fn expect_event(&mut self, event: Event) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = self
                .rt
                .block_on(async { tokio::time::timeout(left, self.events.recv()).await })
                .unwrap_or_else(|_| panic!("no {event:?} within 10 s"))
                .expect("service gone");
            if got == event {
                return;
            }
        }
    }

    /// Waits (up to 10 s) until `done` holds for the server's counters.
    fn wait_for(&self, what: &str, done: impl Fn(&janus_runtime::ServerStats) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.handle.stats();
            if done(&stats) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {stats:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn shutdown(&self) {
        self.rt.block_on(self.handle.shutdown());
    }
}

/// A raw stream client: frames out, frames in.
struct Raw {
    stream: UnixStream,
    buf: BytesMut,
}

impl Raw {
    fn connect(path: &std::path::Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn send_frame(&mut self, payload: &[u8]) {
        let mut out = BytesMut::new();
        frame::encode(payload, &mut out, usize::MAX >> 1).unwrap();
        self.send_bytes(&out);
    }

    fn send(&mut self, request: &Value) {
        self.send_frame(request.to_string().as_bytes());
    }

    /// The next answer; `None` when the server closed the connection.
    fn recv(&mut self) -> Option<Value> {
        loop {
            if let Some(payload) = frame::decode(&mut self.buf, usize::MAX >> 1).unwrap() {
                return Some(serde_json::from_slice(&payload).expect("answers are JSON"));
            }
            let mut chunk = vec![0u8; 256 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(self.buf.is_empty(), "the server cut an answer");
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading an answer failed: {e}"),
            }
        }
    }

    fn answer(&mut self) -> Value {
        self.recv().expect("the server closed the connection")
    }

    fn call(&mut self, request: &Value) -> Value {
        self.send(request);
        self.answer()
    }

    fn ping(&mut self, id: &str) {
        let pong = self.call(&request(id, "ping", Value::Null));
        assert_eq!(pong["request_id"], id, "{pong}");
        assert_eq!(pong["result"]["pong"], true, "{pong}");
    }

    /// Asserts that the server closes the connection (after any answers).
    fn expect_closed(&mut self) {
        if let Some(extra) = self.recv() {
            panic!("expected the connection closed, got {extra}");
        }
    }
}

/// A v2 request on the `test` channel (built-ins ignore the channel).
fn request(id: &str, name: &str, args: Value) -> Value {
    let mut r = json!({"id": id, "request": name, "channelId": "test", "timestamp": now()});
    if !args.is_null() {
        r["args"] = args;
    }
    r
}

const MIB: usize = 1024 * 1024;

#[test]
fn a_5_mib_argument_and_a_9_mib_answer_travel_whole_over_the_stream() {
    let h = Stream::start();
    let mut conn = h.connect();
    let message = "a".repeat(5 * MIB - 64);
    let echo = conn.call(&request("e1", "echo", json!({ "message": message })));
    assert_eq!(echo["request_id"], "e1");
    assert_eq!(
        echo["result"]["echo"].as_str().unwrap().len(),
        message.len()
    );
    let big = conn.call(&request("b1", "big", json!({"bytes": 9 * MIB})));
    assert_eq!(big["request_id"], "b1");
    assert_eq!(big["result"].as_str().unwrap().len(), 9 * MIB);
    // An answer over the frame limit becomes the documented error.
    let too_big = conn.call(&request("b2", "big", json!({"bytes": 11 * MIB})));
    assert_eq!(too_big["error"]["code"], -32005, "{too_big}");
    assert_eq!(too_big["error"]["data"]["errorType"], "MESSAGE_TOO_LARGE");
    conn.ping("still-open");

    // The same request over datagrams is refused as too large, before sending.
    let err = h.rt.block_on(async {
        let client = Client::builder()
            .reply_dir(&h.allowed)
            .connect(&h.dgram_path)
            .await
            .unwrap();
        client
            .request("echo")
            .args(json!({ "message": message }))
            .send()
            .await
            .unwrap_err()
    });
    assert!(
        matches!(err, janus_runtime::CallError::TooLarge { .. }),
        "{err:?}"
    );
}

#[test]
fn framing_violations_get_minus_32011_and_close_only_their_connection() {
    let h = Stream::start_with(|b| b.max_frame_size(64 * 1024));
    let mut bystander = h.connect();
    bystander.ping("before");

    // Length 0.
    let mut zero = h.connect();
    zero.send_bytes(&[0, 0, 0, 0]);
    let got = zero.answer();
    assert_eq!(got["error"]["code"], -32011, "{got}");
    assert_eq!(got["request_id"], Value::Null);
    assert!(
        got["error"]["data"]["details"]
            .as_str()
            .unwrap()
            .contains("length is 0"),
        "{got}"
    );
    zero.expect_closed();

    // Over the limit: refused from the header alone.
    let mut over = h.connect();
    over.send_bytes(&(64 * 1024 + 1u32).to_be_bytes());
    let got = over.answer();
    assert_eq!(got["error"]["code"], -32011, "{got}");
    assert!(
        got["error"]["data"]["details"]
            .as_str()
            .unwrap()
            .contains("exceeds the maximum of 65536"),
        "{got}"
    );
    over.expect_closed();

    // Closed (its writing side) in the middle of a frame: told, then closed.
    let mut cut = h.connect();
    cut.send_bytes(&100u32.to_be_bytes());
    cut.send_bytes(b"{\"id\":");
    cut.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let got = cut.answer();
    assert_eq!(got["error"]["code"], -32011, "{got}");
    assert!(
        got["error"]["data"]["details"]
            .as_str()
            .unwrap()
            .contains("10 of 104 bytes"),
        "{got}"
    );
    cut.expect_closed();

    // Gone entirely in the middle of a frame: nothing to tell, counted.
    let mut gone = h.connect();
    gone.send_bytes(&100u32.to_be_bytes());
    gone.send_bytes(b"{");
    drop(gone);

    // Not JSON inside a good frame: -32700, and the connection stays open.
    let mut garbage = h.connect();
    garbage.send_frame(b"this is not json");
    let got = garbage.answer();
    assert_eq!(got["error"]["code"], -32700, "{got}");
    garbage.ping("after-garbage");

    h.wait_for("four framing errors", |s| s.stream.framing_errors == 4);
    bystander.ping("after");
    h.wait_for("the closed connections gone", |s| s.stream.open == 2);
}

#[test]
fn a_message_stalled_mid_frame_is_cut_off_at_the_connection_timeout() {
    let h = Stream::start_with(|b| b.connection_timeout(Duration::from_millis(200)));
    let mut slow = h.connect();
    slow.send_bytes(&50u32.to_be_bytes());
    slow.send_bytes(b"{\"id\":\"slow\"");
    let got = slow.answer();
    assert_eq!(got["error"]["code"], -32011, "{got}");
    assert!(
        got["error"]["data"]["details"]
            .as_str()
            .unwrap()
            .contains("did not arrive whole"),
        "{got}"
    );
    slow.expect_closed();
}

#[test]
fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
    let h = Stream::start_with(|b| b.idle_timeout(Duration::from_millis(500)));
    let mut busy = h.connect();
    // In flight for longer than the idle timeout: not idle.
    let slept = busy.call(&request("s", "sleep", json!({"ms": 1000})));
    assert_eq!(slept["result"]["slept_ms"], 1000, "{slept}");
    let mut idle = h.connect();
    idle.ping("once");
    idle.expect_closed();
    h.wait_for("idle closes counted", |s| s.stream.idle_closed >= 1);
}

#[test]
fn sixty_four_concurrent_requests_on_one_connection_are_all_matched() {
    let h = Stream::start();
    let mut conn = h.connect();
    for i in 0..64 {
        // Different sleeps: the answers come back out of order.
        conn.send(&request(
            &format!("r{i}"),
            "sleep",
            json!({"ms": (64 - i) % 16}),
        ));
    }
    let mut seen = HashMap::new();
    for _ in 0..64 {
        let got = conn.answer();
        let id = got["request_id"].as_str().unwrap().to_owned();
        let i: u64 = id[1..].parse().unwrap();
        assert_eq!(got["result"]["slept_ms"], (64 - i) % 16, "{got}");
        assert!(seen.insert(id, ()).is_none(), "answered twice");
    }
    assert_eq!(seen.len(), 64);
}

#[test]
fn eight_connections_of_two_thousand_requests_each_are_all_matched() {
    let h = Stream::start();
    let workers: Vec<_> = (0..8)
        .map(|c| {
            let mut conn = h.connect();
            let mut reader = Raw {
                stream: conn.stream.try_clone().unwrap(),
                buf: BytesMut::new(),
            };
            let writer = std::thread::spawn(move || {
                for i in 0..2000 {
                    conn.send(&request(
                        &format!("c{c}-{i}"),
                        "add",
                        json!({"a": c, "b": i}),
                    ));
                }
                conn
            });
            std::thread::spawn(move || {
                let mut matched = vec![false; 2000];
                for _ in 0..2000 {
                    let got = reader.answer();
                    let id = got["request_id"].as_str().unwrap();
                    let (conn_id, i) = id[1..].split_once('-').unwrap();
                    assert_eq!(conn_id, c.to_string(), "{got}");
                    let i: usize = i.parse().unwrap();
                    assert_eq!(got["result"]["sum"], c + i, "{got}");
                    assert!(!matched[i], "answered twice");
                    matched[i] = true;
                }
                drop(writer.join().unwrap());
                matched.iter().all(|m| *m)
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().unwrap());
    }
    // An answer is counted once written, which may be after its reader
    // has it: wait for the count.
    h.wait_for("every answer counted", |s| s.answered == 16_000);
    assert_eq!(h.handle.stats().errors, 0);
}

#[test]
fn a_dropped_connection_cancels_its_running_handlers() {
    let mut h = Stream::start();
    let mut conn = h.connect();
    for i in 0..3 {
        conn.send(&request(&format!("f{i}"), "forever", Value::Null));
        h.expect_event(Event::Started("forever".into()));
    }
    // A handler reports its start from its first poll, before the server
    // counts it in flight: wait for the count, do not read it once.
    h.wait_for("three handlers in flight", |s| s.in_flight == 3);
    drop(conn);
    h.wait_for("the handlers cancelled", |s| {
        s.cancelled_by_peer == 3 && s.in_flight == 0 && s.stream.open == 0
    });
    // A half-closed connection is still answered.
    let mut half = h.connect();
    half.send(&request("s", "sleep", json!({"ms": 50})));
    half.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(half.answer()["result"]["slept_ms"], 50);
    half.expect_closed();
}

#[test]
fn the_101st_connection_is_refused_while_100_are_open() {
    let h = Stream::start();
    let mut open: Vec<Raw> = (0..100)
        .map(|i| {
            let mut c = h.connect();
            c.ping(&format!("p{i}"));
            c
        })
        .collect();
    let mut extra = h.connect();
    extra.expect_closed();
    h.wait_for("one refusal", |s| s.stream.refused_limit == 1);
    assert_eq!(h.handle.stats().stream.open, 100);
    for (i, c) in open.iter_mut().enumerate().step_by(33) {
        c.ping(&format!("again{i}"));
    }
    // One closes: a new connection is served again.
    drop(open.pop());
    h.wait_for("99 open", |s| s.stream.open == 99);
    h.connect().ping("new");
}

#[test]
fn a_connection_that_never_reads_does_not_stall_another() {
    let h = Stream::start_with(|b| b.connection_write_limit(MIB));
    let mut hog = h.connect();
    // 64 answers of 1 MiB that are never read: far more than the socket
    // buffers and the write limit hold.
    for i in 0..64 {
        hog.send(&request(&format!("h{i}"), "big", json!({"bytes": MIB})));
    }
    let mut other = h.connect();
    for i in 0..200 {
        other.ping(&format!("o{i}"));
    }
    // The hog, reading at last, gets its answers in order of completion.
    let first = hog.answer();
    assert_eq!(first["result"].as_str().unwrap().len(), MIB);
    drop(hog);
    other.ping("last");
}

#[test]
fn a_v1_command_over_the_stream_is_answered_in_kind() {
    let h = Stream::start();
    let mut conn = h.connect();
    let got = conn.call(&json!({
        "id": "cmd-1",
        "command": "add",
        "channelId": "test",
        "args": {"a": 2, "b": 3},
        "timestamp": now(),
    }));
    assert_eq!(got["commandId"], "cmd-1", "{got}");
    assert_eq!(got["channelId"], "test");
    assert_eq!(got["success"], true);
    assert_eq!(got["result"], json!({"sum": 5}));
    let err = conn.call(&json!({
        "id": "cmd-2",
        "command": "nope",
        "channelId": "test",
        "timestamp": now(),
    }));
    assert_eq!(err["commandId"], "cmd-2", "{err}");
    assert_eq!(err["error"]["code"], "HANDLER_NOT_FOUND", "{err}");
}

#[test]
fn get_info_reports_both_transports_and_reply_to_is_ignored() {
    let h = Stream::start();
    let mut conn = h.connect();
    let info = conn.call(&request("i", "get_info", Value::Null));
    assert_eq!(info["result"]["protocol"], "SOCK_DGRAM", "{info}");
    assert_eq!(
        info["result"]["transports"],
        json!(["SOCK_DGRAM", "SOCK_STREAM"])
    );
    // A reply_to (even one breaking every rule) is not an address here.
    let mut r = request("w", "whoami", Value::Null);
    r["reply_to"] = json!("/etc/../passwd");
    let me = conn.call(&r);
    assert_eq!(me["request_id"], "w", "{me}");
    assert_eq!(me["result"]["uid"], rustix::process::getuid().as_raw());
    assert_eq!(me["result"]["pid"], std::process::id());
}

#[test]
fn a_half_closed_peer_that_never_reads_is_not_waited_for() {
    let h = Stream::start_with(|b| b.connection_timeout(Duration::from_millis(200)));
    let mut quiet = h.connect();
    // More than the socket buffers hold, then no more sending nor reading.
    quiet.send(&request("q", "big", json!({"bytes": 4 * MIB})));
    quiet.stream.shutdown(std::net::Shutdown::Write).unwrap();
    h.wait_for("the connection closed", |s| {
        s.stream.accepted == 1 && s.stream.open == 0
    });
    drop(quiet);
}

#[test]
fn the_observer_sees_stream_requests() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let h = Stream::start_with(move |b| {
        b.observe(move |record| {
            let _ = tx.lock().unwrap().send(record.clone());
        })
    });
    let mut conn = h.connect();
    conn.call(&request("o1", "add", json!({"a": 1, "b": 1})));
    conn.call(&request("o2", "add", json!({"a": 1})));
    let wait = Duration::from_secs(10);
    let ok = rx.recv_timeout(wait).unwrap();
    assert_eq!(ok.request_id.as_deref(), Some("o1"));
    assert_eq!(ok.channel.as_deref(), Some("test"));
    assert_eq!(ok.outcome, janus_runtime::RequestOutcome::Success);
    assert!(!ok.notification, "answered on the connection");
    assert_eq!(ok.peer.unwrap().pid as u32, std::process::id());
    let bad = rx.recv_timeout(wait).unwrap();
    assert_eq!(bad.request_id.as_deref(), Some("o2"));
    assert!(matches!(bad.outcome, janus_runtime::RequestOutcome::Error(ref e) if e.code == -32602));
}

#[test]
fn uids_not_allowed_are_refused_at_accept() {
    let me = rustix::process::getuid().as_raw();
    let h = Stream::start_with(|b| b.allowed_uids([me.wrapping_add(1)]));
    let mut conn = h.connect();
    conn.expect_closed();
    h.wait_for("one uid refusal", |s| s.stream.refused_uid == 1);
    assert_eq!(h.handle.stats().stream.accepted, 0);
}

#[test]
fn a_stream_only_server_serves_and_removes_its_socket() {
    let dir = tempfile::Builder::new()
        .prefix("janus-stream")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("only.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, _events) = mpsc::unbounded_channel();
    let server = Server::builder()
        .allowed_dirs([dir.path().to_str().unwrap()])
        .stream(&path)
        .build()
        .unwrap()
        .channel(TestService::new("test", tx));
    assert_eq!(server.path(), path);
    assert_eq!(server.datagram_path(), None);
    let handle = rt.block_on(async { server.spawn() });
    let mut conn = Raw::connect(&path);
    let info = conn.call(&request("i", "get_info", Value::Null));
    assert_eq!(info["result"]["protocol"], "SOCK_STREAM", "{info}");
    // A second server never steals the live socket.
    let err = Server::builder()
        .allowed_dirs([dir.path().to_str().unwrap()])
        .stream(&path)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    rt.block_on(handle.shutdown());
    conn.expect_closed();
    assert!(!path.exists());
    // Neither socket is left behind when the second of two cannot be bound.
    let dgram = dir.path().join("d.sock");
    std::fs::write(dir.path().join("file"), b"keep").unwrap();
    let err = Server::builder()
        .allowed_dirs([dir.path().to_str().unwrap()])
        .stream(dir.path().join("file"))
        .bind(&dgram)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(!dgram.exists());
    assert_eq!(std::fs::read(dir.path().join("file")).unwrap(), b"keep");
}

#[test]
fn shutdown_answers_what_is_in_flight_then_closes() {
    let mut h = Stream::start();
    let mut conn = h.connect();
    conn.send(&request("s", "sleep", json!({"ms": 300})));
    h.expect_event(Event::Started("sleep".into()));
    h.handle.begin_shutdown();
    assert_eq!(conn.answer()["result"]["slept_ms"], 300);
    conn.expect_closed();
    h.rt.block_on(h.handle.stopped());
    assert!(!h.stream_path.exists() && !h.dgram_path.exists());
}

#[test]
fn no_connection_task_or_state_is_left_after_thousands_of_requests_and_drops() {
    let mut h = Stream::start();
    for round in 0..200 {
        let mut conn = h.connect();
        for i in 0..10 {
            conn.send(&request(
                &format!("{round}-{i}"),
                "add",
                json!({"a": 1, "b": 2}),
            ));
        }
        // Every fourth connection goes away with a handler running.
        if round % 4 == 0 {
            conn.send(&request("hang", "hang", Value::Null));
            h.expect_event(Event::Started("hang".into()));
        } else {
            for _ in 0..10 {
                assert_eq!(conn.answer()["result"]["sum"], 3);
            }
        }
        if round % 7 == 0 {
            conn.send_bytes(&[0, 0, 0, 5, b'{']); // cut mid-frame
        }
    }
    h.wait_for("every connection gone", |s| {
        s.stream.open == 0 && s.in_flight == 0 && s.stream.accepted == 200
    });
    assert_eq!(h.handle.stats().cancelled_by_peer, 50);
    h.shutdown();
    assert!(!h.stream_path.exists() && !h.dgram_path.exists());
    let metrics = h.rt.metrics();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.num_alive_tasks() > 0 {
        assert!(Instant::now() < deadline, "tasks left after shutdown");
        std::thread::sleep(Duration::from_millis(2));
    }
}
