//! The datagram side of the server: the receive loop, where answers may go,
//! and sending them.

use std::collections::HashMap;
use std::io;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::net::SocketAddrUnix;

use super::dispatch::{Dispatcher, Output};
use super::observe::{Observer, RequestOutcome, Seen};
use super::stats::DropReason;
use super::{Control, ServerConfig};
use crate::error::{ErrorCode, ErrorObject, error_type};
use crate::security::{self, is_inside};
use crate::transport::datagram::{self as dgram, Received, SendError, Sender, UnverifiedReply};
use crate::wire::{self, Correlation, Request};

/// How long an answer to a request that could not be read may wait for room
/// in the receiver's queue.
const ERROR_REPLY_WAIT: Duration = Duration::from_secs(1);

/// How long, once shutdown stops waiting for handlers, an answer may still
/// wait for room in its receiver's queue.
const SHUTDOWN_SEND_WAIT: Duration = Duration::from_millis(500);

/// A validated place to send an answer.
#[derive(Clone)]
struct ReplyAddr {
    path: PathBuf,
    addr: SocketAddrUnix,
}

/// Where the answer to a datagram goes.
enum Reply {
    /// Answer here.
    To(ReplyAddr),
    /// The request may not be answered where it asks: send `error` to the
    /// sender instead, or drop it.
    Refuse {
        error: ErrorObject,
        to: Option<ReplyAddr>,
        drop: DropReason,
    },
    /// Fire-and-forget: run it, answer nothing.
    Nowhere,
    /// Nowhere acceptable to answer.
    Drop(DropReason),
}

struct Endpoint {
    socket: dgram::Socket,
    /// Per destination, one answer at a time waits for room in its full
    /// queue; a client that stops reading delays only its own answers.
    gates: std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    dispatcher: Arc<Dispatcher>,
    allowed_dirs: Vec<String>,
    /// The allowed directories with symlinks resolved (e.g. /var/run -> /run).
    allowed_real_dirs: Vec<String>,
    max_message: usize,
    max_args: usize,
    observer: Option<Observer>,
}

pub(super) async fn run(
    socket: StdUnixDatagram,
    max_message: usize,
    dispatcher: Arc<Dispatcher>,
    config: &ServerConfig,
    control: &Control,
) -> io::Result<()> {
    let allowed_real_dirs = config
        .allowed_dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect();
    let endpoint = Arc::new(Endpoint {
        socket: dgram::Socket::new(socket)?,
        gates: std::sync::Mutex::new(HashMap::new()),
        dispatcher,
        allowed_dirs: config.allowed_dirs.clone(),
        allowed_real_dirs,
        max_message,
        max_args: config.max_args_size,
        observer: config.observer.clone(),
    });
    // A datagram that does not fit is reported truncated, never parsed.
    let mut buf = vec![0u8; max_message];
    loop {
        let received = tokio::select! {
            biased;
            _ = control.shutdown.cancelled() => break,
            r = endpoint.socket.recv(&mut buf) => r,
        };
        match received {
            Ok(meta) => endpoint.handle(&buf[..meta.len], &meta, true),
            Err(e) => {
                // Receive errors on a datagram socket are per-datagram (e.g.
                // ancillary data trouble); keep serving.
                tracing::warn!(error = %e, "receive failed");
            }
        }
    }
    // Stop receiving; answer what is already queued with -32001.
    while let Ok(meta) = endpoint.socket.try_recv(&mut buf) {
        endpoint.handle(&buf[..meta.len], &meta, false);
    }
    drop(buf);
    endpoint.dispatcher.drain(config.shutdown_grace).await;
    Ok(())
}

impl Endpoint {
    fn stats(&self) -> &super::stats::Stats {
        self.dispatcher.stats()
    }

    /// Handles one datagram; `accepting` is false while shutting down.
    fn handle(self: &Arc<Self>, bytes: &[u8], meta: &Received, accepting: bool) {
        self.stats().received();
        let received_at = Instant::now();
        let uid = meta.credentials.map(|c| c.uid);
        // What an observer will be told, built only if there is one.
        let seen = |request_id: Option<&str>, request: Option<&Request>| {
            self.observer.as_ref().map(|_| Seen {
                request_id: request_id.map(str::to_owned),
                channel: request.and_then(|r| r.channel_id.clone()),
                request: request.map(|r| r.request.clone()),
                peer: meta.credentials,
                notification: request.is_some_and(|r| r.reply_to.is_none()),
                received_at,
            })
        };

        if let Some(real_len) = meta.truncated_from {
            self.stats().truncated();
            let error = ErrorObject::with_type(
                ErrorCode::ValidationFailed,
                error_type::MESSAGE_TOO_LARGE,
                format!(
                    "the datagram is {real_len} bytes; this server accepts at most {} bytes",
                    self.max_message
                ),
            );
            let corr = wire::dialect::sniff_correlation(bytes);
            self.report(
                seen(corr.request_id.as_deref(), None),
                RequestOutcome::Error(error.clone()),
            );
            // Only the sender's own address can be trusted: reply_to was not read.
            match self.sender_addr(&meta.sender) {
                Some(to) => self.send_error_later(to, corr, error, received_at + ERROR_REPLY_WAIT),
                None => self.stats().dropped(DropReason::Unanswerable),
            }
            return;
        }

        let (request, form) = match Request::decode_any(bytes, self.max_args) {
            Ok(decoded) => decoded,
            Err(rejection) => {
                let deadline = received_at + ERROR_REPLY_WAIT;
                let seen = seen(rejection.request_id.as_deref(), None);
                let corr = rejection.correlation();
                match self.resolve(rejection.reply_to.as_deref(), &meta.sender, uid, true) {
                    Reply::To(to) => {
                        self.report(seen, RequestOutcome::Error(rejection.error.clone()));
                        self.send_error_later(to, corr, rejection.error, deadline)
                    }
                    reply => {
                        self.report(seen, refusal_outcome(&reply));
                        self.refuse(reply, corr, deadline)
                    }
                }
                return;
            }
        };
        // The answer goes back in the form the request came in.
        let corr = Correlation::of(&request, form);

        let deadline = received_at
            + request
                .timeout
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::from_secs_f64(wire::DEFAULT_TIMEOUT_SECS));
        let seen = seen(Some(&request.id), Some(&request));
        let reply = self.resolve(request.reply_to.as_deref(), &meta.sender, uid, false);
        let to = match reply {
            Reply::To(to) => Some(to),
            Reply::Nowhere => None,
            other => {
                self.report(seen, refusal_outcome(&other));
                self.refuse(other, corr, deadline);
                return;
            }
        };
        if !accepting {
            let error =
                ErrorObject::new(ErrorCode::ServiceUnavailable, "the server is shutting down");
            self.report(seen, RequestOutcome::Error(error.clone()));
            match to {
                Some(to) => self.send_error_later(to, corr, error, received_at + ERROR_REPLY_WAIT),
                None => self.stats().dropped(DropReason::NotificationFailed),
            }
            return;
        }
        let job = match self
            .dispatcher
            .admit(request, meta.credentials, received_at)
        {
            Ok(job) => job,
            Err(error) => {
                self.report(seen, RequestOutcome::Error(error.clone()));
                match to {
                    Some(to) => self.send_error_later(to, corr, error, deadline),
                    None => self.stats().dropped(DropReason::NotificationFailed),
                }
                return;
            }
        };
        // Report the channel the request was routed to, not only the one it named.
        let mut seen = seen;
        if let Some(seen) = &mut seen
            && !job.channel().is_empty()
        {
            seen.channel = Some(job.channel().to_owned());
        }
        let mut running = match self.dispatcher.start(job) {
            Ok(running) => running,
            Err(error) => {
                self.report(seen, RequestOutcome::Error(error.clone()));
                self.answer_now(to, &corr, Err(error), deadline);
                return;
            }
        };
        if let Some(outcome) = self.dispatcher.poll_now(&mut running) {
            drop(running);
            self.report(seen, outcome_of(&outcome));
            self.answer_now(to, &corr, outcome, deadline);
            return;
        }
        let this = self.clone();
        self.dispatcher.spawn(async move {
            let outcome = this.dispatcher.finish(running).await;
            this.report(seen, outcome_of(&outcome));
            match to {
                Some(to) => {
                    let (bytes, is_error) = this.encode(&corr, &outcome);
                    this.deliver(&to, bytes, is_error, &corr, deadline).await;
                }
                None => this.notified(outcome),
            }
        });
    }

    /// Tells the observer what became of a request.
    fn report(&self, seen: Option<Seen>, outcome: RequestOutcome) {
        if let (Some(observer), Some(seen)) = (&self.observer, seen) {
            observer.call(&seen.record(outcome));
        }
    }

    /// Accounts for a finished fire-and-forget request.
    fn notified(&self, outcome: Result<Output, ErrorObject>) {
        self.stats().notification();
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "fire-and-forget request failed");
            self.stats().dropped(DropReason::NotificationFailed);
        }
    }

    /// Answers a request that finished on the receiving task: sent right
    /// away when the receiver has room, otherwise by a task that waits.
    fn answer_now(
        self: &Arc<Self>,
        to: Option<ReplyAddr>,
        corr: &Correlation,
        outcome: Result<Output, ErrorObject>,
        deadline: Instant,
    ) {
        let Some(to) = to else {
            self.notified(outcome);
            return;
        };
        let (bytes, is_error) = self.encode(corr, &outcome);
        if bytes.len() <= self.max_message {
            match dgram::try_send_to(&self.socket, &bytes, &to.addr) {
                Ok(true) => {
                    self.stats().answered(is_error);
                    return;
                }
                Ok(false) => {} // no room now: wait on a task
                Err(e) => {
                    self.count_send_failure(&to, e);
                    return;
                }
            }
        }
        let this = self.clone();
        let corr = corr.clone();
        self.dispatcher.spawn(async move {
            this.deliver(&to, bytes, is_error, &corr, deadline).await;
        });
    }

    /// The sender's bound path, if it is one we may send to.
    fn sender_addr(&self, sender: &Sender) -> Option<ReplyAddr> {
        let path = sender.path()?;
        let text = path.to_str()?;
        security::check_socket_path(text, &self.allowed_dirs).ok()?;
        reply_addr(path)
    }

    /// Decides where the answer to a request may go (see the protocol's
    /// "Limits and security"): never to a path that breaks the rules; when the
    /// sender has a bound address, only there; when it does not, only to a
    /// socket file owned by the sender's uid.
    fn resolve(
        &self,
        reply_to: Option<&str>,
        sender: &Sender,
        uid: Option<u32>,
        malformed: bool,
    ) -> Reply {
        let Some(path) = reply_to else {
            if !malformed {
                return Reply::Nowhere;
            }
            return match self.sender_addr(sender) {
                Some(to) => Reply::To(to),
                None => Reply::Drop(DropReason::Unanswerable),
            };
        };
        if let Err(problem) = security::check_socket_path(path, &self.allowed_dirs) {
            let error = ErrorObject::with_type(
                ErrorCode::ValidationFailed,
                problem.error_type(),
                format!(
                    "`reply_to` {} is refused: {problem}",
                    janus_constraints::show_str(path)
                ),
            );
            let to = self
                .sender_addr(sender)
                .filter(|s| s.path.as_os_str() != path);
            return Reply::Refuse {
                error,
                to,
                drop: DropReason::InvalidReplyTo,
            };
        }
        match sender {
            Sender::Path(own) if own.as_os_str() == path => match reply_addr(own) {
                Some(to) => Reply::To(to),
                None => Reply::Drop(DropReason::InvalidReplyTo),
            },
            Sender::Path(own) => Reply::Refuse {
                error: ErrorObject::with_type(
                    ErrorCode::SecurityViolation,
                    ErrorCode::SecurityViolation.error_type(),
                    format!(
                        "`reply_to` ({path}) is not the address this request was sent from ({}); answers go only to the sender",
                        own.display()
                    ),
                ),
                to: self.sender_addr(sender),
                drop: DropReason::InvalidReplyTo,
            },
            Sender::Anonymous => {
                let path = Path::new(path);
                if !self.really_inside_allowed_dirs(path) {
                    return Reply::Drop(DropReason::InvalidReplyTo);
                }
                match dgram::check_unverified_reply_socket(path, uid) {
                    Ok(()) => match reply_addr(path) {
                        Some(to) => Reply::To(to),
                        None => Reply::Drop(DropReason::InvalidReplyTo),
                    },
                    Err(UnverifiedReply::Missing) => Reply::Drop(DropReason::ReplyToMissing),
                    Err(UnverifiedReply::NotASocket) => Reply::Drop(DropReason::ReplyToNotSocket),
                    Err(UnverifiedReply::OwnerMismatch { owner, sender }) => {
                        tracing::warn!(path = %path.display(), owner, sender, "reply_to belongs to another user; not answering");
                        Reply::Drop(DropReason::ReplyToOwnerMismatch)
                    }
                }
            }
        }
    }

    /// Whether `path`'s directory, with symlinks resolved, is still inside an
    /// allowed directory (a symlinked directory cannot lead answers elsewhere).
    fn really_inside_allowed_dirs(&self, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        let Ok(real_parent) = std::fs::canonicalize(parent) else {
            return false;
        };
        let real = real_parent.join(name);
        let Some(real) = real.to_str() else {
            return false;
        };
        self.allowed_dirs
            .iter()
            .chain(&self.allowed_real_dirs)
            .any(|dir| is_inside(real, dir))
    }

    fn refuse(self: &Arc<Self>, reply: Reply, corr: Correlation, deadline: Instant) {
        match reply {
            Reply::Refuse {
                error,
                to: Some(to),
                ..
            } => self.send_error_later(to, corr, error, deadline),
            Reply::Refuse { error, drop, .. } => {
                tracing::debug!(error = %error, "request refused with nowhere to answer");
                self.stats().dropped(drop);
            }
            Reply::Drop(reason) => self.stats().dropped(reason),
            Reply::Nowhere => self.stats().dropped(DropReason::NotificationFailed),
            Reply::To(_) => unreachable!("callers handle Reply::To"),
        }
    }

    fn send_error_later(
        self: &Arc<Self>,
        to: ReplyAddr,
        corr: Correlation,
        error: ErrorObject,
        deadline: Instant,
    ) {
        let this = self.clone();
        self.dispatcher.spawn(async move {
            let (bytes, _) = this.encode(&corr, &Err(error));
            this.deliver(&to, bytes, true, &corr, deadline).await;
        });
    }

    /// The answer's bytes, and whether it is an error; an answer too large
    /// for a datagram becomes a `-32005 MESSAGE_TOO_LARGE` error.
    fn encode(&self, corr: &Correlation, outcome: &Result<Output, ErrorObject>) -> (Vec<u8>, bool) {
        let mut buf = Vec::with_capacity(256);
        self.dispatcher.encode(&mut buf, corr, outcome);
        if buf.len() > self.max_message {
            let size = buf.len();
            return (self.too_large(corr, size), true);
        }
        (buf, outcome.is_err())
    }

    fn too_large(&self, corr: &Correlation, size: usize) -> Vec<u8> {
        let error = ErrorObject::with_type(
            ErrorCode::ValidationFailed,
            error_type::MESSAGE_TOO_LARGE,
            format!(
                "the response is {size} bytes, more than a datagram can carry here ({} bytes)",
                self.max_message
            ),
        );
        let mut buf = Vec::with_capacity(256);
        self.dispatcher.encode(&mut buf, corr, &Err(error));
        buf
    }

    /// Sends an answer, waiting (until `deadline`, or at least a moment) for
    /// room in the receiver's queue.
    async fn deliver(
        &self,
        to: &ReplyAddr,
        mut bytes: Vec<u8>,
        mut is_error: bool,
        corr: &Correlation,
        deadline: Instant,
    ) {
        let deadline = tokio::time::Instant::from_std(
            deadline.max(Instant::now() + Duration::from_millis(100)),
        );
        let mut shrunk = false;
        loop {
            let sent = {
                let gate = GateRef::new(&self.gates, &to.path);
                tokio::select! {
                    biased;
                    sent = dgram::send_to(&self.socket, &gate.gate, &bytes, &to.addr, deadline) => sent,
                    // Shutdown does not wait long for a receiver that stopped reading.
                    _ = self.dispatcher.aborted() => {
                        let soon = deadline.min(tokio::time::Instant::now() + SHUTDOWN_SEND_WAIT);
                        dgram::send_to(&self.socket, &gate.gate, &bytes, &to.addr, soon).await
                    }
                }
            };
            match sent {
                Ok(()) => {
                    self.stats().answered(is_error);
                    return;
                }
                // The kernel refused the size (a smaller send buffer than
                // expected): say so instead of going silent.
                Err(SendError::TooLarge) if !shrunk => {
                    bytes = self.too_large(corr, bytes.len());
                    is_error = true;
                    shrunk = true;
                }
                Err(e) => {
                    self.count_send_failure(to, e);
                    return;
                }
            }
        }
    }

    fn count_send_failure(&self, to: &ReplyAddr, error: SendError) {
        let reason = match error {
            SendError::NoReceiver(_) => {
                tracing::debug!(to = %to.path.display(), "nobody receives at the reply address any more");
                DropReason::ReceiverGone
            }
            SendError::QueueFull => {
                tracing::debug!(to = %to.path.display(), "reply queue stayed full; answer dropped");
                DropReason::ReceiverQueueFull
            }
            SendError::TooLarge => DropReason::SendFailed,
            SendError::Io(e) => {
                tracing::warn!(to = %to.path.display(), error = %e, "sending an answer failed");
                DropReason::SendFailed
            }
        };
        self.stats().dropped(reason);
    }
}

/// The outcome an observer is told for a request that was executed.
fn outcome_of(outcome: &Result<Output, ErrorObject>) -> RequestOutcome {
    match outcome {
        Ok(_) => RequestOutcome::Success,
        Err(e) => RequestOutcome::Error(e.clone()),
    }
}

/// The outcome an observer is told for a request refused over its `reply_to`.
fn refusal_outcome(reply: &Reply) -> RequestOutcome {
    match reply {
        Reply::Refuse { error, .. } => RequestOutcome::Error(error.clone()),
        Reply::Drop(reason) => RequestOutcome::Unanswered {
            reason: reason.describe(),
        },
        Reply::To(_) | Reply::Nowhere => RequestOutcome::Success,
    }
}

/// A destination's send gate, removed from the map when its last user is done.
struct GateRef<'a> {
    map: &'a std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    path: &'a Path,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> GateRef<'a> {
    fn new(
        map: &'a std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
        path: &'a Path,
    ) -> Self {
        let gate = map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_owned())
            .or_default()
            .clone();
        GateRef { map, path, gate }
    }
}

impl Drop for GateRef<'_> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else is waiting on it.
        if Arc::strong_count(&self.gate) == 2 {
            map.remove(self.path);
        }
    }
}

fn reply_addr(path: &Path) -> Option<ReplyAddr> {
    let addr = dgram::socket_addr(path).ok()?;
    Some(ReplyAddr {
        path: path.to_owned(),
        addr,
    })
}
