//! The request pipeline: everything that happens to a message between the
//! transport handing over its bytes and the transport being handed the
//! answer's bytes, whatever the transport.
//!
//! ```text
//!  transport (endpoint_*)          pipeline (this file)                 dispatcher
//!  ----------------------          --------------------                 ----------
//!  bytes + origin  ──handle──▶  decode (Request::decode_any, one call)
//!                               where may the answer go? ──▶ Endpoint::resolve (reply policy)
//!                               admit (access, route, in-flight) ─────▶ Dispatcher::admit
//!                               start, poll once on the receiving task ▶ Dispatcher::start/poll_now
//!                               otherwise run on a tracked task under
//!                               timeout/abort, cancelled if the peer goes ▶ Dispatcher::finish
//!                               encode in the request's form (one call) ▶ Dispatcher::encode
//!  try_send / send  ◀───────── the answer's bytes
//! ```
//!
//! A transport implements [`Endpoint`]: it says where an answer may go
//! (its reply-address policy), how large an answer it can carry, and moves
//! bytes. It never looks inside a request; the pipeline never touches a
//! socket.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dispatch::{Dispatcher, Output};
use super::observe::{Observer, RequestOutcome, Seen};
use super::reply_policy::{Refusal, Refused};
use super::stats::{DropReason, Stats};
use crate::context::PeerCredentials;
use crate::error::{ErrorCode, ErrorObject, error_type};
use crate::wire::{self, Correlation, Request};

/// How long an answer to a request that could not be read may wait for room
/// at its receiver.
const ERROR_REPLY_WAIT: Duration = Duration::from_secs(1);

/// What became of an attempt to send an answer without waiting.
pub(crate) enum TrySend {
    /// Sent (or handed to the transport's writer).
    Sent,
    /// No room now: the bytes are given back, to be sent by a task that waits.
    Busy(Vec<u8>),
    /// Failed, and the transport has counted why.
    Failed,
}

/// What became of sending an answer.
pub(crate) enum Sent {
    /// Delivered (or handed to the transport's writer).
    Delivered,
    /// The transport cannot carry this many bytes; nothing was counted.
    TooLarge,
    /// Failed, and the transport has counted why.
    Failed,
}

/// What the pipeline needs from a transport.
pub(crate) trait Endpoint: Send + Sync + Sized + 'static {
    /// What the transport knows of a message's sender.
    type Origin;
    /// A checked place an answer may go.
    type Dest: Send + Sync + 'static;

    /// The sender's credentials, as the kernel reported them.
    fn credentials(origin: &Self::Origin) -> Option<PeerCredentials>;

    /// The reply-address policy for a well-formed request: `Ok(Some(to))`
    /// answer there, `Ok(None)` run it and answer nothing, `Err` refused.
    fn resolve(
        &self,
        origin: &Self::Origin,
        reply_to: Option<&str>,
    ) -> Result<Option<Self::Dest>, Refused<Self::Dest>>;

    /// Where the error answering a message that could not be read may go
    /// (`reply_to` is what could be read of it, if anything).
    fn resolve_malformed(
        &self,
        origin: &Self::Origin,
        reply_to: Option<&str>,
    ) -> Result<Self::Dest, Refused<Self::Dest>>;

    /// The largest answer this transport sends, in bytes.
    fn max_message(&self) -> usize;

    /// What limits answers, in words, for the `-32005` error of an answer
    /// that is too large (e.g. "a datagram can carry here").
    fn limit_words(&self) -> &'static str;

    /// Sends an answer if that is possible without waiting.
    fn try_send(&self, to: &Self::Dest, bytes: Vec<u8>) -> TrySend;

    /// [`try_send`](Self::try_send) for several answers at once, in order:
    /// one result per answer (a transport may need fewer system calls).
    fn try_send_many(&self, answers: Vec<(&Self::Dest, Vec<u8>)>) -> Vec<TrySend> {
        answers
            .into_iter()
            .map(|(to, bytes)| self.try_send(to, bytes))
            .collect()
    }

    /// Sends an answer, waiting for room until `deadline` (or at least a
    /// moment); failures are counted by the transport.
    fn send(
        &self,
        to: &Self::Dest,
        bytes: Vec<u8>,
        deadline: Instant,
    ) -> impl Future<Output = Sent> + Send;

    /// Completes when nobody can receive answers at `to` any more (a closed
    /// connection): a handler still running for it is then cancelled.
    fn gone(to: &Self::Dest) -> impl Future<Output = ()> + Send;
}

/// An answer to a request that finished on the receiving task, kept to be
/// sent with the other answers of its batch.
struct Pending<D> {
    to: D,
    bytes: Vec<u8>,
    is_error: bool,
    corr: Correlation,
    deadline: Instant,
}

/// The answers produced while a batch of received messages is handled, sent
/// together by [`Pipeline::flush`].
pub(crate) struct Answers<D>(Vec<Pending<D>>);

impl<D> Default for Answers<D> {
    fn default() -> Self {
        Answers(Vec::new())
    }
}

/// The pipeline for one transport endpoint; many endpoints share one
/// [`Dispatcher`] (and so its in-flight limit, tasks and shutdown).
pub(crate) struct Pipeline<E: Endpoint> {
    endpoint: Arc<E>,
    dispatcher: Arc<Dispatcher>,
    max_args: usize,
    observer: Option<Observer>,
}

impl<E: Endpoint> Pipeline<E> {
    pub fn new(
        endpoint: Arc<E>,
        dispatcher: Arc<Dispatcher>,
        max_args: usize,
        observer: Option<Observer>,
    ) -> Arc<Self> {
        Arc::new(Pipeline {
            endpoint,
            dispatcher,
            max_args,
            observer,
        })
    }

    /// The endpoint this pipeline answers through.
    pub fn endpoint(&self) -> &Arc<E> {
        &self.endpoint
    }

    pub fn stats(&self) -> &Stats {
        self.dispatcher.stats()
    }

    /// What an observer will be told, built only if there is one.
    fn seen(
        &self,
        request_id: Option<&str>,
        request: Option<&Request>,
        peer: Option<PeerCredentials>,
        received_at: Instant,
    ) -> Option<Seen> {
        self.observer.as_ref().map(|_| Seen {
            request_id: request_id.map(str::to_owned),
            channel: request.and_then(|r| r.channel_id.clone()),
            request: request.map(|r| r.request.clone()),
            peer,
            notification: false,
            received_at,
        })
    }

    /// Handles one complete message; `accepting` is false while shutting
    /// down (the request is then answered `-32001`).
    pub fn handle(self: &Arc<Self>, bytes: &[u8], origin: &E::Origin, accepting: bool) {
        self.handle_into(bytes, origin, accepting, None);
    }

    /// [`handle`](Self::handle), except that an answer ready at once is kept
    /// in `batch` (when given) for [`flush`](Self::flush), which sends the
    /// answers of a batch of messages together.
    pub fn handle_into(
        self: &Arc<Self>,
        bytes: &[u8],
        origin: &E::Origin,
        accepting: bool,
        batch: Option<&mut Answers<E::Dest>>,
    ) {
        self.stats().received();
        let received_at = Instant::now();
        let peer = E::credentials(origin);

        let (request, form) = match Request::decode_any(bytes, self.max_args) {
            Ok(decoded) => decoded,
            Err(rejection) => {
                let seen = self.seen(rejection.request_id.as_deref(), None, peer, received_at);
                if rejection.not_a_request {
                    // Answering an answer is how reflection loops start.
                    self.report(
                        seen,
                        RequestOutcome::Unanswered {
                            reason: DropReason::NotARequest.describe(),
                        },
                    );
                    self.stats().dropped(DropReason::NotARequest);
                    return;
                }
                let corr = rejection.correlation();
                let deadline = received_at + ERROR_REPLY_WAIT;
                match self
                    .endpoint
                    .resolve_malformed(origin, rejection.reply_to.as_deref())
                {
                    Ok(to) => {
                        self.report(seen, RequestOutcome::Error(rejection.error.clone()));
                        self.send_later(to, corr, Err(rejection.error), deadline);
                    }
                    Err(refusal) => self.refuse(seen, *refusal, corr, deadline),
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
        let mut seen = self.seen(Some(&request.id), Some(&request), peer, received_at);
        let to = match self.endpoint.resolve(origin, request.reply_to.as_deref()) {
            Ok(to) => to,
            Err(refusal) => {
                self.refuse(seen, *refusal, corr, deadline);
                return;
            }
        };
        if let Some(seen) = &mut seen {
            seen.notification = to.is_none();
        }
        if !accepting {
            let error =
                ErrorObject::new(ErrorCode::ServiceUnavailable, "the server is shutting down");
            self.fail(seen, to, corr, error, received_at + ERROR_REPLY_WAIT);
            return;
        }
        let job = match self.dispatcher.admit(request, peer, received_at) {
            Ok(job) => job,
            Err(error) => {
                self.fail(seen, to, corr, error, deadline);
                return;
            }
        };
        // Report the channel the request was routed to, not only the one it named.
        if let Some(seen) = &mut seen
            && !job.channel().is_empty()
        {
            seen.channel = Some(job.channel().to_owned());
        }
        let mut running = match self.dispatcher.start(job) {
            Ok(running) => running,
            Err(error) => {
                self.report(seen, RequestOutcome::Error(error.clone()));
                self.answer_now(to, corr, Err(error), deadline, batch);
                return;
            }
        };
        if let Some(outcome) = self.dispatcher.poll_now(&mut running) {
            drop(running);
            self.report(seen, outcome_of(&outcome));
            self.answer_now(to, corr, outcome, deadline, batch);
            return;
        }
        let this = self.clone();
        self.dispatcher.spawn(async move {
            let Some(to) = to else {
                let outcome = this.dispatcher.finish(running).await;
                this.report(seen, outcome_of(&outcome));
                this.notified(outcome);
                return;
            };
            let outcome = tokio::select! {
                biased;
                outcome = this.dispatcher.finish(running) => outcome,
                () = E::gone(&to) => {
                    // Dropping the handler's future cancels it.
                    this.stats().cancelled_by_peer();
                    this.report(seen, RequestOutcome::Unanswered {
                        reason: DropReason::ReceiverGone.describe(),
                    });
                    this.stats().dropped(DropReason::ReceiverGone);
                    return;
                }
            };
            this.report(seen, outcome_of(&outcome));
            let (bytes, is_error) = this.encode(&corr, &outcome);
            this.deliver(&to, bytes, is_error, &corr, deadline).await;
        });
    }

    /// Answers a message that could not even be read as a request (a
    /// truncated datagram, a bad frame): only to where the transport says
    /// such an answer may go.
    pub fn unreadable(self: &Arc<Self>, origin: &E::Origin, error: ErrorObject, corr: Correlation) {
        let received_at = Instant::now();
        let seen = self.seen(
            corr.request_id.as_deref(),
            None,
            E::credentials(origin),
            received_at,
        );
        match self.endpoint.resolve_malformed(origin, None) {
            Ok(to) => {
                self.report(seen, RequestOutcome::Error(error.clone()));
                self.send_later(to, corr, Err(error), received_at + ERROR_REPLY_WAIT);
            }
            Err(refusal) => {
                // Reported as the error it is, even when nobody can be told.
                self.report(seen, RequestOutcome::Error(error));
                self.stats().dropped(refusal.drop);
            }
        }
    }

    /// Tells the observer what became of a request.
    fn report(&self, seen: Option<Seen>, outcome: RequestOutcome) {
        if let (Some(observer), Some(seen)) = (&self.observer, seen) {
            observer.call(&seen.record(outcome));
        }
    }

    /// Answers a request that failed before running with `error`.
    fn fail(
        self: &Arc<Self>,
        seen: Option<Seen>,
        to: Option<E::Dest>,
        corr: Correlation,
        error: ErrorObject,
        deadline: Instant,
    ) {
        self.report(seen, RequestOutcome::Error(error.clone()));
        match to {
            Some(to) => self.send_later(to, corr, Err(error), deadline),
            None => self.stats().dropped(DropReason::NotificationFailed),
        }
    }

    /// Carries out a refusal of the reply policy: the error goes where the
    /// policy allows, or nowhere (counted).
    fn refuse(
        self: &Arc<Self>,
        seen: Option<Seen>,
        refusal: Refusal<E::Dest>,
        corr: Correlation,
        deadline: Instant,
    ) {
        let Refusal { error, to, drop } = refusal;
        match error {
            None => {
                self.report(
                    seen,
                    RequestOutcome::Unanswered {
                        reason: drop.describe(),
                    },
                );
                self.stats().dropped(drop);
            }
            Some(error) => {
                self.report(seen, RequestOutcome::Error(error.clone()));
                match to {
                    Some(to) => self.send_later(to, corr, Err(error), deadline),
                    None => {
                        tracing::debug!(error = %error, "request refused with nowhere to answer");
                        self.stats().dropped(drop);
                    }
                }
            }
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
    /// away when the receiver has room, otherwise by a task that waits; or,
    /// given a `batch`, kept there for [`flush`](Self::flush).
    fn answer_now(
        self: &Arc<Self>,
        to: Option<E::Dest>,
        corr: Correlation,
        outcome: Result<Output, ErrorObject>,
        deadline: Instant,
        batch: Option<&mut Answers<E::Dest>>,
    ) {
        let Some(to) = to else {
            self.notified(outcome);
            return;
        };
        let (bytes, is_error) = self.encode(&corr, &outcome);
        if let Some(batch) = batch {
            batch.0.push(Pending {
                to,
                bytes,
                is_error,
                corr,
                deadline,
            });
            return;
        }
        let sent = self.endpoint.try_send(&to, bytes);
        self.sent_now(sent, to, is_error, corr, deadline);
    }

    /// Sends the answers kept in `batch`, together, as
    /// [`answer_now`](Self::answer_now) would have one by one.
    pub fn flush(self: &Arc<Self>, batch: &mut Answers<E::Dest>) {
        if batch.0.is_empty() {
            return;
        }
        let mut rest = Vec::with_capacity(batch.0.len());
        let mut answers = Vec::with_capacity(batch.0.len());
        for p in batch.0.drain(..) {
            answers.push(p.bytes);
            rest.push((p.to, p.is_error, p.corr, p.deadline));
        }
        let results = self
            .endpoint
            .try_send_many(rest.iter().map(|(to, ..)| to).zip(answers).collect());
        for (sent, (to, is_error, corr, deadline)) in results.into_iter().zip(rest) {
            self.sent_now(sent, to, is_error, corr, deadline);
        }
    }

    /// Accounts for an answer's attempt to go out at once; one that found no
    /// room is handed to a task that waits.
    fn sent_now(
        self: &Arc<Self>,
        sent: TrySend,
        to: E::Dest,
        is_error: bool,
        corr: Correlation,
        deadline: Instant,
    ) {
        let bytes = match sent {
            TrySend::Sent => {
                self.stats().answered(is_error);
                return;
            }
            TrySend::Failed => return,
            TrySend::Busy(bytes) => bytes,
        };
        let this = self.clone();
        self.dispatcher.spawn(async move {
            this.deliver(&to, bytes, is_error, &corr, deadline).await;
        });
    }

    /// Encodes and sends `outcome` from a task of its own.
    fn send_later(
        self: &Arc<Self>,
        to: E::Dest,
        corr: Correlation,
        outcome: Result<Output, ErrorObject>,
        deadline: Instant,
    ) {
        let this = self.clone();
        self.dispatcher.spawn(async move {
            let (bytes, is_error) = this.encode(&corr, &outcome);
            this.deliver(&to, bytes, is_error, &corr, deadline).await;
        });
    }

    /// The answer's bytes, and whether it is an error; an answer too large
    /// for the transport becomes a `-32005 MESSAGE_TOO_LARGE` error.
    fn encode(&self, corr: &Correlation, outcome: &Result<Output, ErrorObject>) -> (Vec<u8>, bool) {
        let mut buf = Vec::with_capacity(256);
        self.dispatcher.encode(&mut buf, corr, outcome);
        if buf.len() > self.endpoint.max_message() {
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
                "the response is {size} bytes, more than {} ({} bytes)",
                self.endpoint.limit_words(),
                self.endpoint.max_message()
            ),
        );
        let mut buf = Vec::with_capacity(256);
        self.dispatcher.encode(&mut buf, corr, &Err(error));
        buf
    }

    /// Sends an answer through the endpoint; an answer the transport
    /// refuses as too large is replaced, once, by the error saying so.
    async fn deliver(
        &self,
        to: &E::Dest,
        mut bytes: Vec<u8>,
        mut is_error: bool,
        corr: &Correlation,
        deadline: Instant,
    ) {
        let mut shrunk = false;
        loop {
            let size = bytes.len();
            match self.endpoint.send(to, bytes, deadline).await {
                Sent::Delivered => {
                    self.stats().answered(is_error);
                    return;
                }
                // The kernel refused the size (a smaller send buffer than
                // expected): say so instead of going silent.
                Sent::TooLarge if !shrunk => {
                    bytes = self.too_large(corr, size);
                    is_error = true;
                    shrunk = true;
                }
                Sent::TooLarge => {
                    self.stats().dropped(DropReason::SendFailed);
                    return;
                }
                Sent::Failed => return,
            }
        }
    }
}

/// The outcome an observer is told for a request that was executed.
fn outcome_of(outcome: &Result<Output, ErrorObject>) -> RequestOutcome {
    match outcome {
        Ok(_) => RequestOutcome::Success,
        Err(e) => RequestOutcome::Error(e.clone()),
    }
}
