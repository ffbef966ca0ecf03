//! Test harness: a server with a hand-written service in a private temp
//! directory, raw datagram peers, and clients.

#![allow(dead_code)] // each test file uses part of the harness

use std::path::{Path, PathBuf};
use std::time::Duration;

use janus_runtime::constraints::{self, JsonType};
use janus_runtime::{
    BoxFuture, Client, ErrorObject, RequestContext, Server, ServerBuilder, ServerHandle, Service,
};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::UnixDatagram;
use tokio::sync::mpsc;

/// Events the test service reports as they happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started(String),
    Recorded(Value),
}

/// The channel `test`, written by hand against the `Service` contract.
pub struct TestService {
    channel: String,
    events: mpsc::UnboundedSender<Event>,
}

impl TestService {
    pub fn new(channel: &str, events: mpsc::UnboundedSender<Event>) -> Self {
        TestService {
            channel: channel.to_owned(),
            events,
        }
    }
}

fn int(args: &Value, name: &str) -> Result<i64, ErrorObject> {
    let value = args
        .get(name)
        .ok_or_else(|| ErrorObject::invalid_param(name, None, &constraints::missing_required()))?;
    constraints::check_type(value, JsonType::Integer)
        .map_err(|v| ErrorObject::invalid_param(name, Some(value), &v))?;
    Ok(value.as_i64().unwrap())
}

fn check(request: &str, args: &Value) -> Result<(), ErrorObject> {
    match request {
        "add" => {
            int(args, "a")?;
            int(args, "b")?;
        }
        "sleep" => {
            let ms = int(args, "ms")?;
            constraints::check_integer(ms, Some(0), Some(60_000))
                .map_err(|v| ErrorObject::invalid_param("ms", args.get("ms"), &v))?;
        }
        "big" => {
            int(args, "bytes")?;
        }
        "greet" => {
            let name = args.get("name").ok_or_else(|| {
                ErrorObject::invalid_param("name", None, &constraints::missing_required())
            })?;
            constraints::check_type(name, JsonType::String)
                .map_err(|v| ErrorObject::invalid_param("name", Some(name), &v))?;
            constraints::check_string(
                name.as_str().unwrap(),
                &constraints::StringRules {
                    min_length: Some(3),
                    max_length: Some(8),
                    pattern: None,
                },
            )
            .map_err(|v| ErrorObject::invalid_param("name", Some(name), &v))?;
        }
        _ => {}
    }
    Ok(())
}

impl Service for TestService {
    fn channel_id(&self) -> &str {
        &self.channel
    }

    fn requests(&self) -> Vec<String> {
        [
            "add", "sleep", "panic", "forever", "hang", "whoami", "record", "big", "greet",
        ]
        .map(String::from)
        .to_vec()
    }

    fn validate(&self, request: &str, args: &Value) -> Result<(), ErrorObject> {
        check(request, args)
    }

    fn call(
        &self,
        ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        if let Err(e) = check(request, &args) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let events = self.events.clone();
        let _ = events.send(Event::Started(request.to_owned()));
        let request = request.to_owned();
        Box::pin(async move {
            match request.as_str() {
                "add" => {
                    Ok(json!({"sum": args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()}))
                }
                "sleep" => {
                    let ms = args["ms"].as_u64().unwrap();
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(json!({"slept_ms": ms}))
                }
                "panic" => panic!("the test handler panics on purpose"),
                // Two names for a handler that never ends, so a test can tell
                // apart the ones it started in different steps.
                "forever" | "hang" => std::future::pending().await,
                "whoami" => Ok(json!({
                    "pid": ctx.peer().map(|p| p.pid),
                    "uid": ctx.peer().map(|p| p.uid),
                    "gid": ctx.peer().map(|p| p.gid),
                    "channel": ctx.channel_id(),
                    "request_id": ctx.request_id(),
                    "reply_to": ctx.reply_to(),
                    "timeout_ms": ctx.timeout().as_millis() as u64,
                })),
                "record" => {
                    let _ = events.send(Event::Recorded(args));
                    Ok(Value::Null)
                }
                "big" => Ok(Value::String(
                    "x".repeat(args["bytes"].as_u64().unwrap() as usize),
                )),
                "greet" => {
                    Ok(json!({"greeting": format!("hello {}", args["name"].as_str().unwrap())}))
                }
                other => unreachable!("routed an unknown request {other}"),
            }
        })
    }
}

/// A running server in a private directory.
///
/// Everything legitimate lives in `<tmp>/allowed/`, the only directory the
/// server accepts socket paths in; `<tmp>/outside/` holds traps.
pub struct Harness {
    pub dir: TempDir,
    pub allowed: PathBuf,
    pub outside: PathBuf,
    pub server_path: PathBuf,
    pub handle: ServerHandle,
    pub events: mpsc::UnboundedReceiver<Event>,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|b| b, |s, _| s).await
    }

    /// Starts a server; `configure` adjusts the builder, `add` the channels
    /// (the `test` channel is always there).
    pub async fn start_with(
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
        add: impl FnOnce(Server, mpsc::UnboundedSender<Event>) -> Server,
    ) -> Harness {
        let dir = tempfile::Builder::new()
            .prefix("janus-test")
            .tempdir_in("/tmp")
            .unwrap();
        let allowed = dir.path().join("allowed");
        let outside = dir.path().join("outside");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let server_path = allowed.join("server.sock");
        let (tx, events) = mpsc::unbounded_channel();
        let builder = Server::builder().allowed_dirs([allowed.to_str().unwrap()]);
        let server = configure(builder)
            .bind(&server_path)
            .unwrap()
            .channel(TestService::new("test", tx.clone()));
        let handle = add(server, tx).spawn();
        Harness {
            dir,
            allowed,
            outside,
            server_path,
            handle,
            events,
        }
    }

    pub async fn client(&self) -> Client {
        Client::builder()
            .reply_dir(&self.allowed)
            .connect(&self.server_path)
            .await
            .unwrap()
    }

    /// A raw peer bound at `<allowed>/<name>`.
    pub fn peer(&self, name: &str) -> Peer {
        Peer::bound(&self.allowed.join(name), &self.server_path)
    }

    /// A raw peer with no address.
    pub fn anonymous(&self) -> Peer {
        Peer::unbound(&self.server_path)
    }

    /// Waits for the test service to report `event` (skipping others).
    pub async fn expect_event(&mut self, event: Event) {
        loop {
            let got = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event:?} within 10 s"))
                .expect("service gone");
            if got == event {
                return;
            }
        }
    }

    /// Waits until the server has accounted for every datagram it received
    /// (answered or dropped) and no handler is running.
    pub async fn settled(&self) {
        self.settled_after(0).await;
    }

    /// Like [`settled`](Self::settled), once at least `received` datagrams
    /// have arrived.
    pub async fn settled_after(&self, received: u64) {
        if let Err(stats) = self.try_settled_after(received).await {
            panic!("server did not settle: {stats:?}");
        }
    }

    /// Waits (up to 2 s) until at least `received` datagrams have arrived and
    /// every one is accounted for.
    pub async fn try_settled_after(&self, received: u64) -> Result<(), janus_runtime::ServerStats> {
        for _ in 0..1000 {
            let s = self.handle.stats();
            if s.received >= received
                && s.in_flight == 0
                && s.answered + s.dropped.total() + s.notifications >= s.received
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(self.handle.stats())
    }

    /// Asserts the server still answers `ping`.
    pub async fn assert_alive(&self) {
        let peer = self.peer(&format!("alive-{}.sock", uuid_like()));
        let pong = peer
            .request(json!({"id": "alive", "request": "ping", "timestamp": now(), "reply_to": peer.path_str()}))
            .await
            .expect("no answer to ping");
        assert_eq!(pong["result"]["pong"], true, "{pong}");
    }
}

/// A name no other call in this process returns.
pub fn uuid_like() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

pub fn now() -> String {
    janus_runtime::wire::timestamp_now()
}

/// A raw datagram socket for sending hand-made datagrams.
pub struct Peer {
    pub socket: UnixDatagram,
    pub path: Option<PathBuf>,
    pub server: PathBuf,
}

impl Peer {
    pub fn bound(path: &Path, server: &Path) -> Peer {
        let socket = std::os::unix::net::UnixDatagram::bind(path).unwrap();
        socket.set_nonblocking(true).unwrap();
        Peer {
            socket: UnixDatagram::from_std(socket).unwrap(),
            path: Some(path.to_owned()),
            server: server.to_owned(),
        }
    }

    pub fn unbound(server: &Path) -> Peer {
        let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
        socket.set_nonblocking(true).unwrap();
        Peer {
            socket: UnixDatagram::from_std(socket).unwrap(),
            path: None,
            server: server.to_owned(),
        }
    }

    pub fn path_str(&self) -> &str {
        self.path.as_ref().unwrap().to_str().unwrap()
    }

    pub async fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, &self.server).await.unwrap();
    }

    /// The next datagram, within `wait`.
    pub async fn recv_within(&self, wait: Duration) -> Option<Value> {
        let mut buf = vec![0u8; 1 << 20];
        let n = tokio::time::timeout(wait, self.socket.recv(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some(serde_json::from_slice(&buf[..n]).expect("answers are JSON"))
    }

    pub async fn recv(&self) -> Value {
        self.recv_within(Duration::from_secs(10))
            .await
            .expect("no answer within 10 s")
    }

    /// Whatever is queued now, without waiting.
    pub fn try_recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 1 << 20];
        self.socket
            .try_recv(&mut buf)
            .ok()
            .map(|n| buf[..n].to_vec())
    }

    pub async fn request(&self, request: Value) -> Option<Value> {
        self.send(request.to_string().as_bytes()).await;
        self.recv_within(Duration::from_secs(10)).await
    }
}
