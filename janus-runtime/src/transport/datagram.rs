//! Unix domain datagram sockets: safe binding, receiving with credentials
//! and truncation detection, and sending with back-pressure.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::net::{SendFlags, SocketAddrUnix};
use std::sync::Mutex;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use crate::context::PeerCredentials;

/// The largest datagram this machine's kernel reliably carries between Unix
/// sockets: the skb's linear part comes from one kmalloc (at most 4 MiB).
pub(crate) const OS_DATAGRAM_LIMIT: usize = 4 * 1024 * 1024;

/// Bytes the kernel reserves in a socket's send buffer (`sk_sndbuf - 32`).
const SNDBUF_OVERHEAD: usize = 32;

/// Longest wait between two attempts when the receiver's queue is full and
/// the kernel gives no wake-up for it.
const MAX_BACKOFF: Duration = Duration::from_millis(5);

pub(crate) use super::socket_file::FileId;
use super::socket_file::{self, socket_is_live};

/// Binds a datagram server socket at `path` under the socket-file rules
/// (see [`socket_file::bind_with`]).
pub(crate) fn bind_server_socket(path: &Path, mode: u32) -> io::Result<(StdUnixDatagram, FileId)> {
    socket_file::bind_with(path, mode, |p| StdUnixDatagram::bind(p))
}

/// Enlarges the send buffer towards `wanted` bytes and returns the largest
/// datagram the socket can now send.
pub(crate) fn size_send_buffer(socket: &impl AsFd, wanted: usize) -> io::Result<usize> {
    // The kernel doubles the value and caps it at net.core.wmem_max; asking
    // for more than it grants is harmless.
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(socket, wanted);
    let granted = rustix::net::sockopt::socket_send_buffer_size(socket)?;
    Ok(granted
        .saturating_sub(SNDBUF_OVERHEAD)
        .min(OS_DATAGRAM_LIMIT))
}

/// Turns on `SO_PASSCRED`, so every datagram comes with its sender's
/// pid/uid/gid.
pub(crate) fn enable_credentials(socket: &impl AsFd) -> io::Result<()> {
    rustix::net::sockopt::set_socket_passcred(socket, true)?;
    Ok(())
}

/// Who sent a datagram, as the kernel says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sender {
    /// Bound to a path: answers can go there.
    Path(PathBuf),
    /// Unbound (or auto-bound to an abstract name): no path to answer to.
    Anonymous,
}

impl Sender {
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Sender::Path(p) => Some(p),
            Sender::Anonymous => None,
        }
    }
}

/// One received datagram's metadata; the bytes are in the caller's buffer.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// The datagram's real size, when larger than the buffer.
    pub truncated_from: Option<usize>,
    pub sender: Sender,
    pub credentials: Option<PeerCredentials>,
}

/// Why a datagram could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Larger than the sending socket can carry.
    TooLarge,
    /// The receiver's queue stayed full until the deadline.
    QueueFull,
    /// Nothing is bound at the target (missing file, or a stale socket).
    NoReceiver(io::Error),
    /// Any other failure.
    Io(io::Error),
}

/// A non-blocking datagram socket registered with the tokio reactor for
/// *readable* events only.
///
/// A socket registered for writability too is woken every time a peer
/// consumes one of its datagrams (the kernel reports the freed send-buffer
/// space), which would cost a spurious wake-up per request on both sides.
/// Nor would that wake-up help an unconnected sender waiting for room in a
/// full receiver's queue: the kernel frees the datagram a failed send
/// allocated, and reports *that* as writability at once, so a waiter
/// would spin. Senders waiting for room are woken through their
/// [`SendQueue`] instead.
pub(crate) struct Socket {
    io: AsyncFd<StdUnixDatagram>,
}

impl Socket {
    /// Registers a socket (which must be non-blocking) with the reactor.
    pub(crate) fn new(socket: StdUnixDatagram) -> io::Result<Socket> {
        Ok(Socket {
            io: register(socket, Interest::READABLE)?,
        })
    }

    /// Receives what is queued, up to one datagram per slot of `batch`,
    /// waiting for one to arrive: as many as the kernel holds now, so a
    /// lone datagram is never held back for others. `received` reads them;
    /// returns how many.
    ///
    /// The batch is shared with [`try_recv_shared`](Self::try_recv_shared):
    /// it is locked only while receiving and while `received` runs, never
    /// across the wait.
    ///
    /// A batch that did not fill every slot emptied the queue, so the
    /// readiness is cleared then without another call to find the queue
    /// empty. (A datagram that arrives meanwhile raises a new event, which
    /// clearing does not lose: readiness observed after this wake-up is
    /// kept. A receive error ends a batch early only together with the
    /// error, which the kernel keeps for the next call; the next datagram
    /// brings it out.)
    pub(crate) async fn recv_shared(
        &self,
        batch: &Mutex<super::batch::RecvBatch>,
        mut received: impl FnMut(&super::batch::RecvBatch),
    ) -> io::Result<usize> {
        loop {
            let mut ready = self.io.readable().await?;
            let mut batch = batch.lock().unwrap_or_else(|p| p.into_inner());
            match ready.try_io(|socket| batch.recv(socket.get_ref())) {
                Ok(Ok(n)) => {
                    if n < batch.slots() {
                        ready.clear_ready();
                    }
                    received(&batch);
                    return Ok(n);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives what is queued now, without waiting, unless someone else
    /// is receiving into `batch` at this moment; `received` reads what
    /// arrived. Returns how many arrived (0 also when nothing was queued,
    /// the batch was busy, or receiving failed: a failure is logged at
    /// debug level, and one that lasts reaches
    /// [`recv_shared`](Self::recv_shared) too).
    ///
    /// The reactor's readiness is left as it is: a waiter woken for a
    /// datagram taken here finds the queue empty and waits again.
    pub(crate) fn try_recv_shared(
        &self,
        batch: &Mutex<super::batch::RecvBatch>,
        received: impl FnOnce(&super::batch::RecvBatch),
    ) -> usize {
        let Ok(mut batch) = batch.try_lock() else {
            return 0;
        };
        match batch.recv(self.io.get_ref()) {
            Ok(n) => {
                received(&batch);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                tracing::debug!(error = %e, "receiving without waiting failed");
                0
            }
        }
    }
}

/// Registers a socket with the reactor for `interest`.
///
/// One of the crate's two places with `unsafe` code (the other is
/// [`super::batch`]); the rest of the crate denies `unsafe_code`.
#[allow(unsafe_code)]
pub(crate) fn register(
    socket: StdUnixDatagram,
    interest: Interest,
) -> io::Result<AsyncFd<StdUnixDatagram>> {
    // SAFETY: a `UnixDatagram` owns its file descriptor: it stays open, and
    // `as_raw_fd` returns that same descriptor, for as long as the `AsyncFd`
    // owns the socket.
    unsafe { AsyncFd::register_with_interest(socket, interest) }.map_err(io::Error::from)
}

impl AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// Sorts a send error: `None` for "no room now, try again".
fn classify(errno: rustix::io::Errno) -> Option<SendError> {
    use rustix::io::Errno;
    match errno {
        Errno::AGAIN | Errno::NOBUFS | Errno::INTR => None,
        Errno::MSGSIZE => Some(SendError::TooLarge),
        Errno::NOENT | Errno::CONNREFUSED | Errno::NOTDIR | Errno::NOTCONN => {
            Some(SendError::NoReceiver(io::Error::from(errno)))
        }
        other => Some(SendError::Io(io::Error::from(other))),
    }
}

fn raw_send(
    socket: &impl AsFd,
    bytes: &[u8],
    target: &SocketAddrUnix,
) -> rustix::io::Result<usize> {
    rustix::net::sendto(
        socket,
        bytes,
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        target,
    )
}

/// One attempt to send without waiting: `Ok(false)` when there is no room now.
pub(crate) fn try_send_to(
    socket: &impl AsFd,
    bytes: &[u8],
    target: &SocketAddrUnix,
) -> Result<bool, SendError> {
    match raw_send(socket, bytes, target) {
        Ok(_) => Ok(true),
        Err(errno) => match classify(errno) {
            None => Ok(false),
            Some(err) => Err(err),
        },
    }
}

/// The senders of one socket waiting for room at one receiver, served in
/// the order they came.
///
/// While anyone waits, a new send does not try its luck first: it queues
/// behind the others. Otherwise the senders that just got their answer
/// would take every slot the receiver frees, and one that found the queue
/// full could wait for a long time (the tail at many requests in flight).
///
/// The kernel tells an unconnected sender nothing when a receiver's queue
/// gets room, so whoever learns that the receiver consumed a datagram (a
/// client, on an answer to one of its requests) calls
/// [`room_freed`](Self::room_freed); a timed retry is the safety net for
/// the rest (a queue full of other senders' datagrams).
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    /// One sender at a time waits for room (the others wait for it).
    turn: tokio::sync::Mutex<()>,
    /// Senders waiting, or waiting for their turn.
    waiting: std::sync::atomic::AtomicUsize,
    /// Wakes the sender whose turn it is.
    room: tokio::sync::Notify,
}

impl SendQueue {
    /// Says the receiver has consumed a datagram: the sender whose turn it
    /// is tries again now.
    pub(crate) fn room_freed(&self) {
        if self.waiting.load(std::sync::atomic::Ordering::Acquire) > 0 {
            self.room.notify_waiters();
        }
    }
}

/// Counts a sender as waiting in a [`SendQueue`] until dropped.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Sends one datagram to `target`, waiting while the receiver's queue (or our
/// own send buffer) is full, until `deadline`; `fallback` is called when a
/// timed retry, not [`SendQueue::room_freed`], found the room.
///
/// `queue` keeps the waiters in order, one at a time trying, so a full
/// queue does not wake a herd and nobody is overtaken. The one whose turn
/// it is tries again on each [`SendQueue::room_freed`], and also after a
/// short, growing backoff.
pub(crate) async fn send_to(
    socket: &Socket,
    queue: &SendQueue,
    bytes: &[u8],
    target: &SocketAddrUnix,
    deadline: Instant,
    fallback: impl Fn(),
) -> Result<(), SendError> {
    use std::sync::atomic::Ordering::{AcqRel, Acquire};
    if queue.waiting.load(Acquire) == 0 && try_send_to(socket, bytes, target)? {
        return Ok(());
    }
    queue.waiting.fetch_add(1, AcqRel);
    let _waiting = Waiting(&queue.waiting);
    let _turn = match tokio::time::timeout_at(deadline, queue.turn.lock()).await {
        Ok(guard) => guard,
        Err(_) => return Err(SendError::QueueFull),
    };
    let mut backoff = Duration::from_micros(200);
    let mut timed_out = false;
    loop {
        // Listening before trying, so that room freed in between is not missed.
        let freed = queue.room.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        if try_send_to(socket, bytes, target)? {
            if timed_out {
                fallback();
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(SendError::QueueFull);
        }
        let wake = (Instant::now() + backoff).min(deadline);
        tokio::select! {
            biased;
            () = &mut freed => timed_out = false,
            () = tokio::time::sleep_until(wake) => {
                // No word came: the queue may be full of others' datagrams.
                timed_out = true;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// How long a sender waiting for room on a connected socket waits for its
/// wake-up before it tries again anyway (a safety net: the kernel wakes a
/// connected sender when its receiver reads).
const CONNECTED_FALLBACK: Duration = Duration::from_millis(50);

/// A datagram socket connected to one receiver: every send goes to the
/// socket `connect` reached, whatever later happens to the path.
#[derive(Debug)]
pub(crate) struct Connected {
    socket: StdUnixDatagram,
    /// The largest datagram the send buffer takes now.
    max_send: std::sync::atomic::AtomicUsize,
}

impl Connected {
    /// Connects a new, unbound, non-blocking socket to `path` (following
    /// symlinks, as `connect` does).
    pub(crate) fn connect(path: &Path) -> Result<Connected, SendError> {
        let socket = StdUnixDatagram::unbound().map_err(SendError::Io)?;
        socket.set_nonblocking(true).map_err(SendError::Io)?;
        if let Err(e) = socket.connect(path) {
            return Err(
                match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
                    Some(errno) => classify(errno).unwrap_or(SendError::QueueFull),
                    None => SendError::Io(e),
                },
            );
        }
        let granted = rustix::net::sockopt::socket_send_buffer_size(&socket)
            .map_err(|e| SendError::Io(e.into()))?;
        let max_send = granted
            .saturating_sub(SNDBUF_OVERHEAD)
            .min(OS_DATAGRAM_LIMIT);
        Ok(Connected {
            socket,
            max_send: max_send.into(),
        })
    }

    /// The address the connected receiver is bound to, as the kernel holds
    /// it (fixed when the receiver bound it: a later rename, link or
    /// symlink does not change it); `None` if it has no path.
    pub(crate) fn peer_path(&self) -> io::Result<Option<Vec<u8>>> {
        let addr = rustix::net::getpeername(&self.socket)?;
        Ok(addr
            .and_then(|addr| SocketAddrUnix::try_from(addr).ok())
            .and_then(|unix| unix.path_bytes().map(<[u8]>::to_vec))
            .filter(|p| !p.is_empty()))
    }

    /// Grows the send buffer so that a datagram of `len` bytes fits, up to
    /// `limit`; a connection starts with the system's default buffer.
    fn make_room_for(&self, len: usize, limit: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        if len > self.max_send.load(Relaxed) {
            let wanted = (len + SNDBUF_OVERHEAD).min(limit + SNDBUF_OVERHEAD);
            if let Ok(max) = size_send_buffer(&self.socket, wanted) {
                self.max_send.store(max, Relaxed);
            }
        }
    }

    /// One attempt to send without waiting: `Ok(false)` when there is no
    /// room now. `limit` is the largest datagram the server sends.
    pub(crate) fn try_send(&self, bytes: &[u8], limit: usize) -> Result<bool, SendError> {
        self.make_room_for(bytes.len(), limit);
        match rustix::net::send(
            &self.socket,
            bytes,
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        ) {
            Ok(_) => Ok(true),
            Err(errno) => match classify(errno) {
                None => Ok(false),
                Some(err) => Err(err),
            },
        }
    }

    /// Sends several datagrams with one system call (`sendmmsg`), in order,
    /// without waiting: how many went out before the receiver's queue (or
    /// our send buffer) was full, or the error of the first. `limit` is the
    /// largest datagram the server sends.
    pub(crate) fn try_send_many(
        &self,
        datagrams: &[&[u8]],
        limit: usize,
    ) -> Result<usize, SendError> {
        use rustix::net::{MMsgHdr, SendAncillaryBuffer};
        let Some(largest) = datagrams.iter().map(|d| d.len()).max() else {
            return Ok(0);
        };
        self.make_room_for(largest, limit);
        let iovs: Vec<io::IoSlice<'_>> = datagrams.iter().map(|d| io::IoSlice::new(d)).collect();
        let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = datagrams
            .iter()
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut msgs: Vec<MMsgHdr<'_>> = iovs
            .iter()
            .zip(controls.iter_mut())
            .map(|(iov, control)| MMsgHdr::new(std::slice::from_ref(iov), control))
            .collect();
        match rustix::net::sendmmsg(
            &self.socket,
            &mut msgs,
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        ) {
            Ok(sent) => Ok(sent),
            Err(errno) => match classify(errno) {
                None => Ok(0),
                Some(err) => Err(err),
            },
        }
    }

    /// Sends, waiting until `deadline` while the receiver's queue is full.
    /// The kernel wakes a connected sender when its receiver reads; the
    /// timer behind it is a safety net, and `fallback` is called when the
    /// timer, not a wake-up, found the room.
    pub(crate) async fn send(
        &self,
        bytes: &[u8],
        limit: usize,
        deadline: Instant,
        fallback: impl Fn(),
    ) -> Result<(), SendError> {
        if self.try_send(bytes, limit)? {
            return Ok(());
        }
        let dup = self.socket.try_clone().map_err(SendError::Io)?;
        let watch = register(dup, Interest::WRITABLE).map_err(SendError::Io)?;
        loop {
            if Instant::now() >= deadline {
                return Err(SendError::QueueFull);
            }
            let wake = (Instant::now() + CONNECTED_FALLBACK).min(deadline);
            tokio::select! {
                ready = watch.writable() => {
                    let mut ready = ready.map_err(SendError::Io)?;
                    let mut failure = None;
                    let attempt = ready.try_io(|_| match self.try_send(bytes, limit) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err(io::Error::from(rustix::io::Errno::AGAIN)),
                        Err(e) => {
                            failure = Some(e);
                            Err(io::Error::from(rustix::io::Errno::AGAIN))
                        }
                    });
                    if let Ok(Ok(())) = attempt {
                        return Ok(());
                    }
                    if let Some(err) = failure {
                        return Err(err);
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if self.try_send(bytes, limit)? {
                        // There was room, and no wake-up said so.
                        fallback();
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Checks a `reply_to` socket that the sender did not prove it owns (the
/// sender has no bound path): it must be a socket — not a symlink, not a
/// regular file — and, when the sender's uid is known, owned by that uid.
pub(crate) fn check_unverified_reply_socket(
    path: &Path,
    sender_uid: Option<u32>,
) -> Result<(), UnverifiedReply> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Err(UnverifiedReply::Missing),
    };
    if !meta.file_type().is_socket() {
        return Err(UnverifiedReply::NotASocket);
    }
    if let Some(uid) = sender_uid
        && meta.uid() != uid
    {
        return Err(UnverifiedReply::OwnerMismatch {
            owner: meta.uid(),
            sender: uid,
        });
    }
    Ok(())
}

/// Why an unverified `reply_to` is not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnverifiedReply {
    Missing,
    NotASocket,
    OwnerMismatch { owner: u32, sender: u32 },
}

/// Creates the datagram socket a client receives its answers on: bound in
/// `dir` under an unpredictable name (pid + 128 random bits), mode 0600.
///
/// The first time a process binds in a directory, it also removes reply
/// sockets that processes killed before they could clean up left there
/// (see [`sweep_stale_reply_sockets`]).
pub(crate) fn bind_reply_socket(dir: &Path) -> io::Result<(StdUnixDatagram, PathBuf)> {
    static SWEPT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        if !swept.iter().any(|d| d == dir) {
            swept.push(dir.to_owned());
            let removed = sweep_stale_reply_sockets(dir);
            if removed > 0 {
                tracing::info!(dir = %dir.display(), removed, "removed reply sockets left by dead processes");
            }
        }
    }
    let name = format!(
        "janus-{}-{}.sock",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let path = dir.join(name);
    let socket = StdUnixDatagram::bind(&path)?;
    if let Err(e) = fs::set_permissions(&path, fs::Permissions::from_mode(0o600)) {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    Ok((socket, path))
}

/// Removes, from `dir`, the reply sockets of client processes that no
/// longer exist (a process killed by a signal runs no destructors). A file
/// is removed only if its name is a client reply socket's
/// (`janus-<pid>-<32 hex digits>.sock`), it is a socket owned by our uid,
/// process `<pid>` does not exist, and nothing is bound to it any more.
/// Returns how many were removed.
pub(crate) fn sweep_stale_reply_sockets(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let me = rustix::process::getuid().as_raw();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(reply_socket_pid) else {
            continue;
        };
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_socket() || meta.uid() != me {
            continue;
        }
        let dead = rustix::process::Pid::from_raw(pid).is_some_and(|pid| {
            rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
        });
        if dead && matches!(socket_is_live(&path), Ok(false)) && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in a client reply socket's name, `janus-<pid>-<32 hex>.sock`.
fn reply_socket_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("janus-")?.strip_suffix(".sock")?;
    let (pid, random) = rest.split_once('-')?;
    let hex = random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (hex && digits).then(|| pid.parse().ok()).flatten()
}

/// The address of a socket path, for sending.
pub(crate) fn socket_addr(path: &Path) -> io::Result<SocketAddrUnix> {
    SocketAddrUnix::new(path).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::socket_file::remove_own_socket;

    #[test]
    fn bind_refuses_live_server_and_regular_file_but_replaces_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");

        let (live, _) = bind_server_socket(&path, 0o600).unwrap();
        let err = bind_server_socket(&path, 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(live); // the file stays: now stale
        assert!(path.exists());
        let (_again, _) = bind_server_socket(&path, 0o600).unwrap();

        let file = dir.path().join("plain");
        fs::write(&file, b"keep me").unwrap();
        let err = bind_server_socket(&file, 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&file).unwrap(), b"keep me");
    }

    #[test]
    fn bind_sets_mode_and_remove_only_removes_our_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let (sock, id) = bind_server_socket(&path, 0o600).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(sock);
        // Someone else's socket now lives at the path: we must not remove it.
        fs::remove_file(&path).unwrap();
        let (_other, other_id) = bind_server_socket(&path, 0o600).unwrap();
        assert_ne!(id, other_id);
        remove_own_socket(&path, id);
        assert!(path.exists());
        remove_own_socket(&path, other_id);
        assert!(!path.exists());
    }

    #[test]
    fn our_socket_is_removed_even_after_its_mode_and_owner_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let (_sock, id) = bind_server_socket(&path, 0o600).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let uid = rustix::process::getuid();
        rustix::fs::chown(&path, Some(uid), None).unwrap();
        remove_own_socket(&path, id);
        assert!(
            !path.exists(),
            "a chmod does not make our socket someone else's"
        );
    }

    #[test]
    fn receives_sender_path_credentials_and_truncation_in_batches() {
        use crate::transport::batch::RecvBatch;
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = bind_server_socket(&dir.path().join("s.sock"), 0o600).unwrap();
        enable_credentials(&server).unwrap();
        let client_path = dir.path().join("c.sock");
        let client = StdUnixDatagram::bind(&client_path).unwrap();
        client.send_to(b"hello", dir.path().join("s.sock")).unwrap();
        // An unbound sender is anonymous (the kernel auto-binds it to an abstract name).
        let anon = StdUnixDatagram::unbound().unwrap();
        anon.send_to(b"hi", dir.path().join("s.sock")).unwrap();
        client.send_to(b"third", dir.path().join("s.sock")).unwrap();

        // Two slots: two datagrams per call, in order; the third waits.
        let mut batch = RecvBatch::new(2, 4);
        assert_eq!(batch.recv(&server).unwrap(), 2);
        let got: Vec<_> = batch.iter().collect();
        let (bytes, first) = got[0];
        assert_eq!(bytes, b"hell");
        assert_eq!((first.len, first.truncated_from), (4, Some(5)));
        assert_eq!(first.sender, Sender::Path(client_path.clone()));
        let creds = first.credentials.unwrap();
        assert_eq!(creds.pid as u32, std::process::id());
        assert_eq!(creds.uid, rustix::process::getuid().as_raw());
        let (bytes, second) = got[1];
        assert_eq!(bytes, b"hi");
        assert_eq!(second.truncated_from, None);
        assert_eq!(second.sender, Sender::Anonymous);
        assert!(second.credentials.is_some());

        assert_eq!(batch.recv(&server).unwrap(), 1);
        let (bytes, third) = batch.iter().next().unwrap();
        assert_eq!((bytes, third.truncated_from), (&b"thir"[..], Some(5)));
        let err = batch.recv(&server).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(batch.iter().count(), 0);
    }

    #[test]
    fn descriptors_a_sender_attaches_are_closed() {
        use crate::transport::batch::RecvBatch;
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage};
        use std::io::Read;
        use std::mem::MaybeUninit;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let (server, _) = bind_server_socket(&path, 0o600).unwrap();
        enable_credentials(&server).unwrap();
        let (mut reader, writer) = std::io::pipe().unwrap();
        let client = StdUnixDatagram::unbound().unwrap();
        let fds = [writer.as_fd()];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        rustix::net::sendmsg_addr(
            &client,
            &socket_addr(&path).unwrap(),
            &[io::IoSlice::new(b"{}")],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        drop(writer);
        let mut batch = RecvBatch::new(4, 64);
        assert_eq!(batch.recv(&server).unwrap(), 1);
        // Our copy of the write end is closed: the pipe reads as ended
        // (while a copy is open, the read fails with WouldBlock).
        rustix::io::ioctl_fionbio(&reader, true).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(reader.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn reply_socket_names_are_unpredictable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let (_a, pa) = bind_reply_socket(dir.path()).unwrap();
        let (_b, pb) = bind_reply_socket(dir.path()).unwrap();
        assert_ne!(pa, pb);
        let name = pa.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(&format!("janus-{}-", std::process::id())));
        assert_eq!(
            name.len(),
            "janus--.sock".len() + std::process::id().to_string().len() + 32
        );
        assert_eq!(
            fs::metadata(&pa).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn reply_socket_names_carry_the_pid() {
        assert_eq!(
            reply_socket_pid("janus-42-0123456789abcdef0123456789abcdef.sock"),
            Some(42)
        );
        assert_eq!(reply_socket_pid("janus-42-0123.sock"), None);
        assert_eq!(
            reply_socket_pid("janus-x-0123456789abcdef0123456789abcdef.sock"),
            None
        );
        assert_eq!(reply_socket_pid("server.sock"), None);
    }

    #[test]
    fn sweeping_removes_only_stale_sockets_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its pid names no process now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let hex = "0123456789abcdef0123456789abcdef";
        let stale = dir.path().join(format!("janus-{dead}-{hex}.sock"));
        drop(StdUnixDatagram::bind(&stale).unwrap());
        // Ours, still bound; another process's (ours, alive); a regular file.
        let live = dir
            .path()
            .join(format!("janus-{dead}-{}.sock", "f".repeat(32)));
        let _bound = StdUnixDatagram::bind(&live).unwrap();
        let alive = dir
            .path()
            .join(format!("janus-{}-{hex}.sock", std::process::id()));
        drop(StdUnixDatagram::bind(&alive).unwrap());
        let file = dir
            .path()
            .join(format!("janus-{dead}-{}.sock", "e".repeat(32)));
        fs::write(&file, b"").unwrap();
        let other = dir.path().join("server.sock");
        drop(StdUnixDatagram::bind(&other).unwrap());

        assert_eq!(sweep_stale_reply_sockets(dir.path()), 1);
        assert!(!stale.exists());
        assert!(live.exists() && alive.exists() && file.exists() && other.exists());
    }

    #[test]
    fn unverified_reply_sockets_must_be_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let me = rustix::process::getuid().as_raw();
        let missing = dir.path().join("none.sock");
        assert_eq!(
            check_unverified_reply_socket(&missing, Some(me)),
            Err(UnverifiedReply::Missing)
        );
        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        assert_eq!(
            check_unverified_reply_socket(&file, Some(me)),
            Err(UnverifiedReply::NotASocket)
        );
        let sock_path = dir.path().join("r.sock");
        let _sock = StdUnixDatagram::bind(&sock_path).unwrap();
        assert_eq!(check_unverified_reply_socket(&sock_path, Some(me)), Ok(()));
        assert_eq!(
            check_unverified_reply_socket(&sock_path, Some(me + 1)),
            Err(UnverifiedReply::OwnerMismatch {
                owner: me,
                sender: me + 1
            })
        );
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&sock_path, &link).unwrap();
        assert_eq!(
            check_unverified_reply_socket(&link, Some(me)),
            Err(UnverifiedReply::NotASocket)
        );
    }

    #[tokio::test]
    async fn send_waits_for_room_in_a_full_queue() {
        let dir = tempfile::tempdir().unwrap();
        let rx_path = dir.path().join("rx.sock");
        let rx = StdUnixDatagram::bind(&rx_path).unwrap();
        let tx = StdUnixDatagram::unbound().unwrap();
        tx.set_nonblocking(true).unwrap();
        let tx = Socket::new(tx).unwrap();
        let gate = SendQueue::default();
        let addr = socket_addr(&rx_path).unwrap();
        // Fill the receiver's queue (net.unix.max_dgram_qlen datagrams).
        let mut queued = 0;
        while rustix::net::sendto(&tx, b"x", SendFlags::DONTWAIT, &addr).is_ok() {
            queued += 1;
            assert!(queued < 100_000, "queue never filled");
        }
        // With no reader, the send gives up at its deadline.
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(matches!(
            send_to(&tx, &gate, b"late", &addr, soon, || {}).await,
            Err(SendError::QueueFull)
        ));
        // With a reader draining the queue, the send gets through.
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            let mut got = Vec::new();
            for _ in 0..=queued {
                let n = rx.recv(&mut buf).unwrap();
                got.push(buf[..n].to_vec());
            }
            got
        });
        let later = Instant::now() + Duration::from_secs(10);
        send_to(&tx, &gate, b"last", &addr, later, || {})
            .await
            .unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.last().unwrap(), b"last");
    }

    #[tokio::test]
    async fn send_reports_missing_receivers_and_oversized_datagrams() {
        let dir = tempfile::tempdir().unwrap();
        let tx = StdUnixDatagram::unbound().unwrap();
        tx.set_nonblocking(true).unwrap();
        let limit = size_send_buffer(&tx, 1 << 16).unwrap();
        let tx = Socket::new(tx).unwrap();
        let gate = SendQueue::default();
        let deadline = Instant::now() + Duration::from_secs(1);
        let missing = socket_addr(&dir.path().join("none.sock")).unwrap();
        assert!(matches!(
            send_to(&tx, &gate, b"x", &missing, deadline, || {}).await,
            Err(SendError::NoReceiver(_))
        ));
        let rx_path = dir.path().join("rx.sock");
        let _rx = StdUnixDatagram::bind(&rx_path).unwrap();
        let addr = socket_addr(&rx_path).unwrap();
        let big = vec![b'x'; limit + 1];
        assert!(matches!(
            send_to(&tx, &gate, &big, &addr, deadline, || {}).await,
            Err(SendError::TooLarge)
        ));
    }
}
