//! The server's counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Why a request got no answer (or an answer could not be delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Malformed, no usable `reply_to`, and the sender has no address.
    Unanswerable,
    /// `reply_to` broke the path rules and there was no other address.
    InvalidReplyTo,
    /// `reply_to` named nothing.
    ReplyToMissing,
    /// `reply_to` named something that is not a socket.
    ReplyToNotSocket,
    /// `reply_to` belonged to another user than the sender.
    ReplyToOwnerMismatch,
    /// Nobody was receiving at the reply address any more.
    ReceiverGone,
    /// The receiver's queue stayed full until the request's deadline.
    ReceiverQueueFull,
    /// Sending failed for another reason.
    SendFailed,
    /// A fire-and-forget request failed; there is nobody to tell.
    NotificationFailed,
    /// Not a request (a response, an object naming no request): never answered.
    NotARequest,
    /// An error answer to malformed input over the sender's rate limit.
    RateLimited,
    /// The answer would have gone to a socket this server serves.
    OwnSocket,
    /// The socket reached at the reply address is not the one the request
    /// came from (the path was swapped).
    PeerMismatch,
    /// The destination already had its cap of answers waiting for room.
    DestinationBacklog,
    /// The server already held its cap of answer bytes waiting for room.
    HeldBytesCap,
}

const REASONS: usize = 15;

impl DropReason {
    fn index(self) -> usize {
        self as usize
    }

    /// The reason in words.
    pub fn describe(self) -> &'static str {
        match self {
            DropReason::Unanswerable => "malformed, and the sender has no address to answer to",
            DropReason::InvalidReplyTo => "reply_to breaks the socket path rules",
            DropReason::ReplyToMissing => "reply_to names nothing",
            DropReason::ReplyToNotSocket => "reply_to is not a socket",
            DropReason::ReplyToOwnerMismatch => "reply_to belongs to another user than the sender",
            DropReason::ReceiverGone => "nobody receives at the reply address",
            DropReason::ReceiverQueueFull => "the receiver's queue stayed full",
            DropReason::SendFailed => "sending the answer failed",
            DropReason::NotificationFailed => "a fire-and-forget request failed",
            DropReason::NotARequest => "not a request (a response, or no request named)",
            DropReason::RateLimited => "error answers to this sender are over their rate limit",
            DropReason::OwnSocket => "the reply address is a socket this server serves",
            DropReason::PeerMismatch => "the socket at the reply address is not the sender's",
            DropReason::DestinationBacklog => "too many answers already wait for this receiver",
            DropReason::HeldBytesCap => "the server holds its cap of undelivered answer bytes",
        }
    }
}

/// Live counters, updated by the server.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    received: AtomicU64,
    answered: AtomicU64,
    errors: AtomicU64,
    handler_timeouts: AtomicU64,
    handler_panics: AtomicU64,
    rejected_busy: AtomicU64,
    truncated: AtomicU64,
    notifications: AtomicU64,
    cancelled_by_peer: AtomicU64,
    dropped: [AtomicU64; REASONS],
    in_flight: Arc<AtomicUsize>,
    /// Answers (and their bytes) waiting for room at their receivers.
    pub(crate) held_answers: AtomicUsize,
    pub(crate) held_bytes: AtomicUsize,
    /// Connected reply sockets cached for delivery.
    pub(crate) reply_sockets: AtomicUsize,
    send_wait_fallbacks: AtomicU64,
    /// The stream transport's connection counters.
    pub stream: StreamStats,
}

/// Live counters of the stream transport's connections.
#[derive(Debug, Default)]
pub(crate) struct StreamStats {
    pub accepted: AtomicU64,
    pub open: AtomicUsize,
    pub refused_limit: AtomicU64,
    pub refused_uid: AtomicU64,
    pub framing_errors: AtomicU64,
    pub idle_closed: AtomicU64,
}

impl StreamStats {
    /// Counts one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    fn snapshot(&self) -> StreamCounts {
        StreamCounts {
            accepted: self.accepted.load(Relaxed),
            open: self.open.load(Relaxed),
            refused_limit: self.refused_limit.load(Relaxed),
            refused_uid: self.refused_uid.load(Relaxed),
            framing_errors: self.framing_errors.load(Relaxed),
            idle_closed: self.idle_closed.load(Relaxed),
        }
    }
}

/// A handler counted in [`ServerStats::in_flight`] while this lives.
///
/// Owned, so that it travels with the handler's future from the receiving
/// thread (where the handler is first polled) to its own task, and the
/// count covers the handler's whole life.
pub(crate) struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Stats {
    pub fn received(&self) {
        self.received.fetch_add(1, Relaxed);
    }
    pub fn answered(&self, is_error: bool) {
        self.answered.fetch_add(1, Relaxed);
        if is_error {
            self.errors.fetch_add(1, Relaxed);
        }
    }
    pub fn handler_timeout(&self) {
        self.handler_timeouts.fetch_add(1, Relaxed);
    }
    pub fn handler_panic(&self) {
        self.handler_panics.fetch_add(1, Relaxed);
    }
    pub fn rejected_busy(&self) {
        self.rejected_busy.fetch_add(1, Relaxed);
    }
    pub fn truncated(&self) {
        self.truncated.fetch_add(1, Relaxed);
    }
    pub fn notification(&self) {
        self.notifications.fetch_add(1, Relaxed);
    }
    pub fn dropped(&self, reason: DropReason) {
        self.dropped[reason.index()].fetch_add(1, Relaxed);
    }
    pub fn cancelled_by_peer(&self) {
        self.cancelled_by_peer.fetch_add(1, Relaxed);
    }
    pub fn send_wait_fallback(&self) {
        self.send_wait_fallbacks.fetch_add(1, Relaxed);
    }
    /// Counts a handler as running until the guard is dropped.
    pub fn running(&self) -> Running {
        self.in_flight.fetch_add(1, Relaxed);
        Running(self.in_flight.clone())
    }

    pub fn snapshot(&self) -> ServerStats {
        let d = |r: DropReason| self.dropped[r.index()].load(Relaxed);
        ServerStats {
            received: self.received.load(Relaxed),
            answered: self.answered.load(Relaxed),
            errors: self.errors.load(Relaxed),
            handler_timeouts: self.handler_timeouts.load(Relaxed),
            handler_panics: self.handler_panics.load(Relaxed),
            rejected_busy: self.rejected_busy.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            notifications: self.notifications.load(Relaxed),
            cancelled_by_peer: self.cancelled_by_peer.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            held_answers: self.held_answers.load(Relaxed),
            held_bytes: self.held_bytes.load(Relaxed),
            reply_sockets: self.reply_sockets.load(Relaxed),
            send_wait_fallbacks: self.send_wait_fallbacks.load(Relaxed),
            dropped: DropCounts {
                unanswerable: d(DropReason::Unanswerable),
                invalid_reply_to: d(DropReason::InvalidReplyTo),
                reply_to_missing: d(DropReason::ReplyToMissing),
                reply_to_not_socket: d(DropReason::ReplyToNotSocket),
                reply_to_owner_mismatch: d(DropReason::ReplyToOwnerMismatch),
                receiver_gone: d(DropReason::ReceiverGone),
                receiver_queue_full: d(DropReason::ReceiverQueueFull),
                send_failed: d(DropReason::SendFailed),
                notification_failed: d(DropReason::NotificationFailed),
                not_a_request: d(DropReason::NotARequest),
                rate_limited: d(DropReason::RateLimited),
                own_socket: d(DropReason::OwnSocket),
                peer_mismatch: d(DropReason::PeerMismatch),
                destination_backlog: d(DropReason::DestinationBacklog),
                held_bytes_cap: d(DropReason::HeldBytesCap),
            },
            stream: self.stream.snapshot(),
        }
    }
}

/// A snapshot of a server's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Messages received (datagrams, and frames over connections).
    pub received: u64,
    /// Responses sent (successes and errors).
    pub answered: u64,
    /// Of those, error responses.
    pub errors: u64,
    /// Handlers cancelled at their timeout (answered `-32006`).
    pub handler_timeouts: u64,
    /// Handlers that panicked (answered `-32603`).
    pub handler_panics: u64,
    /// Requests refused because too many handlers were running (`-32010`).
    pub rejected_busy: u64,
    /// Datagrams larger than the receive buffer.
    pub truncated: u64,
    /// Fire-and-forget requests run.
    pub notifications: u64,
    /// Handlers cancelled because the connection they would answer on
    /// closed first (stream transport).
    pub cancelled_by_peer: u64,
    /// Handlers running now.
    pub in_flight: usize,
    /// Answers waiting now for room in their receivers' queues (datagrams).
    pub held_answers: usize,
    /// Their bytes; never more than the server's cap
    /// ([`ServerBuilder::max_held_answer_bytes`](crate::ServerBuilder::max_held_answer_bytes)).
    pub held_bytes: usize,
    /// Connected reply sockets cached now, one per recent destination.
    pub reply_sockets: usize,
    /// Answers that, waiting for room, found it on the safety-net timer, no
    /// wake-up having come (on the normal path the kernel wakes the sender).
    pub send_wait_fallbacks: u64,
    /// Requests or answers that went nowhere, by reason.
    pub dropped: DropCounts,
    /// The stream transport's connections.
    pub stream: StreamCounts,
}

/// The stream transport's connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamCounts {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections open now.
    pub open: usize,
    /// Connections refused (closed at once) because the maximum was open.
    pub refused_limit: u64,
    /// Connections refused (closed at once) because the peer's uid is not
    /// allowed.
    pub refused_uid: u64,
    /// Connections closed for a framing violation (length 0 or over the
    /// maximum, closed or stalled in the middle of a message).
    pub framing_errors: u64,
    /// Connections closed after their idle timeout.
    pub idle_closed: u64,
}

/// Requests or answers that went nowhere, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DropCounts {
    /// Malformed with no usable `reply_to` and an anonymous sender.
    pub unanswerable: u64,
    /// `reply_to` broke the path rules and there was no other address.
    pub invalid_reply_to: u64,
    /// `reply_to` named nothing.
    pub reply_to_missing: u64,
    /// `reply_to` named something that is not a socket.
    pub reply_to_not_socket: u64,
    /// `reply_to` belonged to another user than the sender.
    pub reply_to_owner_mismatch: u64,
    /// Nobody was receiving at the reply address any more.
    pub receiver_gone: u64,
    /// The receiver's queue stayed full until the request's deadline.
    pub receiver_queue_full: u64,
    /// Sending failed for another reason.
    pub send_failed: u64,
    /// Fire-and-forget requests that failed (nobody to tell).
    pub notification_failed: u64,
    /// Messages that were not requests (responses, objects naming no request).
    pub not_a_request: u64,
    /// Error answers to malformed input over the sender's rate limit.
    pub rate_limited: u64,
    /// Answers that would have gone to a socket this server serves.
    pub own_socket: u64,
    /// Answers whose reply address led to another socket than the sender's.
    pub peer_mismatch: u64,
    /// Answers over a receiver's cap of answers waiting for room.
    pub destination_backlog: u64,
    /// Answers over the server's cap of bytes waiting for room.
    pub held_bytes_cap: u64,
}

impl DropCounts {
    /// All drops.
    pub fn total(&self) -> u64 {
        self.unanswerable
            + self.invalid_reply_to
            + self.reply_to_missing
            + self.reply_to_not_socket
            + self.reply_to_owner_mismatch
            + self.receiver_gone
            + self.receiver_queue_full
            + self.send_failed
            + self.notification_failed
            + self.not_a_request
            + self.rate_limited
            + self.own_socket
            + self.peer_mismatch
            + self.destination_backlog
            + self.held_bytes_cap
    }
}
