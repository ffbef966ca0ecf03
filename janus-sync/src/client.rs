//! The client: connect, negotiate, authenticate, then ask.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio_util::codec::Framed;

use crate::PROTOCOL_VERSIONS;
use crate::auth::{KeyError, WorkspaceKey};
use crate::codec::{CodecError, DEFAULT_MAX_BODY, Message, SyncCodec};
use crate::proto::{FileTree, SyncPlan};
use crate::transport::{SyncAddr, SyncStream};

/// What can go wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection cannot be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: SyncAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The bytes from the server break the protocol, or the socket failed.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server sent something else than expected.
    #[error("unexpected {got} from the server (expected {expected})")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// The server shares no protocol version with this client.
    #[error("the server supports none of the versions {0:?}")]
    NoCommonVersion(Vec<i32>),
    /// Authentication was denied.
    #[error("authentication denied: {0}")]
    Denied(String),
    /// An error response.
    #[error("server error {code}: {log}")]
    Server {
        /// The code.
        code: i32,
        /// The error log.
        log: String,
    },
    /// The server's answer does not decode.
    #[error("undecodable answer: {0}")]
    Decode(String),
    /// The key cannot be used.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// An answer of the server is larger than this client accepts.
    #[error(
        "the server's answer has {len} bytes, more than this client's message limit of {max} \
         (raise it with ClientOptions::max_body, `janus sync … --max-body`)"
    )]
    AnswerTooLarge {
        /// The announced length.
        len: u64,
        /// The client's limit.
        max: u64,
    },
}

/// How a [`SyncClient`] connects: `ClientOptions::default().max_body(n).open(…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    max_body: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl ClientOptions {
    /// The largest message body sent or accepted, in bytes: 64 MiB unless
    /// told, clamped to 1 GiB. An answer above it (a file tree or a file
    /// from a server with a larger `--max-body`) fails with
    /// [`ClientError::AnswerTooLarge`].
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes.min(crate::codec::MAX_BODY_CEILING);
        self
    }

    /// Connects to `addr` (no message is sent yet).
    pub async fn connect(&self, addr: &SyncAddr) -> Result<SyncClient, ClientError> {
        let stream = SyncStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.clone(),
                source,
            })?;
        Ok(SyncClient {
            conn: Framed::new(stream, SyncCodec::new(self.max_body)),
        })
    }

    /// Connects, negotiates version 1 and authenticates to `workspace`.
    pub async fn open(
        &self,
        addr: &SyncAddr,
        workspace: &str,
        key: &WorkspaceKey,
    ) -> Result<SyncClient, ClientError> {
        let mut c = self.connect(addr).await?;
        c.hello(PROTOCOL_VERSIONS).await?;
        c.auth(workspace, key).await?;
        Ok(c)
    }
}

/// A connection to a jANu server.
#[derive(Debug)]
pub struct SyncClient {
    conn: Framed<SyncStream, SyncCodec>,
}

impl SyncClient {
    /// Connects to `addr` with the default [`ClientOptions`] (no message
    /// is sent yet).
    pub async fn connect(addr: &SyncAddr) -> Result<SyncClient, ClientError> {
        ClientOptions::default().connect(addr).await
    }

    /// Connects with the default [`ClientOptions`], negotiates version 1
    /// and authenticates to `workspace`.
    pub async fn open(
        addr: &SyncAddr,
        workspace: &str,
        key: &WorkspaceKey,
    ) -> Result<SyncClient, ClientError> {
        ClientOptions::default().open(addr, workspace, key).await
    }

    /// Sends one raw message (for tools and tests of the protocol itself).
    pub async fn send(&mut self, m: Message) -> Result<(), ClientError> {
        Ok(self.conn.send(m).await?)
    }

    /// Receives one raw message.
    pub async fn recv(&mut self) -> Result<Message, ClientError> {
        match self.conn.next().await {
            Some(Err(CodecError::TooLong { len, max })) => {
                Err(ClientError::AnswerTooLarge { len, max })
            }
            Some(r) => Ok(r?),
            None => Err(ClientError::Closed),
        }
    }

    /// Offers `versions`, picks the highest the server supports and sends
    /// it; returns the chosen version.
    pub async fn hello(&mut self, versions: &[i32]) -> Result<i32, ClientError> {
        self.send(Message::Hello(versions.to_vec())).await?;
        let offered = match self.recv().await? {
            Message::Hello(v) => v,
            other => {
                return Err(ClientError::Unexpected {
                    expected: "Hello",
                    got: other.name(),
                });
            }
        };
        let chosen = offered
            .iter()
            .copied()
            .filter(|v| versions.contains(v))
            .max()
            .ok_or_else(|| ClientError::NoCommonVersion(versions.to_vec()))?;
        self.send(Message::Hello(vec![chosen])).await?;
        Ok(chosen)
    }

    /// Authenticates to `workspace` with its key.
    pub async fn auth(&mut self, workspace: &str, key: &WorkspaceKey) -> Result<(), ClientError> {
        self.send(Message::Auth(Bytes::copy_from_slice(workspace.as_bytes())))
            .await?;
        let challenge = match self.recv().await? {
            Message::Auth(c) => c,
            other => {
                return Err(ClientError::Unexpected {
                    expected: "Auth",
                    got: other.name(),
                });
            }
        };
        self.send(Message::ok(key.answer(&challenge)?)).await?;
        match self.recv().await? {
            Message::Response { code: 0, .. } => Ok(()),
            Message::Response { msg, .. } => Err(ClientError::Denied(
                String::from_utf8_lossy(&msg).into_owned(),
            )),
            other => Err(ClientError::Unexpected {
                expected: "Response",
                got: other.name(),
            }),
        }
    }

    async fn request(&mut self, m: Message) -> Result<Bytes, ClientError> {
        self.send(m).await?;
        self.response().await
    }

    /// The next message, which must be a Response: its data if code 0.
    async fn response(&mut self) -> Result<Bytes, ClientError> {
        match self.recv().await? {
            Message::Response { code: 0, msg } => Ok(msg),
            Message::Response { code, msg } => Err(ClientError::Server {
                code,
                log: String::from_utf8_lossy(&msg).into_owned(),
            }),
            other => Err(ClientError::Unexpected {
                expected: "Response",
                got: other.name(),
            }),
        }
    }

    /// The server's clock, in milliseconds since the Unix epoch.
    pub async fn system_time_millis(&mut self) -> Result<i64, ClientError> {
        let msg = self.request(Message::GetSystemTimeMillis).await?;
        let b: [u8; 8] = msg
            .as_ref()
            .try_into()
            .map_err(|_| ClientError::Decode(format!("time of {} bytes, not 8", msg.len())))?;
        Ok(i64::from_be_bytes(b))
    }

    /// The workspace's file tree.
    pub async fn file_tree(&mut self) -> Result<FileTree, ClientError> {
        let msg = self.request(Message::FetchFileTree).await?;
        FileTree::decode(msg).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// The content of the regular file at `path` of the workspace (the
    /// `FetchFile` extension).
    pub async fn fetch_file(&mut self, path: &str) -> Result<Bytes, ClientError> {
        self.request(Message::FetchFile(path.to_string())).await
    }

    /// Commits `plans`; returns the server's summary.
    pub async fn commit(&mut self, plans: &[SyncPlan]) -> Result<String, ClientError> {
        self.begin_commit(plans).await?;
        self.end_commit().await
    }

    /// Sends a commit of `plans` without waiting for its answer, so that the
    /// caller can prepare the next one while the server applies this one;
    /// [`SyncClient::end_commit`] receives the answer. Nothing else may be
    /// sent in between.
    pub async fn begin_commit(&mut self, plans: &[SyncPlan]) -> Result<(), ClientError> {
        let raw = plans
            .iter()
            .map(|p| Bytes::from(p.encode_to_vec()))
            .collect();
        self.send(Message::CommitSyncPlan(raw)).await
    }

    /// The answer to the commit sent by [`SyncClient::begin_commit`]: the
    /// server's summary.
    pub async fn end_commit(&mut self) -> Result<String, ClientError> {
        let msg = self.response().await?;
        Ok(String::from_utf8_lossy(&msg).into_owned())
    }
}
