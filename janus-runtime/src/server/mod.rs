//! The server: binds a socket, routes requests to services, answers.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`ServerBuilder`], [`Server`], [`ServerHandle`]: configuration, binding, the lifecycle |
//! | `pipeline.rs` | the request pipeline, the same for every transport: decode → reply policy → admit → run under timeout/abort → encode → hand bytes to the transport |
//! | `dispatch.rs` | what the pipeline runs: routing, access control, the in-flight limit, built-ins, handlers under their timeout, encoding in the request's form |
//! | `reply_policy.rs` | where an answer may go (returns a `Result`) |
//! | `endpoint_dgram.rs` | the datagram transport: receive loop, sending answers with back-pressure |
//! | `delivery.rs` | datagram answers on a connected socket per verified destination; caps on answers waiting for room |
//! | `rate_limit.rs` | per-sender token buckets for error answers to malformed input |
//! | `observe.rs`, `stats.rs` | the observer hook and the counters |
//!
//! ## Lifecycle
//!
//! * [`Control::shutdown`] is cancelled by [`ServerHandle::begin_shutdown`]
//!   (or by dropping the `serve` future). Every endpoint stops receiving
//!   when it is; what a datagram socket already holds is answered `-32001`.
//! * Running requests are tracked by the dispatcher's task tracker; once
//!   every endpoint has stopped, the server waits for them up to
//!   [`ServerBuilder::shutdown_grace`].
//! * Then the dispatcher's abort token is cancelled: handlers still running
//!   are dropped and answered `-32001`, and sends waiting for room give up
//!   soon after; the server waits up to 2 s more for those answers.
//! * A handler counts in [`ServerStats::in_flight`] while its future lives
//!   (also when it is dropped early); the in-flight permit (the `-32010`
//!   limit) is held from admission until the handler's outcome is known.
//! * Finally the socket files are removed (only if still the ones this
//!   server created) and [`Control::done`] turns `true`.

mod delivery;
mod dispatch;
mod endpoint_dgram;
mod observe;
mod pipeline;
mod rate_limit;
mod reply_policy;
mod stats;

use std::future::Future;
use std::io;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use dispatch::RESERVED_REQUESTS;
pub use observe::{RequestOutcome, RequestRecord};
pub use stats::{DropCounts, ServerStats};

use crate::config::{TimeoutProfile, clamp_timeout};
use crate::security::{self, DEFAULT_ALLOWED_DIRS};
use crate::service::Service;
use crate::transport::datagram::{self as dgram, FileId};
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

    /// Sets both handler timeouts from a protocol profile.
    pub fn timeout_profile(mut self, profile: TimeoutProfile) -> Self {
        self.config.default_handler_timeout = profile.handler();
        self.config.max_handler_timeout = profile.handler();
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
        let path = path.as_ref();
        let text = path.to_str().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "socket path is not UTF-8")
        })?;
        security::check_socket_path(text, &self.config.allowed_dirs).map_err(|problem| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot bind {text}: {problem}"),
            )
        })?;
        let (socket, file_id) = dgram::bind_server_socket(path, self.config.socket_mode)?;
        let setup = || -> io::Result<usize> {
            socket.set_nonblocking(true)?;
            dgram::enable_credentials(&socket)?;
            dgram::size_send_buffer(&socket, self.config.max_message_size)
        };
        let max_send = match setup() {
            Ok(limit) => limit,
            Err(e) => {
                dgram::remove_own_socket(path, file_id);
                return Err(e);
            }
        };
        let (done_tx, done_rx) = watch::channel(false);
        Ok(Server {
            path: path.to_owned(),
            socket: Some(socket),
            file_id,
            max_send,
            config: self.config,
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

/// A Janus server on a Unix datagram socket.
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
    path: PathBuf,
    socket: Option<StdUnixDatagram>,
    file_id: FileId,
    max_send: usize,
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

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The largest response this server can send, in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_send.min(self.config.max_message_size)
    }

    /// A handle to stop the server and read its counters.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            control: self.control.clone(),
            path: self.path.clone(),
        }
    }

    /// Serves until [`ServerHandle::begin_shutdown`] (or
    /// [`ServerHandle::shutdown`]) is called, then stops receiving, lets
    /// running handlers finish (up to the shutdown grace period), answers
    /// what is still queued with `-32001`, and removes the socket file.
    ///
    /// Fails at once if the services are misconfigured (a channel added
    /// twice, an invalid or reserved name, a manifest that is not JSON).
    pub async fn serve(self) -> io::Result<()> {
        // The receive loop runs as a task of the runtime, next to the reactor
        // that wakes it: awaited directly from `block_on` (as in `main`), it
        // would run on the calling thread, and every datagram would cost a
        // wake-up of that thread.
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
        let socket = self.socket.take().expect("a server serves once");
        let dispatcher = match dispatch::Dispatcher::new(
            std::mem::take(&mut self.services),
            self.manifest.take(),
            &self.config,
            self.control.clone(),
        ) {
            Ok(d) => d,
            Err(e) => {
                dgram::remove_own_socket(&self.path, self.file_id);
                return Err(e);
            }
        };
        let result = endpoint_dgram::run(
            socket,
            (&self.path, self.file_id),
            self.max_send.min(self.config.max_message_size),
            dispatcher.clone(),
            &self.config,
            &self.control,
        )
        .await;
        dispatcher.drain(self.config.shutdown_grace).await;
        drop(dispatcher);
        dgram::remove_own_socket(&self.path, self.file_id);
        if let Some(done) = self.done_tx.take() {
            let _ = done.send(true);
        }
        result
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
        let path = self.path.clone();
        tokio::spawn(async move {
            if let Err(e) = self.run_to_end().await {
                tracing::error!(path = %path.display(), error = %e, "server stopped with an error");
            }
        });
        handle
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Bound but never served: do not leave the socket file behind.
        if self.socket.is_some() {
            dgram::remove_own_socket(&self.path, self.file_id);
        }
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

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
