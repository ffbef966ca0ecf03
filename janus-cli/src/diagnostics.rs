//! Manifest diagnostics rendered as source snippets with a caret under the
//! offending token and the JSON pointer beside it (codespan-reporting).

use std::io::Write;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as ReportSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::{Buffer, WriteColor};
use codespan_reporting::term::{self, Config};
use janus_codegen::{Diagnostic, Severity};

/// Renders diagnostics of the manifest `name` (whose text is `text`).
pub fn render(name: &str, text: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(name, text);
    let config = Config::default();
    let mut buffer = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    for d in diagnostics {
        let report = Report::new(match d.severity {
            Severity::Error => ReportSeverity::Error,
            Severity::Warning => ReportSeverity::Warning,
        })
        .with_message(&d.message)
        .with_labels(vec![
            Label::primary((), token_span(text, d.offset))
                .with_message(format!("at {}", d.shown_pointer())),
        ]);
        if term::emit_to_write_style(&mut buffer, &config, &file, &report).is_err() {
            // The position lies outside the text (cannot happen for the
            // generator's own diagnostics): fall back to the one-line form.
            let _ = buffer.reset();
            let _ = writeln!(buffer, "{d}");
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

/// `N errors, M warnings` of a rejected manifest, the ones not shown
/// (past the first `janus_codegen::MAX_DIAGNOSTICS`) included.
pub fn error_counts(errors: &janus_codegen::ManifestErrors) -> String {
    count_parts(errors.error_count(), errors.warning_count())
}

/// `N errors, M warnings` (the parts that are not zero).
fn count_parts(errors: usize, warnings: usize) -> String {
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(plural(errors, "error"));
    }
    if warnings > 0 {
        parts.push(plural(warnings, "warning"));
    }
    parts.join(", ")
}

/// `1 channel`, `2 channels`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The byte range of the JSON token that starts at `offset`: a whole string
/// (on its line), number or literal; one character otherwise.
fn token_span(text: &str, offset: usize) -> Range<usize> {
    let mut start = offset.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let rest = &text[start..];
    let len = match rest.chars().next() {
        None => 0,
        Some('"') => {
            let mut escaped = false;
            let mut end = rest.len();
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    '\n' => {
                        end = i;
                        break;
                    }
                    '"' if !escaped => {
                        end = i + 1;
                        break;
                    }
                    '\\' => escaped = !escaped,
                    _ => escaped = false,
                }
            }
            end
        }
        Some(c) if c == '-' || c.is_ascii_alphanumeric() => rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')))
            .unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
    };
    start..start + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_whole_tokens() {
        let text = "{\"key\": \"a\\\"b\", \"n\": -12.5e3, \"t\": true, \"o\": {}}";
        let at = |needle: &str| text.find(needle).unwrap();
        let span = |needle: &str| &text[token_span(text, at(needle))];
        assert_eq!(span("\"key\""), "\"key\"");
        assert_eq!(span("\"a\\\""), "\"a\\\"b\"");
        assert_eq!(span("-12"), "-12.5e3");
        assert_eq!(span("true"), "true");
        assert_eq!(span("{}"), "{");
        assert_eq!(token_span(text, text.len() + 5), text.len()..text.len());
        // An unterminated string stops at the end of its line.
        assert_eq!(token_span("\"abc\nx", 0), 0..4);
    }

    #[test]
    fn renders_snippet_caret_position_and_pointer() {
        let text = "{\n  \"version\": \"1.0\",\n  \"channels\": {}\n}\n";
        let diags = janus_codegen::check("m.json", text);
        let out = render("m.json", text, &diags, false);
        assert!(
            out.contains("error: version `1.0` is not a semantic version"),
            "{out}"
        );
        assert!(out.contains("┌─ m.json:2:14"), "{out}");
        assert!(out.contains("\"version\": \"1.0\","), "{out}");
        assert!(out.contains("^^^^^ at /version"), "{out}");
        assert!(out.contains("at /channels"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
        assert!(render("m.json", text, &diags, true).contains('\u{1b}'));
        let errors = janus_codegen::parse("m.json", text).unwrap_err();
        assert_eq!(error_counts(&errors), "2 errors");
    }

    #[test]
    fn columns_count_characters() {
        // Non-ASCII before the problem: the column is in characters, as the
        // generator counts it.
        let text = "{\"description\": \"é\", \"version\": 1, \"channels\": {}}";
        let diags = janus_codegen::check("m.json", text);
        let version = diags.iter().find(|d| d.pointer == "/version").unwrap();
        let out = render("m.json", text, std::slice::from_ref(version), false);
        assert!(
            out.contains(&format!("m.json:{}:{}", version.line, version.column)),
            "{out}"
        );
    }
}
