//! Prints the code generated from a manifest, or every problem in it.
//!
//! ```text
//! cargo run -p janus-codegen --bin janus-gen -- path/to/manifest.json [--client=false] [--server=false]
//! ```
//!
//! Exits 1 when the manifest has errors (listed on stderr as
//! `file:line:col: error: message (at /json/pointer)`), 2 on usage errors.

use std::process::ExitCode;

use janus_codegen::{ManifestSource, Options, generate};

fn main() -> ExitCode {
    let mut options = Options::default();
    let mut path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--client=false" => options.client = false,
            "--server=false" => options.server = false,
            "-h" | "--help" => {
                println!("usage: janus-gen MANIFEST.json [--client=false] [--server=false]");
                return ExitCode::SUCCESS;
            }
            other if path.is_none() && !other.starts_with('-') => path = Some(other.to_owned()),
            other => {
                eprintln!("janus-gen: unexpected argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: janus-gen MANIFEST.json [--client=false] [--server=false]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("janus-gen: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let shown = std::path::Path::new(&path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(&path)
        .to_owned();
    match generate(
        &shown,
        &text,
        &options,
        &ManifestSource::Literal(text.clone()),
    ) {
        Ok(g) => {
            for w in &g.warnings {
                eprintln!("{w}");
            }
            print!("{}", g.to_formatted_string(&shown));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}
