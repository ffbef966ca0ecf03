//! Delivering datagram answers: to the verified sender, or nowhere; and no
//! receiver that stops reading can hold up the others or the server's memory.
//!
//! * **One connected socket per destination.** The first answer to a
//!   destination connects a new socket to its path, once. The kernel then
//!   says which socket `connect` reached (`getpeername`: the address that
//!   socket was bound to, which no later rename, link or symlink changes);
//!   unless it is exactly the address the request came from (a bound
//!   sender) or the `reply_to` that was checked (an anonymous sender), the
//!   answer goes nowhere, counted `peer_mismatch`. Every answer then goes
//!   out on that connected socket, so the path is never resolved again: a
//!   sender that swaps its path for a symlink to another socket after
//!   asking reaches nobody. (`SO_PEERCRED` says nothing of a connected
//!   datagram peer on Linux, so the check rests on the bound address; the
//!   cache key below carries the sender's credentials instead.)
//! * **Never to itself.** A destination that is a socket this server serves
//!   (the same file by device and inode, or a connected peer bound at the
//!   server's own address) gets nothing, counted `own_socket`.
//! * **A bounded cache.** Connections are kept in an LRU cache of
//!   [`DeliveryLimits::reply_sockets`] entries, keyed by the destination
//!   path (looked up without copying it) and kept with the sender's
//!   credentials (pid, uid, gid): an answer for another process at the same
//!   path is verified afresh, on a connection that replaces the entry. A connection whose
//!   receiver has gone is dropped from the cache and connected once more.
//! * **Fairness.** Each connection has its own send buffer, so datagrams a
//!   receiver leaves unread fill only its own; answers to other receivers
//!   never wait behind it. An answer that finds no room waits (for the
//!   kernel's wake-up, one answer at a time per destination) only within the
//!   caps: at most [`DeliveryLimits::answers_per_receiver`] answers and
//!   [`DeliveryLimits::bytes_per_receiver`] bytes per destination, and
//!   [`DeliveryLimits::held_bytes`] bytes in all. Beyond a cap the answer is
//!   dropped at once and counted (`destination_backlog`, `held_bytes_cap`),
//!   never held. The gauges `held_answers`, `held_bytes` and
//!   `reply_sockets` of [`ServerStats`](super::ServerStats) show the state.
//!
//! Memory bound: the answers the server holds waiting for room never
//! exceed `held_bytes` bytes (plus one answer being sent per destination);
//! in the kernel, a receiver's queue holds at most one datagram more than
//! `net.unix.max_dgram_qlen`, charged to the connection for that receiver, whose send
//! buffer starts at the system default and grows only as far as the
//! largest answer sent on it needs.

use std::num::NonZeroUsize;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use tokio::time::Instant;

use super::Control;
use super::reply_policy::ReplyAddr;
use super::stats::DropReason;
use crate::context::PeerCredentials;
use crate::transport::datagram::{Connected, FileId, SendError};

/// The caps on answers waiting for room at their receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeliveryLimits {
    /// Answers that may wait for one destination.
    pub answers_per_receiver: usize,
    /// Bytes of answers that may wait for one destination.
    pub bytes_per_receiver: usize,
    /// Bytes of answers that may wait in all.
    pub held_bytes: usize,
    /// Connected reply sockets kept for reuse.
    pub reply_sockets: usize,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        DeliveryLimits {
            answers_per_receiver: 1024,
            bytes_per_receiver: 8 << 20,
            held_bytes: 64 << 20,
            reply_sockets: 1024,
        }
    }
}

/// Where an answer goes: an address the reply policy accepted, and who
/// asked (as the kernel reported it).
#[derive(Debug)]
pub(crate) struct Reply {
    pub addr: ReplyAddr,
    pub credentials: Option<PeerCredentials>,
    /// The place the answer found no room for reserved within the caps, by
    /// [`Delivery::try_send`], for the [`Delivery::send`] that follows.
    held: Mutex<Option<Hold>>,
}

impl Reply {
    pub fn new(addr: ReplyAddr, credentials: Option<PeerCredentials>) -> Reply {
        Reply {
            addr,
            credentials,
            held: Mutex::new(None),
        }
    }

    fn take_hold(&self) -> Option<Hold> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One verified destination.
#[derive(Debug)]
struct Receiver {
    conn: Connected,
    /// Who asked when the connection was verified.
    credentials: Option<PeerCredentials>,
    /// One answer at a time waits for room.
    gate: tokio::sync::Mutex<()>,
    answers: AtomicUsize,
    bytes: AtomicUsize,
}

/// Why an answer was not delivered.
#[derive(Debug)]
pub(crate) enum Undelivered {
    /// Larger than a datagram can be here; nothing was counted.
    TooLarge,
    /// Dropped, for this reason (not counted yet).
    Dropped(DropReason),
}

/// An answer counted as waiting for room until this is dropped.
#[derive(Debug)]
struct Hold {
    control: Arc<Control>,
    receiver: Arc<Receiver>,
    bytes: usize,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.receiver.answers.fetch_sub(1, Relaxed);
        self.receiver.bytes.fetch_sub(self.bytes, Relaxed);
        let stats = &self.control.stats;
        stats.held_answers.fetch_sub(1, Relaxed);
        stats.held_bytes.fetch_sub(self.bytes, Relaxed);
    }
}

/// The answers of one datagram endpoint.
#[derive(Debug)]
pub(crate) struct Delivery {
    limits: DeliveryLimits,
    /// The largest answer sent.
    max_message: usize,
    /// The address and file of the socket this endpoint serves.
    own_path: Vec<u8>,
    own_file: FileId,
    cache: Mutex<LruCache<PathBuf, Arc<Receiver>>>,
    control: Arc<Control>,
}

impl Delivery {
    pub fn new(
        limits: DeliveryLimits,
        max_message: usize,
        own_path: &Path,
        own_file: FileId,
        control: Arc<Control>,
    ) -> Delivery {
        let size = NonZeroUsize::new(limits.reply_sockets).unwrap_or(NonZeroUsize::MIN);
        Delivery {
            limits,
            max_message,
            own_path: own_path.as_os_str().as_bytes().to_vec(),
            own_file,
            cache: Mutex::new(LruCache::new(size)),
            control,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<PathBuf, Arc<Receiver>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached connection to `to`, if any (verified for the same
    /// credentials).
    fn cached(&self, to: &Reply) -> Option<Arc<Receiver>> {
        self.cache()
            .get(to.addr.path.as_path())
            .filter(|r| r.credentials == to.credentials)
            .cloned()
    }

    /// Connects to `to` and checks who answers there.
    fn connect(&self, to: &Reply) -> Result<Arc<Receiver>, Undelivered> {
        let path = &to.addr.path;
        if self.own_file.is_reached_by(path) {
            tracing::warn!(to = %path.display(), "the reply address is this server's own socket; not answering");
            return Err(Undelivered::Dropped(DropReason::OwnSocket));
        }
        let conn = Connected::connect(path).map_err(|e| self.failure(path, e))?;
        let peer = conn
            .peer_path()
            .map_err(|e| self.failure(path, SendError::Io(e)))?;
        match peer {
            Some(peer) if peer == self.own_path => {
                tracing::warn!(to = %path.display(), "the reply address leads to this server's own socket; not answering");
                return Err(Undelivered::Dropped(DropReason::OwnSocket));
            }
            Some(peer) if peer == path.as_os_str().as_bytes() => {}
            peer => {
                tracing::warn!(
                    to = %path.display(),
                    reached = %peer.as_deref().map(String::from_utf8_lossy).unwrap_or_default(),
                    "the socket at the reply address is not the one the request came from; not answering"
                );
                return Err(Undelivered::Dropped(DropReason::PeerMismatch));
            }
        }
        let receiver = Arc::new(Receiver {
            conn,
            credentials: to.credentials,
            gate: tokio::sync::Mutex::new(()),
            answers: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        });
        let mut cache = self.cache();
        cache.put(path.clone(), receiver.clone());
        self.control.stats.reply_sockets.store(cache.len(), Relaxed);
        Ok(receiver)
    }

    /// Drops `receiver` from the cache (if it is still the one cached).
    fn forget(&self, to: &Reply, receiver: &Arc<Receiver>) {
        let mut cache = self.cache();
        let key = to.addr.path.as_path();
        if cache.peek(key).is_some_and(|r| Arc::ptr_eq(r, receiver)) {
            cache.pop(key);
        }
        self.control.stats.reply_sockets.store(cache.len(), Relaxed);
    }

    fn failure(&self, path: &Path, error: SendError) -> Undelivered {
        Undelivered::Dropped(match error {
            SendError::TooLarge => return Undelivered::TooLarge,
            SendError::NoReceiver(_) => {
                tracing::debug!(to = %path.display(), "nobody receives at the reply address any more");
                DropReason::ReceiverGone
            }
            SendError::QueueFull => {
                tracing::debug!(to = %path.display(), "reply queue stayed full; answer dropped");
                DropReason::ReceiverQueueFull
            }
            SendError::Io(e) => {
                tracing::warn!(to = %path.display(), error = %e, "sending an answer failed");
                DropReason::SendFailed
            }
        })
    }

    /// One attempt without waiting, on the cached connection (connected
    /// afresh once if its receiver has gone): the receiver, and whether the
    /// answer went out.
    fn attempt(&self, to: &Reply, bytes: &[u8]) -> Result<(Arc<Receiver>, bool), Undelivered> {
        if let Some(receiver) = self.cached(to) {
            match receiver.conn.try_send(bytes, self.max_message) {
                Ok(sent) => return Ok((receiver, sent)),
                // The receiver closed; whoever binds the path now is checked anew.
                Err(SendError::NoReceiver(_)) => self.forget(to, &receiver),
                Err(e) => return Err(self.failure(&to.addr.path, e)),
            }
        }
        let receiver = self.connect(to)?;
        match receiver.conn.try_send(bytes, self.max_message) {
            Ok(sent) => Ok((receiver, sent)),
            Err(e) => {
                self.forget(to, &receiver);
                Err(self.failure(&to.addr.path, e))
            }
        }
    }

    /// Sends if that is possible without waiting: `Ok(true)` sent,
    /// `Ok(false)` no room now, and the answer's place among those waiting
    /// is reserved in `to` (so that the bytes handed back for
    /// [`send`](Self::send) count towards the caps at once); beyond a
    /// cap, the answer is dropped here.
    pub fn try_send(&self, to: &Reply, bytes: &[u8]) -> Result<bool, Undelivered> {
        let (receiver, sent) = self.attempt(to, bytes)?;
        if !sent {
            let hold = self.hold(receiver, bytes.len())?;
            *to.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(hold);
        }
        Ok(sent)
    }

    /// [`try_send`](Self::try_send) for several answers at once, in order:
    /// the answers of a run for one cached destination go out with one
    /// `sendmmsg` on its connection; any that did not (no room, an error,
    /// no connection yet) take [`try_send`](Self::try_send)'s path one by
    /// one, with its checks, caps and counting.
    pub fn try_send_many(&self, answers: &[(&Reply, &[u8])]) -> Vec<Result<bool, Undelivered>> {
        let mut out = Vec::with_capacity(answers.len());
        let mut start = 0;
        while start < answers.len() {
            let (first, _) = answers[start];
            let same = |(to, _): &(&Reply, &[u8])| {
                to.addr.path == first.addr.path && to.credentials == first.credentials
            };
            let end = start + 1 + answers[start + 1..].iter().take_while(|a| same(a)).count();
            let receiver = if end - start > 1 {
                self.cached(first)
            } else {
                None
            };
            let sent = match &receiver {
                Some(receiver) => {
                    let run: Vec<&[u8]> = answers[start..end].iter().map(|(_, b)| *b).collect();
                    receiver
                        .conn
                        .try_send_many(&run, self.max_message)
                        .unwrap_or(0)
                }
                None => 0,
            };
            for (i, (to, bytes)) in answers[start..end].iter().enumerate() {
                out.push(if i < sent {
                    Ok(true)
                } else {
                    self.try_send(to, bytes)
                });
            }
            start = end;
        }
        out
    }

    /// Sends, waiting for room until `deadline` within the caps.
    pub async fn send(
        &self,
        to: &Reply,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<(), Undelivered> {
        let reserved = to.take_hold();
        // While others wait for room at this receiver, an answer queues
        // behind them instead of trying first: it would overtake them when
        // room appears.
        let (receiver, sent) = match self.cached(to).filter(|r| r.gate.try_lock().is_err()) {
            Some(receiver) => (receiver, false),
            None => self.attempt(to, bytes)?,
        };
        if sent {
            return Ok(());
        }
        let _hold = match reserved {
            Some(hold) => hold,
            None => self.hold(receiver.clone(), bytes.len())?,
        };
        let Ok(_turn) = tokio::time::timeout_at(deadline, receiver.gate.lock()).await else {
            return Err(Undelivered::Dropped(DropReason::ReceiverQueueFull));
        };
        let stats = &self.control.stats;
        match receiver
            .conn
            .send(bytes, self.max_message, deadline, || {
                stats.send_wait_fallback()
            })
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                if matches!(e, SendError::NoReceiver(_)) {
                    self.forget(to, &receiver);
                }
                Err(self.failure(&to.addr.path, e))
            }
        }
    }

    /// Counts an answer as waiting for `receiver`, if the caps allow.
    fn hold(&self, receiver: Arc<Receiver>, bytes: usize) -> Result<Hold, Undelivered> {
        let answers = receiver.answers.fetch_add(1, Relaxed) + 1;
        let for_receiver = receiver.bytes.fetch_add(bytes, Relaxed) + bytes;
        if answers > self.limits.answers_per_receiver
            || for_receiver > self.limits.bytes_per_receiver.max(self.max_message)
        {
            receiver.answers.fetch_sub(1, Relaxed);
            receiver.bytes.fetch_sub(bytes, Relaxed);
            return Err(Undelivered::Dropped(DropReason::DestinationBacklog));
        }
        // The gauge itself never goes past the cap, not even for a moment.
        let stats = &self.control.stats;
        let cap = self.limits.held_bytes.max(self.max_message);
        let reserved = stats.held_bytes.fetch_update(Relaxed, Relaxed, |held| {
            held.checked_add(bytes).filter(|&total| total <= cap)
        });
        if reserved.is_err() {
            receiver.answers.fetch_sub(1, Relaxed);
            receiver.bytes.fetch_sub(bytes, Relaxed);
            return Err(Undelivered::Dropped(DropReason::HeldBytesCap));
        }
        stats.held_answers.fetch_add(1, Relaxed);
        Ok(Hold {
            control: self.control.clone(),
            receiver,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::datagram::bind_server_socket;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    fn control() -> Arc<Control> {
        let (_tx, done) = tokio::sync::watch::channel(false);
        Arc::new(Control {
            shutdown: Default::default(),
            stats: Default::default(),
            done,
        })
    }

    fn reply(path: &Path) -> Reply {
        Reply::new(
            ReplyAddr {
                path: path.to_owned(),
            },
            None,
        )
    }

    #[tokio::test]
    async fn receivers_are_verified_cached_within_bounds_and_reconnected_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("server.sock");
        let (_server, own_id) = bind_server_socket(&own, 0o600).unwrap();
        let control = control();
        let limits = DeliveryLimits {
            reply_sockets: 2,
            ..Default::default()
        };
        let delivery = Delivery::new(limits, 1 << 16, &own, own_id, control.clone());
        let mut buf = [0u8; 16];

        let a = dir.path().join("a.sock");
        let first = UnixDatagram::bind(&a).unwrap();
        assert!(delivery.try_send(&reply(&a), b"one").unwrap());
        assert_eq!(first.recv(&mut buf).unwrap(), 3);
        // The receiver closes and another binds the path: connected afresh.
        drop(first);
        std::fs::remove_file(&a).unwrap();
        let second = UnixDatagram::bind(&a).unwrap();
        assert!(delivery.try_send(&reply(&a), b"two").unwrap());
        assert_eq!(second.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"two");

        // The cache keeps at most two connections.
        let others: Vec<_> = ["b.sock", "c.sock"]
            .iter()
            .map(|n| {
                let p = dir.path().join(n);
                (UnixDatagram::bind(&p).unwrap(), p)
            })
            .collect();
        for (socket, path) in &others {
            assert!(delivery.try_send(&reply(path), b"x").unwrap());
            socket.recv(&mut buf).unwrap();
        }
        assert_eq!(control.stats.snapshot().reply_sockets, 2);

        // Never to our own socket, however it is reached.
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&own, &link).unwrap();
        for to in [&own, &link] {
            assert!(matches!(
                delivery.try_send(&reply(to), b"x"),
                Err(Undelivered::Dropped(DropReason::OwnSocket))
            ));
        }
        // A path swapped for a symlink to another socket reaches nobody.
        let d = dir.path().join("d.sock");
        std::os::unix::fs::symlink(&others[0].1, &d).unwrap();
        assert!(matches!(
            delivery.try_send(&reply(&d), b"x"),
            Err(Undelivered::Dropped(DropReason::PeerMismatch))
        ));
        others[0].0.set_nonblocking(true).unwrap();
        assert!(others[0].0.recv(&mut buf).is_err());
        // Nobody at the path.
        let gone = dir.path().join("gone.sock");
        let deadline = Instant::now() + Duration::from_millis(100);
        assert!(matches!(
            delivery.send(&reply(&gone), b"x", deadline).await,
            Err(Undelivered::Dropped(DropReason::ReceiverGone))
        ));
    }
    #[tokio::test]
    async fn answers_sent_together_arrive_in_order_and_those_without_room_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("server.sock");
        let (_server, own_id) = bind_server_socket(&own, 0o600).unwrap();
        let control = control();
        let delivery = Delivery::new(
            DeliveryLimits::default(),
            1 << 16,
            &own,
            own_id,
            control.clone(),
        );
        let a = dir.path().join("a.sock");
        let b = dir.path().join("b.sock");
        let (rx_a, rx_b) = (
            UnixDatagram::bind(&a).unwrap(),
            UnixDatagram::bind(&b).unwrap(),
        );
        rx_a.set_nonblocking(true).unwrap();
        let (to_a, to_b) = (reply(&a), reply(&b));
        // The first answer to a destination connects; later runs are sent together.
        assert!(delivery.try_send(&to_a, b"0").unwrap());
        let answers: Vec<(&Reply, &[u8])> =
            vec![(&to_a, b"1"), (&to_a, b"2"), (&to_b, b"b"), (&to_a, b"3")];
        let results = delivery.try_send_many(&answers);
        assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while let Ok(n) = rx_a.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        assert_eq!(got, [b"0", b"1", b"2", b"3"]);
        assert_eq!(rx_b.recv(&mut buf).unwrap(), 1);

        // A queue that fills part-way: the rest is held within the caps
        // (each answer is for a request of its own, with its own reply).
        let many: Vec<Vec<u8>> = (0..200).map(|i| format!("{i}").into_bytes()).collect();
        let replies: Vec<Reply> = many.iter().map(|_| reply(&a)).collect();
        let answers: Vec<(&Reply, &[u8])> = replies
            .iter()
            .zip(&many)
            .map(|(to, m)| (to, &m[..]))
            .collect();
        let results = delivery.try_send_many(&answers);
        let sent = results.iter().take_while(|r| matches!(r, Ok(true))).count();
        assert!(sent > 0 && sent < answers.len(), "{sent} sent");
        assert!(results[sent..].iter().all(|r| matches!(r, Ok(false))));
        let mut got = Vec::new();
        while let Ok(n) = rx_a.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        assert_eq!(got, many[..sent]);
        assert_eq!(control.stats.snapshot().held_answers, answers.len() - sent);
    }
}
