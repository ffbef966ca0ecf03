//! Stopping a server when the process is asked to stop: SIGINT (Ctrl-C),
//! SIGTERM (`kill`, service managers) or SIGHUP (the terminal went away).
//!
//! [`Server::serve_until_signal`] is what a server binary's `main` needs:
//! it serves until one of those signals arrives, then shuts down gracefully
//! (answers in flight are still sent) and removes its socket file. A program
//! that wants to do more on the same signals uses [`shutdown_signal`] with
//! [`Server::serve_with_shutdown`] or its own `select!`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::Server;

/// The signals that ask a process to stop.
const STOP_SIGNALS: [SignalKind; 3] = [
    SignalKind::interrupt(),
    SignalKind::terminate(),
    SignalKind::hangup(),
];

/// A future that completes when the process receives SIGINT, SIGTERM or
/// SIGHUP. Made by [`shutdown_signal`].
///
/// The handlers are installed when it is made, not when it is first polled:
/// a signal that arrives in between is not lost and does not kill the
/// process with the default action.
#[derive(Debug)]
#[must_use = "a shutdown signal does nothing unless awaited"]
pub struct ShutdownSignal {
    signals: Vec<Signal>,
}

/// Installs handlers for SIGINT, SIGTERM and SIGHUP and returns a future that
/// completes when any of them arrives. Must be called within a Tokio runtime.
///
/// ```no_run
/// # async fn run(server: janus_runtime::Server) -> std::io::Result<()> {
/// let stop = janus_runtime::shutdown_signal()?;
/// println!("listening"); // a signal from now on stops the server gracefully
/// server.serve_with_shutdown(stop).await
/// # }
/// ```
pub fn shutdown_signal() -> io::Result<ShutdownSignal> {
    let signals = STOP_SIGNALS
        .into_iter()
        .map(signal)
        .collect::<io::Result<Vec<_>>>()?;
    Ok(ShutdownSignal { signals })
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Poll every signal, so each one registers its waker.
        let mut arrived = false;
        for s in &mut self.signals {
            arrived |= s.poll_recv(cx).is_ready();
        }
        if arrived {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Server {
    /// Serves until the process receives SIGINT, SIGTERM or SIGHUP, then
    /// shuts down gracefully and removes the socket file (see
    /// [`serve_with_shutdown`](Self::serve_with_shutdown) and
    /// [`shutdown_signal`]).
    ///
    /// The signal handlers are installed before this returns its future, so
    /// a process may print "listening" right after calling it.
    pub fn serve_until_signal(self) -> io::Result<impl Future<Output = io::Result<()>>> {
        let stop = shutdown_signal()?;
        Ok(self.serve_with_shutdown(stop))
    }
}
