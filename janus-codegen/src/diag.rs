//! Diagnostics: what is wrong with a manifest, and where.

use std::collections::{BinaryHeap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};

/// A position in the manifest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The manifest is rejected.
    Error,
    /// The manifest is accepted; something in it deserves a look.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a manifest: file, line, column, JSON pointer and message.
///
/// Displays as `file:line:col: error: message (at /json/pointer)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The manifest's file name, as given to the generator.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset in the manifest text.
    pub offset: usize,
    /// JSON pointer (RFC 6901) of the value concerned; empty for the root.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos`.
    pub fn error(
        file: &str,
        pos: Pos,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, file, pos, pointer, message)
    }

    /// A warning at `pos`.
    pub fn warning(
        file: &str,
        pos: Pos,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, file, pos, pointer, message)
    }

    fn new(
        severity: Severity,
        file: &str,
        pos: Pos,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            offset: pos.offset,
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: message (at /json/pointer)`: the diagnostic without
    /// its severity, for tools that show the severity themselves (the
    /// compiler's `error:` under `janus!`).
    pub fn without_severity(&self) -> String {
        format!(
            "{}:{}:{}: {} (at {})",
            self.file,
            self.line,
            self.column,
            self.message,
            self.shown_pointer()
        )
    }

    /// The pointer as shown in messages (`/` for the root).
    pub fn shown_pointer(&self) -> &str {
        if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {} (at {})",
            self.file,
            self.line,
            self.column,
            self.severity,
            self.message,
            self.shown_pointer()
        )
    }
}

/// At most this many diagnostics are kept and shown: the first ones in
/// source order. The others are counted, and the listing ends with
/// "and N more errors".
pub const MAX_DIAGNOSTICS: usize = 1_000;

/// Every error found in a manifest (and the warnings beside them).
///
/// At most [`MAX_DIAGNOSTICS`] are kept, the first in source order; the
/// rest are only counted ([`omitted_errors`](Self::omitted_errors),
/// [`omitted_warnings`](Self::omitted_warnings)).
///
/// `Debug` shows the same text as `Display`: the diagnostics, one a line.
#[derive(Clone, PartialEq, Eq)]
pub struct ManifestErrors {
    diagnostics: Vec<Diagnostic>,
    omitted: Omitted,
    modules: Vec<String>,
}

/// How many diagnostics were found beyond [`MAX_DIAGNOSTICS`] and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Omitted {
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
}

impl Omitted {
    /// `and 9000 more errors and 3 more warnings`, or `None` when nothing
    /// was dropped.
    pub(crate) fn note(self) -> Option<String> {
        let part = |n: usize, word: &str| match n {
            0 => None,
            1 => Some(format!("1 more {word}")),
            n => Some(format!("{n} more {word}s")),
        };
        let parts: Vec<String> = [part(self.errors, "error"), part(self.warnings, "warning")]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| format!("and {} not shown", parts.join(" and ")))
    }
}

impl ManifestErrors {
    pub(crate) fn new(diagnostics: Vec<Diagnostic>, omitted: Omitted) -> Self {
        Self {
            diagnostics,
            omitted,
            modules: Vec::new(),
        }
    }

    pub(crate) fn with_modules(mut self, modules: Vec<String>) -> Self {
        self.modules = modules;
        self
    }

    /// The modules the generated code would have, as far as the manifest
    /// could be read: the models module first, then one per channel whose
    /// id makes an identifier. A macro that expands to these (empty) beside
    /// its errors spares its user a cascade of "unresolved module" errors.
    pub fn module_names(&self) -> &[String] {
        &self.modules
    }

    /// The diagnostics kept, errors and warnings, in source order (at most
    /// [`MAX_DIAGNOSTICS`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The errors kept, in source order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// How many errors were found in all, the ones not kept included.
    pub fn error_count(&self) -> usize {
        self.errors().count() + self.omitted.errors
    }

    /// How many warnings were found in all, the ones not kept included.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.errors().count() + self.omitted.warnings
    }

    /// How many errors were found beyond [`MAX_DIAGNOSTICS`] and not kept.
    pub fn omitted_errors(&self) -> usize {
        self.omitted.errors
    }

    /// How many warnings were found beyond [`MAX_DIAGNOSTICS`] and not kept.
    pub fn omitted_warnings(&self) -> usize {
        self.omitted.warnings
    }

    /// The line that ends a capped listing: `and 9000 more errors not
    /// shown`; `None` when every diagnostic was kept.
    pub fn omitted_note(&self) -> Option<String> {
        self.omitted.note()
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.error_count();
        writeln!(
            f,
            "the manifest has {count} error{}:",
            if count == 1 { "" } else { "s" }
        )?;
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if let Some(note) = self.omitted_note() {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ManifestErrors {}

/// Where the reader and the resolver put what they find: keeps the first
/// [`MAX_DIAGNOSTICS`] in source order (a bounded heap: memory does not
/// grow with the number of problems), drops exact duplicates, and counts
/// everything.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    /// The kept diagnostics; the top is the last in source order.
    kept: BinaryHeap<Keyed>,
    /// Hashes of every diagnostic seen, to drop repeats.
    seen: HashSet<u64>,
    seq: u64,
    errors: usize,
    omitted: Omitted,
}

#[derive(Debug)]
struct Keyed {
    offset: usize,
    seq: u64,
    diagnostic: Diagnostic,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        (self.offset, self.seq) == (other.offset, other.seq)
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.offset, self.seq).cmp(&(other.offset, other.seq))
    }
}

impl Sink {
    /// Records a diagnostic.
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        let mut h = std::hash::DefaultHasher::new();
        (
            diagnostic.severity,
            diagnostic.offset,
            &diagnostic.pointer,
            &diagnostic.message,
        )
            .hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return;
        }
        if diagnostic.is_error() {
            self.errors += 1;
        }
        self.seq += 1;
        self.kept.push(Keyed {
            offset: diagnostic.offset,
            seq: self.seq,
            diagnostic,
        });
        if self.kept.len() > MAX_DIAGNOSTICS
            && let Some(dropped) = self.kept.pop()
        {
            if dropped.diagnostic.is_error() {
                self.omitted.errors += 1;
            } else {
                self.omitted.warnings += 1;
            }
        }
    }

    /// Whether any error was recorded (kept or not).
    pub(crate) fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The kept diagnostics in source order, and what was dropped.
    pub(crate) fn finish(self) -> (Vec<Diagnostic>, Omitted) {
        let kept = self
            .kept
            .into_sorted_vec()
            .into_iter()
            .map(|k| k.diagnostic)
            .collect();
        (kept, self.omitted)
    }
}
