//! `janus check`: every problem of every manifest, with its position.

use janus_codegen::model::Checked;

use crate::cli::{CheckArgs, Color};
use crate::diagnostics::plural;
use crate::manifest_file::ManifestFile;
use crate::output::outln;
use crate::{Exit, Failure};

pub fn run(args: &CheckArgs, color: Color) -> Result<(), Failure> {
    let mut failed = 0;
    for path in &args.manifests {
        let outcome = ManifestFile::read(path, Exit::Failure)
            .and_then(|file| file.check(color, Exit::Failure).map(|c| (file, c)));
        match outcome {
            Ok((file, checked)) => outln(&summary(&file.name, &checked)),
            Err(failure) => {
                eprintln!("janus: {failure}");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        _ if args.manifests.len() == 1 => Err(Failure::silent(Exit::Failure)),
        n => Err(Failure::new(
            Exit::Failure,
            format!("{n} of {} manifests have errors", args.manifests.len()),
        )),
    }
}

/// `m.json: ok (1 channel, 3 requests, 2 models)`, with the warnings counted.
fn summary(name: &str, checked: &Checked) -> String {
    let m = &checked.manifest;
    let verdict = match checked.warnings.len() + checked.omitted_warnings() {
        0 => "ok".to_owned(),
        n => format!("ok with {}", plural(n, "warning")),
    };
    format!(
        "{name}: {verdict} ({}, {}, {})",
        plural(m.channels.len(), "channel"),
        plural(m.request_count(), "request"),
        plural(m.models.len(), "model"),
    )
}
