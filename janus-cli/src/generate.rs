//! `janus generate`: the code build.rs would write, formatted.

use std::io::Write;

use janus_codegen::{ManifestSource, Options, parse};

use crate::cli::{Color, GenerateArgs};
use crate::manifest_file::ManifestFile;
use crate::output::out_with;
use crate::{Exit, Failure, diagnostics};

pub fn run(args: &GenerateArgs, color: Color) -> Result<(), Failure> {
    let file = ManifestFile::read(&args.manifest, Exit::Failure)?;
    let options = Options {
        client: !args.no_client,
        server: !args.no_server,
        derives: args.derive.clone(),
    };
    // As `janus_codegen::configure().compile(path)` does: the path as given
    // names the manifest, and the manifest's text is embedded.
    let source = ManifestSource::Literal(file.text.clone());
    let checked = parse(&file.name, &file.text).map_err(|errors| {
        file.print_errors(&errors, color);
        Failure::new(
            Exit::Failure,
            format!("{}: {}", file.name, diagnostics::error_counts(&errors)),
        )
    })?;
    file.print(&checked.warnings, color);
    // Written piece by piece as it is generated and formatted: neither the
    // generated tokens nor the formatted text are ever held whole.
    match &args.output {
        None => {
            out_with(|w| checked.write_formatted(&options, &source, w));
            Ok(())
        }
        Some(out) => std::fs::File::create(out)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                checked
                    .write_formatted(&options, &source, &mut w)
                    .and_then(|()| w.flush())
            })
            .map_err(|e| {
                Failure::new(
                    Exit::Failure,
                    format!("cannot write {}: {e}", out.display()),
                )
            }),
    }
}
