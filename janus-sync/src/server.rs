//! The server: version negotiation, authentication, then time, tree and
//! commit requests, one task per connection.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::codec::Framed;
use tracing::{debug, info, warn};

use crate::auth::{CHALLENGE_LEN, WorkspaceKey, random_bytes};
use crate::codec::{DEFAULT_MAX_BODY, MAX_BODY_CEILING, Message, SyncCodec};
use crate::proto::SyncPlan;
use crate::transport::{SyncAddr, SyncListener, SyncStream};
use crate::workspace::{CommitError, CommitLimits, ReadError, Workspace};
use crate::{PROTOCOL_VERSIONS, codes};

/// Limits of a server.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections served at once; more are closed at once (default 64).
    pub max_connections: usize,
    /// Time allowed for Hello and Auth (default 10 s).
    pub auth_timeout: Duration,
    /// Time a connection may stay silent after auth (default 300 s).
    pub idle_timeout: Duration,
    /// Largest message body accepted (default 64 MiB, at most 1 GiB).
    pub max_body: u64,
    /// Limits of one commit.
    pub commit: CommitLimits,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 64,
            auth_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_body: DEFAULT_MAX_BODY,
            commit: CommitLimits::default(),
        }
    }
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once because the limit was reached.
    pub connections_refused: AtomicU64,
    /// Connections closed for a protocol violation or a timeout.
    pub protocol_errors: AtomicU64,
    /// Successful authentications.
    pub auth_accepted: AtomicU64,
    /// Denied authentications.
    pub auth_denied: AtomicU64,
    /// Commits applied.
    pub commits_applied: AtomicU64,
    /// Commits refused or failed.
    pub commits_refused: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The value of one counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SyncAddr,
        /// The error.
        source: io::Error,
    },
    /// A workspace directory cannot be opened.
    #[error("workspace '{name}' at {dir}: {source}")]
    Workspace {
        /// The workspace.
        name: String,
        /// Its directory.
        dir: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Two workspaces are one directory, or one lies inside the other.
    /// Commits to one workspace are serialised; two workspaces over one
    /// tree would let their commits interleave, so this is refused.
    #[error("{}", overlap_message(.outer, .outer_dir, .inner, .inner_dir, *.same))]
    Overlap {
        /// The workspace given first (the enclosing one when nested).
        outer: String,
        /// Its directory, as given.
        outer_dir: PathBuf,
        /// The other workspace (the one inside when nested).
        inner: String,
        /// Its directory, as given.
        inner_dir: PathBuf,
        /// Whether the two are the same directory (else `inner` is beneath `outer`).
        same: bool,
    },
    /// The configuration is incomplete.
    #[error("{0}")]
    Config(String),
}

fn overlap_message(
    outer: &str,
    outer_dir: &Path,
    inner: &str,
    inner_dir: &Path,
    same: bool,
) -> String {
    let relation = if same {
        "are the same directory"
    } else {
        "overlap: the second lies inside the first"
    };
    format!(
        "workspaces '{outer}' ({}) and '{inner}' ({}) {relation}; a directory \
         tree is served as one workspace only, since commits are serialised per workspace",
        outer_dir.display(),
        inner_dir.display()
    )
}

/// Whether the file at `path` lies beneath the directory `dir`, compared by
/// device and inode (so symlinks, `..` and bind mounts are seen through):
/// a key file inside a served workspace could be read or replaced by the
/// workspace's clients, so `janus sync serve` refuses one.
pub fn lies_within(path: &Path, dir: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let d = std::fs::metadata(dir)?;
    let target = (d.dev(), d.ino());
    for a in std::fs::canonicalize(path)?.ancestors().skip(1) {
        let m = std::fs::metadata(a)?;
        if (m.dev(), m.ino()) == target {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A directory's device and inode.
type DirId = (u64, u64);

/// A workspace's directory and the directories above it, by identity.
struct Placement {
    id: DirId,
    ancestors: Vec<DirId>,
}

/// Where the opened root of `ws` sits in the file system.
fn placement(ws: &Workspace) -> io::Result<Placement> {
    use std::os::unix::fs::MetadataExt;
    let id = ws.identity()?;
    let canonical = std::fs::canonicalize(ws.root())?;
    let mut ancestors = Vec::new();
    for dir in canonical.ancestors().skip(1) {
        let m = std::fs::metadata(dir)?;
        ancestors.push((m.dev(), m.ino()));
    }
    Ok(Placement { id, ancestors })
}

/// Refuses two workspaces over one directory, or one inside another.
fn refuse_overlaps(served: &[(String, PathBuf, Placement)]) -> Result<(), ServerError> {
    for (i, (a, a_dir, pa)) in served.iter().enumerate() {
        for (b, b_dir, pb) in &served[i + 1..] {
            let overlap =
                |outer: &String, outer_dir: &PathBuf, inner: &String, inner_dir: &PathBuf, same| {
                    ServerError::Overlap {
                        outer: outer.clone(),
                        outer_dir: outer_dir.clone(),
                        inner: inner.clone(),
                        inner_dir: inner_dir.clone(),
                        same,
                    }
                };
            if pa.id == pb.id {
                return Err(overlap(a, a_dir, b, b_dir, true));
            }
            if pb.ancestors.contains(&pa.id) {
                return Err(overlap(a, a_dir, b, b_dir, false));
            }
            if pa.ancestors.contains(&pb.id) {
                return Err(overlap(b, b_dir, a, a_dir, false));
            }
        }
    }
    Ok(())
}

struct Shared {
    workspaces: HashMap<String, (Arc<Workspace>, WorkspaceKey)>,
    /// A key no client has: unknown workspaces are verified against it, so
    /// they take the same steps and time as a wrong key.
    decoy: WorkspaceKey,
    limits: ServerLimits,
    counters: Arc<Counters>,
}

/// Configures a [`SyncServer`].
#[derive(Debug, Default)]
pub struct SyncServerBuilder {
    listen: Vec<SyncAddr>,
    workspaces: Vec<(String, PathBuf, WorkspaceKey)>,
    limits: ServerLimits,
}

impl SyncServerBuilder {
    /// Adds a listen address (TCP `HOST:PORT` or `unix:/path`).
    pub fn listen(mut self, addr: SyncAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Serves the directory `dir` as workspace `name`, authenticated with `key`.
    ///
    /// A directory is served under one name only, and no workspace may lie
    /// inside another: [`SyncServerBuilder::start`] compares the directories
    /// by device and inode (so a symlink, `dir/.` or a bind mount is seen
    /// through) and refuses an overlap with [`ServerError::Overlap`].
    pub fn workspace(
        mut self,
        name: impl Into<String>,
        dir: impl Into<PathBuf>,
        key: WorkspaceKey,
    ) -> Self {
        self.workspaces.push((name.into(), dir.into(), key));
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Opens the workspaces, binds every address and starts serving.
    pub async fn start(self) -> Result<SyncServer, ServerError> {
        if self.listen.is_empty() {
            return Err(ServerError::Config("no listen address".into()));
        }
        let mut workspaces = HashMap::new();
        let mut placements = Vec::new();
        for (name, dir, key) in self.workspaces {
            let opened = Workspace::open(&dir).and_then(|ws| Ok((placement(&ws)?, ws)));
            let (placed, ws) = opened.map_err(|source| ServerError::Workspace {
                name: name.clone(),
                dir: dir.clone(),
                source,
            })?;
            if workspaces
                .insert(name.clone(), (Arc::new(ws), key))
                .is_some()
            {
                return Err(ServerError::Config(format!(
                    "workspace '{name}' given twice"
                )));
            }
            placements.push((name, dir, placed));
        }
        refuse_overlaps(&placements)?;
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for addr in &self.listen {
            let l = SyncListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let local = l.local_addr().map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
            info!(addr = %local, "jANu server listening");
            addrs.push(local);
            listeners.push(l);
        }
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            workspaces,
            decoy: WorkspaceKey::generate().map_err(|e| ServerError::Config(e.to_string()))?,
            limits: self.limits,
            counters: counters.clone(),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(self.limits.max_connections));
        let mut accept_tasks = JoinSet::new();
        for l in listeners {
            accept_tasks.spawn(accept_loop(
                l,
                shared.clone(),
                permits.clone(),
                stop_rx.clone(),
            ));
        }
        Ok(SyncServer {
            addrs,
            counters,
            stop: stop_tx,
            accept_tasks,
        })
    }
}

/// A running server. Dropping it without [`SyncServer::shutdown`] aborts its tasks.
#[derive(Debug)]
pub struct SyncServer {
    addrs: Vec<SyncAddr>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    accept_tasks: JoinSet<()>,
}

impl SyncServer {
    /// A builder.
    pub fn builder() -> SyncServerBuilder {
        SyncServerBuilder::default()
    }

    /// The addresses bound (a TCP port 0 is replaced by the real port).
    pub fn local_addrs(&self) -> &[SyncAddr] {
        &self.addrs
    }

    /// The server's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops accepting, lets each connection finish the request it is
    /// handling, closes them and removes Unix socket files.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.accept_tasks.join_next().await.is_some() {}
        info!("jANu server stopped");
    }
}

async fn accept_loop(
    listener: SyncListener,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                Counters::bump(&shared.counters.connections);
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    Counters::bump(&shared.counters.connections_refused);
                    warn!(%peer, "connection limit reached; closing");
                    continue;
                };
                let shared = shared.clone();
                let stop = stop.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    serve_connection(stream, &peer, &shared, stop).await;
                });
            }
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Why a connection is closed.
#[derive(Debug)]
enum Close {
    /// The peer went away or shutdown was asked: not an error.
    Normal,
    /// A protocol violation, named.
    Violation(String),
}

type Conn = Framed<SyncStream, SyncCodec>;

async fn next(conn: &mut Conn) -> Result<Message, Close> {
    match conn.next().await {
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(Close::Violation(e.to_string())),
        None => Err(Close::Normal),
    }
}

async fn send(conn: &mut Conn, m: Message) -> Result<(), Close> {
    conn.send(m)
        .await
        .map_err(|e| Close::Violation(format!("send failed: {e}")))
}

async fn serve_connection(
    stream: SyncStream,
    peer: &str,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = Framed::new(stream, SyncCodec::new(shared.limits.max_body));
    debug!(%peer, "connection accepted");
    let outcome = run_connection(&mut conn, peer, shared, &mut stop).await;
    match outcome {
        Ok(()) | Err(Close::Normal) => debug!(%peer, "connection closed"),
        Err(Close::Violation(why)) => {
            Counters::bump(&shared.counters.protocol_errors);
            warn!(%peer, %why, "closing connection");
        }
    }
}

/// Serves one connection until it ends, breaks the protocol or shutdown is
/// asked. Shutdown interrupts a handshake or the wait for a request, never a
/// request being handled: a commit under way is applied and answered first.
async fn run_connection(
    conn: &mut Conn,
    peer: &str,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Close> {
    let handshake = tokio::time::timeout(shared.limits.auth_timeout, handshake(conn, peer, shared));
    let ws = tokio::select! {
        biased;
        _ = stop.changed() => return Err(Close::Normal),
        r = handshake => match r {
            Ok(r) => r?,
            Err(_) => {
                return Err(Close::Violation(
                    "Hello and Auth not completed in time".into(),
                ));
            }
        },
    };
    loop {
        let request = tokio::time::timeout(shared.limits.idle_timeout, next(conn));
        let m = tokio::select! {
            biased;
            _ = stop.changed() => return Err(Close::Normal),
            m = request => match m {
                Ok(m) => m?,
                Err(_) => return Err(Close::Violation("idle timeout".into())),
            },
        };
        let answer = match m {
            Message::GetSystemTimeMillis => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                Message::ok(Bytes::copy_from_slice(&now.to_be_bytes()))
            }
            Message::FetchFileTree => {
                let w = ws.clone();
                match tokio::task::spawn_blocking(move || w.file_tree()).await {
                    Ok(Ok(tree)) => {
                        let body = tree.encode_to_vec();
                        let max = shared.limits.max_body.min(MAX_BODY_CEILING);
                        if body.len() as u64 + 8 > max {
                            Message::error(
                                codes::TOO_LARGE,
                                format!(
                                    "the tree of {} entries takes {} bytes, more than one \
                                     message carries ({max} bytes)",
                                    tree.entries.len(),
                                    body.len()
                                ),
                            )
                        } else {
                            Message::ok(body)
                        }
                    }
                    Ok(Err(e)) => Message::error(
                        codes::SERVER_ERROR,
                        format!("cannot read the workspace: {e}"),
                    ),
                    Err(e) => Message::error(codes::SERVER_ERROR, format!("tree task failed: {e}")),
                }
            }
            Message::CommitSyncPlan(raw) => commit(&ws, raw, peer, shared).await,
            Message::FetchFile(path) => fetch_file(&ws, path, shared).await,
            other => {
                return Err(Close::Violation(format!(
                    "{} after authentication",
                    other.name()
                )));
            }
        };
        send(conn, answer).await?;
    }
}

/// The largest file content a FetchFile answer can carry: the per-file limit
/// of commits, and what fits a Response body (8 bytes of code and length).
fn fetch_limit(limits: &ServerLimits) -> u64 {
    limits
        .commit
        .max_file_bytes
        .min(limits.max_body.min(MAX_BODY_CEILING).saturating_sub(8))
}

async fn fetch_file(ws: &Arc<Workspace>, path: String, shared: &Shared) -> Message {
    let w = ws.clone();
    let max = fetch_limit(&shared.limits);
    match tokio::task::spawn_blocking(move || w.read_file(&path, max)).await {
        Ok(Ok(content)) => Message::ok(content),
        Ok(Err(e)) => {
            let code = match e {
                ReadError::Refused { .. } => codes::REFUSED,
                ReadError::NotAFile { .. } => codes::NOT_FOUND,
                ReadError::TooLarge { .. } => codes::TOO_LARGE,
                ReadError::Io { .. } => codes::SERVER_ERROR,
            };
            Message::error(code, e.to_string())
        }
        Err(e) => Message::error(codes::SERVER_ERROR, format!("read task failed: {e}")),
    }
}

async fn commit(ws: &Arc<Workspace>, raw: Vec<Bytes>, peer: &str, shared: &Shared) -> Message {
    let mut plans = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        match SyncPlan::decode(r.as_ref()) {
            Ok(p) => plans.push(p),
            Err(e) => {
                Counters::bump(&shared.counters.commits_refused);
                return Message::error(
                    codes::BAD_REQUEST,
                    format!("commit refused, nothing changed: plan {i} is not a SyncPlan: {e}"),
                );
            }
        }
    }
    let w = ws.clone();
    let limits = shared.limits.commit;
    let result = tokio::task::spawn_blocking(move || w.commit(&plans, &limits)).await;
    match result {
        Ok(Ok(report)) => {
            Counters::bump(&shared.counters.commits_applied);
            info!(%peer, operations = report.operations, bytes = report.bytes_written, "commit applied");
            Message::ok(format!(
                "applied {} operation(s), wrote {} byte(s)",
                report.operations, report.bytes_written
            ))
        }
        Ok(Err(e)) => {
            Counters::bump(&shared.counters.commits_refused);
            let code = match e {
                CommitError::Conflict { .. } => codes::CONFLICT,
                CommitError::Partial { .. } => codes::PARTIAL,
                CommitError::NotDurable { .. } => codes::SERVER_ERROR,
                _ => codes::REFUSED,
            };
            warn!(%peer, error = %e, "commit not applied");
            Message::error(code, e.to_string())
        }
        Err(e) => Message::error(codes::SERVER_ERROR, format!("commit task failed: {e}")),
    }
}

async fn handshake(conn: &mut Conn, peer: &str, shared: &Shared) -> Result<Arc<Workspace>, Close> {
    let offered = match next(conn).await? {
        Message::Hello(v) => v,
        other => return Err(Close::Violation(format!("{} before Hello", other.name()))),
    };
    let common: Vec<i32> = PROTOCOL_VERSIONS
        .iter()
        .copied()
        .filter(|v| offered.contains(v))
        .collect();
    send(conn, Message::Hello(common.clone())).await?;
    if common.is_empty() {
        return Err(Close::Violation(format!(
            "no common protocol version in {offered:?}"
        )));
    }
    match next(conn).await? {
        Message::Hello(v) if v.len() == 1 && common.contains(&v[0]) => {}
        Message::Hello(v) => {
            return Err(Close::Violation(format!(
                "chose {v:?}, not one of {common:?}"
            )));
        }
        other => {
            return Err(Close::Violation(format!(
                "{} before the chosen version",
                other.name()
            )));
        }
    }
    let name = match next(conn).await? {
        // A name that is not UTF-8 names no workspace: it is denied like
        // any unknown one.
        Message::Auth(name) => String::from_utf8(name.to_vec()).ok(),
        other => return Err(Close::Violation(format!("{} before Auth", other.name()))),
    };
    let mut challenge = [0u8; CHALLENGE_LEN];
    random_bytes(&mut challenge).map_err(|e| Close::Violation(e.to_string()))?;
    send(conn, Message::Auth(Bytes::copy_from_slice(&challenge))).await?;
    let answer = match next(conn).await? {
        Message::Response { code: 0, msg } => msg,
        other => {
            return Err(Close::Violation(format!(
                "{} instead of the challenge answer",
                other.name()
            )));
        }
    };
    let found = name.as_deref().and_then(|n| shared.workspaces.get(n));
    let name = name.unwrap_or_else(|| "(not UTF-8)".into());
    let key = found.map(|(_, k)| k).unwrap_or(&shared.decoy);
    let verified = key.verify(&challenge, &answer);
    match found {
        Some((ws, _)) if verified => {
            Counters::bump(&shared.counters.auth_accepted);
            info!(%peer, workspace = %name, "authenticated");
            send(conn, Message::ok(Bytes::new())).await?;
            Ok(ws.clone())
        }
        _ => {
            Counters::bump(&shared.counters.auth_denied);
            warn!(%peer, workspace = %name, "authentication denied");
            send(
                conn,
                Message::error(codes::DENIED, "wrong key or unknown workspace"),
            )
            .await?;
            Err(Close::Normal)
        }
    }
}
