//! `janus serve`: a mock server for a manifest.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use janus_codegen::model::Validator;
use janus_runtime::Server;

use crate::cli::{Color, ServeArgs};
use crate::diagnostics::plural;
use crate::manifest_file::ManifestFile;
use crate::mock::{MockChannel, log_line};
use crate::{Exit, Failure};

pub async fn run(args: ServeArgs, color: Color) -> Result<(), Failure> {
    let file = ManifestFile::read(&args.manifest, Exit::Failure)?;
    let checked = file.check(color, Exit::Failure)?;
    let validator = Arc::new(Validator::new(checked.manifest));
    let text: Arc<str> = Arc::from(file.text.as_str());

    let mut builder = Server::builder()
        .max_handler_timeout(Duration::from_secs(300))
        .shutdown_grace(Duration::from_secs(5));
    if !args.allow_dirs.is_empty() {
        builder = builder.allowed_dirs(args.allow_dirs.iter().cloned());
    }
    if !args.quiet {
        builder = builder.observe(|record| say(&log_line(record)));
    }
    let mut places = Vec::new();
    if let Some(path) = &args.socket {
        builder = builder.datagram(path);
        places.push(path.display().to_string());
    }
    if let Some(path) = &args.stream_socket {
        builder = builder.stream(path);
        places.push(path.display().to_string());
    }
    let places = places.join(" and ");
    let mut server = builder
        .build()
        .map_err(|e| Failure::new(Exit::Transport, format!("cannot serve on {places}: {e}")))?;
    for channel in MockChannel::for_manifest(validator.clone(), text) {
        server = server.channel(channel.with_delay(Duration::from_millis(args.delay)));
    }
    let handle = server.handle();

    let serving = server
        .serve_until_signal()
        .map_err(|e| Failure::new(Exit::Failure, format!("cannot handle signals: {e}")))?;
    let m = validator.manifest();
    let channels: Vec<String> = m
        .channels
        .iter()
        .map(|c| format!("{} ({})", c.id, plural(c.requests.len(), "request")))
        .collect();
    say(&format!(
        "janus serve: {} listening on {}; channels: {}; Ctrl-C stops",
        file.name,
        listening(&args),
        channels.join(", ")
    ));

    serving
        .await
        .map_err(|e| Failure::new(Exit::Transport, format!("serving on {places} failed: {e}")))?;
    let stats = handle.stats();
    say(&format!(
        "janus serve: stopped after {} ({} answered with an error); removed {}",
        plural(stats.received as usize, "request"),
        stats.errors,
        places
    ));
    Ok(())
}

/// Where the server listens, in words: the datagram path alone as before,
/// each path with its kind when there is a stream socket.
fn listening(args: &ServeArgs) -> String {
    match (&args.socket, &args.stream_socket) {
        (Some(d), None) => d.display().to_string(),
        (Some(d), Some(s)) => format!("{} (datagram) and {} (stream)", d.display(), s.display()),
        (None, Some(s)) => format!("{} (stream)", s.display()),
        (None, None) => String::new(), // clap requires one of them
    }
}

/// A line on stdout; a server keeps serving (and cleans up) even when
/// nobody reads its output.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
