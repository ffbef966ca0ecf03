//! Watching what happens to each request (for logs and metrics).

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::PeerCredentials;
use crate::error::ErrorObject;

/// What became of one request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// It succeeded (and was answered, unless fire-and-forget).
    Success,
    /// It failed with this error (answered with it, unless fire-and-forget
    /// or unanswerable).
    Error(ErrorObject),
    /// It was not answered: there was nowhere acceptable to answer.
    Unanswered {
        /// Why, in words.
        reason: &'static str,
    },
}

/// One request as the server saw it; see [`ServerBuilder::observe`](crate::ServerBuilder::observe).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The request's `id`, when it could be read.
    pub request_id: Option<String>,
    /// The channel the request was routed to (or, if it was refused before
    /// routing, the `channelId` it named, if any).
    pub channel: Option<String>,
    /// The request name, when it could be read.
    pub request: Option<String>,
    /// The sender's credentials.
    pub peer: Option<PeerCredentials>,
    /// Whether it was fire-and-forget (no `reply_to`).
    pub notification: bool,
    /// What became of it.
    pub outcome: RequestOutcome,
    /// From receipt to outcome.
    pub elapsed: Duration,
}

/// The observer set on a server.
#[derive(Clone)]
pub(crate) struct Observer(Arc<dyn Fn(&RequestRecord) + Send + Sync>);

impl Observer {
    pub fn new(f: impl Fn(&RequestRecord) + Send + Sync + 'static) -> Self {
        Observer(Arc::new(f))
    }

    pub fn call(&self, record: &RequestRecord) {
        if std::panic::catch_unwind(AssertUnwindSafe(|| (self.0)(record))).is_err() {
            tracing::error!("the request observer panicked");
        }
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

/// What is known of a request so far, kept only when someone observes.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub request_id: Option<String>,
    pub channel: Option<String>,
    pub request: Option<String>,
    pub peer: Option<PeerCredentials>,
    pub notification: bool,
    pub received_at: Instant,
}

impl Seen {
    pub fn record(self, outcome: RequestOutcome) -> RequestRecord {
        RequestRecord {
            elapsed: self.received_at.elapsed(),
            request_id: self.request_id,
            channel: self.channel,
            request: self.request,
            peer: self.peer,
            notification: self.notification,
            outcome,
        }
    }
}
