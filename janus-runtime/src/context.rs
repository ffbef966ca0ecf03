//! What a handler knows about the request it serves.

use std::time::{Duration, Instant};

/// The sender's process credentials, as the kernel reports them
/// (`SO_PASSCRED`): they cannot be forged by the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// Process id of the sender.
    pub pid: i32,
    /// User id of the sender.
    pub uid: u32,
    /// Group id of the sender.
    pub gid: u32,
}

/// Per-request information passed to every handler.
#[derive(Debug, Clone)]
pub struct RequestContext {
    request_id: String,
    channel_id: String,
    request: String,
    reply_to: Option<String>,
    peer: Option<PeerCredentials>,
    timeout: Duration,
    received_at: Instant,
}

impl RequestContext {
    pub(crate) fn new(
        request_id: String,
        channel_id: String,
        request: String,
        reply_to: Option<String>,
        peer: Option<PeerCredentials>,
        timeout: Duration,
        received_at: Instant,
    ) -> Self {
        Self {
            request_id,
            channel_id,
            request,
            reply_to,
            peer,
            timeout,
            received_at,
        }
    }

    /// A context for calling a handler directly, outside a server (for
    /// example in a unit test of the handler): no peer, no `reply_to`, a
    /// 30-second timeout.
    pub fn detached(channel_id: &str, request: &str) -> Self {
        Self::new(
            uuid::Uuid::new_v4().to_string(),
            channel_id.to_owned(),
            request.to_owned(),
            None,
            None,
            Duration::from_secs(30),
            Instant::now(),
        )
    }

    /// The request's `id` (the `request_id` of the answer).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The channel the request was routed to.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The request name.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// Where the answer goes; `None` for a fire-and-forget request.
    pub fn reply_to(&self) -> Option<&str> {
        self.reply_to.as_deref()
    }

    /// Whether the sender expects no answer.
    pub fn is_notification(&self) -> bool {
        self.reply_to.is_none()
    }

    /// The sender's credentials, when the transport provides them.
    pub fn peer(&self) -> Option<&PeerCredentials> {
        self.peer.as_ref()
    }

    /// How long the handler may run before the server cancels it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// When the request was received.
    pub fn received_at(&self) -> Instant {
        self.received_at
    }

    /// When the server will cancel the handler.
    pub fn deadline(&self) -> Instant {
        self.received_at + self.timeout
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }
}
