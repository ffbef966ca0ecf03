//! Printing shared by the subcommands: colour decisions, error objects,
//! call failures and their exit codes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use janus_runtime::{CallError, ErrorObject};
use serde_json::Value;

use crate::cli::{Color, TransportArg, WireArgs};
use crate::{Exit, Failure};

/// Whether to colour what goes to stderr.
pub fn stderr_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => auto_color(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ),
    }
}

/// `--color auto`: colour on a terminal unless `NO_COLOR` is set to a
/// non-empty value (an empty `NO_COLOR` does not disable colour, as
/// <https://no-color.org> says).
fn auto_color(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The exit code of a process killed by SIGPIPE, as shells report it.
const BROKEN_PIPE_EXIT: i32 = 128 + 13;

/// Writes `text` to stdout. When the reader has gone (`janus generate m.json
/// | head`), ends the process quietly with the status a shell reports for a
/// program stopped by SIGPIPE, instead of a panic.
pub fn out(text: &str) {
    out_with(|w| w.write_all(text.as_bytes()));
}

/// [`out`] for text written piece by piece: `write` gets buffered stdout.
pub fn out_with(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(e) = write(&mut stdout).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        eprintln!("janus: cannot write to stdout: {e}");
        std::process::exit(i32::from(Exit::Failure.code()));
    }
}

/// [`out`] with a newline.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// An error object as printed on stderr: a header line with the code and
/// message, then `details`, `errorType`, `field`, `value`, `constraints` and
/// any other member of `data`, one per line.
pub fn format_error_object(header: &str, error: &ErrorObject) -> String {
    let mut out = format!("{header}: {} {}\n", error.code, error.message);
    let line = |out: &mut String, key: &str, value: &Value| {
        let shown = match value {
            Value::String(s) if key != "value" => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("  {key}: {shown}\n"));
    };
    match &error.data {
        None => {}
        Some(Value::Object(data)) => {
            const FIRST: [&str; 5] = ["details", "errorType", "field", "value", "constraints"];
            for key in FIRST {
                if let Some(v) = data.get(key) {
                    line(&mut out, key, v);
                }
            }
            for (key, v) in data.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())) {
                match (key.as_str(), v) {
                    // A single violation is already shown by field/value/constraints.
                    ("errors", Value::Array(errors)) if errors.len() <= 1 => {}
                    // Every violation of a -32602, one per line.
                    ("errors", Value::Array(errors)) => {
                        out.push_str("  errors:\n");
                        for e in errors {
                            match e.get("message").and_then(Value::as_str) {
                                Some(message) => out.push_str(&format!("    - {message}\n")),
                                None => out.push_str(&format!("    - {e}\n")),
                            }
                        }
                    }
                    _ => line(&mut out, key, v),
                }
            }
        }
        Some(other) => line(&mut out, "data", other),
    }
    out
}

/// The failure for a call that did not return a result: the error response
/// printed on stderr (exit 1), or a timeout (3), or a transport failure (4).
pub fn call_failure(socket: &Path, error: CallError) -> Failure {
    match error {
        CallError::Remote(object) | CallError::Application { object, .. } => {
            eprint!("{}", format_error_object("error", &object));
            Failure::silent(Exit::Failure)
        }
        CallError::Timeout { timeout } => Failure::new(
            Exit::Timeout,
            format!(
                "no answer from {} within {} s",
                socket.display(),
                timeout.as_secs_f64()
            ),
        ),
        other => Failure::new(
            Exit::Transport,
            format!("calling {}: {other}", socket.display()),
        ),
    }
}

/// The failure for a client that could not be created.
fn client_failure(socket: &Path, reply_dir: &Path, error: std::io::Error) -> Failure {
    Failure::new(
        Exit::Transport,
        format!(
            "cannot create a client for {} (reply socket in {}): {error}",
            socket.display(),
            reply_dir.display()
        ),
    )
}

/// The client `call`, `ping` and `bench` use: of the kind of socket at
/// `socket` (detected unless `--transport` says), a datagram client's reply
/// socket in `reply_dir`, calls waiting `timeout`, up to `max_pending` in flight,
/// requests in the dialect of `wire`. A v1 dialect without a `channel` is a
/// usage error: a `SocketCommand` always names its channel.
pub async fn connect(
    socket: &Path,
    reply_dir: &Path,
    timeout: std::time::Duration,
    max_pending: usize,
    wire: &WireArgs,
    channel: Option<&str>,
) -> Result<janus_runtime::Client, Failure> {
    if wire.dialect.is_v1() && channel.is_none() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--dialect {} sends a SocketCommand, which always names its channel: give --channel",
                wire.dialect
            ),
        ));
    }
    let builder = janus_runtime::Client::builder()
        .reply_dir(reply_dir)
        .timeout(timeout)
        .max_pending(max_pending)
        .dialect(wire.dialect)
        .envelope(wire.envelope);
    match wire.transport {
        None => builder.connect_auto(socket).await,
        Some(TransportArg::Dgram) => builder.connect(socket).await,
        Some(TransportArg::Stream) => {
            return builder.connect_stream(socket).await.map_err(|e| {
                Failure::new(
                    Exit::Transport,
                    format!("cannot create a stream client: {e}"),
                )
            });
        }
    }
    .map_err(|e| client_failure(socket, reply_dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_no_color_does_not_disable_colour() {
        use std::ffi::OsStr;
        assert!(auto_color(true, None));
        assert!(auto_color(true, Some(OsStr::new(""))));
        assert!(!auto_color(true, Some(OsStr::new("1"))));
        assert!(!auto_color(false, None));
    }
    use janus_runtime::ErrorCode;
    use serde_json::json;

    #[test]
    fn error_objects_list_their_data_in_a_readable_order() {
        let v = janus_constraints::check_integer(130, None, Some(120)).unwrap_err();
        let e = ErrorObject::invalid_param("profile.age", Some(&json!(130)), &v)
            .with_data_entry("context", json!({"hint": 1}));
        assert_eq!(
            format_error_object("error", &e),
            "error: -32602 Invalid params\n  details: argument `profile.age`: 130 is greater than maximum 120\n  errorType: INVALID_PARAMS\n  field: profile.age\n  value: 130\n  constraints: {\"maximum\":120}\n  context: {\"hint\":1}\n"
        );
        let bare = ErrorObject::from_parts(-1, "odd", Some(json!([1])));
        assert_eq!(
            format_error_object("error", &bare),
            "error: -1 odd\n  data: [1]\n"
        );
        let s = ErrorObject::invalid_param(
            "name",
            Some(&json!("x")),
            &janus_constraints::check_enum_str("x", &["y"]).unwrap_err(),
        );
        assert!(format_error_object("error", &s).contains("  value: \"x\"\n"));
        let plain = ErrorObject::new(ErrorCode::MethodNotFound, "no such request");
        assert!(
            format_error_object("error", &plain).starts_with("error: -32601 Method not found\n")
        );
    }
}
