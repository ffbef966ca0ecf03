//! The client: one reply socket for its whole life, any number of calls in
//! flight on it, answers matched to calls by request id.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::net::SocketAddrUnix;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::config::{TimeoutProfile, clamp_timeout};
use crate::error::CallError;
use crate::security;
use crate::transport::datagram::{self as dgram, SendError};
use crate::wire::{self, OutgoingRequest, RawResponse};

/// How sends that failed before reaching the server are retried.
///
/// Only failures that prove the request never arrived are retried — no
/// server socket at the path, or a stale one — so nothing is ever delivered
/// twice. A full server queue is not a failure: the send waits for room until
/// the call's deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub retries: u32,
    /// Wait before the first retry (default 100 ms).
    pub initial_backoff: Duration,
    /// Factor applied to the wait after each retry (default 1.5).
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            initial_backoff: Duration::from_millis(100),
            multiplier: 1.5,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            retries: 0,
            ..Self::default()
        }
    }
}

/// Configures and creates a [`Client`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    reply_dir: PathBuf,
    timeout: Duration,
    max_pending: usize,
    max_message_size: usize,
    retry: RetryPolicy,
    form: wire::Form,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            reply_dir: PathBuf::from("/tmp"),
            timeout: TimeoutProfile::Standard.request(),
            max_pending: 1000,
            max_message_size: dgram::OS_DATAGRAM_LIMIT,
            retry: RetryPolicy::default(),
            form: wire::Form::V2,
        }
    }
}

impl ClientBuilder {
    /// The directory the reply socket is created in (default `/tmp`). It must
    /// be one the server allows answers to.
    pub fn reply_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.reply_dir = dir.into();
        self
    }

    /// How long a call waits for its answer, sent as the request's `timeout`
    /// (default 30 s; clamped to 0.1 s ..= 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = clamp_timeout(timeout);
        self
    }

    /// Sets the call timeout from a protocol profile.
    pub fn timeout_profile(mut self, profile: TimeoutProfile) -> Self {
        self.timeout = profile.request();
        self
    }

    /// How many calls may wait for answers at once (default 1000); beyond,
    /// calls fail with [`CallError::Busy`] without sending.
    pub fn max_pending(mut self, calls: usize) -> Self {
        self.max_pending = calls.max(1);
        self
    }

    /// The largest request, in bytes (default 4 MiB; the socket's send
    /// buffer may lower it). Larger requests fail before anything is sent.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1024);
        self
    }

    /// How sends that never reached the server are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The dialect requests are sent in (default [`Dialect::V2`](wire::Dialect::V2));
    /// answers are understood in every dialect whatever this says. A v1
    /// command always names its channel: in a v1 dialect a call without one
    /// fails with [`CallError::Encode`] before anything is sent.
    pub fn dialect(mut self, dialect: wire::Dialect) -> Self {
        self.form.dialect = dialect;
        self
    }

    /// Whether requests travel inside the base64 envelope
    /// `{"type":"command","payload":...}` (default no).
    pub fn envelope(mut self, enveloped: bool) -> Self {
        self.form.enveloped = enveloped;
        self
    }

    /// Creates the client's reply socket and starts reading answers on it.
    /// Does not contact the server.
    pub async fn connect(self, server_path: impl AsRef<Path>) -> io::Result<Client> {
        let server_path = server_path.as_ref().to_owned();
        let server_addr = dgram::socket_addr(&server_path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} cannot be a socket address: {e}", server_path.display()),
            )
        })?;
        let (socket, reply_path) = dgram::bind_reply_socket(&self.reply_dir)?;
        // From here on the socket file exists: remove it on every failure.
        let file = ReplyFile(reply_path);
        let reply_text = file
            .0
            .to_str()
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "reply directory is not UTF-8")
            })?
            .to_owned();
        security::check_socket_path_shape(&reply_text).map_err(|problem| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("reply socket path {reply_text}: {problem}"),
            )
        })?;
        socket.set_nonblocking(true)?;
        let send_limit = dgram::size_send_buffer(&socket, self.max_message_size)?;
        let socket = dgram::Socket::new(socket)?;
        let shared = Arc::new(Shared {
            socket,
            gate: tokio::sync::Mutex::new(()),
            pending: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            // Answers put `request_id` after `result`, so one cut short could
            // not be matched to its call: always receive the largest datagram
            // the OS can deliver (untouched buffer pages cost no memory).
            receive_limit: self.max_message_size.max(dgram::OS_DATAGRAM_LIMIT),
        });
        // The reader is a task of its own, always polled: answers are drained
        // as they arrive whatever the callers do with their futures.
        let reader = tokio::spawn(read_answers(shared.clone()));
        Ok(Client {
            inner: Arc::new(Inner {
                shared,
                reader,
                reply_file: file,
                reply_text,
                server_path,
                server_addr,
                max_pending: self.max_pending,
                max_message: send_limit.min(self.max_message_size),
                retry: self.retry,
                form: self.form,
            }),
            timeout: self.timeout,
        })
    }
}

/// A Janus client on a Unix datagram socket.
///
/// Cheap to clone; all clones share one reply socket, which is removed when
/// the last clone is dropped. Calls may be made from any number of tasks at
/// once.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use serde_json::json;
/// let client = janus_runtime::Client::connect("/tmp/janus-demo.sock").await?;
/// let sum = client.call("demo", "add", json!({"a": 2, "b": 3})).await?;
/// assert_eq!(sum, json!({"sum": 5}));
/// let pong = client.request("ping").send().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.server_path)
            .field("reply_to", &self.inner.reply_text)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

struct Inner {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    reply_file: ReplyFile,
    reply_text: String,
    server_path: PathBuf,
    server_addr: SocketAddrUnix,
    max_pending: usize,
    max_message: usize,
    retry: RetryPolicy,
    form: wire::Form,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Removes the reply socket file when dropped.
struct ReplyFile(PathBuf);

impl Drop for ReplyFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove reply socket");
        }
    }
}

type Answer = Result<Option<Box<RawValue>>, CallError>;

struct Shared {
    socket: dgram::Socket,
    /// One sender at a time waits for room in a full server queue.
    gate: tokio::sync::Mutex<()>,
    pending: Mutex<HashMap<u128, oneshot::Sender<Answer>>>,
    counters: Counters,
    receive_limit: usize,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    answered: AtomicU64,
    late: AtomicU64,
    uncorrelated: AtomicU64,
    malformed: AtomicU64,
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests sent.
    pub sent: u64,
    /// Answers matched to a waiting call.
    pub answered: u64,
    /// Answers that arrived after their caller gave up (dropped).
    pub late_replies: u64,
    /// Answers whose `request_id` matched no call ever made here (dropped).
    pub uncorrelated: u64,
    /// Datagrams that were not a readable response (dropped).
    pub malformed: u64,
    /// Calls waiting for an answer now.
    pub pending: usize,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u128, oneshot::Sender<Answer>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands one received datagram to the call waiting for it.
    fn deliver(&self, bytes: &[u8], truncated_from: Option<usize>) {
        if let Some(size) = truncated_from {
            // Too big to read whole: fail the call it answers, if we can tell which.
            let id = sniff_request_id(bytes);
            match id.and_then(|id| self.pending().remove(&id)) {
                Some(tx) => {
                    let _ = tx.send(Err(CallError::ResponseTooLarge {
                        size,
                        limit: self.receive_limit,
                    }));
                }
                None => {
                    self.counters.malformed.fetch_add(1, Relaxed);
                }
            }
            return;
        }
        let raw = match RawResponse::decode(bytes) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring a datagram that is not a response");
                self.counters.malformed.fetch_add(1, Relaxed);
                return;
            }
        };
        let Some(key) = raw
            .request_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(|id| id.as_u128())
        else {
            self.counters.uncorrelated.fetch_add(1, Relaxed);
            return;
        };
        let Some(tx) = self.pending().remove(&key) else {
            self.counters.late.fetch_add(1, Relaxed);
            return;
        };
        let answer = raw.into_outcome().map_err(CallError::Remote);
        if tx.send(answer).is_ok() {
            self.counters.answered.fetch_add(1, Relaxed);
        } else {
            self.counters.late.fetch_add(1, Relaxed);
        }
    }
}

/// The id of the call an answer is for, read from an answer cut short.
fn sniff_request_id(bytes: &[u8]) -> Option<u128> {
    let id = wire::dialect::sniff_answered_id(bytes)?;
    Uuid::parse_str(&id).ok().map(|u| u.as_u128())
}

/// Reads answers and hands each to the call waiting for it, until the
/// client is dropped (the task is aborted then).
async fn read_answers(shared: Arc<Shared>) {
    let mut buf = vec![0u8; shared.receive_limit];
    loop {
        let received = shared.socket.recv(&mut buf).await;
        match received {
            Ok(meta) => shared.deliver(&buf[..meta.len], meta.truncated_from),
            Err(e) => {
                tracing::warn!(error = %e, "receiving an answer failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Removes a call's pending entry unless the answer already took it.
struct PendingEntry<'a> {
    shared: &'a Shared,
    key: u128,
}

impl Drop for PendingEntry<'_> {
    fn drop(&mut self) {
        self.shared.pending().remove(&self.key);
    }
}

impl Client {
    /// A builder for the reply directory, timeouts, limits and retries.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with default settings for the server at `server_path`.
    /// Creates the reply socket; does not contact the server.
    pub async fn connect(server_path: impl AsRef<Path>) -> io::Result<Client> {
        ClientBuilder::default().connect(server_path).await
    }

    /// The same client (same socket) with another call timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            inner: self.inner.clone(),
            timeout: clamp_timeout(timeout),
        }
    }

    /// The call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The server's socket path.
    pub fn server_path(&self) -> &Path {
        &self.inner.server_path
    }

    /// This client's reply socket path (the `reply_to` of its requests).
    pub fn reply_path(&self) -> &Path {
        &self.inner.reply_file.0
    }

    /// The largest request this client can send, in bytes.
    pub fn max_message_size(&self) -> usize {
        self.inner.max_message
    }

    /// A snapshot of the client's counters.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.shared.counters;
        ClientStats {
            sent: c.sent.load(Relaxed),
            answered: c.answered.load(Relaxed),
            late_replies: c.late.load(Relaxed),
            uncorrelated: c.uncorrelated.load(Relaxed),
            malformed: c.malformed.load(Relaxed),
            pending: self.inner.shared.pending().len(),
        }
    }

    /// Calls `request` on `channel` with JSON `args` (`null` for none) and
    /// returns the result.
    pub async fn call(
        &self,
        channel: &str,
        request: &str,
        args: Value,
    ) -> Result<Value, CallError> {
        let args = (!args.is_null()).then_some(&args);
        let raw = self
            .exchange(Some(channel), request, args, self.timeout)
            .await?;
        decode_result(raw)
    }

    /// Calls `request` on `channel` with typed arguments and decodes the
    /// result into `R`. This is what generated clients use.
    pub async fn call_typed<A, R>(
        &self,
        channel: &str,
        request: &str,
        args: &A,
    ) -> Result<R, CallError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let raw = self
            .exchange(Some(channel), request, Some(args), self.timeout)
            .await?;
        decode_result(raw)
    }

    /// Sends `request` without asking for an answer (no `reply_to`): the
    /// server runs it and replies nothing. Returns once the datagram is sent.
    pub async fn notify(&self, channel: &str, request: &str, args: Value) -> Result<(), CallError> {
        let args = (!args.is_null()).then_some(&args);
        self.send_request(Some(channel), request, args, self.timeout)
            .await
    }

    /// A call with more options: no channel (built-ins, servers that route
    /// by request name), its own timeout.
    pub fn request<'a>(&'a self, request: &'a str) -> CallBuilder<'a> {
        CallBuilder {
            client: self,
            request,
            channel: None,
            args: None,
            timeout: self.timeout,
        }
    }

    fn encode<A: Serialize + ?Sized>(
        &self,
        id: &Uuid,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
        reply: bool,
    ) -> Result<Vec<u8>, CallError> {
        let mut id_buf = Uuid::encode_buffer();
        let mut bytes = Vec::with_capacity(256);
        wire::encode_request(
            &mut bytes,
            &OutgoingRequest {
                id: id.hyphenated().encode_lower(&mut id_buf),
                channel_id: channel,
                request,
                reply_to: reply.then_some(self.inner.reply_text.as_str()),
                timeout: announced_timeout(timeout).as_secs_f64(),
                timestamp: &wire::timestamp_now(),
                form: self.inner.form,
            },
            args,
        )
        .map_err(CallError::Encode)?;
        if bytes.len() > self.inner.max_message {
            return Err(CallError::TooLarge {
                size: bytes.len(),
                limit: self.inner.max_message,
            });
        }
        Ok(bytes)
    }

    async fn send_request<A: Serialize + ?Sized>(
        &self,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let timeout = clamp_timeout(timeout);
        let bytes = self.encode(&Uuid::new_v4(), channel, request, args, timeout, false)?;
        self.send(&bytes, Instant::now() + timeout, timeout).await
    }

    /// Sends a request and waits for its answer.
    async fn exchange<A: Serialize + ?Sized>(
        &self,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
    ) -> Result<Option<Box<RawValue>>, CallError> {
        let timeout = clamp_timeout(timeout);
        let deadline = Instant::now() + timeout;
        let id = Uuid::new_v4();
        let bytes = self.encode(&id, channel, request, args, timeout, true)?;
        let shared = &*self.inner.shared;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = shared.pending();
            if pending.len() >= self.inner.max_pending {
                return Err(CallError::Busy {
                    limit: self.inner.max_pending,
                });
            }
            pending.insert(id.as_u128(), tx);
        }
        // Dropping this (timeout, error, or the caller dropping the future)
        // forgets the call; an answer arriving later is counted as late.
        let _entry = PendingEntry {
            shared,
            key: id.as_u128(),
        };
        self.send(&bytes, deadline, timeout).await?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            // The sender lives in the pending map until an answer takes it or
            // our own entry guard removes it, so this cannot happen.
            Ok(Err(_)) => Err(CallError::Transport {
                context: "the call was forgotten before its answer arrived".into(),
                source: io::Error::from(io::ErrorKind::BrokenPipe),
            }),
            Err(_) => Err(CallError::Timeout { timeout }),
        }
    }

    /// Sends one datagram to the server, retrying per the retry policy when
    /// no server socket is there to receive it.
    async fn send(
        &self,
        bytes: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let inner = &*self.inner;
        let mut backoff = inner.retry.initial_backoff;
        let mut attempt = 0;
        loop {
            let sent = dgram::send_to(
                &inner.shared.socket,
                &inner.shared.gate,
                bytes,
                &inner.server_addr,
                deadline,
            )
            .await;
            match sent {
                Ok(()) => {
                    inner.shared.counters.sent.fetch_add(1, Relaxed);
                    return Ok(());
                }
                Err(SendError::NoReceiver(e)) => {
                    if attempt < inner.retry.retries && Instant::now() + backoff < deadline {
                        attempt += 1;
                        tokio::time::sleep(backoff).await;
                        backoff = backoff.mul_f64(inner.retry.multiplier);
                        continue;
                    }
                    return Err(CallError::Transport {
                        context: format!(
                            "no server is receiving at {} ({} {})",
                            inner.server_path.display(),
                            attempt + 1,
                            if attempt == 0 { "attempt" } else { "attempts" }
                        ),
                        source: e,
                    });
                }
                Err(SendError::TooLarge) => {
                    return Err(CallError::TooLarge {
                        size: bytes.len(),
                        limit: inner.max_message,
                    });
                }
                Err(SendError::QueueFull) => return Err(CallError::Timeout { timeout }),
                Err(SendError::Io(e)) => {
                    return Err(CallError::Transport {
                        context: format!("sending to {}", inner.server_path.display()),
                        source: e,
                    });
                }
            }
        }
    }
}

/// The `timeout` a request announces when its caller waits `wait`: a little
/// less (5%, at most 100 ms, never below the protocol's 0.1 s), so that a
/// server cancelling a slow handler at the announced timeout answers `-32006`
/// while the caller is still listening, instead of the caller timing out
/// with no explanation at the same moment.
fn announced_timeout(wait: Duration) -> Duration {
    let margin = (wait / 20).min(Duration::from_millis(100));
    wait.saturating_sub(margin)
        .max(Duration::from_secs_f64(wire::MIN_TIMEOUT_SECS))
}

fn decode_result<R: DeserializeOwned>(raw: Option<Box<RawValue>>) -> Result<R, CallError> {
    match raw {
        Some(raw) => serde_json::from_str(raw.get()),
        None => serde_json::from_str("null"),
    }
    .map_err(CallError::Decode)
}

/// One call with options; see [`Client::request`].
#[derive(Debug)]
#[must_use]
pub struct CallBuilder<'a> {
    client: &'a Client,
    request: &'a str,
    channel: Option<&'a str>,
    args: Option<Value>,
    timeout: Duration,
}

impl<'a> CallBuilder<'a> {
    /// Names the channel (sent as `channelId`).
    pub fn channel(mut self, channel: &'a str) -> Self {
        self.channel = Some(channel);
        self
    }

    /// The arguments (a JSON object).
    pub fn args(mut self, args: Value) -> Self {
        self.args = (!args.is_null()).then_some(args);
        self
    }

    /// This call's timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and waits for the result.
    pub async fn send(self) -> Result<Value, CallError> {
        self.send_typed().await
    }

    /// Sends the request and decodes the result into `R`.
    pub async fn send_typed<R: DeserializeOwned>(self) -> Result<R, CallError> {
        let raw = self
            .client
            .exchange(self.channel, self.request, self.args.as_ref(), self.timeout)
            .await?;
        decode_result(raw)
    }

    /// Sends the request without asking for an answer.
    pub async fn notify(self) -> Result<(), CallError> {
        self.client
            .send_request(self.channel, self.request, self.args.as_ref(), self.timeout)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_request_ids_of_cut_answers() {
        let id = Uuid::new_v4();
        let text = format!(
            r#"{{"result":null,"error":{{"code":-1}},"success":false,"request_id":"{id}","id":"#
        );
        assert_eq!(sniff_request_id(text.as_bytes()), Some(id.as_u128()));
        assert_eq!(sniff_request_id(br#"{"result":"xxxxxxxx"#), None);
    }

    #[test]
    fn requests_announce_a_little_less_than_the_caller_waits() {
        assert_eq!(
            announced_timeout(Duration::from_secs(30)),
            Duration::from_millis(29_900)
        );
        assert_eq!(
            announced_timeout(Duration::from_secs(1)),
            Duration::from_millis(950)
        );
        assert_eq!(
            announced_timeout(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        assert_eq!(
            announced_timeout(Duration::from_millis(102)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn retry_policy_defaults_follow_the_protocol() {
        let p = RetryPolicy::default();
        assert_eq!(p.retries, 3);
        assert_eq!(p.multiplier, 1.5);
        assert_eq!(RetryPolicy::none().retries, 0);
    }

    #[tokio::test]
    async fn a_started_call_left_unpolled_blocks_no_other_call() {
        let dir = tempfile::tempdir().unwrap();
        let server_path = dir.path().join("server.sock");
        let server = crate::Server::builder()
            .allowed_dirs([dir.path().to_str().unwrap()])
            .enable_slow_process(true)
            .bind(&server_path)
            .unwrap()
            .spawn();
        let client = Client::builder()
            .reply_dir(dir.path())
            .connect(&server_path)
            .await
            .unwrap();
        // Poll a slow call once (it is sent and waiting), then leave it alone.
        let mut parked = Box::pin(
            client
                .request("slow_process")
                .args(serde_json::json!({"ms": 200}))
                .send(),
        );
        tokio::select! {
            biased;
            _ = &mut parked => unreachable!("not answered yet"),
            _ = std::future::ready(()) => {}
        }
        // Other calls proceed meanwhile.
        for _ in 0..3 {
            let pong = client
                .request("ping")
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .unwrap();
            assert_eq!(pong["pong"], true);
        }
        assert_eq!(parked.await.unwrap(), serde_json::json!({"slept_ms": 200}));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn dropping_the_last_clone_removes_the_reply_socket() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::builder()
            .reply_dir(dir.path())
            .connect(dir.path().join("server.sock"))
            .await
            .unwrap();
        let path = client.reply_path().to_owned();
        assert!(path.exists());
        let clone = client.clone();
        drop(client);
        assert!(path.exists(), "a clone still uses it");
        drop(clone);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn refuses_oversized_requests_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::builder()
            .reply_dir(dir.path())
            .max_message_size(4096)
            .connect(dir.path().join("server.sock"))
            .await
            .unwrap();
        let err = client
            .call("c", "r", serde_json::json!({"blob": "x".repeat(5000)}))
            .await
            .unwrap_err();
        match err {
            CallError::TooLarge { size, limit } => {
                assert!(size > 5000);
                assert_eq!(limit, 4096);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(client.stats().sent, 0);
        assert_eq!(client.stats().pending, 0);
    }

    #[tokio::test]
    async fn a_missing_server_is_retried_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::builder()
            .reply_dir(dir.path())
            .retry(RetryPolicy {
                retries: 2,
                initial_backoff: Duration::from_millis(1),
                multiplier: 1.5,
            })
            .connect(dir.path().join("nobody.sock"))
            .await
            .unwrap();
        let err = client.call("c", "r", Value::Null).await.unwrap_err();
        match &err {
            CallError::Transport { context, source } => {
                assert!(context.contains("no server is receiving"), "{context}");
                assert!(context.contains("3 attempts"), "{context}");
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected Transport, got {other:?}"),
        }
        assert_eq!(client.stats().pending, 0);
    }
}
