//! The `janus` command line: check manifests, generate code and API docs,
//! call, mock, ping and benchmark Janus servers.
//!
//! The binary is a thin `main` over [`run`]; the library exists so that the
//! pieces the subcommands share can be tested on their own:
//!
//! - [`validate`]: a manifest-driven argument check that answers exactly what
//!   a generated server answers (used by `janus call --manifest` before
//!   sending, and by `janus serve`);
//! - [`mock`]: the mock server's channels, real [`janus_runtime::Service`]s;
//! - [`sample`]: example values that satisfy a schema (example requests in
//!   the docs, synthesised answers of the mock server).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bench;
mod call;
mod check;
pub mod cli;
mod completions;
mod diagnostics;
mod docs;
mod generate;
mod manifest_file;
pub mod mock;
mod output;
mod ping;
pub mod sample;
mod serve;
pub mod sync;
pub mod validate;

use std::fmt;
use std::process::ExitCode;

pub use cli::Cli;

/// The exit codes of `janus`, one per kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `0`: success.
    Success,
    /// `1`: something is wrong: an error response, a broken manifest, a
    /// file that cannot be read or written.
    Failure,
    /// `2`: the command line is wrong (clap's usage errors exit 2 too).
    Usage,
    /// `3`: no answer within the timeout.
    Timeout,
    /// `4`: transport failure: no server at the socket, a socket that cannot
    /// be created or bound.
    Transport,
    /// `130`: interrupted by Ctrl-C (or SIGTERM, SIGHUP).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Timeout => 3,
            Exit::Transport => 4,
            Exit::Interrupted => 130,
        }
    }
}

/// Why a subcommand failed: its exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    /// How the process exits.
    pub exit: Exit,
    /// The message printed on stderr after `janus: `; empty when everything
    /// was already printed.
    pub message: String,
}

impl Failure {
    /// A failure with a message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    /// A failure whose details were already printed.
    pub fn silent(exit: Exit) -> Self {
        Self::new(exit, "")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let color = cli.color;
    let outcome = match cli.command {
        cli::Command::Check(args) => check::run(&args, color),
        cli::Command::Generate(args) => generate::run(&args, color),
        cli::Command::Docs(args) => docs::run(&args, color),
        cli::Command::Call(args) => with_runtime(interruptible(call::run(args, color))),
        cli::Command::Serve(args) => with_runtime(serve::run(args, color)),
        cli::Command::Ping(args) => with_runtime(interruptible(ping::run(args))),
        // bench watches the signals itself, to print what it measured.
        cli::Command::Bench(args) => with_runtime(bench::run(args)),
        cli::Command::Sync(args) => with_runtime(sync::run(args)),
        cli::Command::Completions(args) => completions::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("janus: {}", failure.message);
            }
            ExitCode::from(failure.exit.code())
        }
    }
}

/// Runs `work` until it ends or the user interrupts it (Ctrl-C, SIGTERM,
/// SIGHUP). Interrupted, the work is dropped, so its client removes its reply
/// socket, and the process exits 130.
async fn interruptible<F: Future<Output = Result<(), Failure>>>(work: F) -> Result<(), Failure> {
    let interrupted = interruption()?;
    tokio::select! {
        outcome = work => outcome,
        () = interrupted => Err(interrupted_failure()),
    }
}

/// The failure of interrupted work: exit 130.
fn interrupted_failure() -> Failure {
    Failure::new(Exit::Interrupted, "interrupted")
}

/// Completes when the user interrupts the process (Ctrl-C, SIGTERM,
/// SIGHUP); the handlers are installed before this returns.
fn interruption() -> Result<impl Future<Output = ()>, Failure> {
    janus_runtime::shutdown_signal()
        .map_err(|e| Failure::new(Exit::Failure, format!("cannot handle signals: {e}")))
}

fn with_runtime<F: Future<Output = Result<(), Failure>>>(work: F) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(work)
}
