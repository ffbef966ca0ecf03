//! `janus generate`: the code build.rs would write, formatted.

use janus_codegen::{ManifestSource, Options, generate};

use crate::cli::{Color, GenerateArgs};
use crate::manifest_file::ManifestFile;
use crate::output::out;
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
    let generated = generate(
        &file.name,
        &file.text,
        &options,
        &ManifestSource::Literal(file.text.clone()),
    )
    .map_err(|errors| {
        file.print_errors(&errors, color);
        Failure::new(
            Exit::Failure,
            format!("{}: {}", file.name, diagnostics::error_counts(&errors)),
        )
    })?;
    file.print(&generated.warnings, color);
    let code = generated.to_formatted_string(&file.name);
    match &args.output {
        None => {
            out(&code);
            Ok(())
        }
        Some(out) => std::fs::write(out, code).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot write {}: {e}", out.display()),
            )
        }),
    }
}
