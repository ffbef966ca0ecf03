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
    let mut server = builder.bind(&args.socket).map_err(|e| {
        Failure::new(
            Exit::Transport,
            format!("cannot serve on {}: {e}", args.socket.display()),
        )
    })?;
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
        args.socket.display(),
        channels.join(", ")
    ));

    serving.await.map_err(|e| {
        Failure::new(
            Exit::Transport,
            format!("serving on {} failed: {e}", args.socket.display()),
        )
    })?;
    let stats = handle.stats();
    say(&format!(
        "janus serve: stopped after {} ({} answered with an error); removed {}",
        plural(stats.received as usize, "request"),
        stats.errors,
        args.socket.display()
    ));
    Ok(())
}

/// A line on stdout; a server keeps serving (and cleans up) even when
/// nobody reads its output.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
