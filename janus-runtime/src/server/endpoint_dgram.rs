//! The datagram endpoint: receives datagrams, hands them to the request
//! pipeline, and sends the answers it is given (waiting, per destination,
//! for room in a receiver's full queue).

use std::collections::HashMap;
use std::io;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::dispatch::Dispatcher;
use super::pipeline::{Endpoint, Pipeline, Sent, TrySend};
use super::reply_policy::{DgramPolicy, Refused, ReplyAddr};
use super::stats::{DropReason, Stats};
use super::{Control, ServerConfig};
use crate::context::PeerCredentials;
use crate::error::{ErrorCode, ErrorObject, error_type};
use crate::transport::datagram::{self as dgram, Received, SendError};
use crate::wire;

/// How long, once shutdown stops waiting for handlers, an answer may still
/// wait for room in its receiver's queue.
const SHUTDOWN_SEND_WAIT: Duration = Duration::from_millis(500);

/// A bound datagram socket and what sending on it needs.
pub(super) struct DgramEndpoint {
    socket: dgram::Socket,
    /// Per destination, one answer at a time waits for room in its full
    /// queue; a client that stops reading delays only its own answers.
    gates: std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    policy: DgramPolicy,
    max_message: usize,
    /// Cancelled when shutdown stops waiting for handlers: answers then
    /// wait only briefly for room.
    abort: CancellationToken,
    control: Arc<Control>,
}

/// Receives until shutdown, then answers what is already queued with
/// `-32001`. Draining running requests is the server's job (they may
/// belong to several endpoints).
pub(super) async fn run(
    socket: StdUnixDatagram,
    max_message: usize,
    dispatcher: Arc<Dispatcher>,
    config: &ServerConfig,
    control: &Arc<Control>,
) -> io::Result<()> {
    let endpoint = Arc::new(DgramEndpoint {
        socket: dgram::Socket::new(socket)?,
        gates: std::sync::Mutex::new(HashMap::new()),
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
    let mut buf = vec![0u8; max_message];
    loop {
        let received = tokio::select! {
            biased;
            _ = control.shutdown.cancelled() => break,
            r = pipeline.endpoint().socket.recv(&mut buf) => r,
        };
        match received {
            Ok(meta) => handle(&pipeline, &buf[..meta.len], &meta, true),
            Err(e) => {
                // Receive errors on a datagram socket are per-datagram (e.g.
                // ancillary data trouble); keep serving.
                tracing::warn!(error = %e, "receive failed");
            }
        }
    }
    // Stop receiving; answer what is already queued with -32001.
    while let Ok(meta) = pipeline.endpoint().socket.try_recv(&mut buf) {
        handle(&pipeline, &buf[..meta.len], &meta, false);
    }
    Ok(())
}

/// One datagram: a truncated one is answered `-32005` (to its sender only:
/// its `reply_to` was not read); any other goes through the pipeline.
fn handle(pipeline: &Arc<Pipeline<DgramEndpoint>>, bytes: &[u8], meta: &Received, accepting: bool) {
    let Some(real_len) = meta.truncated_from else {
        pipeline.handle(bytes, meta, accepting);
        return;
    };
    pipeline.stats().received();
    pipeline.stats().truncated();
    let error = ErrorObject::with_type(
        ErrorCode::ValidationFailed,
        error_type::MESSAGE_TOO_LARGE,
        format!(
            "the datagram is {real_len} bytes; this server accepts at most {} bytes",
            pipeline.endpoint().max_message
        ),
    );
    pipeline.unreadable(meta, error, sniff_id(bytes));
}

impl DgramEndpoint {
    fn stats(&self) -> &Stats {
        &self.control.stats
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

impl Endpoint for DgramEndpoint {
    type Origin = Received;
    type Dest = ReplyAddr;

    fn credentials(origin: &Received) -> Option<PeerCredentials> {
        origin.credentials
    }

    fn resolve(
        &self,
        origin: &Received,
        reply_to: Option<&str>,
    ) -> Result<Option<ReplyAddr>, Refused<ReplyAddr>> {
        let uid = origin.credentials.map(|c| c.uid);
        self.policy.resolve(reply_to, &origin.sender, uid)
    }

    fn resolve_malformed(
        &self,
        origin: &Received,
        reply_to: Option<&str>,
    ) -> Result<ReplyAddr, Refused<ReplyAddr>> {
        let uid = origin.credentials.map(|c| c.uid);
        self.policy.resolve_malformed(reply_to, &origin.sender, uid)
    }

    fn max_message(&self) -> usize {
        self.max_message
    }

    fn limit_words(&self) -> &'static str {
        "a datagram can carry here"
    }

    fn try_send(&self, to: &ReplyAddr, bytes: Vec<u8>) -> TrySend {
        match dgram::try_send_to(&self.socket, &bytes, &to.addr) {
            Ok(true) => TrySend::Sent,
            Ok(false) => TrySend::Busy(bytes), // no room now: wait on a task
            Err(e) => {
                self.count_send_failure(to, e);
                TrySend::Failed
            }
        }
    }

    /// Sends an answer, waiting (until `deadline`, or at least a moment) for
    /// room in the receiver's queue.
    async fn send(&self, to: &ReplyAddr, bytes: Vec<u8>, deadline: Instant) -> Sent {
        let deadline = tokio::time::Instant::from_std(
            deadline.max(Instant::now() + Duration::from_millis(100)),
        );
        let sent = {
            let gate = GateRef::new(&self.gates, &to.path);
            tokio::select! {
                biased;
                sent = dgram::send_to(&self.socket, &gate.gate, &bytes, &to.addr, deadline) => sent,
                // Shutdown does not wait long for a receiver that stopped reading.
                _ = self.abort.cancelled() => {
                    let soon = deadline.min(tokio::time::Instant::now() + SHUTDOWN_SEND_WAIT);
                    dgram::send_to(&self.socket, &gate.gate, &bytes, &to.addr, soon).await
                }
            }
        };
        match sent {
            Ok(()) => Sent::Delivered,
            Err(SendError::TooLarge) => Sent::TooLarge,
            Err(e) => {
                self.count_send_failure(to, e);
                Sent::Failed
            }
        }
    }

    /// A datagram peer is never known to be gone before an answer is sent.
    fn gone(_to: &ReplyAddr) -> impl std::future::Future<Output = ()> + Send {
        std::future::pending()
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

/// Best effort: the `id` of a request whose datagram was cut short, if the
/// part that arrived has a valid one.
fn sniff_id(bytes: &[u8]) -> Option<String> {
    let id = wire::sniff_top_level_string(bytes, "id")?;
    let valid = !id.is_empty()
        && id.len() <= wire::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::sniff_id;

    #[test]
    fn sniffs_ids_from_the_start_of_cut_datagrams() {
        assert_eq!(
            sniff_id(br#"{"id":"abc-1","method":"x","args":{"#).as_deref(),
            Some("abc-1")
        );
        assert_eq!(sniff_id(br#"{ "id" : "abc" "#).as_deref(), Some("abc"));
        assert_eq!(sniff_id(br#"{"id":"a b"}"#), None);
        assert_eq!(sniff_id(br#"{"id":"abc"#), None);
        assert_eq!(
            sniff_id(br#"{"args":{"id":"no"},"id":"yes","request":"#).as_deref(),
            Some("yes")
        );
        assert_eq!(sniff_id(br#"{"method":"x"}"#), None);
        assert_eq!(sniff_id(br#"{"id":7}"#), None);
    }
}
