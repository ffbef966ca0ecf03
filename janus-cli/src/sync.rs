//! `janus sync`: serve workspaces over the binary jANu protocol, and talk to
//! such a server (time, tree, push, pull).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use janus_sync::codec::CodecError;
use janus_sync::mirror::{self, BatchLimits, Change, Diff, MirrorError, MirrorReport};
use janus_sync::proto::{Entry, Kind};
use janus_sync::{
    ClientError, ClientOptions, CommitLimits, ServerError, ServerLimits, SyncAddr, SyncClient,
    SyncServer, Workspace, WorkspaceKey,
};
use serde_json::json;

use crate::diagnostics::plural;
use crate::output::outln;
use crate::{Exit, Failure};

/// The exit codes of the clients of `janus sync`.
macro_rules! sync_client_exit_codes {
    () => {
        "Exit codes:
  0  success
  1  refused: authentication denied, a conflict, a path or limit the server
     refuses, a file that changed during the transfer, an unreadable key
  2  usage error
  4  transport failure: no server at ADDR, the connection broke, or the
     server broke the protocol
  130  interrupted (Ctrl-C): batches already committed stay applied"
    };
}

/// What push and pull do.
macro_rules! mirror_help {
    () => {
        "\
Both trees are read first (with the SHA-256 of every file); then new and
changed files are copied and missing directories created. Deleting target
entries the source lacks, and replacing a file by a directory or the reverse,
happens only with --delete. Symlinks are never created and never deleted:
they are listed as skipped. Files keep their permission bits, not their
modification times.

Contents move in batches of at most --batch-bytes of file content (16 MiB
unless told; a larger file goes alone) and 10,000 operations; each batch is
one atomic commit, and a file replaced on the target must still have the SHA-256
it had when its tree was read, or the batch is refused as a conflict. When a
path cannot be mirrored at all (a symlink in the way, a changed kind without
--delete), nothing is changed and the paths are named. A progress bar is drawn
on stderr when it is a terminal; a summary is printed on stdout."
    };
}

/// `janus sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The `janus sync` subcommand.
    #[command(subcommand)]
    pub command: SyncCommand,
}

/// The subcommands of `janus sync`.
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Serve directories as workspaces over TCP or Unix stream sockets.
    #[command(
        after_help = "Exit codes:\n  0  stopped by Ctrl-C or SIGTERM (Unix socket files are removed)\n  1  a workspace, key or option cannot be used\n  2  usage error\n  4  an address cannot be bound"
    )]
    Serve(ServeArgs),

    /// Write a new random workspace key to FILE (mode 0600).
    #[command(after_help = "Exit codes:\n  0  key written\n  1  FILE exists or cannot be written")]
    Keygen(KeygenArgs),

    /// Print the server's clock, in milliseconds since the Unix epoch.
    #[command(after_help = sync_client_exit_codes!())]
    Time(RemoteArgs),

    /// Print the file tree of a workspace.
    #[command(after_help = sync_client_exit_codes!())]
    Tree(TreeArgs),

    /// Make a workspace equal to a local directory.
    #[command(after_long_help = concat!(mirror_help!(), "\n\n", sync_client_exit_codes!()))]
    Push(MirrorArgs),

    /// Make a local directory equal to a workspace.
    #[command(after_long_help = concat!(mirror_help!(), "\n\n", sync_client_exit_codes!()))]
    Pull(MirrorArgs),
}

/// Where a client connects, and as whom.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The server: HOST:PORT or unix:/path.
    #[arg(value_name = "ADDR", value_parser = parse_addr)]
    pub addr: SyncAddr,

    /// The workspace to open.
    #[arg(long, value_name = "NAME")]
    pub workspace: String,

    /// The workspace's key file (written by `janus sync keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,

    /// The largest message this client sends or accepts, in bytes: raise
    /// it to fetch a tree or file from a server with a larger --max-body.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    pub max_body: u64,
}

/// `janus sync tree`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The server and workspace.
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Print the tree as JSON (SHA-256s in hex).
    #[arg(long)]
    pub json: bool,
}

/// `janus sync push` and `janus sync pull`.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The server and workspace.
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// The local directory (created by a pull if missing).
    #[arg(value_name = "LOCAL_DIR")]
    pub local: PathBuf,

    /// Print what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Delete what the source lacks, and replace files by directories (or
    /// the reverse).
    #[arg(long)]
    pub delete: bool,

    /// File content per commit, in bytes; a larger file goes in a commit of
    /// its own. Keep it below the server's --max-body (64 MiB unless told).
    #[arg(long, value_name = "BYTES", default_value_t = BatchLimits::default().bytes,
          value_parser = clap::value_parser!(u64).range(1..=mirror::MAX_PUSHED_FILE))]
    pub batch_bytes: u64,
}

/// `janus sync keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key file to create (never overwritten).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `janus sync serve`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Every --workspace needs a --key of the same NAME. A key file that its group
or others can read, or that lies inside a workspace, is refused. A directory is served under one NAME only,
and no workspace may lie inside another (commits are serialised per
workspace): both are refused, however the paths are spelt. Logs go to stderr (RUST_LOG filters them,
default info); keys and file contents are never logged.

Example:
  janus sync keygen main.key
  janus sync serve --listen 127.0.0.1:7420 --workspace main=./shared --key main=main.key")]
pub struct ServeArgs {
    /// An address to listen on: HOST:PORT (use 0.0.0.0 only to serve every
    /// interface) or unix:/path; repeatable.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7420", value_parser = parse_addr)]
    pub listen: Vec<SyncAddr>,

    /// A workspace: its name and directory; repeatable.
    #[arg(long, value_name = "NAME=DIR", required = true, value_parser = parse_pair)]
    pub workspace: Vec<(String, String)>,

    /// The key file of a workspace; repeatable.
    #[arg(long, value_name = "NAME=KEYFILE", required = true, value_parser = parse_pair)]
    pub key: Vec<(String, String)>,

    /// Connections served at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,

    /// Largest message accepted, in bytes (at most 1 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    pub max_body: u64,

    /// Largest file a commit may write, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_file_bytes: u64,

    /// Most file content one commit may write, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_commit_bytes: u64,

    /// Most plans in one commit.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_plans: u64,

    /// Most operations in one plan.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_operations: u64,

    /// Seconds a client has for Hello and Auth.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub auth_timeout: u64,

    /// Seconds an authenticated connection may stay silent.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
}

fn parse_addr(text: &str) -> Result<SyncAddr, String> {
    text.parse()
        .map_err(|e: janus_sync::AddrError| e.to_string())
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// Runs a `janus sync` subcommand.
pub async fn run(args: SyncArgs) -> Result<(), Failure> {
    match args.command {
        SyncCommand::Serve(a) => serve(a).await,
        SyncCommand::Keygen(a) => keygen(&a),
        SyncCommand::Time(a) => crate::interruptible(time(a)).await,
        SyncCommand::Tree(a) => crate::interruptible(tree(a)).await,
        SyncCommand::Push(a) => crate::interruptible(push(a)).await,
        SyncCommand::Pull(a) => crate::interruptible(pull(a)).await,
    }
}

fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    let fail = |e: janus_sync::auth::KeyError| Failure::new(Exit::Failure, e.to_string());
    WorkspaceKey::generate()
        .and_then(|k| k.write_file(&args.file))
        .map_err(fail)?;
    outln(&format!(
        "wrote a new key to {} (mode 0600)",
        args.file.display()
    ));
    Ok(())
}

fn read_key(path: &Path) -> Result<WorkspaceKey, Failure> {
    WorkspaceKey::read_file(path).map_err(|e| Failure::new(Exit::Failure, e.to_string()))
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    init_logs();
    let mut builder = SyncServer::builder().limits(ServerLimits {
        max_connections: args.max_connections as usize,
        auth_timeout: Duration::from_secs(args.auth_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_body: args.max_body,
        commit: CommitLimits {
            max_plans: args.max_plans as usize,
            max_operations_per_plan: args.max_operations as usize,
            max_file_bytes: args.max_file_bytes,
            max_commit_bytes: args.max_commit_bytes,
        },
    });
    for addr in &args.listen {
        builder = builder.listen(addr.clone());
    }
    let usage = |m: String| Failure::new(Exit::Failure, m);
    for (name, _) in &args.key {
        if !args.workspace.iter().any(|(w, _)| w == name) {
            return Err(usage(format!(
                "--key {name}=…: there is no --workspace {name}"
            )));
        }
    }
    for (key_name, file) in &args.key {
        for (name, dir) in &args.workspace {
            // A missing directory is reported when the workspaces are opened.
            if janus_sync::lies_within(Path::new(file), Path::new(dir)).unwrap_or(false) {
                return Err(usage(format!(
                    "the key file of '{key_name}' ({file}) lies inside workspace '{name}' ({dir}), \
                     whose clients could read or replace it; keep key files outside every workspace"
                )));
            }
        }
    }
    for (name, dir) in &args.workspace {
        let mut keys = args.key.iter().filter(|(k, _)| k == name);
        let (Some((_, file)), None) = (keys.next(), keys.next()) else {
            return Err(usage(format!(
                "workspace '{name}' needs exactly one --key {name}=KEYFILE"
            )));
        };
        builder = builder.workspace(name, dir, read_key(Path::new(file))?);
    }
    let interrupted = crate::interruption()?;
    let server = builder.start().await.map_err(|e| match e {
        ServerError::Bind { .. } => Failure::new(Exit::Transport, e.to_string()),
        _ => Failure::new(Exit::Failure, e.to_string()),
    })?;
    let addrs: Vec<String> = server
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let names: Vec<String> = args
        .workspace
        .iter()
        .map(|(n, d)| format!("{n} ({d})"))
        .collect();
    outln(&format!(
        "janus sync serve: listening on {}; workspaces: {}; Ctrl-C stops",
        addrs.join(", "),
        names.join(", ")
    ));
    interrupted.await;
    let c = server.counters();
    let get = janus_sync::Counters::get;
    let summary = format!(
        "janus sync serve: stopped after {}, {} applied, {} refused",
        plural(get(&c.connections) as usize, "connection"),
        plural(get(&c.commits_applied) as usize, "commit"),
        get(&c.commits_refused)
    );
    server.shutdown().await;
    outln(&summary);
    Ok(())
}

/// Logs of the server on stderr, filtered by `RUST_LOG` (default `info`).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// A client error as a failure: broken transport or protocol exits 4,
/// a refusal by the server 1.
fn client_failure(e: ClientError) -> Failure {
    Failure::new(client_failure_exit(&e), e.to_string())
}

async fn open(args: &RemoteArgs) -> Result<SyncClient, Failure> {
    let key = read_key(&args.key)?;
    ClientOptions::default()
        .max_body(args.max_body)
        .open(&args.addr, &args.workspace, &key)
        .await
        .map_err(client_failure)
}

async fn time(args: RemoteArgs) -> Result<(), Failure> {
    let mut c = open(&args).await?;
    let millis = c.system_time_millis().await.map_err(client_failure)?;
    outln(&millis.to_string());
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn client_failure_exit(e: &ClientError) -> Exit {
    match e {
        ClientError::Connect { .. }
        | ClientError::Codec(_)
        | ClientError::Closed
        | ClientError::Unexpected { .. }
        | ClientError::Decode(_)
        | ClientError::AnswerTooLarge { .. } => Exit::Transport,
        ClientError::NoCommonVersion(_)
        | ClientError::Denied(_)
        | ClientError::Server { .. }
        | ClientError::Key(_) => Exit::Failure,
    }
}

fn kind_word(e: &Entry) -> &'static str {
    match e.kind() {
        Kind::File => "file",
        Kind::Dir => "dir",
        Kind::Symlink => "symlink",
        Kind::Unspecified => "unknown",
    }
}

async fn tree(args: TreeArgs) -> Result<(), Failure> {
    let mut c = open(&args.remote).await?;
    let tree = c.file_tree().await.map_err(client_failure)?;
    if args.json {
        let entries: Vec<_> = tree
            .entries
            .iter()
            .map(|e| {
                let mut v = json!({
                    "path": e.path,
                    "kind": kind_word(e),
                    "size": e.size,
                    "mtime_millis": e.mtime_millis,
                    "mode": format!("{:04o}", e.mode),
                });
                if e.kind() == Kind::File {
                    v["sha256"] = json!(hex(&e.sha256));
                }
                if e.kind() == Kind::Symlink {
                    v["link_target"] = json!(e.link_target);
                }
                v
            })
            .collect();
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| Failure::new(Exit::Failure, format!("cannot print the tree: {e}")))?;
        outln(&text);
        return Ok(());
    }
    for e in &tree.entries {
        let line = match e.kind() {
            Kind::Dir => format!("dir     {:04o} {:>12}  {}/", e.mode, "-", e.path),
            Kind::Symlink => format!(
                "symlink {:04o} {:>12}  {} -> {}",
                e.mode, e.size, e.path, e.link_target
            ),
            _ => format!(
                "{:<7} {:04o} {:>12}  {}",
                kind_word(e),
                e.mode,
                e.size,
                e.path
            ),
        };
        outln(&line);
    }
    outln(&count(tree.entries.len(), "entry", "entries"));
    Ok(())
}

/// Opens (for a pull, creates) the local directory as a workspace.
fn local_workspace(dir: &Path, create: bool) -> Result<Workspace, Failure> {
    if create && !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    Workspace::open(dir)
        .map_err(|e| Failure::new(Exit::Failure, format!("cannot open {}: {e}", dir.display())))
}

fn local_tree(ws: &Workspace) -> Result<janus_sync::proto::FileTree, Failure> {
    ws.file_tree().map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("cannot read {}: {e}", ws.root().display()),
        )
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Push,
    Pull,
}

async fn push(args: MirrorArgs) -> Result<(), Failure> {
    mirror_run(args, Direction::Push).await
}

async fn pull(args: MirrorArgs) -> Result<(), Failure> {
    mirror_run(args, Direction::Pull).await
}

async fn mirror_run(args: MirrorArgs, direction: Direction) -> Result<(), Failure> {
    // A dry run of a pull into a directory not made yet compares with nothing.
    let local = if direction == Direction::Pull && args.dry_run && !args.local.exists() {
        None
    } else {
        Some(local_workspace(&args.local, direction == Direction::Pull)?)
    };
    let mut client = open(&args.remote).await?;
    let remote_tree = client.file_tree().await.map_err(client_failure)?;
    let local_tree = match &local {
        Some(ws) => local_tree(ws)?,
        None => janus_sync::proto::FileTree::default(),
    };
    let diff = match direction {
        Direction::Push => mirror::diff(&local_tree, &remote_tree, args.delete),
        Direction::Pull => mirror::diff(&remote_tree, &local_tree, args.delete),
    };
    for s in &diff.skipped_symlinks {
        outln(&format!("skipped symlink {s}"));
    }
    if args.dry_run {
        print_changes(&diff);
    }
    if !diff.conflicts.is_empty() {
        return Err(Failure::new(
            Exit::Failure,
            MirrorError::Conflicts(diff.conflicts.clone()).to_string(),
        ));
    }
    let what = match direction {
        Direction::Push => format!(
            "{} -> {} workspace {}",
            args.local.display(),
            args.remote.addr,
            args.remote.workspace
        ),
        Direction::Pull => format!(
            "{} workspace {} -> {}",
            args.remote.addr,
            args.remote.workspace,
            args.local.display()
        ),
    };
    if diff.is_empty() {
        outln(&format!("{what}: already up to date"));
        return Ok(());
    }
    if args.dry_run {
        outln(&format!("{what}: dry run, nothing changed"));
        return Ok(());
    }
    let Some(local) = local else {
        unreachable!("only a dry run goes without a local directory")
    };
    let bar = progress_bar(diff.bytes());
    let limits = BatchLimits {
        bytes: args.batch_bytes,
        ..BatchLimits::default()
    };
    let outcome = match direction {
        Direction::Push => mirror::push(&mut client, &local, &diff, &limits, |n| bar.inc(n)).await,
        Direction::Pull => mirror::pull(&mut client, &local, &diff, &limits, |n| bar.inc(n)).await,
    };
    bar.finish_and_clear();
    match outcome {
        Ok(report) => {
            outln(&format!("{what}: {}", summary(&report)));
            Ok(())
        }
        Err(e) => {
            let exit = match &e {
                MirrorError::Remote { source, .. } => client_failure_exit(source),
                _ => Exit::Failure,
            };
            let mut text = e.to_string();
            if direction == Direction::Push && broken_connection(&e) {
                text.push_str(&format!(
                    "\nhint: a server closes a connection whose commit exceeds its --max-body; \
                     try a smaller --batch-bytes (this push used {})",
                    args.batch_bytes
                ));
            }
            Err(Failure::new(exit, text))
        }
    }
}

/// Whether the server went away in the middle of a push, which is what it
/// does with a message larger than it accepts.
fn broken_connection(e: &MirrorError) -> bool {
    matches!(
        e,
        MirrorError::Remote {
            source: ClientError::Closed | ClientError::Codec(CodecError::Io(_)),
            ..
        }
    )
}

fn print_changes(diff: &Diff) {
    for c in diff.deletes.iter().chain(&diff.writes) {
        let line = match c {
            Change::MakeDir { path } => format!("mkdir   {path}/"),
            Change::Write {
                path,
                size,
                expected: None,
                ..
            } => format!("create  {path} ({})", plural(*size as usize, "byte")),
            Change::Write { path, size, .. } => {
                format!("update  {path} ({})", plural(*size as usize, "byte"))
            }
            Change::Delete { path, .. } => format!("delete  {path}"),
        };
        outln(&line);
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(r: &MirrorReport) -> String {
    format!(
        "{} created, {} written ({}), {} deleted, in {}",
        count(r.dirs_created, "directory", "directories"),
        plural(r.files_written, "file"),
        plural(r.bytes_written as usize, "byte"),
        r.deleted,
        plural(r.commits, "commit")
    )
}

/// A byte progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    progress_bar_to(total, ProgressDrawTarget::stderr())
}

/// The byte progress bar of push and pull, drawn to `target` (stderr on a
/// terminal; anything [`indicatif::TermLike`] in tests).
fn progress_bar_to(total: u64, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes}  {binary_bytes_per_sec}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_draw_target(target);
    bar
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// A terminal that records what is written to it.
    #[derive(Debug, Default, Clone)]
    struct Recorder(Arc<Mutex<String>>);

    impl indicatif::TermLike for Recorder {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_progress_bar_shows_bytes_done_of_the_total() {
        let term = Recorder::default();
        let bar = super::progress_bar_to(
            3 << 20,
            indicatif::ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        bar.inc(1 << 20);
        bar.inc(2 << 20);
        bar.finish();
        let text = term.0.lock().unwrap().clone();
        assert!(text.contains("3.00 MiB/3.00 MiB"), "{text:?}");
        // A full bar of 40 cells.
        assert!(text.contains(&"█".repeat(40)), "{text:?}");
    }
}
