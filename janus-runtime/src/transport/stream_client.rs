//! The client side of the stream transport: one connection to a server's
//! `SOCK_STREAM` socket, framed messages written to it and read from it.
//!
//! This layer moves frames; it knows nothing of requests. A [`Connection`]
//! hands each payload it reads to a sink, and reports once, when it closes,
//! why. Writing never blocks the caller: a frame is written straight from
//! the caller when the connection is idle (one `writev`, no task hop), and
//! whatever the socket does not take at once is queued and written by the
//! connection's writer task, which also flushes, in one `writev`, every frame
//! queued meanwhile by other callers. A frame once accepted is always written
//! whole, whatever happens to the caller's future, so the stream never
//! carries half a frame followed by another.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::transport::stream_frame::{self as frame, FrameError, HEADER_LEN};

/// Frames gathered into one `writev` by the writer task, at most.
const MAX_IOVECS: usize = 64;

/// Bytes the reader asks the kernel for at least, per read.
const READ_CHUNK: usize = 64 * 1024;

/// Connects to the stream socket at `path`, within `timeout`.
///
/// The kernel's error is returned as it is, so that a caller can tell a
/// datagram socket at `path` ([`is_wrong_type`]) from no server at all.
pub(crate) async fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    match tokio::time::timeout(timeout, UnixStream::connect(path)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting took longer than {timeout:?}"),
        )),
    }
}

/// Whether a connect failed because the socket at the path is not a stream
/// socket (`EPROTOTYPE`).
pub(crate) fn is_wrong_type(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::PROTOTYPE.raw_os_error())
}

/// Bytes a caller leaves at the front of a message for [`Connection::send`]
/// to write the frame header into.
pub(crate) const HEADROOM: usize = HEADER_LEN;

/// Why a connection closed, as told to its close handler.
pub(crate) type CloseReason = io::Error;

type CloseHandler = Box<dyn FnOnce(&CloseReason) + Send>;

/// One open connection. Dropping it does not close the socket while its
/// tasks run; [`Connection::close`] does.
pub(crate) struct Connection {
    writer: OwnedWriteHalf,
    outbox: Mutex<Outbox>,
    wake_writer: Notify,
    closed: AtomicBool,
    max_frame: usize,
    on_close: Mutex<Option<CloseHandler>>,
    tasks: Mutex<Vec<AbortHandle>>,
}

#[derive(Default)]
struct Outbox {
    /// Bytes accepted but not yet written, in order.
    chunks: VecDeque<Bytes>,
    /// Someone (a caller writing directly, or the writer task) is writing:
    /// new frames must queue behind it.
    busy: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts reading and writing `stream`: each payload read goes to
    /// `sink`; `on_close` is called once, when the connection closes for any
    /// reason (peer gone, I/O error, a frame breaking the rules, or
    /// [`close`](Self::close)). Frames above `max_frame` are refused both
    /// ways.
    pub(crate) fn start(
        stream: UnixStream,
        max_frame: usize,
        sink: impl FnMut(Bytes) + Send + 'static,
        on_close: impl FnOnce(&CloseReason) + Send + 'static,
    ) -> Arc<Connection> {
        let (reader, writer) = stream.into_split();
        let conn = Arc::new(Connection {
            writer,
            outbox: Mutex::new(Outbox::default()),
            wake_writer: Notify::new(),
            closed: AtomicBool::new(false),
            max_frame,
            on_close: Mutex::new(Some(Box::new(on_close))),
            tasks: Mutex::new(Vec::new()),
        });
        let read = tokio::spawn(read_frames(conn.clone(), reader, sink));
        let write = tokio::spawn(write_queued(conn.clone()));
        lock(&conn.tasks).extend([read.abort_handle(), write.abort_handle()]);
        conn
    }

    /// Whether the connection is closed (nothing more will be read or written).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the connection: its tasks stop, the socket is closed, the
    /// close handler runs (if it has not already).
    pub(crate) fn close(&self) {
        self.fail(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the client closed the connection",
        ));
    }

    /// Marks the connection closed, tells the handler why (once), stops the tasks.
    fn fail(&self, reason: CloseReason) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(handler) = lock(&self.on_close).take() {
            handler(&reason);
        }
        lock(&self.outbox).chunks.clear();
        // The socket closes now, whoever still holds the connection; the
        // server sees the end of the stream.
        let _ = rustix::net::shutdown(
            AsRef::<UnixStream>::as_ref(&self.writer),
            rustix::net::Shutdown::Both,
        );
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    /// Writes `message[HEADROOM..]` as one frame; `message[..HEADROOM]` is
    /// overwritten with the frame's header. Returns once the frame is written
    /// or queued to be.
    pub(crate) fn send(&self, mut message: Vec<u8>) -> Result<(), SendFailure> {
        let header = frame::header(message.len().saturating_sub(HEADROOM), self.max_frame)
            .map_err(|_| SendFailure::Frame)?;
        message[..HEADROOM].copy_from_slice(&header);
        if self.is_closed() {
            return Err(SendFailure::NotSent(message, closed()));
        }
        {
            let mut outbox = lock(&self.outbox);
            if outbox.busy {
                outbox.chunks.push_back(Bytes::from(message));
                return Ok(());
            }
            outbox.busy = true;
        }
        // Idle: write from here, without waking the writer task.
        let written = match self.writer.try_write(&message) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                let reason = io::Error::new(e.kind(), e.to_string());
                self.fail(e);
                return Err(SendFailure::NotSent(message, reason));
            }
        };
        let mut outbox = lock(&self.outbox);
        if written < message.len() {
            let mut rest = Bytes::from(message);
            rest.advance(written);
            outbox.chunks.push_front(rest);
        }
        if outbox.chunks.is_empty() {
            outbox.busy = false;
        } else {
            // Still busy: the writer task takes over.
            drop(outbox);
            self.wake_writer.notify_one();
        }
        Ok(())
    }
}

/// Why [`Connection::send`] did not take a frame.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// The frame is empty or too large; nothing was sent.
    Frame,
    /// The connection is closed and no byte of the frame was written: the
    /// message is handed back, to be sent on another connection.
    NotSent(Vec<u8>, io::Error),
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here can panic while holding a lock in a way that breaks the data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer task: whenever woken, writes everything queued, in order,
/// until the queue is empty.
async fn write_queued(conn: Arc<Connection>) {
    let mut batch: Vec<Bytes> = Vec::new();
    loop {
        conn.wake_writer.notified().await;
        loop {
            {
                let mut outbox = lock(&conn.outbox);
                if batch.is_empty() {
                    if outbox.chunks.is_empty() {
                        outbox.busy = false;
                        break;
                    }
                    let take = outbox.chunks.len().min(MAX_IOVECS);
                    batch.extend(outbox.chunks.drain(..take));
                }
            }
            if let Err(e) = write_some(&conn.writer, &mut batch).await {
                conn.fail(e);
                return;
            }
        }
    }
}

/// Writes some of `batch` (one `writev` when the socket has room), dropping
/// what was written from its front.
async fn write_some(writer: &OwnedWriteHalf, batch: &mut Vec<Bytes>) -> io::Result<()> {
    loop {
        let slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        match writer.try_write_vectored(&slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(mut n) => {
                let mut done = 0;
                for chunk in batch.iter_mut() {
                    if n >= chunk.len() {
                        n -= chunk.len();
                        done += 1;
                    } else {
                        chunk.advance(n);
                        break;
                    }
                }
                batch.drain(..done);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writer.writable().await?,
            Err(e) => return Err(e),
        }
    }
}

/// The reader task: reads frames and hands each payload to `sink`, until the
/// peer closes, reading fails or a frame breaks the rules.
async fn read_frames(
    conn: Arc<Connection>,
    mut reader: tokio::net::unix::OwnedReadHalf,
    mut sink: impl FnMut(Bytes),
) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let reason = loop {
        loop {
            match frame::decode(&mut buf, conn.max_frame) {
                Ok(Some(payload)) => sink(payload),
                Ok(None) => break,
                Err(e) => {
                    let kind = match &e {
                        FrameError::Io(io) => io.kind(),
                        _ => io::ErrorKind::InvalidData,
                    };
                    // The stream cannot be resynchronised after a bad length.
                    return conn.fail(io::Error::new(kind, e.to_string()));
                }
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match reader.read_buf(&mut buf).await {
            Ok(0) if buf.is_empty() => {
                break io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                );
            }
            Ok(0) => {
                break io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the server closed the connection in the middle of a frame ({} bytes of it arrived)",
                        buf.len()
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    conn.fail(reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio_util::codec::{FramedRead, FramedWrite};

    fn message(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![0; HEADROOM];
        m.extend_from_slice(payload);
        m
    }

    #[tokio::test]
    async fn frames_go_out_whole_and_in_order_under_back_pressure() {
        let (a, b) = UnixStream::pair().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let conn = Connection::start(
            a,
            1 << 24,
            |_| {},
            move |why| {
                let _ = tx.send(why.kind());
            },
        );
        // Far more than the socket buffer holds: most of it is queued.
        let sizes = [3_000_000, 10, 700_000, 1, 2_000_000];
        for (i, size) in sizes.iter().enumerate() {
            conn.send(message(&vec![b'a' + i as u8; *size])).unwrap();
        }
        let mut frames = FramedRead::new(b, frame::FrameCodec::new(1 << 24));
        for (i, size) in sizes.iter().enumerate() {
            let f = frames.next().await.unwrap().unwrap();
            assert_eq!(f.len(), *size);
            assert!(f.iter().all(|&c| c == b'a' + i as u8));
        }
        conn.close();
        assert_eq!(rx.recv().await, Some(io::ErrorKind::ConnectionAborted));
        assert!(conn.send(message(b"{}")).is_err());
        assert!(frames.next().await.is_none(), "the socket is closed");
    }

    #[tokio::test]
    async fn the_peer_closing_is_reported_once_and_frames_are_delivered() {
        use futures_util::SinkExt;
        let (a, b) = UnixStream::pair().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let closes = tx.clone();
        let _conn = Connection::start(
            a,
            100,
            move |f| {
                let _ = tx.send(Ok(f));
            },
            move |why| {
                let _ = closes.send(Err(why.kind()));
            },
        );
        let mut peer = FramedWrite::new(b, frame::FrameCodec::new(100));
        peer.send(b"{\"a\":1}").await.unwrap();
        assert_eq!(rx.recv().await.unwrap().unwrap(), &b"{\"a\":1}"[..]);
        drop(peer);
        assert_eq!(
            rx.recv().await.unwrap().unwrap_err(),
            io::ErrorKind::UnexpectedEof
        );
        assert!(rx.recv().await.is_none(), "reported once; the tasks ended");
    }

    #[tokio::test]
    async fn a_bad_length_from_the_peer_closes_the_connection() {
        use tokio::io::AsyncWriteExt;
        let (a, mut b) = UnixStream::pair().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _conn = Connection::start(
            a,
            100,
            |_| {},
            move |why| {
                let _ = tx.send(why.to_string());
            },
        );
        b.write_all(&1000u32.to_be_bytes()).await.unwrap();
        let why = rx.recv().await.unwrap();
        assert!(why.contains("exceeds the maximum of 100"), "{why}");
    }

    #[tokio::test]
    async fn a_datagram_socket_is_told_apart_from_no_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let _d = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let e = connect(&path, Duration::from_secs(1)).await.unwrap_err();
        assert!(is_wrong_type(&e), "{e}");
        let e = connect(&dir.path().join("none.sock"), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
