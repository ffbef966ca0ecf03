//! Reading a manifest file and checking it, with problems rendered for people.

use std::path::{Path, PathBuf};

use janus_codegen::model::{self, Checked};

use crate::cli::Color;
use crate::diagnostics;
use crate::output::stderr_color;
use crate::{Exit, Failure};

/// A manifest file: where it is, the name shown in messages, its text.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// The path as given.
    pub path: PathBuf,
    /// The path as shown in messages and generated files.
    pub name: String,
    /// The content.
    pub text: String,
}

impl ManifestFile {
    /// Reads the file; `exit` is the exit code when it cannot be read.
    pub fn read(path: &Path, exit: Exit) -> Result<Self, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::new(exit, format!("cannot read {}: {e}", path.display())))?;
        Ok(Self {
            path: path.to_owned(),
            name: path.display().to_string(),
            text,
        })
    }

    /// Checks the manifest. Warnings and errors are printed on stderr as
    /// source snippets; on errors the failure exits with `exit`.
    pub fn check(&self, color: Color, exit: Exit) -> Result<Checked, Failure> {
        match model::load(&self.name, &self.text) {
            Ok(checked) => {
                self.print(&checked.warnings, color);
                if checked.omitted_warnings() > 0 {
                    eprintln!("and {} more warnings not shown", checked.omitted_warnings());
                }
                Ok(checked)
            }
            Err(errors) => {
                self.print_errors(&errors, color);
                Err(Failure::new(
                    exit,
                    format!("{}: {}", self.name, diagnostics::error_counts(&errors)),
                ))
            }
        }
    }

    /// Prints the diagnostics of a rejected manifest on stderr, ending with
    /// how many were not shown, if any.
    pub fn print_errors(&self, errors: &janus_codegen::ManifestErrors, color: Color) {
        self.print(errors.diagnostics(), color);
        if let Some(note) = errors.omitted_note() {
            eprintln!("{note}");
        }
    }

    /// Prints diagnostics of this manifest on stderr.
    pub fn print(&self, diags: &[janus_codegen::Diagnostic], color: Color) {
        if !diags.is_empty() {
            eprint!(
                "{}",
                diagnostics::render(&self.name, &self.text, diags, stderr_color(color))
            );
        }
    }

    /// The file name without directories, e.g. `user-management.json`.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.name)
            .to_owned()
    }
}
