//! The command line: every subcommand, option and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use janus_runtime::wire::Dialect;

/// The exit codes of `janus call`.
macro_rules! call_exit_codes {
    () => {
        "Exit codes:
  0  success: the result is printed on stdout
  1  error response (code, message and details on stderr), or the
     arguments break the manifest given with --manifest (nothing sent)
  2  usage error (bad options, arguments that cannot be converted)
  3  timeout: no answer within --timeout
  4  transport failure: no server at the socket
  130  interrupted (Ctrl-C): the reply socket is removed first"
    };
}

/// The exit codes of `janus ping`.
macro_rules! ping_exit_codes {
    () => {
        "Exit codes:
  0  every ping was answered
  1  the server answered a ping with an error
  2  usage error (bad options)
  3  timeout: no answer within --timeout
  4  transport failure: no server at the socket, a reply socket that cannot
     be created
  130  interrupted (Ctrl-C): the reply socket is removed first"
    };
}

/// The exit codes of `janus serve`.
macro_rules! serve_exit_codes {
    () => {
        "Exit codes:
  0  stopped by Ctrl-C or SIGTERM (the socket file is removed)
  1  the manifest has errors or cannot be read
  4  the socket cannot be bound"
    };
}

/// The exit codes of `janus bench`.
macro_rules! bench_exit_codes {
    () => {
        "Exit codes:
  0  the run completed (its errors are in the report)
  2  usage error
  3  the first request timed out
  4  transport failure: no server at the socket
  130  interrupted (Ctrl-C): the reply socket is removed first"
    };
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  something is wrong: an error response, a broken manifest, an unreadable file
  2  usage error (bad options or arguments)
  3  timeout: no answer within --timeout
  4  transport failure: no server at the socket, a socket that cannot be created
  130  interrupted (Ctrl-C): the reply socket is removed first";

/// The Janus command line: check manifests, generate code and docs, and
/// call, mock, ping and benchmark servers over Unix datagram sockets.
#[derive(Debug, Parser)]
#[command(name = "janus", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// When to colour diagnostics: auto (when the output is a terminal and
    /// NO_COLOR is unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN", hide_possible_values = true)]
    pub color: Color,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When writing to a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests with the code generator's rules; print every problem
    /// with its source line, a caret and its JSON pointer.
    #[command(
        after_help = "Exit codes:\n  0  every manifest is valid (warnings are printed but allowed)\n  1  a manifest has errors or cannot be read"
    )]
    Check(CheckArgs),

    /// Print the Rust code build.rs would generate from a manifest.
    #[command(
        after_help = "Exit codes:\n  0  code generated\n  1  the manifest has errors, or a file cannot be read or written"
    )]
    Generate(GenerateArgs),

    /// Write the API reference of a manifest: Markdown, a self-contained HTML
    /// page and an OpenAPI 3.1 document.
    #[command(
        after_help = "Exit codes:\n  0  docs written\n  1  the manifest has errors, or a file cannot be read or written"
    )]
    Docs(DocsArgs),

    /// Send one request and print its result as JSON.
    #[command(after_help = call_exit_codes!())]
    Call(CallArgs),

    /// Serve a manifest with synthesised answers: a mock server for client
    /// development.
    #[command(
        after_help = serve_exit_codes!()
    )]
    Serve(ServeArgs),

    /// Round trip to the `ping` built-in request; print the time it took.
    #[command(after_help = ping_exit_codes!())]
    Ping(PingArgs),

    /// Load a server with requests from one client and report throughput
    /// and latency percentiles.
    #[command(after_help = bench_exit_codes!())]
    Bench(BenchArgs),

    /// The binary jANu protocol: serve directories as workspaces, and push,
    /// pull, list and time them over TCP or Unix stream sockets.
    Sync(crate::sync::SyncArgs),

    /// Print a shell completion script for janus.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// How to install completions, after `janus completions --help`.
const COMPLETIONS_HELP: &str = "\
Install, for example:
  bash  janus completions bash > ~/.local/share/bash-completion/completions/janus
  zsh   janus completions zsh > ~/.zfunc/_janus   (with fpath+=~/.zfunc before compinit)
  fish  janus completions fish > ~/.config/fish/completions/janus.fish
Exit codes:
  0  the script is printed
  2  usage error (an unknown shell)";

/// `janus completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in: bash, elvish, fish, powershell or zsh.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `janus check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The manifests to check.
    #[arg(required = true, value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,
}

/// `janus generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The manifest. Its path, as given, is named in the generated header
    /// and in messages (like build.rs does).
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,

    /// Write the code to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Leave out the client traits.
    #[arg(long)]
    pub no_client: bool,

    /// Leave out the handler traits and server dispatchers.
    #[arg(long)]
    pub no_server: bool,

    /// Add a derive to every generated type, e.g. `--derive Eq`; repeatable.
    #[arg(long, value_name = "PATH")]
    pub derive: Vec<String>,
}

/// `janus docs`.
#[derive(Debug, Args)]
#[command(
    after_long_help = "Writes three files into DIR (created if missing):\n  README.md     Markdown reference: one section per channel and request\n  index.html    the same as one self-contained page with contents and search\n  openapi.json  OpenAPI 3.1: one POST /{channelId}/{request} per request"
)]
pub struct DocsArgs {
    /// The manifest.
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,

    /// The directory to write README.md, index.html and openapi.json into.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

/// `janus call`.
#[derive(Debug, Args)]
#[command(after_long_help = concat!("\
Arguments:
  --args takes a JSON object (@FILE reads it from a file, @- from stdin); -a key=value
  sets one member on top of it. A dotted key sets a nested member
  (-a profile.age=30). Without --manifest a value that parses as JSON is used
  as JSON (-a n=5 is a number, -a ok=true a boolean), anything else as a
  string. With --manifest each value is converted to the type the manifest
  declares (-a age=30 is an integer, -a name=007 stays a string), and the
  arguments are checked before anything is sent, with the messages the server
  would give.

Without --channel no channelId is sent: the server routes by request name,
as servers in other languages expect.

", call_exit_codes!()))]
pub struct CallArgs {
    /// The server's socket path.
    #[arg(value_name = "SOCKET")]
    pub socket: PathBuf,

    /// The request name, e.g. `create-user` or a built-in (`ping`, `echo`,
    /// `get_info`, `manifest`, `validate`).
    #[arg(value_name = "REQUEST")]
    pub request: String,

    /// Send this `channelId` (default: none; the server routes by request name).
    #[arg(long, value_name = "C")]
    pub channel: Option<String>,

    /// The arguments as a JSON object, @FILE to read them from a file, or
    /// @- to read them from stdin.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,

    /// One argument as key=value (repeatable); see below for conversions.
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE")]
    pub arg: Vec<String>,

    /// Seconds to wait for the answer (0.1 to 300). The request's `timeout`
    /// announces a little less (5% less, at most 0.1 s: 4.9 for 5), so that
    /// a server's timeout error arrives before the wait ends.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
    pub timeout: f64,

    /// Check (and convert -a values) against this manifest before sending.
    #[arg(long, value_name = "M")]
    pub manifest: Option<PathBuf>,

    /// Where to create the reply socket; the server must allow answers there.
    #[arg(long, value_name = "DIR", default_value = "/tmp")]
    pub reply_dir: PathBuf,

    /// The message shape.
    #[command(flatten)]
    pub wire: WireArgs,
}

/// `janus serve`.
#[derive(Debug, Args)]
#[command(after_long_help = concat!("\
Every request of the manifest is answered after its arguments are checked
exactly as a generated server checks them (-32602 naming the field and the
broken constraint). A valid request gets a result synthesised from the
response schema: defaults, the first enum value, values that satisfy the
constraints, placeholders otherwise (a request without a response schema
gets null). The built-in requests (ping, echo, get_info, manifest, validate)
are answered too; `manifest` returns the manifest's text.

Each request that reaches a channel is logged on one line on stdout. Ctrl-C
or SIGTERM stops the server; it removes its socket files.

", serve_exit_codes!()))]
pub struct ServeArgs {
    /// The manifest to serve.
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,

    /// The datagram socket path to bind.
    #[arg(long, value_name = "PATH", required_unless_present = "stream_socket")]
    pub socket: Option<PathBuf>,

    /// A stream socket path to bind too (or instead): length-prefixed
    /// messages up to 10 MiB, many requests in flight per connection.
    #[arg(long, value_name = "PATH")]
    pub stream_socket: Option<PathBuf>,

    /// Wait this many milliseconds before answering each request (to try
    /// client timeouts).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay: u64,

    /// Directories the socket and every `reply_to` may be in (repeatable;
    /// default /tmp/, /var/tmp/, /var/run/, /run/).
    #[arg(long = "allow-dir", value_name = "DIR")]
    pub allow_dirs: Vec<String>,

    /// Do not log each request.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `janus ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// The server's socket path.
    #[arg(value_name = "SOCKET")]
    pub socket: PathBuf,

    /// How many pings to send.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,

    /// Seconds between pings.
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_interval)]
    pub interval: f64,

    /// Seconds to wait for each answer (0.1 to 300).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: f64,

    /// Send this `channelId` (default: none; required by --dialect v1 and
    /// v1-epoch).
    #[arg(long, value_name = "C")]
    pub channel: Option<String>,

    /// Where to create the reply socket; the server must allow answers there.
    #[arg(long, value_name = "DIR", default_value = "/tmp")]
    pub reply_dir: PathBuf,

    /// The message shape.
    #[command(flatten)]
    pub wire: WireArgs,
}

/// `janus bench`.
#[derive(Debug, Args)]
#[command(after_long_help = concat!("\
All requests go through one client (one reply socket), with up to
CONCURRENCY of them in flight. One unmeasured request of the same kind is
sent first: if the server cannot be reached the run stops there (exit 4, or
3 on timeout). Latencies are measured from sending to answer, for every
request that got an answer (results and error responses alike), and kept in
an HDR histogram (3 significant digits). Error responses are counted by code;
timeouts and transport failures by kind.

A progress bar is drawn on stderr when it is a terminal.

", bench_exit_codes!()))]
pub struct BenchArgs {
    /// The server's socket path.
    #[arg(value_name = "SOCKET")]
    pub socket: PathBuf,

    /// Requests in flight at once.
    #[arg(short = 'c', long, value_name = "CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,

    /// How many requests to send (default 10000 unless --duration is given).
    #[arg(short = 'n', long, value_name = "REQUESTS", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Send requests for this many seconds instead of a fixed number.
    #[arg(short = 'd', long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,

    /// The request to send.
    #[arg(long, value_name = "R", default_value = "ping")]
    pub request: String,

    /// Send this `channelId` (default: none).
    #[arg(long, value_name = "C")]
    pub channel: Option<String>,

    /// The arguments of each request, as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,

    /// Seconds each request may wait for its answer (0.1 to 300).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
    pub timeout: f64,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Where to create the reply socket; the server must allow answers there.
    #[arg(long, value_name = "DIR", default_value = "/tmp")]
    pub reply_dir: PathBuf,

    /// The message shape.
    #[command(flatten)]
    pub wire: WireArgs,
}

/// How `call`, `ping` and `bench` write their requests. Answers are read in
/// every dialect, enveloped or not, whatever these say.
#[derive(Debug, Clone, Args)]
pub struct WireArgs {
    /// The dialect to send: v2 (`request`/`method`), v1 (a `SocketCommand`
    /// with `command` and an RFC 3339 timestamp) or v1-epoch (the same with
    /// epoch seconds). v1 and v1-epoch require --channel.
    #[arg(long, value_name = "D", default_value_t = Dialect::V2)]
    pub dialect: Dialect,

    /// Wrap each request in the envelope
    /// `{"type":"command","payload":"<base64 JSON>"}`.
    #[arg(long)]
    pub envelope: bool,

    /// The kind of socket SOCKET is (default: detected; a stream server
    /// accepting a connection there makes it a stream, anything else a
    /// datagram socket).
    #[arg(long, value_name = "T")]
    pub transport: Option<TransportArg>,
}

/// `--transport`: a datagram or a stream socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// A SOCK_DGRAM socket: answers come to a reply socket in --reply-dir.
    Dgram,
    /// A SOCK_STREAM socket: length-prefixed messages on one connection.
    Stream,
}

fn parse_seconds(text: &str, min: f64, max: f64) -> Result<f64, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(min..=max).contains(&secs) {
        return Err(format!("{secs} s is outside {min} s ..= {max} s"));
    }
    Ok(secs)
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    parse_seconds(
        text,
        janus_runtime::wire::MIN_TIMEOUT_SECS,
        janus_runtime::wire::MAX_TIMEOUT_SECS,
    )
}

fn parse_interval(text: &str) -> Result<f64, String> {
    parse_seconds(text, 0.0, 3600.0)
}

fn parse_duration(text: &str) -> Result<f64, String> {
    parse_seconds(text, 0.001, 86_400.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_stay_in_the_protocol_range() {
        assert_eq!(parse_timeout("0.5"), Ok(0.5));
        assert!(parse_timeout("0.01").is_err());
        assert!(parse_timeout("301").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn every_option_has_help() {
        fn walk(cmd: &clap::Command) {
            for arg in cmd.get_arguments() {
                assert!(
                    arg.get_help().is_some() || arg.get_id() == "help" || arg.get_id() == "version",
                    "`{}` of `{}` has no help",
                    arg.get_id(),
                    cmd.get_name()
                );
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "`{}` has no help",
                    sub.get_name()
                );
                walk(sub);
            }
        }
        walk(&Cli::command());
    }
}
