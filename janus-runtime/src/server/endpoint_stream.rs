//! The stream endpoint: accepts connections on a `SOCK_STREAM` socket,
//! reads length-prefixed frames ([`crate::frame`]), hands each message to
//! the request pipeline, and writes the answers back on the same connection.
//!
//! Per connection:
//!
//! * the peer's credentials come from `SO_PEERCRED` at accept; a uid not
//!   on the allow-list, or a connection beyond the maximum, is closed at
//!   once and counted ([`StreamCounts`](super::stats::StreamCounts));
//! * answers go back on the connection; `reply_to` is never an address;
//! * a frame length of 0 or over the maximum, a peer that closes or stalls
//!   in the middle of a frame: `-32011` (when the peer can still read it),
//!   then the connection is closed; a well-framed message that is not JSON
//!   is answered `-32700` by the pipeline and the connection stays open;
//! * back-pressure: while the connection has its maximum of requests in
//!   flight, or more answer bytes queued than its write limit, nothing more
//!   is read from it (its sender blocks); other connections are not
//!   affected. Answers wait for room until their request's deadline;
//! * a peer that hangs up cancels the handlers still running for it; a
//!   peer that only shuts down its writing side still gets its answers;
//! * idle (nothing in flight, nothing arriving) for the idle timeout: closed.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dispatch::Dispatcher;
use super::pipeline::{Endpoint, Pipeline, Sent, TrySend};
use super::reply_policy::Refused;
use super::stats::{DropReason, Stats, StreamStats};
use super::{Control, ServerConfig};
use crate::config::TimeoutProfile;
use crate::context::PeerCredentials;
use crate::error::{ErrorCode, ErrorObject};
use crate::transport::stream_frame::{self as frame, FrameError};
use crate::wire::Correlation;

/// How much is read from a connection at a time (more when a large frame
/// is announced: its whole length is reserved).
const READ_CHUNK: usize = 64 * 1024;

/// How many queued answers one write hands to the kernel at most.
const MAX_BATCH: usize = 64;

/// How long a connection closed for a framing violation waits for the
/// answers already on their way (the `-32011` among them) to go out.
const ERROR_DRAIN: Duration = Duration::from_secs(1);

/// How long, once shutdown stops waiting for handlers, an answer may still
/// wait for room on its connection.
const SHUTDOWN_SEND_WAIT: Duration = Duration::from_millis(500);

/// The limits of the stream transport (see the `ServerBuilder` methods
/// that set them).
#[derive(Debug, Clone)]
pub(crate) struct StreamLimits {
    /// The largest frame payload, both ways.
    pub max_frame: usize,
    /// Connections open at once; beyond, new ones are closed at accept.
    pub max_connections: usize,
    /// Requests in flight on one connection before it is read no further.
    pub max_in_flight: usize,
    /// Answer bytes queued on one connection before it is read no further
    /// (and answers wait for room).
    pub write_limit: usize,
    /// Closed after this long with nothing in flight and nothing arriving.
    pub idle_timeout: Duration,
    /// The longest a message may take to arrive once its first byte has.
    pub connection_timeout: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_frame: frame::DEFAULT_MAX_FRAME,
            max_connections: 100,
            max_in_flight: 128,
            write_limit: 8 * 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            connection_timeout: TimeoutProfile::Standard.connection(),
        }
    }
}

/// The stream endpoint of a server (one listening socket).
pub(super) struct StreamEndpoint {
    limits: StreamLimits,
    /// Cancelled when shutdown stops waiting for handlers: answers then
    /// wait only briefly for room.
    abort: CancellationToken,
    control: Arc<Control>,
}

/// The connections of a stream endpoint whose accept loop has stopped.
pub(super) struct Connections {
    tracker: TaskTracker,
    /// Cancelled to end every connection at once, whatever it is doing.
    close_all: CancellationToken,
}

impl Connections {
    /// Waits up to `wait` for every connection to finish its answers and
    /// close; then closes the rest.
    pub async fn close(self, wait: Duration) {
        self.tracker.close();
        if tokio::time::timeout(wait, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.tracker.len() / 2,
                "closing connections whose answers could not all be sent"
            );
            self.close_all.cancel();
            self.tracker.wait().await;
        }
    }
}

/// Accepts connections until shutdown; each is served on its own task.
/// Returns the connections still open, for the server to close once the
/// requests in flight are done.
pub(super) async fn run(
    listener: StdUnixListener,
    dispatcher: Arc<Dispatcher>,
    config: &ServerConfig,
    control: &Arc<Control>,
) -> io::Result<Connections> {
    let listener = UnixListener::from_std(listener)?;
    let endpoint = Arc::new(StreamEndpoint {
        limits: config.stream.clone(),
        abort: dispatcher.abort_token(),
        control: control.clone(),
    });
    let pipeline = Pipeline::new(
        endpoint,
        dispatcher,
        config.max_args_size,
        config.observer.clone(),
    );
    let connections = Connections {
        tracker: TaskTracker::new(),
        close_all: CancellationToken::new(),
    };
    let counters = &control.stats.stream;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = control.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                // Out of descriptors or memory: give the system a moment
                // rather than spinning on the same error.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                continue;
            }
        };
        let peer = peer_credentials(&stream);
        if let Some(allowed) = &config.allowed_uids
            && !peer.is_some_and(|p| allowed.contains(&p.uid))
        {
            tracing::debug!(uid = ?peer.map(|p| p.uid), "connection refused: uid not allowed");
            StreamStats::bump(&counters.refused_uid);
            continue; // dropping the stream closes it
        }
        if counters.open.load(Ordering::Relaxed) >= config.stream.max_connections {
            tracing::debug!(
                max = config.stream.max_connections,
                "connection refused: too many open"
            );
            StreamStats::bump(&counters.refused_limit);
            continue;
        }
        counters.open.fetch_add(1, Ordering::Relaxed);
        StreamStats::bump(&counters.accepted);
        let conn = Arc::new(Conn::new(stream, peer, &config.stream));
        connections.tracker.spawn(write_loop(conn.clone()));
        connections.tracker.spawn(serve_connection(
            pipeline.clone(),
            conn,
            connections.close_all.clone(),
        ));
    }
    // New connections are refused from here on; the socket file stays
    // until the server removes it.
    drop(listener);
    Ok(connections)
}

/// The peer's credentials, as the kernel recorded them at connect.
fn peer_credentials(stream: &UnixStream) -> Option<PeerCredentials> {
    let cred = rustix::net::sockopt::socket_peercred(stream).ok()?;
    Some(PeerCredentials {
        pid: cred.pid.as_raw_nonzero().get(),
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    })
}

/// Whether the peer has closed the connection both ways (not just its
/// writing side).
fn hung_up(stream: &UnixStream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(stream, PollFlags::OUT)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&now)) {
        Ok(_) => fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR),
        Err(_) => true,
    }
}

/// One connection, shared by its reading task, its writing task and the
/// answers on their way to it.
pub(super) struct Conn {
    stream: UnixStream,
    peer: Option<PeerCredentials>,
    out: Mutex<Outbox>,
    /// Wakes the writing task: the queue holds bytes a write could not take.
    wake_writer: Notify,
    /// Signalled when queued bytes were written or a request finished.
    room: Notify,
    /// Requests read from this connection and not yet answered.
    in_flight: AtomicUsize,
    /// Cancelled when nobody can receive answers on this connection any more.
    gone: CancellationToken,
    write_limit: usize,
    max_frame: usize,
}

/// Answers waiting to be written, in order.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Pending>,
    /// Bytes in `queue` not yet written.
    queued: usize,
    /// Writing failed: the connection is unusable.
    broken: bool,
}

/// One framed answer, partly written perhaps.
struct Pending {
    head: [u8; frame::HEADER_LEN],
    body: Vec<u8>,
    written: usize,
}

impl Pending {
    fn remaining(&self) -> usize {
        frame::HEADER_LEN + self.body.len() - self.written
    }

    fn slices<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        if self.written < frame::HEADER_LEN {
            out.push(IoSlice::new(&self.head[self.written..]));
            out.push(IoSlice::new(&self.body));
        } else {
            out.push(IoSlice::new(&self.body[self.written - frame::HEADER_LEN..]));
        }
    }
}

/// What became of queuing an answer.
enum Push {
    Queued,
    Full(Vec<u8>),
    Closed,
    TooLarge,
}

impl Conn {
    fn new(stream: UnixStream, peer: Option<PeerCredentials>, limits: &StreamLimits) -> Self {
        Conn {
            stream,
            peer,
            out: Mutex::new(Outbox::default()),
            wake_writer: Notify::new(),
            room: Notify::new(),
            in_flight: AtomicUsize::new(0),
            gone: CancellationToken::new(),
            write_limit: limits.write_limit,
            max_frame: limits.max_frame,
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether more requests may be read: few enough in flight, few
    /// enough answer bytes waiting.
    fn has_room(&self, max_in_flight: usize) -> bool {
        self.in_flight() < max_in_flight && self.outbox().queued < self.write_limit
    }

    /// Queues an answer, written at once when nothing is ahead of it. An
    /// answer is always taken by an empty queue, whatever its size.
    fn push(&self, body: Vec<u8>) -> Push {
        let Ok(head) = frame::header(body.len(), self.max_frame) else {
            return Push::TooLarge;
        };
        let mut out = self.outbox();
        if out.broken {
            return Push::Closed;
        }
        let len = frame::HEADER_LEN + body.len();
        if !out.queue.is_empty() && out.queued + len > self.write_limit {
            return Push::Full(body);
        }
        let was_empty = out.queue.is_empty();
        out.queued += len;
        out.queue.push_back(Pending {
            head,
            body,
            written: 0,
        });
        if was_empty {
            // Nobody is writing: write from here, and leave only what the
            // socket would not take to the writing task.
            match self.flush(&mut out) {
                Ok(true) => {}
                Ok(false) => self.wake_writer.notify_one(),
                Err(e) => {
                    self.break_down(&mut out, &e);
                    return Push::Closed;
                }
            }
        }
        Push::Queued
    }

    /// Writes queued answers until the socket takes no more: `Ok(true)`
    /// once the queue is empty.
    fn flush(&self, out: &mut Outbox) -> io::Result<bool> {
        while !out.queue.is_empty() {
            let attempt = {
                let mut slices = Vec::with_capacity(2 * out.queue.len().min(MAX_BATCH));
                for pending in out.queue.iter().take(MAX_BATCH) {
                    pending.slices(&mut slices);
                }
                self.stream.try_write_vectored(&slices)
            };
            let written = match attempt {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            out.queued -= written;
            let mut left = written;
            while left > 0 {
                let front = out.queue.front_mut().expect("written bytes were queued");
                let remaining = front.remaining();
                if left >= remaining {
                    left -= remaining;
                    out.queue.pop_front();
                } else {
                    front.written += left;
                    left = 0;
                }
            }
        }
        Ok(true)
    }

    /// Writing failed: drop what is queued, and tell everyone waiting.
    fn break_down(&self, out: &mut Outbox, error: &io::Error) {
        if !out.broken {
            tracing::debug!(error = %error, "writing to a connection failed; closing it");
        }
        out.broken = true;
        out.queue.clear();
        out.queued = 0;
        self.gone.cancel();
        self.room.notify_waiters();
    }

    /// Closes the connection both ways (its peer sees the end at once,
    /// even while answers on their way still hold this `Conn`).
    fn close(&self) {
        self.gone.cancel();
        let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Both);
    }

    /// Waits until every request read from the connection is answered and
    /// the answers are written (or until `bound`, or the connection goes).
    async fn settle(&self, bound: Option<Instant>, close_all: &CancellationToken) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.in_flight() == 0 && self.outbox().queue.is_empty() {
                return;
            }
            tokio::select! {
                biased;
                _ = close_all.cancelled() => return,
                _ = self.gone.cancelled() => return,
                _ = &mut room => {}
                _ = sleep_until(bound) => return,
            }
        }
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The writing task: writes what the answering tasks could not write at
/// once, as the peer reads.
async fn write_loop(conn: Arc<Conn>) {
    loop {
        tokio::select! {
            biased;
            _ = conn.gone.cancelled() => return,
            _ = conn.wake_writer.notified() => {}
        }
        loop {
            let done = {
                let mut out = conn.outbox();
                if out.broken {
                    return;
                }
                match conn.flush(&mut out) {
                    Ok(done) => done,
                    Err(e) => {
                        conn.break_down(&mut out, &e);
                        return;
                    }
                }
            };
            conn.room.notify_waiters();
            if done {
                break;
            }
            tokio::select! {
                biased;
                _ = conn.gone.cancelled() => return,
                ready = conn.stream.writable() => if let Err(e) = ready {
                    conn.break_down(&mut conn.outbox(), &e);
                    return;
                }
            }
        }
    }
}

/// Why a connection's reading stopped.
enum End {
    /// The server is shutting down.
    Shutdown,
    /// Everything is being closed now.
    Killed,
    /// Writing failed, or the peer hung up.
    Gone,
    /// The peer closed its writing side.
    Eof,
    /// A framing violation (or a frame that stalled).
    Framing(ErrorObject),
    /// Idle for the idle timeout.
    Idle,
    /// Reading failed.
    Failed(io::Error),
}

/// The reading task of a connection: frames in, requests to the pipeline,
/// until the connection ends; then the connection is closed.
async fn serve_connection(
    pipeline: Arc<Pipeline<StreamEndpoint>>,
    conn: Arc<Conn>,
    close_all: CancellationToken,
) {
    let endpoint = pipeline.endpoint().clone();
    let control = endpoint.control.clone();
    let limits = &endpoint.limits;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut idle_since = Some(Instant::now());
    let mut frame_started: Option<Instant> = None;
    let end = 'read: loop {
        // Hand over every complete frame, as long as the connection has room.
        loop {
            if !conn.has_room(limits.max_in_flight) {
                let room = conn.room.notified();
                tokio::pin!(room);
                room.as_mut().enable();
                if conn.has_room(limits.max_in_flight) {
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = close_all.cancelled() => break 'read End::Killed,
                    _ = conn.gone.cancelled() => break 'read End::Gone,
                    _ = control.shutdown.cancelled() => break 'read End::Shutdown,
                    _ = &mut room => {}
                }
                // Time spent waiting on ourselves is not the peer's delay.
                frame_started = frame_started.map(|_| Instant::now());
                continue;
            }
            match frame::decode(&mut buf, limits.max_frame) {
                Ok(Some(message)) => pipeline.handle(&message, &conn, true),
                Ok(None) => break,
                Err(e) => break 'read End::Framing(framing_error(&e)),
            }
        }
        let now = Instant::now();
        if buf.is_empty() {
            frame_started = None;
        } else {
            frame_started.get_or_insert(now);
        }
        // Created before looking at the count, so no change is missed.
        let room = conn.room.notified();
        let busy = conn.in_flight() > 0;
        idle_since = if busy || frame_started.is_some() {
            None
        } else {
            Some(idle_since.unwrap_or(now))
        };
        let timer = match (frame_started, idle_since) {
            (Some(start), _) => Some(start + limits.connection_timeout),
            (None, Some(since)) => Some(since + limits.idle_timeout),
            (None, None) => None,
        };
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = close_all.cancelled() => break End::Killed,
            _ = conn.gone.cancelled() => break End::Gone,
            _ = control.shutdown.cancelled() => break End::Shutdown,
            ready = conn.stream.readable() => {
                if let Err(e) = ready {
                    break End::Failed(e);
                }
                match conn.stream.try_read_buf(&mut buf) {
                    Ok(0) => break End::Eof,
                    Ok(_) => idle_since = None,
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                    Err(e) => break End::Failed(e),
                }
            }
            _ = room, if busy => {} // in flight changed: the idle clock may start
            _ = sleep_until(timer) => {
                if frame_started.is_some() {
                    break End::Framing(ErrorObject::new(
                        ErrorCode::MessageFramingError,
                        format!(
                            "the message did not arrive whole within {:.1} s ({} of {} bytes)",
                            limits.connection_timeout.as_secs_f64(),
                            buf.len(),
                            announced(&buf),
                        ),
                    ));
                }
                break End::Idle;
            }
        }
    };
    let counters = &control.stats.stream;
    match end {
        End::Shutdown => {
            // What already arrived whole is answered -32001; then the
            // answers in flight go out before the connection closes.
            while let Ok(Some(message)) = frame::decode(&mut buf, limits.max_frame) {
                pipeline.handle(&message, &conn, false);
            }
            conn.settle(None, &close_all).await;
        }
        End::Eof if buf.is_empty() => {
            if hung_up(&conn.stream) {
                conn.gone.cancel(); // its handlers are cancelled
            } else {
                conn.settle(None, &close_all).await; // it still reads: answer it
            }
        }
        End::Eof => {
            StreamStats::bump(&counters.framing_errors);
            let cut = FrameError::Truncated {
                received: buf.len(),
                expected: announced(&buf),
            };
            if hung_up(&conn.stream) {
                tracing::debug!(error = %cut, "connection closed in the middle of a frame");
                conn.gone.cancel();
            } else {
                answer_framing_error(&pipeline, &conn, framing_error(&cut), &close_all).await;
            }
        }
        End::Framing(error) => {
            StreamStats::bump(&counters.framing_errors);
            answer_framing_error(&pipeline, &conn, error, &close_all).await;
        }
        End::Idle => {
            tracing::debug!("closing an idle connection");
            StreamStats::bump(&counters.idle_closed);
        }
        End::Failed(e) => {
            // A reset (the peer closed with answers unread) in the middle of
            // a frame is a frame cut off like any other.
            if !buf.is_empty() {
                StreamStats::bump(&counters.framing_errors);
            }
            tracing::debug!(error = %e, "reading a connection failed");
        }
        End::Gone | End::Killed => {}
    }
    conn.close();
    counters.open.fetch_sub(1, Ordering::Relaxed);
}

/// The `-32011` error for a framing violation.
fn framing_error(error: &FrameError) -> ErrorObject {
    error
        .error_object()
        .unwrap_or_else(|| ErrorObject::new(ErrorCode::MessageFramingError, error.to_string()))
}

/// The length the frame at the front of `buf` announces, header included.
fn announced(buf: &[u8]) -> usize {
    match buf.get(..frame::HEADER_LEN) {
        Some(h) => frame::HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
        None => frame::HEADER_LEN,
    }
}

/// Answers a framing violation (the peer cannot be resynchronised after
/// it) and lets the answers already on their way go out, briefly.
async fn answer_framing_error(
    pipeline: &Arc<Pipeline<StreamEndpoint>>,
    conn: &Arc<Conn>,
    error: ErrorObject,
    close_all: &CancellationToken,
) {
    tracing::debug!(error = %error, "framing violation; closing the connection");
    pipeline.unreadable(conn, error, Correlation::v2(None));
    conn.settle(Some(Instant::now() + ERROR_DRAIN), close_all)
        .await;
}

/// Where an answer goes: back on its connection. It counts as in flight on
/// that connection while it exists.
pub(super) struct Reply {
    conn: Arc<Conn>,
}

impl Reply {
    fn new(conn: &Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Reply { conn: conn.clone() }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.conn.room.notify_waiters();
    }
}

impl StreamEndpoint {
    fn stats(&self) -> &Stats {
        &self.control.stats
    }
}

impl Endpoint for StreamEndpoint {
    type Origin = Arc<Conn>;
    type Dest = Reply;

    fn credentials(origin: &Arc<Conn>) -> Option<PeerCredentials> {
        origin.peer
    }

    /// Over a connection the answer goes back on it; `reply_to` is ignored.
    fn resolve(
        &self,
        origin: &Arc<Conn>,
        _reply_to: Option<&str>,
    ) -> Result<Option<Reply>, Refused<Reply>> {
        Ok(Some(Reply::new(origin)))
    }

    fn resolve_malformed(
        &self,
        origin: &Arc<Conn>,
        _reply_to: Option<&str>,
    ) -> Result<Reply, Refused<Reply>> {
        Ok(Reply::new(origin))
    }

    fn max_message(&self) -> usize {
        self.limits.max_frame
    }

    fn limit_words(&self) -> &'static str {
        "a frame on this connection may carry"
    }

    fn try_send(&self, to: &Reply, bytes: Vec<u8>) -> TrySend {
        match to.conn.push(bytes) {
            Push::Queued => TrySend::Sent,
            Push::Full(bytes) => TrySend::Busy(bytes),
            Push::Closed => {
                self.stats().dropped(DropReason::ReceiverGone);
                TrySend::Failed
            }
            Push::TooLarge => {
                self.stats().dropped(DropReason::SendFailed);
                TrySend::Failed
            }
        }
    }

    /// Queues an answer, waiting (until `deadline`, or at least a moment)
    /// while the connection's write limit is reached.
    async fn send(&self, to: &Reply, mut bytes: Vec<u8>, deadline: std::time::Instant) -> Sent {
        let soonest = std::time::Instant::now() + Duration::from_millis(100);
        let mut deadline = Instant::from_std(deadline.max(soonest));
        let mut aborted = false;
        loop {
            let room = to.conn.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match to.conn.push(bytes) {
                Push::Queued => return Sent::Delivered,
                Push::TooLarge => return Sent::TooLarge,
                Push::Closed => {
                    self.stats().dropped(DropReason::ReceiverGone);
                    return Sent::Failed;
                }
                Push::Full(back) => bytes = back,
            }
            tokio::select! {
                biased;
                _ = to.conn.gone.cancelled() => {
                    self.stats().dropped(DropReason::ReceiverGone);
                    return Sent::Failed;
                }
                _ = &mut room => {}
                // Shutdown does not wait long for a peer that stopped reading.
                _ = self.abort.cancelled(), if !aborted => {
                    aborted = true;
                    deadline = deadline.min(Instant::now() + SHUTDOWN_SEND_WAIT);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::debug!("a connection stayed full; answer dropped");
                    self.stats().dropped(DropReason::ReceiverQueueFull);
                    return Sent::Failed;
                }
            }
        }
    }

    fn gone(to: &Reply) -> impl std::future::Future<Output = ()> + Send {
        to.conn.gone.cancelled()
    }
}
