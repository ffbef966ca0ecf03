//! The server: binds a socket, routes requests to services, answers.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`ServerBuilder`], [`Server`], [`ServerHandle`]: configuration, binding, the lifecycle |
//! | `pipeline.rs` | the request pipeline, the same for every transport: decode → reply policy → admit → run under timeout/abort → encode → hand bytes to the transport |
//! | `dispatch.rs` | what the pipeline runs: routing, access control, the in-flight limit, built-ins, handlers under their timeout, encoding in the request's form |
//! | `reply_policy.rs` | where an answer may go (returns a `Result`) |
//! | `endpoint_dgram.rs` | the datagram transport: receive loop, sending answers with back-pressure |
//! | `endpoint_stream.rs` | the stream transport: accepting connections, reading frames, writing answers on their connection |
//! | `delivery.rs` | datagram answers on a connected socket per verified destination; caps on answers waiting for room |
//! | `rate_limit.rs` | per-sender token buckets for error answers to malformed input |
//! | `observe.rs`, `stats.rs` | the observer hook and the counters |
//!
//! ## Lifecycle
//!
//! * [`Control::shutdown`] is cancelled by [`ServerHandle::begin_shutdown`]
//!   (or by dropping the `serve` future). Every endpoint stops receiving
//!   when it is; what a datagram socket already holds is answered `-32001`.
//!   The stream endpoint stops accepting, and each connection stops reading:
//!   frames it already holds whole are answered `-32001`; the connection
//!   stays open until its requests in flight are answered.
//! * Running requests are tracked by the dispatcher's task tracker; once
//!   every endpoint has stopped, the server waits for them up to
//!   [`ServerBuilder::shutdown_grace`].
//! * Then the dispatcher's abort token is cancelled: handlers still running
//!   are dropped and answered `-32001`, and sends waiting for room give up
//!   soon after; the server waits up to 2 s more for those answers.
//! * A handler counts in [`ServerStats::in_flight`] while its future lives
//!   (also when it is dropped early); the in-flight permit (the `-32010`
//!   limit) is held from admission until the handler's outcome is known.
//! * Then the connections close once their answers are written (waiting
//!   up to 2 s more for peers that do not read).
//! * Finally the socket files are removed (only if still the ones this
//!   server created) and [`Control::done`] turns `true`.

mod delivery;
mod dispatch;
mod endpoint_dgram;
mod endpoint_stream;
mod observe;
mod pipeline;
mod rate_limit;
mod reply_policy;
mod stats;

use std::future::Future;
use std::io;
use std::os::unix::net::{UnixDatagram as StdUnixDatagram, UnixListener as StdUnixListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use dispatch::RESERVED_REQUESTS;
pub use observe::{RequestOutcome, RequestRecord};
pub use stats::{DropCounts, ServerStats, StreamCounts};

use crate::config::{TimeoutProfile, clamp_timeout};
use crate::security::{self, DEFAULT_ALLOWED_DIRS};
use crate::service::Service;
use crate::transport::datagram as dgram;
use crate::transport::socket_file::{self, FileId};
use crate::wire;

/// Everything a server can be configured with.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub allowed_dirs: Vec<String>,
    pub socket_mode: u32,
    pub max_message_size: usize,
    pub max_args_size: usize,
    pub max_in_flight: usize,
    pub default_handler_timeout: Duration,
    pub max_handler_timeout: Duration,
    pub allowed_uids: Option<Vec<u32>>,
    pub shutdown_grace: Duration,
    pub slow_process: bool,
    pub observer: Option<observe::Observer>,
    /// The stream transport's limits.
    pub stream: endpoint_stream::StreamLimits,
    pub delivery: delivery::DeliveryLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let profile = TimeoutProfile::Standard;
        ServerConfig {
            allowed_dirs: DEFAULT_ALLOWED_DIRS.iter().map(|d| d.to_string()).collect(),
            socket_mode: 0o600,
            max_message_size: dgram::OS_DATAGRAM_LIMIT,
            max_args_size: wire::MAX_ARGS_BYTES,
            max_in_flight: 500,
            default_handler_timeout: profile.handler(),
            max_handler_timeout: profile.handler(),
            allowed_uids: None,
            shutdown_grace: Duration::from_secs(10),
            slow_process: false,
            observer: None,
            stream: Default::default(),
            delivery: Default::default(),
        }
    }
}

/// Configures and binds a [`Server`].
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let server = janus_runtime::Server::builder()
///     .max_in_flight(100)
///     .max_handler_timeout(Duration::from_secs(5))
///     .allowed_uids([1000])
///     .bind("/tmp/my-service.sock")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
    datagram_path: Option<PathBuf>,
    stream_path: Option<PathBuf>,
}

impl ServerBuilder {
    /// The directories the server socket and every `reply_to` must be in
    /// (default `/tmp/`, `/var/tmp/`, `/var/run/`, `/run/`).
    pub fn allowed_dirs<I, S>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.allowed_dirs = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// The mode of the server socket file (default `0o600`: only the
    /// server's user may send to it).
    pub fn socket_mode(mut self, mode: u32) -> Self {
        self.config.socket_mode = mode & 0o777;
        self
    }

    /// The largest request and response, in bytes (default 4 MiB, which is
    /// also the most a datagram can carry here; the socket's send buffer may
    /// lower it further).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes.max(1024);
        self
    }

    /// The largest `args` object, in bytes of JSON (default 5 MiB).
    pub fn max_args_size(mut self, bytes: usize) -> Self {
        self.config.max_args_size = bytes;
        self
    }

    /// How many handlers may run at once (default 500); beyond, requests are
    /// answered `-32010`.
    pub fn max_in_flight(mut self, handlers: usize) -> Self {
        self.config.max_in_flight = handlers.max(1);
        self
    }

    /// The handler timeout for requests that carry no `timeout` (default 30 s).
    pub fn default_handler_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_handler_timeout = clamp_timeout(timeout);
        self
    }

    /// The longest a handler may run, whatever the request asks (default 30 s).
    /// A handler is cancelled at `min(request timeout, this)` and the request
    /// answered `-32006`.
    pub fn max_handler_timeout(mut self, timeout: Duration) -> Self {
        self.config.max_handler_timeout = clamp_timeout(timeout);
        self
    }

    /// Sets both handler timeouts, and the stream transport's connection
    /// timeout, from a protocol profile.
    pub fn timeout_profile(mut self, profile: TimeoutProfile) -> Self {
        self.config.default_handler_timeout = profile.handler();
        self.config.max_handler_timeout = profile.handler();
        self.config.stream.connection_timeout = profile.connection();
        self
    }

    /// Only these user ids may call the server (others get `-32002`).
    /// Default: anyone who can write to the socket file.
    pub fn allowed_uids<I: IntoIterator<Item = u32>>(mut self, uids: I) -> Self {
        self.config.allowed_uids = Some(uids.into_iter().collect());
        self
    }

    /// How long shutdown waits for running handlers before cancelling them
    /// (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Answers the reserved `slow_process` request (sleeps `args.ms`
    /// milliseconds, default 1000): for testing timeouts only.
    pub fn enable_slow_process(mut self, enable: bool) -> Self {
        self.config.slow_process = enable;
        self
    }

    /// Calls `observer` once for every request the server receives, with
    /// what became of it (answered, refused, not answered), e.g. to log
    /// each request on one line. It runs on the receiving task, so it
    /// should be quick; a panic in it is caught and logged.
    pub fn observe<F>(mut self, observer: F) -> Self
    where
        F: Fn(&RequestRecord) + Send + Sync + 'static,
    {
        self.config.observer = Some(observe::Observer::new(observer));
        self
    }

    /// Also (or only, see [`build`](Self::build)) serves on a stream
    /// socket at `path`: `SOCK_STREAM`, every message a 4-byte big-endian
    /// length and that many bytes of JSON, many requests in flight per
    /// connection, answers on the connection they came on. The socket file
    /// follows the same rules as the datagram socket's.
    pub fn stream(mut self, path: impl AsRef<Path>) -> Self {
        self.stream_path = Some(path.as_ref().to_owned());
        self
    }

    /// Serves on a datagram socket at `path` (see [`build`](Self::build);
    /// [`bind`](Self::bind) is this and `build` in one).
    pub fn datagram(mut self, path: impl AsRef<Path>) -> Self {
        self.datagram_path = Some(path.as_ref().to_owned());
        self
    }

    /// The largest message over a connection, both ways, in bytes (default
    /// 10 MiB). A frame announcing more is answered `-32011` and the
    /// connection closed; an answer larger becomes a `-32005` error.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.stream.max_frame = bytes.max(1024);
        self
    }

    /// How many stream connections may be open at once (default 100);
    /// beyond, new connections are closed at once (and counted in
    /// [`StreamCounts::refused_limit`]), the open ones unaffected.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.stream.max_connections = connections.max(1);
        self
    }

    /// How many requests one connection may have in flight (default 128);
    /// at the limit nothing more is read from it until one is answered.
    pub fn max_in_flight_per_connection(mut self, requests: usize) -> Self {
        self.config.stream.max_in_flight = requests.max(1);
        self
    }

    /// How many answer bytes may wait to be written on one connection
    /// (default 8 MiB; one answer is always taken, whatever its size):
    /// beyond, nothing more is read from it and answers wait for room, up
    /// to their request's deadline. A peer that does not read holds up
    /// only itself.
    pub fn connection_write_limit(mut self, bytes: usize) -> Self {
        self.config.stream.write_limit = bytes.max(1);
        self
    }

    /// How long a connection may stay open with nothing in flight and
    /// nothing arriving (default 300 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.stream.idle_timeout = timeout;
        self
    }

    /// How long a message may take to arrive whole once its first byte has
    /// (default 10 s, the profile's connection timeout): a peer stalling in
    /// the middle of a message is answered `-32011` and disconnected.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.config.stream.connection_timeout = timeout;
        self
    }

    /// Binds the datagram server socket at `path` (and the stream socket,
    /// if [`stream`](Self::stream) was given).
    /// Caps the answers that may wait for room in one receiver's full queue
    /// (default 1024 answers, as many as a client has in flight by default, and 8 MiB; the byte cap is never below one answer
    /// of the largest size). Beyond, answers to that receiver are dropped
    /// and counted (`dropped.destination_backlog`), never held; answers to
    /// other receivers never wait behind it.
    pub fn max_waiting_answers_per_receiver(mut self, answers: usize, bytes: usize) -> Self {
        self.config.delivery.answers_per_receiver = answers;
        self.config.delivery.bytes_per_receiver = bytes;
        self
    }

    /// Caps the bytes of all answers waiting for room at their receivers
    /// (default 64 MiB, never below one answer of the largest size); beyond,
    /// answers are dropped and counted (`dropped.held_bytes_cap`). The gauge
    /// [`ServerStats::held_bytes`] never exceeds it.
    pub fn max_held_answer_bytes(mut self, bytes: usize) -> Self {
        self.config.delivery.held_bytes = bytes;
        self
    }

    /// How many connected reply sockets (one per recent destination) are
    /// kept for reuse (default 1024, least recently used dropped first).
    pub fn reply_socket_cache(mut self, sockets: usize) -> Self {
        self.config.delivery.reply_sockets = sockets.max(1);
        self
    }

    /// Binds the server socket at `path`.
    ///
    /// Fails if the path breaks the socket path rules, if a running server
    /// is bound there, or if a file that is not a socket is in the way (it is
    /// never deleted). A stale socket file is replaced.
    pub fn bind(self, path: impl AsRef<Path>) -> io::Result<Server> {
        self.datagram(path).build()
    }

    /// Binds every socket given ([`datagram`](Self::datagram),
    /// [`stream`](Self::stream), or both), under the rules of
    /// [`bind`](Self::bind). Fails if neither was given; when one of two
    /// cannot be bound, neither is left behind.
    pub fn build(self) -> io::Result<Server> {
        let ServerBuilder {
            config,
            datagram_path,
            stream_path,
        } = self;
        if datagram_path.is_none() && stream_path.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a server needs a datagram or a stream socket path",
            ));
        }
        let mut bound = Bound::default();
        if let Some(path) = &datagram_path {
            let ((socket, max_send), file) = bind_datagram(path, &config)?;
            bound.max_send = max_send;
            bound.datagram = Some(socket);
            bound.files.push(file);
        }
        if let Some(path) = &stream_path {
            // A failure drops `bound`, which removes the datagram socket.
            let (listener, file) = bind_stream(path, &config)?;
            bound.stream = Some(listener);
            bound.files.push(file);
        }
        let (done_tx, done_rx) = watch::channel(false);
        Ok(Server {
            datagram_path,
            stream_path,
            bound,
            config,
            services: Vec::new(),
            manifest: None,
            control: Arc::new(Control {
                shutdown: CancellationToken::new(),
                stats: Default::default(),
                done: done_rx,
            }),
            done_tx: Some(done_tx),
        })
    }
}

/// Checks a server socket path against the path rules.
fn check_server_path<'p>(path: &'p Path, config: &ServerConfig) -> io::Result<&'p str> {
    let text = path
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "socket path is not UTF-8"))?;
    security::check_socket_path(text, &config.allowed_dirs).map_err(|problem| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot bind {text}: {problem}"),
        )
    })?;
    Ok(text)
}

/// Binds the datagram socket; returns it with the largest datagram it sends.
fn bind_datagram(
    path: &Path,
    config: &ServerConfig,
) -> io::Result<((StdUnixDatagram, usize), SocketFile)> {
    check_server_path(path, config)?;
    let (socket, id) = dgram::bind_server_socket(path, config.socket_mode)?;
    let file = SocketFile {
        path: path.to_owned(),
        id,
    };
    let setup = || -> io::Result<usize> {
        socket.set_nonblocking(true)?;
        dgram::enable_credentials(&socket)?;
        dgram::size_send_buffer(&socket, config.max_message_size)
    };
    // On failure `file` is dropped, which removes the socket file.
    let max_send = setup()?;
    Ok(((socket, max_send), file))
}

/// Binds the stream socket and starts listening.
fn bind_stream(path: &Path, config: &ServerConfig) -> io::Result<(StdUnixListener, SocketFile)> {
    check_server_path(path, config)?;
    let (listener, id) =
        socket_file::bind_with(path, config.socket_mode, |p| StdUnixListener::bind(p))?;
    let file = SocketFile {
        path: path.to_owned(),
        id,
    };
    listener.set_nonblocking(true)?;
    Ok((listener, file))
}

/// A socket file this server created; removed when dropped, if still ours.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    id: FileId,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        socket_file::remove_own_socket(&self.path, self.id);
    }
}

/// The sockets a server is bound to.
#[derive(Debug, Default)]
struct Bound {
    /// The datagram socket, until served.
    datagram: Option<StdUnixDatagram>,
    /// The largest datagram the socket can send.
    max_send: usize,
    /// The stream listener, until served.
    stream: Option<StdUnixListener>,
    /// The socket files, removed (if still ours) when dropped.
    files: Vec<SocketFile>,
}

/// State shared between a server, its endpoints and its handles.
#[derive(Debug)]
struct Control {
    /// Cancelled to stop the server: endpoints stop receiving (and stream
    /// endpoints stop accepting) at once; running requests are drained.
    shutdown: CancellationToken,
    /// The counters, updated by the pipeline and the endpoints.
    stats: stats::Stats,
    /// Becomes `true` (or closed) once the server has stopped and cleaned up.
    done: watch::Receiver<bool>,
}

/// A Janus server on a Unix datagram socket, a stream socket, or both.
///
/// ```no_run
/// # async fn demo(my_service: impl janus_runtime::Service) -> std::io::Result<()> {
/// let server = janus_runtime::Server::bind("/tmp/my-service.sock")?.channel(my_service);
/// let handle = server.handle();
/// tokio::spawn(async move {
///     tokio::signal::ctrl_c().await.ok();
///     handle.begin_shutdown();
/// });
/// server.serve().await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    datagram_path: Option<PathBuf>,
    stream_path: Option<PathBuf>,
    bound: Bound,
    config: ServerConfig,
    services: Vec<Arc<dyn Service>>,
    manifest: Option<String>,
    control: Arc<Control>,
    done_tx: Option<watch::Sender<bool>>,
}

impl Server {
    /// A builder for every limit the server enforces.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Binds a server with the default settings (see [`ServerBuilder::bind`]).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Server> {
        ServerBuilder::default().bind(path)
    }

    /// Adds a channel. Each channel id may be added once; the problem is
    /// reported by [`serve`](Self::serve).
    pub fn channel(mut self, service: impl Service) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// Adds a channel that is already shared.
    pub fn channel_arc(mut self, service: Arc<dyn Service>) -> Self {
        self.services.push(service);
        self
    }

    /// The manifest the `manifest` built-in returns, as JSON text. By
    /// default it is the services' own manifest (or a merge of them).
    pub fn manifest(mut self, manifest_json: impl Into<String>) -> Self {
        self.manifest = Some(manifest_json.into());
        self
    }

    /// The socket path: the datagram socket's, or the stream socket's for
    /// a server on a stream socket only.
    pub fn path(&self) -> &Path {
        self.datagram_path
            .as_deref()
            .or(self.stream_path.as_deref())
            .expect("a server has a socket")
    }

    /// The datagram socket's path, if it has one.
    pub fn datagram_path(&self) -> Option<&Path> {
        self.datagram_path.as_deref()
    }

    /// The stream socket's path, if it has one.
    pub fn stream_path(&self) -> Option<&Path> {
        self.stream_path.as_deref()
    }

    /// The largest response this server can send, in bytes: over its
    /// datagram socket, or over connections for a stream-only server.
    pub fn max_message_size(&self) -> usize {
        match self.datagram_path {
            Some(_) => self.bound.max_send.min(self.config.max_message_size),
            None => self.config.stream.max_frame,
        }
    }

    /// A handle to stop the server and read its counters.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            control: self.control.clone(),
            path: self.path().to_owned(),
            stream_path: self.stream_path.clone(),
        }
    }

    /// Serves until [`ServerHandle::begin_shutdown`] (or
    /// [`ServerHandle::shutdown`]) is called, then stops receiving, lets
    /// running handlers finish (up to the shutdown grace period), answers
    /// what is still queued with `-32001`, and removes the socket file.
    ///
    /// A datagram socket is read on a thread of the runtime's blocking pool
    /// (see `spawn_blocking`), kept for as long as the server runs: a
    /// runtime built with `max_blocking_threads` needs one more per server.
    ///
    /// Fails at once if the services are misconfigured (a channel added
    /// twice, an invalid or reserved name, a manifest that is not JSON).
    pub async fn serve(self) -> io::Result<()> {
        // The endpoints run as a task of the runtime, next to the reactor
        // that wakes them: awaited directly from `block_on` (as in `main`),
        // they would run on the calling thread, and every wake-up would cost
        // one of that thread. (Datagrams are received on a blocking thread
        // of the runtime's pool; see `endpoint_dgram::run`.)
        let handle = self.handle();
        let mut stop_on_drop = StopOnDrop(Some(handle));
        let result = tokio::spawn(self.run_to_end()).await;
        stop_on_drop.0 = None;
        match result {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(format!("the server task failed: {e}"))),
        }
    }

    async fn run_to_end(mut self) -> io::Result<()> {
        let datagram = self.bound.datagram.take();
        let stream = self.bound.stream.take();
        let mut transports = Vec::new();
        if datagram.is_some() {
            transports.push("SOCK_DGRAM");
        }
        if stream.is_some() {
            transports.push("SOCK_STREAM");
        }
        // On error the socket files go with `self`.
        let dispatcher = dispatch::Dispatcher::new(
            std::mem::take(&mut self.services),
            self.manifest.take(),
            &self.config,
            self.control.clone(),
            transports,
        )?;
        let max_datagram = self.bound.max_send.min(self.config.max_message_size);
        let datagram_served = async {
            match datagram {
                Some(socket) => {
                    // With a datagram socket, its file is the first bound.
                    let own = &self.bound.files[0];
                    endpoint_dgram::run(
                        socket,
                        (&own.path, own.id),
                        max_datagram,
                        dispatcher.clone(),
                        &self.config,
                        &self.control,
                    )
                    .await
                }
                None => Ok(()),
            }
        };
        let stream_served = async {
            match stream {
                Some(listener) => {
                    endpoint_stream::run(listener, dispatcher.clone(), &self.config, &self.control)
                        .await
                        .map(Some)
                }
                None => Ok(None),
            }
        };
        let (datagram_result, stream_result) = tokio::join!(datagram_served, stream_served);
        dispatcher.drain(self.config.shutdown_grace).await;
        drop(dispatcher);
        let stream_result = match stream_result {
            Ok(Some(connections)) => {
                connections.close(Duration::from_secs(2)).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        self.bound.files.clear(); // removes the socket files, if still ours
        if let Some(done) = self.done_tx.take() {
            let _ = done.send(true);
        }
        datagram_result.and(stream_result)
    }

    /// Serves until `signal` completes (see [`serve`](Self::serve)).
    pub async fn serve_with_shutdown<F>(self, signal: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.handle();
        let watcher = tokio::spawn(async move {
            signal.await;
            handle.begin_shutdown();
        });
        let result = self.serve().await;
        watcher.abort();
        result
    }

    /// Serves on a new task and returns its handle.
    pub fn spawn(self) -> ServerHandle {
        let handle = self.handle();
        let path = self.path().to_owned();
        tokio::spawn(async move {
            if let Err(e) = self.run_to_end().await {
                tracing::error!(path = %path.display(), error = %e, "server stopped with an error");
            }
        });
        handle
    }
}

/// Stops the server when the `serve` future is dropped before it finishes.
struct StopOnDrop(Option<ServerHandle>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.begin_shutdown();
        }
    }
}

/// Controls a running [`Server`]: stop it, read its counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    control: Arc<Control>,
    path: PathBuf,
    stream_path: Option<PathBuf>,
}

impl ServerHandle {
    /// Asks the server to stop, without waiting.
    pub fn begin_shutdown(&self) {
        self.control.shutdown.cancel();
    }

    /// Asks the server to stop and waits until it has: handlers finished or
    /// cancelled, socket file removed.
    pub async fn shutdown(&self) {
        self.begin_shutdown();
        self.stopped().await;
    }

    /// Waits until the server has stopped.
    pub async fn stopped(&self) {
        let mut done = self.control.done.clone();
        // An error means the server was dropped without serving: stopped too.
        let _ = done.wait_for(|d| *d).await;
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> ServerStats {
        self.control.stats.snapshot()
    }

    /// The socket path (see [`Server::path`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stream socket's path, if the server has one.
    pub fn stream_path(&self) -> Option<&Path> {
        self.stream_path.as_deref()
    }
}
