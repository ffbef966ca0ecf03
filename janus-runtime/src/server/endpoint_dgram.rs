//! The datagram endpoint: receives datagrams, hands them to the request
//! pipeline, and sends the answers it is given through [`Delivery`] (to the
//! verified sender only, within the caps on answers waiting for room).

use std::io;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::delivery::{Delivery, Reply, Undelivered};
use super::dispatch::Dispatcher;
use super::pipeline::{Answers, Endpoint, Pipeline, Sent, TrySend};
use super::rate_limit::{RateLimiter, SenderKey};
use super::reply_policy::{DgramPolicy, Refusal, Refused};
use super::stats::{DropReason, Stats};
use super::{Control, ServerConfig};
use crate::context::PeerCredentials;
use crate::error::{ErrorCode, ErrorObject, error_type};
use crate::transport::batch::RecvBatch;
use crate::transport::datagram::{FileId, Received};
use crate::wire;

/// How long, once shutdown stops waiting for handlers, an answer may still
/// wait for room in its receiver's queue.
const SHUTDOWN_SEND_WAIT: Duration = Duration::from_millis(500);

/// The receive buffers of one endpoint hold at most this many bytes (and
/// cost memory only as far as datagrams that large have filled them): as
/// many datagrams as fit are received with one system call, up to
/// [`MAX_BATCH`](crate::transport::batch::MAX_BATCH).
const RECEIVE_BUFFERS: usize = 32 << 20;

/// What sending answers for one datagram endpoint needs.
pub(super) struct DgramEndpoint {
    /// Answers go out on connected sockets, one per destination.
    delivery: Delivery,
    /// Error answers to malformed input, per sender.
    rate_limit: RateLimiter,
    policy: DgramPolicy,
    max_message: usize,
    /// Cancelled when shutdown stops waiting for handlers: answers then
    /// wait only briefly for room.
    abort: CancellationToken,
    control: Arc<Control>,
}

/// Tells the receiving thread to stop: the flag, then `shutdown(SHUT_RD)`
/// on the socket, which ends a wait in `recvmmsg` at once (datagrams
/// already queued can still be read; new ones are refused with `EPIPE`).
struct Stop {
    stopping: AtomicBool,
    socket: StdUnixDatagram,
}

impl Stop {
    fn now(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = rustix::net::shutdown(&self.socket, rustix::net::Shutdown::Read);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// Stops the receiving thread when the endpoint's future ends, however it
/// ends (the runtime waits for blocking threads when it shuts down).
struct StopOnDrop(Arc<Stop>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.now();
    }
}

/// Receives until shutdown, then answers what is already queued with
/// `-32001`. Draining running requests is the server's job (they may
/// belong to several endpoints).
///
/// Datagrams are received on a thread of the runtime's blocking pool, in
/// one `recvmmsg` that waits for the first datagram and takes the others
/// already queued (up to [`MAX_BATCH`](crate::transport::batch::MAX_BATCH)):
/// a lone request costs one system call to receive and one to answer, as
/// in a blocking server, with no readiness event or reactor wake-up in
/// between. Each request goes through the pipeline on that thread; a
/// handler that does not finish at once continues on a task of the
/// runtime.
pub(super) async fn run(
    socket: StdUnixDatagram,
    own: (&Path, FileId),
    max_message: usize,
    dispatcher: Arc<Dispatcher>,
    config: &ServerConfig,
    control: &Arc<Control>,
) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    let stop = Arc::new(Stop {
        stopping: AtomicBool::new(false),
        socket: socket.try_clone()?,
    });
    let _stop_on_drop = StopOnDrop(stop.clone());
    let endpoint = Arc::new(DgramEndpoint {
        delivery: Delivery::new(config.delivery, max_message, own.0, own.1, control.clone()),
        rate_limit: RateLimiter::new(),
        policy: DgramPolicy::new(&config.allowed_dirs),
        max_message,
        abort: dispatcher.abort_token(),
        control: control.clone(),
    });
    let pipeline = Pipeline::new(
        endpoint,
        dispatcher,
        config.max_args_size,
        config.observer.clone(),
    );
    // A datagram that does not fit is reported truncated, never parsed.
    let batch = RecvBatch::new(RECEIVE_BUFFERS / max_message.max(1), max_message);
    let receiving = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || receive(&socket, &pipeline, &stop, batch))
    };
    control.shutdown.cancelled().await;
    stop.now();
    receiving
        .await
        .map_err(|e| io::Error::other(format!("the datagram receiving thread failed: {e}")))
}

/// The receiving thread: what arrives goes through the pipeline until
/// [`Stop::now`]; then what is already queued is answered `-32001`.
fn receive(
    socket: &StdUnixDatagram,
    pipeline: &Arc<Pipeline<DgramEndpoint>>,
    stop: &Stop,
    mut batch: RecvBatch,
) {
    let mut answers = Answers::default();
    loop {
        let received = batch.recv_wait(socket);
        let accepting = !stop.stopping();
        match received {
            Ok(n) => {
                // A lone request is answered at once; the answers to several
                // go out together once all are handled.
                let together = n > 1;
                for (bytes, meta) in batch.iter() {
                    // The shutdown's wake-up: no bytes, and no sender's
                    // credentials (which every datagram on this socket has).
                    if !accepting && bytes.is_empty() && meta.credentials.is_none() {
                        continue;
                    }
                    let answers = together.then_some(&mut answers);
                    handle(pipeline, bytes, meta, accepting, answers);
                }
                pipeline.flush(&mut answers);
            }
            Err(e) if accepting => {
                // Receive errors on a datagram socket are per-datagram (e.g.
                // ancillary data trouble); keep serving.
                tracing::warn!(error = %e, "receive failed");
            }
            Err(_) => {}
        }
        if !accepting {
            break;
        }
    }
    // Stop receiving; answer what is already queued with -32001.
    while batch.recv(socket).is_ok() {
        for (bytes, meta) in batch.iter() {
            handle(pipeline, bytes, meta, false, None);
        }
    }
}

/// One datagram: a truncated one is answered `-32005` (to its sender only:
/// its `reply_to` was not read); any other goes through the pipeline.
/// An answer ready at once goes into `answers`, when given.
fn handle(
    pipeline: &Arc<Pipeline<DgramEndpoint>>,
    bytes: &[u8],
    meta: &Received,
    accepting: bool,
    answers: Option<&mut Answers<Reply>>,
) {
    let Some(real_len) = meta.truncated_from else {
        pipeline.handle_into(bytes, meta, accepting, answers);
        return;
    };
    pipeline.stats().received();
    pipeline.stats().truncated();
    if wire::dialect::sniff_answered_id(bytes).is_some() {
        // The start of an answer, not of a request: never answered.
        pipeline.stats().dropped(DropReason::NotARequest);
        return;
    }
    let error = ErrorObject::with_type(
        ErrorCode::ValidationFailed,
        error_type::MESSAGE_TOO_LARGE,
        format!(
            "the datagram is {real_len} bytes; this server accepts at most {} bytes",
            pipeline.endpoint().max_message
        ),
    );
    pipeline.unreadable(meta, error, wire::dialect::sniff_correlation(bytes));
}

impl DgramEndpoint {
    fn stats(&self) -> &Stats {
        &self.control.stats
    }

    /// What became of one attempt to send `bytes` without waiting.
    fn tried(&self, sent: Result<bool, Undelivered>, bytes: Vec<u8>) -> TrySend {
        match sent {
            Ok(true) => TrySend::Sent,
            // No room now: wait on a task (or give up if the size is the trouble).
            Ok(false) | Err(Undelivered::TooLarge) => TrySend::Busy(bytes),
            Err(why) => {
                self.undelivered(why);
                TrySend::Failed
            }
        }
    }

    fn undelivered(&self, why: Undelivered) -> Sent {
        match why {
            Undelivered::TooLarge => Sent::TooLarge,
            Undelivered::Dropped(reason) => {
                self.stats().dropped(reason);
                Sent::Failed
            }
        }
    }
}

impl Endpoint for DgramEndpoint {
    type Origin = Received;
    type Dest = Reply;

    fn credentials(origin: &Received) -> Option<PeerCredentials> {
        origin.credentials
    }

    fn resolve(
        &self,
        origin: &Received,
        reply_to: Option<&str>,
    ) -> Result<Option<Reply>, Refused<Reply>> {
        let uid = origin.credentials.map(|c| c.uid);
        let reply = |addr| Reply::new(addr, origin.credentials);
        match self.policy.resolve(reply_to, &origin.sender, uid) {
            Ok(to) => Ok(to.map(reply)),
            Err(refusal) => Err(Box::new(Refusal {
                error: refusal.error,
                to: refusal.to.map(reply),
                drop: refusal.drop,
            })),
        }
    }

    /// As the policy says, and only within the sender's rate limit for
    /// error answers to malformed input.
    fn resolve_malformed(
        &self,
        origin: &Received,
        reply_to: Option<&str>,
    ) -> Result<Reply, Refused<Reply>> {
        let uid = origin.credentials.map(|c| c.uid);
        let to = match self.policy.resolve_malformed(reply_to, &origin.sender, uid) {
            Ok(addr) => addr,
            Err(refusal) => {
                return Err(Box::new(Refusal {
                    error: refusal.error,
                    to: refusal.to.map(|addr| Reply::new(addr, origin.credentials)),
                    drop: refusal.drop,
                }));
            }
        };
        let sender = SenderKey::new(origin.sender.path(), uid);
        if !self.rate_limit.allow(sender, Instant::now()) {
            return Err(Refusal::drop(DropReason::RateLimited));
        }
        Ok(Reply::new(to, origin.credentials))
    }

    fn max_message(&self) -> usize {
        self.max_message
    }

    fn limit_words(&self) -> &'static str {
        "a datagram can carry here"
    }

    fn try_send(&self, to: &Reply, bytes: Vec<u8>) -> TrySend {
        let sent = self.delivery.try_send(to, &bytes);
        self.tried(sent, bytes)
    }

    /// The answers to one destination go out with one `sendmmsg`.
    fn try_send_many(&self, answers: Vec<(&Reply, Vec<u8>)>) -> Vec<TrySend> {
        let views: Vec<(&Reply, &[u8])> = answers.iter().map(|(to, b)| (*to, &b[..])).collect();
        let results = self.delivery.try_send_many(&views);
        drop(views);
        results
            .into_iter()
            .zip(answers)
            .map(|(sent, (_, bytes))| self.tried(sent, bytes))
            .collect()
    }

    /// Sends an answer, waiting (until `deadline`, or at least a moment) for
    /// room in the receiver's queue.
    async fn send(&self, to: &Reply, bytes: Vec<u8>, deadline: Instant) -> Sent {
        let deadline = tokio::time::Instant::from_std(
            deadline.max(Instant::now() + Duration::from_millis(100)),
        );
        let sent = tokio::select! {
            biased;
            sent = self.delivery.send(to, &bytes, deadline) => sent,
            // Shutdown does not wait long for a receiver that stopped reading.
            _ = self.abort.cancelled() => {
                let soon = deadline.min(tokio::time::Instant::now() + SHUTDOWN_SEND_WAIT);
                self.delivery.send(to, &bytes, soon).await
            }
        };
        match sent {
            Ok(()) => Sent::Delivered,
            Err(why) => self.undelivered(why),
        }
    }

    /// A datagram peer is never known to be gone before an answer is sent.
    fn gone(_to: &Reply) -> impl std::future::Future<Output = ()> + Send {
        std::future::pending()
    }
}
