//! The client: one reply socket (datagrams) or one connection at a time
//! (streams), any number of calls in flight on it, answers matched to calls
//! by request id whatever the transport.

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
use crate::transport::batch::RecvBatch;
use crate::transport::datagram::{self as dgram, SendError};
use crate::transport::stream_client::{self, Connection, HEADROOM, SendFailure};
use crate::transport::stream_frame as frame;
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

/// Which kind of socket a [`Client`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// A `SOCK_DGRAM` socket: one datagram per message, answers to the
    /// client's own reply socket (at most 4 MiB per message).
    Datagram,
    /// A `SOCK_STREAM` socket: length-prefixed messages (up to 10 MiB) on one
    /// persistent connection, answers on the same connection.
    Stream,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Datagram => "datagram",
            Transport::Stream => "stream",
        })
    }
}

/// Configures and creates a [`Client`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    reply_dir: PathBuf,
    timeout: Duration,
    connect_timeout: Duration,
    max_pending: usize,
    max_message_size: Option<usize>,
    retry: RetryPolicy,
    form: wire::Form,
    stream_fallback: Option<PathBuf>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            reply_dir: PathBuf::from("/tmp"),
            timeout: TimeoutProfile::Standard.request(),
            connect_timeout: TimeoutProfile::Standard.connection(),
            max_pending: 1000,
            max_message_size: None,
            retry: RetryPolicy::default(),
            form: wire::Form::V2,
            stream_fallback: None,
        }
    }
}

impl ClientBuilder {
    /// The directory the reply socket is created in (default `/tmp`). It must
    /// be one the server allows answers to. Stream clients have no reply
    /// socket.
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

    /// Sets the call timeout and the connection timeout from a protocol profile.
    pub fn timeout_profile(mut self, profile: TimeoutProfile) -> Self {
        self.timeout = profile.request();
        self.connect_timeout = profile.connection();
        self
    }

    /// How long opening a stream connection may take (default 10 s); a call
    /// never waits for it beyond its own timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many calls may wait for answers at once (default 1000); beyond,
    /// calls fail with [`CallError::Busy`] without sending.
    pub fn max_pending(mut self, calls: usize) -> Self {
        self.max_pending = calls.max(1);
        self
    }

    /// The largest request, in bytes (default 4 MiB over datagrams, where the
    /// socket's send buffer may lower it; 10 MiB over a stream). Larger
    /// requests fail before anything is sent.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes.max(1024));
        self
    }

    /// How sends that never reached the server are retried (datagrams; a
    /// stream reconnects instead, see [`Client::connect_stream`]).
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

    /// A stream socket of the same server for a datagram client to send a
    /// request over when it is too large for a datagram (up to 10 MiB). The
    /// connection is opened on the first such request and kept. Ignored by
    /// stream clients.
    pub fn stream_fallback(mut self, path: impl Into<PathBuf>) -> Self {
        self.stream_fallback = Some(path.into());
        self
    }

    /// The largest frame a stream client reads or writes.
    fn stream_frame_limit(&self) -> usize {
        self.max_message_size
            .unwrap_or(frame::DEFAULT_MAX_FRAME)
            .max(frame::DEFAULT_MAX_FRAME)
    }

    fn stream_link(&self, path: &Path) -> StreamLink {
        StreamLink {
            path: path.to_owned(),
            max_request: self.max_message_size.unwrap_or(frame::DEFAULT_MAX_FRAME),
            max_frame: self.stream_frame_limit(),
            connect_timeout: self.connect_timeout,
            state: Mutex::new(LinkState::default()),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    fn finish(
        self,
        shared: Arc<Shared>,
        server_path: PathBuf,
        dgram: Option<DgramLink>,
        stream: Option<StreamLink>,
    ) -> Client {
        Client {
            inner: Arc::new(Inner {
                shared,
                server_path,
                dgram,
                stream,
                max_pending: self.max_pending,
                retry: self.retry,
                form: self.form,
            }),
            timeout: self.timeout,
        }
    }

    /// A datagram client: creates the client's reply socket and starts
    /// reading answers on it. Does not contact the server.
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
        let wanted = self.max_message_size.unwrap_or(dgram::OS_DATAGRAM_LIMIT);
        let send_limit = dgram::size_send_buffer(&socket, wanted)?;
        let socket = Arc::new(dgram::Socket::new(socket)?);
        // Answers put `request_id` after `result`, so one cut short could
        // not be matched to its call: always receive the largest datagram
        // the OS can deliver (untouched buffer pages cost no memory).
        let shared = Arc::new(Shared::new(wanted.max(dgram::OS_DATAGRAM_LIMIT)));
        // The reader is a task of its own, always polled: answers are drained
        // as they arrive whatever the callers do with their futures.
        let queue = Arc::new(dgram::SendQueue::default());
        let batch = Arc::new(Mutex::new(RecvBatch::new(
            ANSWER_BATCH,
            shared.receive_limit,
        )));
        let reader = tokio::spawn(read_answers(
            shared.clone(),
            socket.clone(),
            queue.clone(),
            batch.clone(),
        ));
        let link = DgramLink {
            socket,
            queue,
            batch,
            reader,
            reply_file: file,
            reply_text,
            server_addr,
            max_message: send_limit.min(wanted),
        };
        let fallback = self.stream_fallback.as_deref().map(|p| self.stream_link(p));
        Ok(self.finish(shared, server_path, Some(link), fallback))
    }

    /// A stream client: connects to the stream socket at `server_path` now
    /// (an error if no stream server listens there; a datagram socket there
    /// is named as such). See [`Client::connect_stream`].
    pub async fn connect_stream(self, server_path: impl AsRef<Path>) -> io::Result<Client> {
        let path = server_path.as_ref();
        let stream = stream_client::connect(path, self.connect_timeout)
            .await
            .map_err(|e| describe_connect_error(path, e))?;
        Ok(self.stream_client(path, stream))
    }

    /// A client of whatever kind of socket is at `server_path`: a stream
    /// client when a stream server accepts a connection there, otherwise a
    /// datagram client (the protocol's default; its calls report a missing
    /// server as datagram clients do).
    pub async fn connect_auto(self, server_path: impl AsRef<Path>) -> io::Result<Client> {
        let path = server_path.as_ref();
        match stream_client::connect(path, self.connect_timeout).await {
            Ok(stream) => Ok(self.stream_client(path, stream)),
            Err(_) => self.connect(path).await,
        }
    }

    fn stream_client(self, path: &Path, stream: tokio::net::UnixStream) -> Client {
        let shared = Arc::new(Shared::new(0));
        let link = self.stream_link(path);
        link.install(&shared, stream);
        self.finish(shared, path.to_owned(), None, Some(link))
    }
}

/// The error of a failed connect, naming the path and, for `EPROTOTYPE`,
/// what it means.
fn describe_connect_error(path: &Path, e: io::Error) -> io::Error {
    let what = if stream_client::is_wrong_type(&e) {
        format!(
            "{} is a datagram socket, not a stream socket ({e})",
            path.display()
        )
    } else {
        format!("connecting to {}: {e}", path.display())
    };
    io::Error::new(e.kind(), what)
}

/// A Janus client on a Unix datagram or stream socket.
///
/// Cheap to clone; all clones share one reply socket (datagrams) or one
/// connection (streams), closed when the last clone is dropped. Calls may be
/// made from any number of tasks at once; answers are matched to calls by
/// request id whatever the transport.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use serde_json::json;
/// let client = janus_runtime::Client::connect("/tmp/janus-demo.sock").await?;
/// let sum = client.call("demo", "add", json!({"a": 2, "b": 3})).await?;
/// assert_eq!(sum, json!({"sum": 5}));
/// let pong = client.request("ping").send().await?;
/// // The same over a stream socket:
/// let client = janus_runtime::Client::connect_stream("/tmp/janus-demo-stream.sock").await?;
/// let sum = client.call("demo", "add", json!({"a": 2, "b": 3})).await?;
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
            .field("transport", &self.transport())
            .field(
                "reply_to",
                &self.inner.dgram.as_ref().map(|d| &d.reply_text),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

struct Inner {
    shared: Arc<Shared>,
    server_path: PathBuf,
    /// The datagram route (datagram clients).
    dgram: Option<DgramLink>,
    /// The stream route: the only one of a stream client, the fallback for
    /// large requests of a datagram client.
    stream: Option<StreamLink>,
    max_pending: usize,
    retry: RetryPolicy,
    form: wire::Form,
}

/// A datagram client's socket and what goes with it.
struct DgramLink {
    socket: Arc<dgram::Socket>,
    /// Senders waiting for room in a full server queue, in order.
    queue: Arc<dgram::SendQueue>,
    /// The answers' receive buffers: the reader's, borrowed by a caller
    /// that finds answers queued right after sending.
    batch: Arc<Mutex<RecvBatch>>,
    reader: JoinHandle<()>,
    reply_file: ReplyFile,
    reply_text: String,
    server_addr: SocketAddrUnix,
    max_message: usize,
}

impl Drop for DgramLink {
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

/// A stream route: the connection in use, and how to open the next one.
struct StreamLink {
    path: PathBuf,
    /// The largest request sent.
    max_request: usize,
    /// The largest frame read or written.
    max_frame: usize,
    connect_timeout: Duration,
    state: Mutex<LinkState>,
    /// One caller at a time (re)connects; the others wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct LinkState {
    conn: Option<Live>,
    /// Connection attempts that failed in a row.
    failures: u32,
    /// No attempt before this (backoff after a failed attempt).
    retry_at: Option<Instant>,
}

/// An open connection and its number (pending calls remember it).
#[derive(Clone)]
struct Live {
    id: u64,
    conn: Arc<Connection>,
}

/// Backoff before the next connection attempt after `failures` failed ones
/// in a row: 1 s, ×2 each time, at most 30 s, ±10% jitter (PROTOCOL.md
/// "Stream transport").
fn reconnect_backoff(failures: u32) -> Duration {
    const INITIAL: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30);
    let doublings = failures.saturating_sub(1).min(5);
    let base = INITIAL.saturating_mul(1 << doublings).min(MAX);
    // Jitter in [-10%, +10%], from the random bits of a v4 UUID.
    let unit = (Uuid::new_v4().as_u128() % 2001) as f64 / 1000.0 - 1.0;
    base.mul_f64(1.0 + 0.1 * unit).min(MAX)
}

impl StreamLink {
    /// The open connection, if there is one.
    fn current(&self) -> Option<Live> {
        lock(&self.state)
            .conn
            .as_ref()
            .filter(|l| !l.conn.is_closed())
            .cloned()
    }

    /// Starts using `stream` as the connection: answers read on it go to
    /// `shared`; when it closes, the calls in flight on it fail.
    fn install(&self, shared: &Arc<Shared>, stream: tokio::net::UnixStream) -> Live {
        let id = shared.next_conn.fetch_add(1, Relaxed);
        let (sink, lost) = (shared.clone(), shared.clone());
        let path = self.path.clone();
        let conn = Connection::start(
            stream,
            self.max_frame,
            move |bytes| sink.deliver(&bytes, None),
            move |why| lost.connection_lost(id, &path, why),
        );
        let live = Live { id, conn };
        let mut state = lock(&self.state);
        if let Some(old) = state.conn.replace(live.clone()) {
            old.conn.close();
        }
        state.failures = 0;
        state.retry_at = None;
        live
    }

    /// The open connection, or a new one: after a connection is lost the
    /// next call connects at once; after a failed attempt, the next waits
    /// out the backoff (if its deadline allows; otherwise it fails now).
    async fn connection(
        &self,
        shared: &Arc<Shared>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Live, CallError> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let Ok(_gate) = tokio::time::timeout_at(deadline, self.connecting.lock()).await else {
            return Err(CallError::Timeout { timeout });
        };
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let retry_at = lock(&self.state).retry_at;
        if let Some(at) = retry_at {
            if at > deadline {
                let wait = at.saturating_duration_since(Instant::now());
                return Err(CallError::Transport {
                    context: format!(
                        "not connected to {}: the next attempt is in {:.1} s, after this call's deadline",
                        self.path.display(),
                        wait.as_secs_f64()
                    ),
                    source: io::ErrorKind::NotConnected.into(),
                });
            }
            tokio::time::sleep_until(at).await;
        }
        shared.counters.reconnect_attempts.fetch_add(1, Relaxed);
        let budget = self
            .connect_timeout
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        match stream_client::connect(&self.path, budget).await {
            Ok(stream) => Ok(self.install(shared, stream)),
            Err(e) => {
                let mut state = lock(&self.state);
                state.failures += 1;
                let wait = reconnect_backoff(state.failures);
                state.retry_at = Some(Instant::now() + wait);
                Err(CallError::Transport {
                    context: format!(
                        "reconnecting to {} failed ({} in a row; next attempt in {:.1} s)",
                        self.path.display(),
                        state.failures,
                        wait.as_secs_f64()
                    ),
                    source: describe_connect_error(&self.path, e),
                })
            }
        }
    }
}

impl Drop for StreamLink {
    fn drop(&mut self) {
        if let Some(live) = lock(&self.state).conn.take() {
            live.conn.close();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave its data inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Answer = Result<Option<Box<RawValue>>, CallError>;

/// A call waiting for its answer.
struct Waiter {
    tx: oneshot::Sender<Answer>,
    /// The stream connection the request went out on (0: a datagram).
    conn: u64,
}

/// What every transport shares: the calls waiting for answers, the counters.
struct Shared {
    pending: Mutex<HashMap<u128, Waiter>>,
    counters: Counters,
    /// The largest datagram received (for the error of a cut answer).
    receive_limit: usize,
    /// The number of the next stream connection.
    next_conn: AtomicU64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    answered: AtomicU64,
    late: AtomicU64,
    uncorrelated: AtomicU64,
    malformed: AtomicU64,
    reconnect_attempts: AtomicU64,
    connections_lost: AtomicU64,
    failed_by_disconnect: AtomicU64,
    send_wait_fallbacks: AtomicU64,
    received_by_callers: AtomicU64,
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
    /// Messages that were not a readable response (dropped).
    pub malformed: u64,
    /// Calls waiting for an answer now.
    pub pending: usize,
    /// Attempts to open a stream connection after the client was created
    /// (reconnections, and a datagram client's first use of its fallback).
    pub reconnect_attempts: u64,
    /// Stream connections that closed under the client (the server went
    /// away, a read or write failed, or the server broke the framing).
    pub connections_lost: u64,
    /// Calls failed because their connection closed while they waited.
    pub failed_by_disconnect: u64,
    /// Datagram sends that waited for room in the server's queue and found
    /// it on a timed retry rather than by the kernel's wake-up (the queue
    /// was full of other clients' requests, or a wake-up went missing).
    pub send_wait_fallbacks: u64,
    /// Datagram answers received by a caller right after sending its own
    /// request (they were queued already; a server on the same CPU often
    /// answers before the caller goes on) instead of by the client's
    /// reader task, which would have been woken for them.
    pub received_by_callers: u64,
}

impl Shared {
    fn new(receive_limit: usize) -> Shared {
        Shared {
            pending: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            receive_limit,
            next_conn: AtomicU64::new(1),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u128, Waiter>> {
        lock(&self.pending)
    }

    /// Registers a call waiting for the answer to request `key`, sent on
    /// `conn` (`None`: a datagram).
    fn register(
        &self,
        key: u128,
        conn: Option<&Live>,
        max_pending: usize,
        path: &Path,
    ) -> Result<oneshot::Receiver<Answer>, CallError> {
        let (tx, rx) = oneshot::channel();
        let mut pending = self.pending();
        if pending.len() >= max_pending {
            return Err(CallError::Busy { limit: max_pending });
        }
        // Checked under the lock a closing connection takes to fail its
        // calls: a call is either failed by it or sees it closed here.
        if let Some(live) = conn
            && live.conn.is_closed()
        {
            return Err(CallError::Transport {
                context: format!("the connection to {} closed", path.display()),
                source: io::ErrorKind::NotConnected.into(),
            });
        }
        pending.insert(
            key,
            Waiter {
                tx,
                conn: conn.map_or(0, |l| l.id),
            },
        );
        Ok(rx)
    }

    /// Fails, at once, every call waiting on stream connection `conn`, which
    /// closed: none of them is resent.
    fn connection_lost(&self, conn: u64, path: &Path, why: &io::Error) {
        self.counters.connections_lost.fetch_add(1, Relaxed);
        let mut failed = Vec::new();
        self.pending().retain(|_, w| {
            if w.conn != conn {
                return true;
            }
            failed.push(std::mem::replace(&mut w.tx, oneshot::channel().0));
            false
        });
        if failed.is_empty() {
            return;
        }
        tracing::debug!(path = %path.display(), calls = failed.len(), error = %why, "connection lost with calls in flight");
        self.counters
            .failed_by_disconnect
            .fetch_add(failed.len() as u64, Relaxed);
        for tx in failed {
            let _ = tx.send(Err(CallError::Transport {
                context: format!(
                    "the connection to {} closed while the call was in flight (it was not resent)",
                    path.display()
                ),
                source: io::Error::new(why.kind(), why.to_string()),
            }));
        }
    }

    /// Hands one received message to the call waiting for it.
    fn deliver(&self, bytes: &[u8], truncated_from: Option<usize>) {
        if let Some(size) = truncated_from {
            // Too big to read whole: fail the call it answers, if we can tell which.
            let id = sniff_request_id(bytes);
            match id.and_then(|id| self.pending().remove(&id)) {
                Some(w) => {
                    let _ = w.tx.send(Err(CallError::ResponseTooLarge {
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
                tracing::debug!(error = %e, "ignoring a message that is not a response");
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
        let Some(w) = self.pending().remove(&key) else {
            self.counters.late.fetch_add(1, Relaxed);
            return;
        };
        let answer = raw.into_outcome().map_err(CallError::Remote);
        if w.tx.send(answer).is_ok() {
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

/// Answers received with one system call, at most (each in a buffer of the
/// largest datagram, whose pages cost memory only once an answer that
/// large has come).
const ANSWER_BATCH: usize = 8;

/// Reads answers and hands each to the call waiting for it, until the
/// client is dropped (the task is aborted then).
///
/// An answer means the server has read a request from its queue: a send
/// waiting for room in that queue (`queue`) is told so.
async fn read_answers(
    shared: Arc<Shared>,
    socket: Arc<dgram::Socket>,
    queue: Arc<dgram::SendQueue>,
    batch: Arc<Mutex<RecvBatch>>,
) {
    loop {
        let received = socket
            .recv_shared(&batch, |batch| deliver_batch(&shared, &queue, batch))
            .await;
        match received {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "receiving an answer failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Hands the answers of `batch` to their calls.
fn deliver_batch(shared: &Shared, queue: &dgram::SendQueue, batch: &RecvBatch) {
    queue.room_freed();
    for (bytes, meta) in batch.iter() {
        shared.deliver(bytes, meta.truncated_from);
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

/// Where one request goes.
enum Route<'a> {
    Datagram(&'a DgramLink),
    Stream(&'a StreamLink),
}

impl Client {
    /// A builder for the reply directory, timeouts, limits and retries.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A datagram client with default settings for the server at
    /// `server_path`. Creates the reply socket; does not contact the server.
    pub async fn connect(server_path: impl AsRef<Path>) -> io::Result<Client> {
        ClientBuilder::default().connect(server_path).await
    }

    /// A stream client with default settings for the server's stream socket
    /// at `server_path`, connected now.
    ///
    /// The API is the datagram client's. All calls share the one connection,
    /// any number in flight. When the connection closes, every call in
    /// flight on it fails at once with [`CallError::Transport`] (none is
    /// resent: the server may have run it); the next call reconnects. A
    /// failed attempt makes the next one wait 1 s, then 2 s, 4 s … at most
    /// 30 s (±10%); [`ClientStats::reconnect_attempts`] counts them.
    pub async fn connect_stream(server_path: impl AsRef<Path>) -> io::Result<Client> {
        ClientBuilder::default().connect_stream(server_path).await
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

    /// The kind of socket the client talks to (a datagram client with a
    /// stream fallback is [`Transport::Datagram`]).
    pub fn transport(&self) -> Transport {
        if self.inner.dgram.is_some() {
            Transport::Datagram
        } else {
            Transport::Stream
        }
    }

    /// This client's reply socket path (the `reply_to` of its requests);
    /// `None` for a stream client, whose answers come back on its connection.
    pub fn reply_path(&self) -> Option<&Path> {
        self.inner.dgram.as_ref().map(|d| d.reply_file.0.as_path())
    }

    /// The largest request this client can send, in bytes (with a stream
    /// fallback, the fallback's).
    pub fn max_message_size(&self) -> usize {
        match (&self.inner.dgram, &self.inner.stream) {
            (_, Some(s)) => s.max_request,
            (Some(d), None) => d.max_message,
            (None, None) => 0,
        }
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
            reconnect_attempts: c.reconnect_attempts.load(Relaxed),
            connections_lost: c.connections_lost.load(Relaxed),
            failed_by_disconnect: c.failed_by_disconnect.load(Relaxed),
            send_wait_fallbacks: c.send_wait_fallbacks.load(Relaxed),
            received_by_callers: c.received_by_callers.load(Relaxed),
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
    /// server runs it and replies nothing. Returns once the message is sent
    /// (over a stream: written, or queued to be written, on the connection).
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

    /// Encodes a request after [`HEADROOM`] bytes left for a frame header,
    /// with `reply_to` when `reply_to` is given.
    #[allow(clippy::too_many_arguments)]
    fn encode<A: Serialize + ?Sized>(
        &self,
        id: &Uuid,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
        reply_to: Option<&str>,
    ) -> Result<Vec<u8>, CallError> {
        let mut id_buf = Uuid::encode_buffer();
        let mut bytes = Vec::with_capacity(256);
        bytes.resize(HEADROOM, 0);
        wire::encode_request(
            &mut bytes,
            &OutgoingRequest {
                id: id.hyphenated().encode_lower(&mut id_buf),
                channel_id: channel,
                request,
                reply_to,
                timeout: announced_timeout(timeout).as_secs_f64(),
                timestamp: &wire::timestamp_now(),
                form: self.inner.form,
            },
            args,
        )
        .map_err(CallError::Encode)?;
        Ok(bytes)
    }

    /// Encodes a request and picks its route: the datagram socket, or the
    /// stream (a stream client's, or a datagram client's fallback for a
    /// request too large for a datagram).
    fn prepare<A: Serialize + ?Sized>(
        &self,
        id: &Uuid,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
        reply: bool,
    ) -> Result<(Route<'_>, Vec<u8>), CallError> {
        let inner = &*self.inner;
        if let Some(d) = &inner.dgram {
            let reply_to = reply.then_some(d.reply_text.as_str());
            let bytes = self.encode(id, channel, request, args, timeout, reply_to)?;
            let size = bytes.len() - HEADROOM;
            if size <= d.max_message {
                return Ok((Route::Datagram(d), bytes));
            }
            let Some(s) = &inner.stream else {
                return Err(CallError::TooLarge {
                    size,
                    limit: d.max_message,
                });
            };
            // Answers come back on the connection: no reply_to.
            drop(bytes);
            let bytes = self.encode(id, channel, request, args, timeout, None)?;
            return self.fits_stream(s, bytes);
        }
        match &inner.stream {
            Some(s) => {
                let bytes = self.encode(id, channel, request, args, timeout, None)?;
                self.fits_stream(s, bytes)
            }
            None => unreachable_route(),
        }
    }

    fn fits_stream<'a>(
        &self,
        link: &'a StreamLink,
        bytes: Vec<u8>,
    ) -> Result<(Route<'a>, Vec<u8>), CallError> {
        let size = bytes.len() - HEADROOM;
        if size > link.max_request {
            return Err(CallError::TooLarge {
                size,
                limit: link.max_request,
            });
        }
        Ok((Route::Stream(link), bytes))
    }

    async fn send_request<A: Serialize + ?Sized>(
        &self,
        channel: Option<&str>,
        request: &str,
        args: Option<&A>,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let timeout = clamp_timeout(timeout);
        let deadline = Instant::now() + timeout;
        let (route, bytes) =
            self.prepare(&Uuid::new_v4(), channel, request, args, timeout, false)?;
        match route {
            Route::Datagram(d) => self.send_datagram(d, &bytes, deadline, timeout).await,
            Route::Stream(s) => self
                .send_stream(s, None, bytes, deadline, timeout)
                .await
                .map(drop),
        }
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
        let key = id.as_u128();
        let (route, bytes) = self.prepare(&id, channel, request, args, timeout, true)?;
        let shared = &*self.inner.shared;
        let max_pending = self.inner.max_pending;
        let path = &self.inner.server_path;
        // Dropping the entry guard (timeout, error, or the caller dropping
        // the future) forgets the call; an answer arriving later is counted
        // as late.
        let (rx, _entry) = match route {
            Route::Datagram(d) => {
                let rx = shared.register(key, None, max_pending, path)?;
                let entry = PendingEntry { shared, key };
                self.send_datagram(d, &bytes, deadline, timeout).await?;
                // A server on this CPU may have answered already, before
                // this task went on: take what is queued now rather than
                // wait for the reader to be woken for it.
                let taken = d.socket.try_recv_shared(&d.batch, |batch| {
                    deliver_batch(shared, &d.queue, batch);
                });
                shared
                    .counters
                    .received_by_callers
                    .fetch_add(taken as u64, Relaxed);
                (Some(rx), Some(entry))
            }
            Route::Stream(s) => {
                self.send_stream(s, Some(key), bytes, deadline, timeout)
                    .await?
            }
        };
        let Some(rx) = rx else {
            return unreachable_route();
        };
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(answer)) => answer,
            // The sender lives in the pending map until an answer (or the
            // connection closing) takes it, or our own entry guard removes
            // it, so this cannot happen.
            Ok(Err(_)) => Err(CallError::Transport {
                context: "the call was forgotten before its answer arrived".into(),
                source: io::Error::from(io::ErrorKind::BrokenPipe),
            }),
            Err(_) => Err(CallError::Timeout { timeout }),
        }
    }

    /// Sends a request on the stream route; with `key`, registers the call
    /// waiting for its answer first.
    ///
    /// A connection found closed before any byte of the request went out
    /// (the server went away since the last call) is replaced once: the
    /// request never reached the server, so this is no resend.
    async fn send_stream<'s>(
        &'s self,
        link: &StreamLink,
        key: Option<u128>,
        mut bytes: Vec<u8>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(Option<oneshot::Receiver<Answer>>, Option<PendingEntry<'s>>), CallError> {
        let shared = &*self.inner.shared;
        let mut replaced = false;
        loop {
            let live = link
                .connection(&self.inner.shared, deadline, timeout)
                .await?;
            let registered = match key {
                None => None,
                Some(key) => {
                    match shared.register(key, Some(&live), self.inner.max_pending, &link.path) {
                        Ok(rx) => Some((rx, PendingEntry { shared, key })),
                        Err(CallError::Transport { .. }) if !replaced => {
                            replaced = true;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let size = bytes.len() - HEADROOM;
            match live.conn.send(bytes) {
                Ok(()) => {
                    shared.counters.sent.fetch_add(1, Relaxed);
                    return Ok(match registered {
                        Some((rx, entry)) => (Some(rx), Some(entry)),
                        None => (None, None),
                    });
                }
                Err(SendFailure::NotSent(message, _)) if !replaced => {
                    if registered.is_some() {
                        // Counted as failed by the closing connection, but
                        // it was never sent, and is sent again now.
                        shared.counters.failed_by_disconnect.fetch_sub(1, Relaxed);
                    }
                    replaced = true;
                    bytes = message;
                }
                Err(SendFailure::NotSent(_, e)) => {
                    return Err(CallError::Transport {
                        context: format!("writing to {}", link.path.display()),
                        source: e,
                    });
                }
                Err(SendFailure::Frame) => {
                    return Err(CallError::TooLarge {
                        size,
                        limit: link.max_request,
                    });
                }
            }
        }
    }

    /// Sends one datagram to the server, retrying per the retry policy when
    /// no server socket is there to receive it.
    async fn send_datagram(
        &self,
        link: &DgramLink,
        message: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let inner = &*self.inner;
        let bytes = &message[HEADROOM..];
        let mut backoff = inner.retry.initial_backoff;
        let mut attempt = 0;
        loop {
            let counters = &inner.shared.counters;
            let sent = dgram::send_to(
                &link.socket,
                &link.queue,
                bytes,
                &link.server_addr,
                deadline,
                || {
                    counters.send_wait_fallbacks.fetch_add(1, Relaxed);
                },
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
                        limit: link.max_message,
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

/// Every client has a datagram or a stream route (the constructors make sure).
fn unreachable_route<T>() -> Result<T, CallError> {
    Err(CallError::Transport {
        context: "the client has no transport".into(),
        source: io::ErrorKind::NotConnected.into(),
    })
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

    #[test]
    fn a_caller_takes_answers_queued_when_it_sends() {
        // A server under the test's control: it answers the first request
        // only when told to, and the second at once.
        let dir = tempfile::tempdir().unwrap();
        let server_path = dir.path().join("server.sock");
        let server = std::os::unix::net::UnixDatagram::bind(&server_path).unwrap();
        let (got_first, first_received) = std::sync::mpsc::channel::<()>();
        let (answer_first, release) = std::sync::mpsc::channel::<()>();
        let (answered_first, first_answered) = std::sync::mpsc::channel::<()>();
        let fake = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            for n in 0..2 {
                let len = server.recv(&mut buf).unwrap();
                let request: Value = serde_json::from_slice(&buf[..len]).unwrap();
                if n == 0 {
                    got_first.send(()).unwrap();
                    release.recv().unwrap();
                }
                let answer = serde_json::json!({
                    "request_id": request["id"],
                    "id": Uuid::new_v4().to_string(),
                    "success": true,
                    "result": {"n": n},
                    "error": null,
                    "timestamp": "2026-12-04T00:00:00.000Z",
                });
                let reply_to = request["reply_to"].as_str().unwrap();
                server
                    .send_to(answer.to_string().as_bytes(), reply_to)
                    .unwrap();
                if n == 0 {
                    answered_first.send(()).unwrap();
                }
            }
        });
        // One thread: while the test's future runs, the reader task cannot.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = Client::builder()
                .reply_dir(dir.path())
                .timeout(Duration::from_secs(10))
                .connect(&server_path)
                .await
                .unwrap();
            let first = tokio::spawn({
                let client = client.clone();
                async move { client.request("first").send().await }
            });
            while first_received.try_recv().is_err() {
                tokio::task::yield_now().await;
            }
            // The first answer is queued before the second request is sent,
            // and the thread is held meanwhile: no task runs.
            answer_first.send(()).unwrap();
            first_answered.recv().unwrap();
            let second = client.request("second").send().await.unwrap();
            assert_eq!(second, serde_json::json!({"n": 1}));
            assert_eq!(first.await.unwrap().unwrap(), serde_json::json!({"n": 0}));
            let stats = client.stats();
            assert_eq!(stats.answered, 2, "{stats:?}");
            assert!(stats.received_by_callers >= 1, "{stats:?}");
        });
        fake.join().unwrap();
    }

    #[tokio::test]
    async fn dropping_the_last_clone_removes_the_reply_socket() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::builder()
            .reply_dir(dir.path())
            .connect(dir.path().join("server.sock"))
            .await
            .unwrap();
        let path = client.reply_path().unwrap().to_owned();
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
