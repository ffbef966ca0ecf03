//! One-way mirroring of a directory tree: [`diff`] computes the changes that
//! make a target tree equal to a source tree, [`push`] applies them to a
//! server's workspace from a local directory and [`pull`] to a local
//! directory from a server's workspace.
//!
//! Both directions go through the same rules as any commit: a pull writes
//! the local directory with [`Workspace::commit`], so it never writes through
//! a local symlink either, and every file is replaced atomically. Contents
//! are moved in batches of bounded size (each batch is one atomic commit),
//! so memory stays bounded whatever the size of the tree.
//!
//! - Symlinks are never created (plans cannot create them): a source symlink
//!   is skipped and reported; a target symlink is never deleted.
//! - A path that is a file on one side and a directory on the other is
//!   replaced only when deleting is allowed; otherwise, or when a symlink is
//!   in the way, nothing at all is changed and the paths are named.
//! - A file replaced on the target carries the SHA-256 the target had when
//!   its tree was read: if it changed since, the batch is refused as a
//!   conflict.
//! - Every content moved is checked against the SHA-256 of the source tree,
//!   so a file changed during the transfer is reported, not half-copied.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::{ClientError, SyncClient};
use crate::codec::DEFAULT_MAX_BODY;
use crate::proto::{Delete, Entry, FileTree, Kind, MakeDir, Op, Operation, SyncPlan, WriteFile};
use crate::workspace::{CommitError, CommitLimits, ReadError, Workspace, sha256};

/// One change of a [`Diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create a directory.
    MakeDir {
        /// Its path.
        path: String,
    },
    /// Copy a file's content from the source.
    Write {
        /// Its path.
        path: String,
        /// Its size on the source.
        size: u64,
        /// Its permission bits on the source.
        mode: u32,
        /// Its SHA-256 on the source.
        sha256: Vec<u8>,
        /// The SHA-256 the target file has now, when one is replaced.
        expected: Option<Vec<u8>>,
    },
    /// Delete a file or an (emptied) directory of the target.
    Delete {
        /// Its path.
        path: String,
        /// The SHA-256 of the target file (none for a directory).
        expected: Option<Vec<u8>>,
    },
}

impl Change {
    /// The path the change is about.
    pub fn path(&self) -> &str {
        match self {
            Change::MakeDir { path } | Change::Write { path, .. } | Change::Delete { path, .. } => {
                path
            }
        }
    }
}

/// What it takes to make a target tree equal to a source tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Deletions, deepest paths first; applied before everything else.
    pub deletes: Vec<Change>,
    /// Directories to create and files to write, parents first.
    pub writes: Vec<Change>,
    /// Symlinks left alone: source symlinks (never created) and target
    /// symlinks that deleting would remove (never deleted).
    pub skipped_symlinks: Vec<String>,
    /// Paths that cannot be mirrored, with the reason; when not empty,
    /// nothing may be applied.
    pub conflicts: Vec<String>,
}

impl Diff {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.writes.is_empty()
    }

    /// The bytes of file content to move.
    pub fn bytes(&self) -> u64 {
        self.writes
            .iter()
            .map(|c| match c {
                Change::Write { size, .. } => *size,
                _ => 0,
            })
            .sum()
    }
}

fn kind_name(e: &Entry) -> &'static str {
    match e.kind() {
        Kind::File => "a file",
        Kind::Dir => "a directory",
        Kind::Symlink => "a symlink",
        Kind::Unspecified => "something else",
    }
}

/// Whether `path` is `dir` or lies beneath it.
fn within(path: &str, dir: &str) -> bool {
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// The changes that make `target` equal to `source` (files, directories,
/// contents and permission bits of files). With `delete`, target entries
/// that the source lacks are deleted, and a file that became a directory (or
/// the reverse) is replaced; without it they are left alone, and a changed
/// kind is a conflict.
pub fn diff(source: &FileTree, target: &FileTree, delete: bool) -> Diff {
    let src: BTreeMap<&str, &Entry> = source
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let dst: BTreeMap<&str, &Entry> = target
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let mut out = Diff::default();
    // Target paths to delete (a set: a replaced directory's contents are
    // also target-only entries).
    let mut doomed: BTreeSet<&str> = BTreeSet::new();
    let mut replaced: Vec<&str> = Vec::new();

    for s in &source.entries {
        let t = dst.get(s.path.as_str()).copied();
        match (s.kind(), t) {
            (Kind::Symlink, _) => out.skipped_symlinks.push(s.path.clone()),
            (Kind::Dir, Some(t)) if t.kind() == Kind::Dir => {}
            (Kind::File, Some(t))
                if t.kind() == Kind::File && t.sha256 == s.sha256 && t.mode == s.mode => {}
            (Kind::File, Some(t)) if t.kind() == Kind::File => out.writes.push(Change::Write {
                path: s.path.clone(),
                size: s.size,
                mode: s.mode & 0o777,
                sha256: s.sha256.clone(),
                expected: Some(t.sha256.clone()),
            }),
            (Kind::Dir | Kind::File, Some(t)) => {
                if t.kind() == Kind::Symlink || t.kind() == Kind::Unspecified {
                    out.conflicts.push(format!(
                        "'{}' is {} on the source and {} on the target, which is never replaced",
                        s.path,
                        kind_name(s),
                        kind_name(t)
                    ));
                } else if !delete {
                    out.conflicts.push(format!(
                        "'{}' is {} on the source and {} on the target (replacing it needs --delete)",
                        s.path,
                        kind_name(s),
                        kind_name(t)
                    ));
                } else {
                    doomed.insert(t.path.as_str());
                    replaced.push(t.path.as_str());
                    out.writes.push(new_entry(s));
                }
            }
            (Kind::Dir | Kind::File, None) => out.writes.push(new_entry(s)),
            (Kind::Unspecified, _) => {}
        }
    }
    if delete {
        for t in &target.entries {
            if !src.contains_key(t.path.as_str()) {
                doomed.insert(t.path.as_str());
            }
        }
    }
    // Symlinks are never deleted, and neither is any directory holding one.
    let kept: Vec<&str> = doomed
        .iter()
        .copied()
        .filter(|p| dst.get(p).is_some_and(|t| t.kind() == Kind::Symlink))
        .collect();
    for r in &replaced {
        if let Some(k) = kept.iter().find(|k| within(k, r)) {
            out.conflicts.push(format!(
                "'{r}' cannot be replaced: it holds the symlink '{k}', which is never deleted"
            ));
        }
    }
    for t in target.entries.iter().rev() {
        let p = t.path.as_str();
        if !doomed.contains(p) {
            continue;
        }
        if t.kind() == Kind::Symlink {
            out.skipped_symlinks.push(t.path.clone());
        } else if !kept.iter().any(|k| within(k, p)) && t.kind() != Kind::Unspecified {
            out.deletes.push(Change::Delete {
                path: t.path.clone(),
                expected: (t.kind() == Kind::File).then(|| t.sha256.clone()),
            });
        }
    }
    out
}

fn new_entry(s: &Entry) -> Change {
    if s.kind() == Kind::Dir {
        Change::MakeDir {
            path: s.path.clone(),
        }
    } else {
        Change::Write {
            path: s.path.clone(),
            size: s.size,
            mode: s.mode & 0o777,
            sha256: s.sha256.clone(),
            expected: None,
        }
    }
}

/// How changes are grouped into commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// File content per commit (default 16 MiB, well below the default
    /// 64 MiB message limit); a larger file goes alone. Whatever the limits,
    /// a batch's encoded plan fits one message of the default size.
    pub bytes: u64,
    /// Operations per commit (default 10,000).
    pub operations: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            bytes: 16 << 20,
            operations: 10_000,
        }
    }
}

/// An upper bound on what one operation adds to an encoded plan besides its
/// path and content: tags, lengths, an expected SHA-256, the mode.
const OPERATION_OVERHEAD: u64 = 96;

/// The largest encoded plan a batch may make, whatever its [`BatchLimits`]:
/// what one message of the default size carries (see [`MAX_PUSHED_FILE`]).
/// Paths count too, so that many operations on long paths still fit.
const MAX_BATCH_PLAN: u64 = MAX_PUSHED_FILE;

/// Splits `changes` into consecutive batches within `limits` and within
/// [`MAX_BATCH_PLAN`] bytes of encoded plan; a change larger than a limit
/// goes alone.
fn batches<'a>(changes: &'a [Change], limits: &BatchLimits) -> Vec<&'a [Change]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    let mut encoded = 0u64;
    for (i, c) in changes.iter().enumerate() {
        let size = match c {
            Change::Write { size, .. } => *size,
            _ => 0,
        };
        let plan_bytes = size + c.path().len() as u64 + OPERATION_OVERHEAD;
        let ops = i - start;
        if ops > 0
            && (ops >= limits.operations.max(1)
                || bytes + size > limits.bytes
                || encoded + plan_bytes > MAX_BATCH_PLAN)
        {
            out.push(&changes[start..i]);
            start = i;
            bytes = 0;
            encoded = 0;
        }
        bytes += size;
        encoded += plan_bytes;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// What a push or pull did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MirrorReport {
    /// Directories created.
    pub dirs_created: usize,
    /// Files written.
    pub files_written: usize,
    /// Bytes of file content written.
    pub bytes_written: u64,
    /// Files and directories deleted.
    pub deleted: usize,
    /// Commits made (each one atomic).
    pub commits: usize,
}

/// Why a push or pull stopped. Batches committed before the failure stay
/// applied (the report counts them); the failing batch changed nothing,
/// except for [`CommitError::Partial`], whose message names what was applied.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The diff has conflicts; nothing was changed.
    #[error("nothing was changed: {}", .0.join("; "))]
    Conflicts(Vec<String>),
    /// The server refused or failed, or the connection broke.
    #[error("{source} (after {} commit(s))", .done.commits)]
    Remote {
        /// What was done before.
        done: MirrorReport,
        /// The error.
        source: ClientError,
    },
    /// A local file cannot be read.
    #[error("{source} (after {} commit(s))", .done.commits)]
    Read {
        /// What was done before.
        done: MirrorReport,
        /// The error.
        source: ReadError,
    },
    /// The local directory refused or failed a commit.
    #[error("{source} (after {} commit(s))", .done.commits)]
    Local {
        /// What was done before.
        done: MirrorReport,
        /// The error.
        source: Box<CommitError>,
    },
    /// A source file changed between reading its tree and copying it.
    #[error("'{path}' changed on the source during the transfer; run again (after {} commit(s))", .done.commits)]
    Changed {
        /// What was done before.
        done: MirrorReport,
        /// The file.
        path: String,
    },
}

fn op(o: Op) -> Operation {
    Operation { op: Some(o) }
}

/// Builds the plan of one batch; `content` gives each written file's bytes.
fn plan_of<E>(
    batch: &[Change],
    mut content: impl FnMut(&Change) -> Result<Vec<u8>, E>,
    report: &mut MirrorReport,
) -> Result<SyncPlan, E> {
    let mut operations = Vec::with_capacity(batch.len());
    for c in batch {
        operations.push(match c {
            Change::MakeDir { path } => {
                report.dirs_created += 1;
                op(Op::MakeDir(MakeDir { path: path.clone() }))
            }
            Change::Delete { path, expected } => {
                report.deleted += 1;
                op(Op::Delete(Delete {
                    path: path.clone(),
                    expected_sha256: expected.clone(),
                }))
            }
            Change::Write {
                path,
                mode,
                expected,
                ..
            } => {
                let bytes = content(c)?;
                report.files_written += 1;
                report.bytes_written += bytes.len() as u64;
                op(Op::WriteFile(WriteFile {
                    path: path.clone(),
                    content: bytes,
                    expected_sha256: expected.clone(),
                    mode: *mode,
                }))
            }
        });
    }
    Ok(SyncPlan { operations })
}

/// Checks a moved content against the source tree's SHA-256.
fn verified(change: &Change, bytes: Vec<u8>) -> Result<Vec<u8>, ()> {
    match change {
        Change::Write { sha256: want, .. } if sha256(&bytes)[..] == want[..] => Ok(bytes),
        _ => Err(()),
    }
}

/// A diff with conflicts is applied in neither direction.
fn refuse_conflicts(diff: &Diff) -> Result<(), MirrorError> {
    if diff.conflicts.is_empty() {
        Ok(())
    } else {
        Err(MirrorError::Conflicts(diff.conflicts.clone()))
    }
}

/// The batches to commit, in order: deletions first, then the rest.
fn all_batches<'a>(diff: &'a Diff, limits: &BatchLimits) -> Vec<&'a [Change]> {
    let mut out = batches(&diff.deletes, limits);
    out.extend(batches(&diff.writes, limits));
    out
}

/// The largest file a push sends: what fits one message of the default
/// size, with room for the plan around it.
pub const MAX_PUSHED_FILE: u64 = DEFAULT_MAX_BODY - (64 << 10);

/// Applies `diff` (local = source, the server's workspace = target) through
/// `client`, reading contents from `local`. A file above
/// [`MAX_PUSHED_FILE`] stops the push before anything is changed. `progress` is told the bytes of
/// each file read.
pub async fn push(
    client: &mut SyncClient,
    local: &Workspace,
    diff: &Diff,
    limits: &BatchLimits,
    mut progress: impl FnMut(u64),
) -> Result<MirrorReport, MirrorError> {
    refuse_conflicts(diff)?;
    let too_large: Vec<String> = diff
        .writes
        .iter()
        .filter_map(|c| match c {
            Change::Write { path, size, .. } if *size > MAX_PUSHED_FILE => Some(format!(
                "'{path}' has {size} bytes; one commit carries files of at most {MAX_PUSHED_FILE}"
            )),
            _ => None,
        })
        .collect();
    if !too_large.is_empty() {
        return Err(MirrorError::Conflicts(too_large));
    }
    let mut done = MirrorReport::default();
    // The report once the commit in flight succeeds: while the server
    // applies one batch, the next is read here.
    let mut in_flight: Option<MirrorReport> = None;
    for batch in all_batches(diff, limits) {
        let mut report = in_flight.unwrap_or(done);
        let plan = plan_of(
            batch,
            |change| {
                let path = change.path();
                let bytes = local
                    .read_file(path, MAX_PUSHED_FILE)
                    .map_err(Unreadable::Read)?;
                progress(bytes.len() as u64);
                verified(change, bytes).map_err(|()| Unreadable::Changed(path.to_string()))
            },
            &mut report,
        );
        if let Some(r) = in_flight.take() {
            finish_commit(client, &mut done, r).await?;
        }
        let plan = plan.map_err(|e| match e {
            Unreadable::Read(source) => MirrorError::Read { done, source },
            Unreadable::Changed(path) => MirrorError::Changed { done, path },
        })?;
        client
            .begin_commit(&[plan])
            .await
            .map_err(|source| MirrorError::Remote { done, source })?;
        report.commits += 1;
        in_flight = Some(report);
    }
    if let Some(r) = in_flight.take() {
        finish_commit(client, &mut done, r).await?;
    }
    Ok(done)
}

/// Why a local file could not be sent.
enum Unreadable {
    Read(ReadError),
    Changed(String),
}

/// Receives the answer to the commit in flight; `after` is the report once
/// it is applied.
async fn finish_commit(
    client: &mut SyncClient,
    done: &mut MirrorReport,
    after: MirrorReport,
) -> Result<(), MirrorError> {
    client
        .end_commit()
        .await
        .map_err(|source| MirrorError::Remote {
            done: *done,
            source,
        })?;
    *done = after;
    Ok(())
}

/// Applies `diff` (the server's workspace = source, local = target) to
/// `local`, fetching contents through `client`. `progress` is told the bytes
/// of each file fetched.
pub async fn pull(
    client: &mut SyncClient,
    local: &Workspace,
    diff: &Diff,
    limits: &BatchLimits,
    mut progress: impl FnMut(u64),
) -> Result<MirrorReport, MirrorError> {
    refuse_conflicts(diff)?;
    let commit_limits = CommitLimits {
        max_operations_per_plan: limits.operations.max(1),
        max_file_bytes: u64::MAX,
        max_commit_bytes: u64::MAX,
        ..CommitLimits::default()
    };
    let mut done = MirrorReport::default();
    for batch in all_batches(diff, limits) {
        let mut contents = BTreeMap::new();
        for c in batch {
            if let Change::Write { path, .. } = c {
                let bytes = client
                    .fetch_file(path)
                    .await
                    .map_err(|source| MirrorError::Remote { done, source })?;
                progress(bytes.len() as u64);
                let bytes = verified(c, bytes.to_vec()).map_err(|()| MirrorError::Changed {
                    done,
                    path: path.clone(),
                })?;
                contents.insert(path.as_str(), bytes);
            }
        }
        let mut report = done;
        let plan = plan_of(
            batch,
            |c| Ok::<_, MirrorError>(contents.remove(c.path()).unwrap_or_default()),
            &mut report,
        )?;
        local
            .commit(&[plan], &commit_limits)
            .map_err(|source| MirrorError::Local {
                done,
                source: Box::new(source),
            })?;
        done = report;
        done.commits += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &[u8]) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File as i32,
            size: content.len() as u64,
            mode: 0o644,
            sha256: sha256(content).to_vec(),
            ..Entry::default()
        }
    }

    fn dir(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::Dir as i32,
            mode: 0o755,
            ..Entry::default()
        }
    }

    fn link(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::Symlink as i32,
            link_target: "/etc".into(),
            ..Entry::default()
        }
    }

    fn tree(entries: Vec<Entry>) -> FileTree {
        FileTree { entries }
    }

    fn paths(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(Change::path).collect()
    }

    #[test]
    fn new_changed_and_same_files() {
        let s = tree(vec![
            dir("a"),
            file("a/new", b"n"),
            file("same", b"s"),
            file("x", b"v2"),
        ]);
        let t = tree(vec![
            file("same", b"s"),
            file("x", b"v1"),
            file("old", b"o"),
        ]);
        let d = diff(&s, &t, false);
        assert_eq!(paths(&d.writes), ["a", "a/new", "x"]);
        assert!(d.deletes.is_empty() && d.conflicts.is_empty());
        let Change::Write { expected, .. } = &d.writes[2] else {
            panic!()
        };
        assert_eq!(expected.as_deref(), Some(&sha256(b"v1")[..]));
        assert_eq!(d.bytes(), 3);
        let d = diff(&s, &t, true);
        assert_eq!(paths(&d.deletes), ["old"]);
    }

    #[test]
    fn deletes_go_deepest_first_and_spare_symlinks() {
        let s = tree(vec![]);
        let t = tree(vec![
            dir("d"),
            dir("d/e"),
            file("d/e/f", b"f"),
            dir("k"),
            link("k/l"),
        ]);
        let d = diff(&s, &t, true);
        assert_eq!(paths(&d.deletes), ["d/e/f", "d/e", "d"]);
        assert_eq!(d.skipped_symlinks, ["k/l"]);
        assert!(d.conflicts.is_empty());
    }

    #[test]
    fn kind_changes_need_delete_and_never_touch_symlinks() {
        let s = tree(vec![
            dir("p"),
            file("p/x", b"x"),
            file("q", b"q"),
            file("l", b"l"),
        ]);
        let t = tree(vec![file("p", b"was a file"), dir("q"), link("l")]);
        let d = diff(&s, &t, false);
        assert_eq!(d.conflicts.len(), 3, "{:?}", d.conflicts);
        let d = diff(&s, &t, true);
        assert_eq!(d.conflicts.len(), 1, "{:?}", d.conflicts);
        assert!(d.conflicts[0].contains("'l'"));
        assert_eq!(paths(&d.deletes), ["q", "p"]);
        assert_eq!(paths(&d.writes), ["p", "p/x", "q"]);
        let s = tree(vec![file("k", b"k")]);
        let t = tree(vec![dir("k"), link("k/l")]);
        let d = diff(&s, &t, true);
        assert_eq!(d.conflicts.len(), 1, "{:?}", d.conflicts);
    }

    #[test]
    fn source_symlinks_are_skipped() {
        let d = diff(&tree(vec![link("l")]), &tree(vec![]), true);
        assert!(d.is_empty());
        assert_eq!(d.skipped_symlinks, ["l"]);
    }

    #[test]
    fn batches_respect_bytes_and_operations() {
        let w = |p: &str, size| Change::Write {
            path: p.into(),
            size,
            mode: 0o644,
            sha256: vec![],
            expected: None,
        };
        let changes = vec![w("a", 6), w("b", 6), w("c", 20), w("d", 1), w("e", 1)];
        let l = BatchLimits {
            bytes: 10,
            operations: 2,
        };
        let got: Vec<Vec<&str>> = batches(&changes, &l).iter().map(|b| paths(b)).collect();
        assert_eq!(got, vec![vec!["a"], vec!["b"], vec!["c"], vec!["d", "e"]]);
        assert!(batches(&[], &l).is_empty());
    }

    #[test]
    fn batches_fit_one_message_whatever_the_limits() {
        let l = BatchLimits {
            bytes: u64::MAX,
            operations: usize::MAX,
        };
        let write = |path: &str, size| Change::Write {
            path: path.into(),
            size,
            mode: 0o644,
            sha256: vec![],
            expected: None,
        };
        // Paths count: a file just below the message size and then ten
        // directories on 4,000-byte paths do not fit one message.
        let mut changes = vec![write("f", MAX_PUSHED_FILE - 20_000)];
        changes.extend((0..10).map(|i| Change::MakeDir {
            path: format!("{}{i}", "d".repeat(4000)),
        }));
        let got = batches(&changes, &l);
        let sizes: Vec<usize> = got.iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [5, 6], "the file and 4 directories, then the rest");
        // A file as large as a push carries goes alone.
        let small = Change::MakeDir { path: "a".into() };
        let changes = [small.clone(), write("big", MAX_PUSHED_FILE), small];
        assert_eq!(batches(&changes, &l).len(), 3);
    }
}
