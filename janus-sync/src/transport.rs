//! Addresses and streams: TCP and Unix stream sockets behind one type, so
//! the server and the client run the same code over both.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A listen or connect address: `HOST:PORT` or `unix:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAddr {
    /// A TCP address (`HOST:PORT`, resolved when used).
    Tcp(String),
    /// A Unix stream socket path.
    Unix(PathBuf),
}

impl fmt::Display for SyncAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncAddr::Tcp(a) => f.write_str(a),
            SyncAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// An address that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[error("bad address '{0}': expected HOST:PORT or unix:/path")]
pub struct AddrError(String);

impl FromStr for SyncAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<SyncAddr, AddrError> {
        if let Some(p) = s.strip_prefix("unix:") {
            if p.is_empty() {
                return Err(AddrError(s.into()));
            }
            return Ok(SyncAddr::Unix(PathBuf::from(p)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(SyncAddr::Tcp(s.to_string()))
            }
            _ => Err(AddrError(s.into())),
        }
    }
}

/// A connected stream of either kind.
#[derive(Debug)]
pub enum SyncStream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix stream socket.
    Unix(UnixStream),
}

impl SyncStream {
    /// Connects to `addr`.
    pub async fn connect(addr: &SyncAddr) -> io::Result<SyncStream> {
        Ok(match addr {
            SyncAddr::Tcp(a) => {
                let s = TcpStream::connect(a.as_str()).await?;
                s.set_nodelay(true)?;
                SyncStream::Tcp(s)
            }
            SyncAddr::Unix(p) => SyncStream::Unix(UnixStream::connect(p).await?),
        })
    }
}

impl AsyncRead for SyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            SyncStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SyncStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            SyncStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            SyncStream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SyncStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            SyncStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A bound listener of either kind.
#[derive(Debug)]
pub(crate) enum SyncListener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl SyncListener {
    pub(crate) async fn bind(addr: &SyncAddr) -> io::Result<SyncListener> {
        Ok(match addr {
            SyncAddr::Tcp(a) => SyncListener::Tcp(TcpListener::bind(a.as_str()).await?),
            SyncAddr::Unix(p) => SyncListener::Unix(UnixListener::bind(p)?, p.clone()),
        })
    }

    /// The address actually bound (with the real port for `:0`).
    pub(crate) fn local_addr(&self) -> io::Result<SyncAddr> {
        Ok(match self {
            SyncListener::Tcp(l) => SyncAddr::Tcp(l.local_addr()?.to_string()),
            SyncListener::Unix(_, p) => SyncAddr::Unix(p.clone()),
        })
    }

    pub(crate) async fn accept(&self) -> io::Result<(SyncStream, String)> {
        Ok(match self {
            SyncListener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                s.set_nodelay(true)?;
                (SyncStream::Tcp(s), peer.to_string())
            }
            SyncListener::Unix(l, p) => {
                let (s, _) = l.accept().await?;
                (SyncStream::Unix(s), format!("unix:{}", p.display()))
            }
        })
    }
}

impl Drop for SyncListener {
    fn drop(&mut self) {
        if let SyncListener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            "127.0.0.1:7000".parse::<SyncAddr>().unwrap(),
            SyncAddr::Tcp("127.0.0.1:7000".into())
        );
        assert_eq!(
            "unix:/tmp/s".parse::<SyncAddr>().unwrap(),
            SyncAddr::Unix("/tmp/s".into())
        );
        assert!("unix:".parse::<SyncAddr>().is_err());
        assert!("nohost".parse::<SyncAddr>().is_err());
        assert!("h:99999".parse::<SyncAddr>().is_err());
    }
}
