//! A workspace directory: its file tree and the application of commits.
//!
//! Every access goes through a [`cap_std::fs::Dir`] opened on the root, so
//! resolution never leaves the workspace (`..` and symlinks that point out
//! are refused by the kernel-backed sandbox). On top of that, a commit is
//! validated in full before anything is applied: every path passes
//! [`crate::paths`], no existing component of any path may be a symlink
//! (plans never write, rename or delete through or onto a symlink), sizes are
//! within [`CommitLimits`], and expected SHA-256s match the current files.
//! Each operation is checked against the workspace as the operations before
//! it in the commit leave it (a simulation of their effect), so what would
//! fail when applied (a missing parent directory, deleting a directory that
//! is not empty or nothing at all, renaming onto an existing path) refuses
//! the whole commit instead of failing half-way.
//! Files are written atomically (a temporary file, fsynced, renamed into
//! place) and every directory a commit changed is fsynced once when it ends,
//! so an applied commit survives a crash; commits to one workspace are
//! serialised.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, OpenOptions, PermissionsExt};
use sha2::{Digest, Sha256};

use crate::paths::{self, PathError};
use crate::proto::{Entry, FileTree, Kind, Op, SyncPlan};

/// Limits on one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLimits {
    /// Plans per commit (default 1,024).
    pub max_plans: usize,
    /// Operations per plan (default 100,000).
    pub max_operations_per_plan: usize,
    /// Bytes of one written file (default 64 MiB).
    pub max_file_bytes: u64,
    /// Bytes written by one commit (default 1 GiB).
    pub max_commit_bytes: u64,
}

impl Default for CommitLimits {
    fn default() -> Self {
        CommitLimits {
            max_plans: 1024,
            max_operations_per_plan: 100_000,
            max_file_bytes: 64 << 20,
            max_commit_bytes: 1 << 30,
        }
    }
}

/// Where in a commit something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpRef {
    /// Index of the plan in the commit.
    pub plan: usize,
    /// Index of the operation in the plan.
    pub operation: usize,
}

impl std::fmt::Display for OpRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plan {}, operation {}", self.plan, self.operation)
    }
}

/// Why a commit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The commit breaks a rule; nothing was changed.
    #[error("commit refused, nothing changed: {at} ({op} '{path}'): {why}")]
    Refused {
        /// The offending operation.
        at: OpRef,
        /// Its name.
        op: &'static str,
        /// The offending path.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// An expected SHA-256 does not match the current file; nothing was changed.
    #[error("commit refused, nothing changed: conflict at {at} ({op} '{path}'): {why}")]
    Conflict {
        /// The operation.
        at: OpRef,
        /// Its name.
        op: &'static str,
        /// The path.
        path: String,
        /// What differs.
        why: String,
    },
    /// A limit of the commit as a whole or a plan that does not decode.
    #[error("commit refused, nothing changed: {0}")]
    Invalid(String),
    /// An I/O error after `applied` operations had been applied.
    #[error(
        "commit failed at {at} ({op} '{path}'): {source}; the {applied} operation(s) before it \
         were applied, it and those after it were not"
    )]
    Partial {
        /// The operations applied before the failure, in order.
        applied: usize,
        /// The failing operation.
        at: OpRef,
        /// Its name.
        op: &'static str,
        /// Its path.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// Every operation was applied, but a directory they changed could not
    /// be fsynced: the changes may not survive a crash.
    #[error(
        "commit applied ({operations} operation(s)) but not made durable: fsync of the \
         directory '{dir}' failed: {source}"
    )]
    NotDurable {
        /// The operations applied.
        operations: usize,
        /// The directory ("" is the root).
        dir: String,
        /// The error.
        source: io::Error,
    },
}

/// Why a file cannot be read from a workspace.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The path breaks a rule (see [`crate::paths`]) or goes through a symlink.
    #[error("'{path}' refused: {why}")]
    Refused {
        /// The path asked for.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Nothing is there, or it is not a regular file.
    #[error("'{path}' is not a file of the workspace")]
    NotAFile {
        /// The path asked for.
        path: String,
    },
    /// The file is larger than allowed.
    #[error("'{path}' has {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The path asked for.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// An I/O error.
    #[error("'{path}': {source}")]
    Io {
        /// The path asked for.
        path: String,
        /// The error.
        source: io::Error,
    },
}

/// What a successful commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitReport {
    /// Operations applied.
    pub operations: usize,
    /// Bytes of file content written.
    pub bytes_written: u64,
}

/// A workspace root, opened as a capability.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    dir: Dir,
    commit_lock: Mutex<()>,
    /// Tests only: the operation of a commit (counted from 0) that fails.
    #[cfg(test)]
    fail_at: std::sync::atomic::AtomicUsize,
    /// Tests only: the directories the last commit fsynced.
    #[cfg(test)]
    synced: Mutex<Vec<String>>,
}

fn sha256_of(mut r: impl Read) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn mtime_millis(m: &cap_std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .map(|t| t.into_std())
        .and_then(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).ok(),
            Err(e) => i64::try_from(e.duration().as_millis()).ok().map(|v| -v),
        })
        .unwrap_or(0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Workspace {
    /// Opens the directory `root` as a workspace.
    pub fn open(root: &Path) -> io::Result<Workspace> {
        let dir = Dir::open_ambient_dir(root, ambient_authority())?;
        Ok(Workspace {
            root: root.to_path_buf(),
            dir,
            commit_lock: Mutex::new(()),
            #[cfg(test)]
            fail_at: std::sync::atomic::AtomicUsize::new(usize::MAX),
            #[cfg(test)]
            synced: Mutex::new(Vec::new()),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The device and inode of the root directory that was opened, which
    /// name it whatever the path (a symlink, `dir/.`, a bind mount).
    pub fn identity(&self) -> io::Result<(u64, u64)> {
        let m = self.dir.dir_metadata()?;
        Ok((m.dev(), m.ino()))
    }

    /// Every entry beneath the root, sorted by path; symlinks are reported
    /// with their target, never followed.
    pub fn file_tree(&self) -> io::Result<FileTree> {
        let mut entries = Vec::new();
        walk(&self.dir, "", &mut entries)?;
        Ok(FileTree { entries })
    }

    /// The content of the regular file at `path`, read under the same rules
    /// as a commit's paths: never through or onto a symlink, never outside
    /// the root, at most `max` bytes. Files are replaced atomically by
    /// commits, so the content is the old or the new file, never a mix.
    pub fn read_file(&self, path: &str, max: u64) -> Result<Vec<u8>, ReadError> {
        let refused = |why: String| ReadError::Refused {
            path: path.to_string(),
            why,
        };
        let io = |source| ReadError::Io {
            path: path.to_string(),
            source,
        };
        let meta = self.check_existing(path).map_err(refused)?;
        if !meta.as_ref().is_some_and(|m| m.is_file()) {
            return Err(ReadError::NotAFile {
                path: path.to_string(),
            });
        }
        let mut f = self.dir.open(path).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        if size > max {
            return Err(ReadError::TooLarge {
                path: path.to_string(),
                size,
                max,
            });
        }
        let mut content = Vec::with_capacity(size as usize);
        // Read one byte past the limit to notice a file that grew meanwhile.
        (&mut f)
            .take(max.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(io)?;
        if content.len() as u64 > max {
            return Err(ReadError::TooLarge {
                path: path.to_string(),
                size: content.len() as u64,
                max,
            });
        }
        Ok(content)
    }

    /// Validates every plan, then applies them in order.
    pub fn commit(
        &self,
        plans: &[SyncPlan],
        limits: &CommitLimits,
    ) -> Result<CommitReport, CommitError> {
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.validate(plans, limits)?;
        self.apply(plans)
    }

    /// Refuses a path if any existing prefix of it is a symlink or any
    /// existing proper prefix is not a directory.
    fn check_existing(&self, path: &str) -> Result<Option<cap_std::fs::Metadata>, String> {
        let parts = paths::components(path).map_err(|e: PathError| e.to_string())?;
        let mut prefix = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                prefix.push('/');
            }
            prefix.push_str(part);
            match self.dir.symlink_metadata(&prefix) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "'{prefix}' is a symlink; plans never go through or onto symlinks"
                    ));
                }
                Ok(m) if i + 1 == parts.len() => return Ok(Some(m)),
                Ok(m) if !m.is_dir() => return Err(format!("'{prefix}' is not a directory")),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("'{prefix}': {e}")),
            }
        }
        Ok(None)
    }

    fn validate(&self, plans: &[SyncPlan], limits: &CommitLimits) -> Result<(), CommitError> {
        if plans.len() > limits.max_plans {
            return Err(CommitError::Invalid(format!(
                "{} plans exceed the limit of {}",
                plans.len(),
                limits.max_plans
            )));
        }
        let mut sim = Sim {
            ws: self,
            plans,
            changes: BTreeMap::new(),
        };
        let mut total: u64 = 0;
        for (p, plan) in plans.iter().enumerate() {
            if plan.operations.len() > limits.max_operations_per_plan {
                return Err(CommitError::Invalid(format!(
                    "plan {p}: {} operations exceed the limit of {}",
                    plan.operations.len(),
                    limits.max_operations_per_plan
                )));
            }
            for (o, operation) in plan.operations.iter().enumerate() {
                let at = OpRef {
                    plan: p,
                    operation: o,
                };
                let Some(op) = &operation.op else {
                    return Err(CommitError::Refused {
                        at,
                        op: "none",
                        path: String::new(),
                        why: "operation without a kind".into(),
                    });
                };
                let name = op.name();
                let refuse = |path: &str, why: String| CommitError::Refused {
                    at,
                    op: name,
                    path: path.to_string(),
                    why,
                };
                let now = |sim: &Sim, path: &str| sim.now(path).map_err(|w| refuse(path, w));
                match op {
                    Op::MakeDir(m) => {
                        // Every missing component is made, as create_dir_all does.
                        let ends = m.path.match_indices('/').map(|(i, _)| i);
                        for end in ends.chain([m.path.len()]) {
                            let prefix = &m.path[..end];
                            match now(&sim, prefix)? {
                                n if !n.exists() => {
                                    sim.changes.insert(prefix.to_string(), Node::Dir);
                                }
                                n if n.is_dir() => {}
                                _ => {
                                    return Err(refuse(
                                        &m.path,
                                        format!("'{prefix}' exists and is not a directory"),
                                    ));
                                }
                            }
                        }
                    }
                    Op::WriteFile(w) => {
                        let target = now(&sim, &w.path)?;
                        if target.is_dir() {
                            return Err(refuse(&w.path, "is a directory".into()));
                        }
                        sim.check_parent(&w.path).map_err(|e| refuse(&w.path, e))?;
                        let len = w.content.len() as u64;
                        if len > limits.max_file_bytes {
                            return Err(refuse(
                                &w.path,
                                format!(
                                    "{len} bytes exceed the per-file limit of {}",
                                    limits.max_file_bytes
                                ),
                            ));
                        }
                        total += len;
                        if total > limits.max_commit_bytes {
                            return Err(refuse(
                                &w.path,
                                format!(
                                    "the commit's content exceeds {} bytes",
                                    limits.max_commit_bytes
                                ),
                            ));
                        }
                        if w.mode & !0o777 != 0 {
                            return Err(refuse(
                                &w.path,
                                format!("mode {:o} is more than permission bits", w.mode),
                            ));
                        }
                        sim.check_expected(at, name, &w.path, &target, w.expected_sha256.as_ref())?;
                        sim.changes.insert(w.path.clone(), Node::File(at));
                    }
                    Op::Delete(d) => {
                        let target = now(&sim, &d.path)?;
                        sim.check_expected(at, name, &d.path, &target, d.expected_sha256.as_ref())?;
                        if !target.exists() {
                            return Err(refuse(&d.path, "nothing to delete".into()));
                        }
                        if target.is_dir()
                            && !sim
                                .is_empty_dir(&d.path, &target)
                                .map_err(|e| refuse(&d.path, e))?
                        {
                            return Err(refuse(
                                &d.path,
                                "the directory is not empty (delete what it holds first)".into(),
                            ));
                        }
                        sim.remove_beneath(&d.path);
                        sim.changes.insert(d.path.clone(), Node::Gone);
                    }
                    Op::Rename(r) => {
                        let from = now(&sim, &r.from)?;
                        let to = now(&sim, &r.to)?;
                        if !from.exists() {
                            return Err(refuse(&r.from, "nothing to rename".into()));
                        }
                        if to.exists() {
                            return Err(refuse(&r.to, "the target exists".into()));
                        }
                        if within(&r.to, &r.from) {
                            return Err(refuse(
                                &r.to,
                                "cannot move a directory into itself".into(),
                            ));
                        }
                        sim.check_parent(&r.to).map_err(|e| refuse(&r.to, e))?;
                        let node = match from {
                            Now::Written(w) => Node::File(w),
                            Now::MadeDir => Node::Dir,
                            Now::Real { path, .. } => Node::Moved(path),
                            Now::Absent => unreachable!("checked above"),
                        };
                        sim.remove_beneath(&r.to);
                        sim.move_beneath(&r.from, &r.to);
                        sim.changes.insert(r.from.clone(), Node::Gone);
                        sim.changes.insert(r.to.clone(), node);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply(&self, plans: &[SyncPlan]) -> Result<CommitReport, CommitError> {
        let mut report = CommitReport::default();
        let mut touched = Touched::default();
        for (p, plan) in plans.iter().enumerate() {
            for (o, operation) in plan.operations.iter().enumerate() {
                let Some(op) = &operation.op else { continue };
                let path = match op {
                    Op::MakeDir(m) => &m.path,
                    Op::WriteFile(w) => &w.path,
                    Op::Delete(d) => &d.path,
                    Op::Rename(r) => &r.from,
                };
                let applied = self
                    .injected_failure(report.operations)
                    .and_then(|()| self.apply_one(op, &mut report, &mut touched));
                if let Err(source) = applied {
                    // What was applied is made durable as far as it goes;
                    // the error reported is the operation's.
                    let _ = touched.sync();
                    return Err(CommitError::Partial {
                        applied: report.operations,
                        at: OpRef {
                            plan: p,
                            operation: o,
                        },
                        op: op.name(),
                        path: path.clone(),
                        source,
                    });
                }
                report.operations += 1;
            }
        }
        #[cfg(test)]
        {
            *self.synced.lock().unwrap() = touched.dirs.iter().map(|d| d.0.clone()).collect();
        }
        touched
            .sync()
            .map_err(|(dir, source)| CommitError::NotDurable {
                operations: report.operations,
                dir,
                source,
            })?;
        Ok(report)
    }

    /// Tests only: an I/O failure of the `n`th operation applied, as a full
    /// disk or a vanished directory would cause.
    #[cfg(test)]
    fn injected_failure(&self, n: usize) -> io::Result<()> {
        if n == self.fail_at.load(std::sync::atomic::Ordering::Relaxed) {
            Err(io::Error::other("injected I/O failure"))
        } else {
            Ok(())
        }
    }

    #[cfg(not(test))]
    fn injected_failure(&self, _: usize) -> io::Result<()> {
        Ok(())
    }

    fn apply_one(
        &self,
        op: &Op,
        report: &mut CommitReport,
        touched: &mut Touched,
    ) -> io::Result<()> {
        // Re-check at apply time: an earlier operation of the same commit
        // (a rename) may have moved a symlink onto this path.
        let recheck = |path: &str| {
            self.check_existing(path)
                .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why))
        };
        match op {
            Op::MakeDir(m) => {
                recheck(&m.path)?;
                // The directories that hold a new entry: the parent of the
                // first missing component and each directory made but the last.
                let ends = m.path.match_indices('/').map(|(i, _)| i);
                let mut first_missing = None;
                for end in ends.chain([m.path.len()]) {
                    match self.dir.symlink_metadata(&m.path[..end]) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            first_missing = Some(end);
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.dir.create_dir_all(&m.path)?;
                if let Some(first) = first_missing {
                    touched.parent_of(self, &m.path[..first])?;
                    let ends = m.path.match_indices('/').map(|(i, _)| i);
                    for end in ends.filter(|&e| e >= first) {
                        touched.dir(self, &m.path[..end])?;
                    }
                }
                Ok(())
            }
            Op::WriteFile(w) => {
                recheck(&w.path)?;
                let dir = touched.parent_of(self, &w.path)?;
                write_atomically(
                    dir,
                    paths::split_parent(&w.path).1,
                    &w.content,
                    if w.mode == 0 { 0o644 } else { w.mode },
                )?;
                report.bytes_written += w.content.len() as u64;
                Ok(())
            }
            Op::Delete(d) => {
                let removed = match recheck(&d.path)? {
                    None => Err(io::Error::new(io::ErrorKind::NotFound, "nothing to delete")),
                    Some(m) if m.is_dir() => self.dir.remove_dir(&d.path),
                    Some(_) => self.dir.remove_file(&d.path),
                };
                removed?;
                touched.forget(&d.path);
                touched.parent_of(self, &d.path).map(drop)
            }
            Op::Rename(r) => {
                if recheck(&r.from)?.is_none() {
                    return Err(io::Error::new(io::ErrorKind::NotFound, "nothing to rename"));
                }
                if recheck(&r.to)?.is_some() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "the target exists",
                    ));
                }
                self.dir.rename(&r.from, &self.dir, &r.to)?;
                touched.forget(&r.from);
                touched.parent_of(self, &r.from)?;
                touched.parent_of(self, &r.to).map(drop)
            }
        }
    }
}

/// Writes `content` to a temporary file in `dir`, fsyncs it and renames it
/// over `name`. The caller fsyncs `dir` afterwards (see [`Touched`]).
fn write_atomically(dir: &Dir, name: &str, content: &[u8], mode: u32) -> io::Result<()> {
    let mut rnd = [0u8; 8];
    crate::auth::random_bytes(&mut rnd).map_err(io::Error::other)?;
    let tmp = format!(".janus-sync-{}.tmp", hex(&rnd));
    let mut f = dir.open_with(&tmp, OpenOptions::new().write(true).create_new(true))?;
    let written = f
        .write_all(content)
        .and_then(|_| f.set_permissions(cap_std::fs::Permissions::from_mode(mode)))
        .and_then(|_| f.sync_all())
        .and_then(|_| dir.rename(&tmp, dir, name));
    if written.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    written
}

/// The directories whose entries a commit changed, each opened once and
/// fsynced once when the commit ends, so that what a commit renamed into
/// place, made or deleted survives a crash. Handles are kept, not paths: a
/// directory renamed later in the commit is still the one synced.
#[derive(Default)]
struct Touched {
    dirs: Vec<(String, Dir, cap_std::fs::File)>,
    /// Index into `dirs` by the path the directory has now.
    by_path: std::collections::HashMap<String, usize>,
}

impl Touched {
    /// The directory at `path` ("" is the root), opened once per commit.
    fn dir(&mut self, ws: &Workspace, path: &str) -> io::Result<&Dir> {
        let i = match self.by_path.get(path) {
            Some(&i) => i,
            None => {
                let name = if path.is_empty() { "." } else { path };
                let dir = ws.dir.open_dir(name)?;
                // The handle of a `Dir` may not allow fsync (O_PATH); a
                // read-only descriptor of the same directory does.
                let file = dir.open_with(".", OpenOptions::new().read(true))?;
                self.dirs.push((path.to_string(), dir, file));
                self.by_path.insert(path.to_string(), self.dirs.len() - 1);
                self.dirs.len() - 1
            }
        };
        Ok(&self.dirs[i].1)
    }

    /// The directory holding `path`.
    fn parent_of(&mut self, ws: &Workspace, path: &str) -> io::Result<&Dir> {
        self.dir(ws, paths::split_parent(path).0)
    }

    /// `path` was renamed away or deleted: its name (and those beneath it)
    /// no longer lead to the handles opened through them.
    fn forget(&mut self, path: &str) {
        self.by_path.retain(|p, _| !within(p, path));
    }

    /// Fsyncs every directory, once; the first failure names its directory.
    fn sync(self) -> Result<(), (String, io::Error)> {
        let mut first = Ok(());
        for (path, _, file) in self.dirs {
            if let Err(e) = file.sync_all()
                && first.is_ok()
            {
                first = Err((path, e));
            }
        }
        first
    }
}

/// Whether `path` is `dir` or lies beneath it.
fn within(path: &str, dir: &str) -> bool {
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// What the operations validated so far made of a path.
#[derive(Debug, Clone)]
enum Node {
    /// Deleted, or renamed away.
    Gone,
    /// A file written by the operation at this place.
    File(OpRef),
    /// A directory made by the commit, holding nothing from before.
    Dir,
    /// What was at this path of the workspace before the commit, renamed here.
    Moved(String),
}

/// What a path holds at some point of a commit.
#[derive(Debug)]
enum Now {
    /// Nothing.
    Absent,
    /// A file written earlier in the commit.
    Written(OpRef),
    /// A directory made earlier in the commit.
    MadeDir,
    /// What is at `path` of the workspace (under this name, or renamed here).
    Real {
        path: String,
        meta: Option<cap_std::fs::Metadata>,
    },
}

impl Now {
    fn exists(&self) -> bool {
        !matches!(self, Now::Absent | Now::Real { meta: None, .. })
    }

    fn is_dir(&self) -> bool {
        match self {
            Now::MadeDir => true,
            Now::Real { meta: Some(m), .. } => m.is_dir(),
            _ => false,
        }
    }
}

/// The workspace as the operations of a commit validated so far leave it:
/// validation checks each operation against this, so that what would fail
/// when applied (a missing parent, a directory that is not empty, a rename
/// onto something) refuses the commit before anything is changed.
struct Sim<'a> {
    ws: &'a Workspace,
    plans: &'a [SyncPlan],
    /// The paths changed so far; beneath a changed path, the entry of the
    /// longest changed prefix decides.
    changes: BTreeMap<String, Node>,
}

impl Sim<'_> {
    /// What `path` holds now. A path that reaches the workspace passes
    /// [`Workspace::check_existing`] (no symlink, nothing outside the root).
    fn now(&self, path: &str) -> Result<Now, String> {
        paths::check(path).map_err(|e| e.to_string())?;
        if !self.changes.is_empty() {
            let ends: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
            for end in ends.into_iter().chain([path.len()]).rev() {
                let prefix = &path[..end];
                let Some(node) = self.changes.get(prefix) else {
                    continue;
                };
                let last = end == path.len();
                return match node {
                    Node::Gone => Ok(Now::Absent),
                    Node::File(at) if last => Ok(Now::Written(*at)),
                    Node::File(_) => Err(format!("'{prefix}' is not a directory")),
                    Node::Dir if last => Ok(Now::MadeDir),
                    Node::Dir => Ok(Now::Absent),
                    Node::Moved(real) => {
                        let real = format!("{real}{}", &path[end..]);
                        let meta = self.ws.check_existing(&real)?;
                        Ok(Now::Real { path: real, meta })
                    }
                };
            }
        }
        let meta = self.ws.check_existing(path)?;
        Ok(Now::Real {
            path: path.to_string(),
            meta,
        })
    }

    /// Refuses a path whose parent is not a directory now.
    fn check_parent(&self, path: &str) -> Result<(), String> {
        let (parent, _) = paths::split_parent(path);
        if parent.is_empty() || self.now(parent)?.is_dir() {
            Ok(())
        } else if self.now(parent)?.exists() {
            Err(format!("'{parent}' is not a directory"))
        } else {
            Err(format!(
                "the directory '{parent}' does not exist (make_dir it first)"
            ))
        }
    }

    /// Whether the directory at `path` (which is `now`) holds nothing now.
    fn is_empty_dir(&self, path: &str, now: &Now) -> Result<bool, String> {
        let beneath = format!("{path}/");
        let added = self
            .changes
            .range::<str, _>((Bound::Excluded(beneath.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&beneath))
            .any(|(_, n)| !matches!(n, Node::Gone));
        if added {
            return Ok(false);
        }
        let Now::Real { path: real, .. } = now else {
            return Ok(true);
        };
        let entries = self
            .ws
            .dir
            .read_dir(real)
            .map_err(|e| format!("'{real}': {e}"))?;
        for e in entries {
            let e = e.map_err(|e| format!("'{real}': {e}"))?;
            let Ok(name) = e.file_name().into_string() else {
                return Ok(false);
            };
            if !matches!(
                self.changes.get(&format!("{beneath}{name}")),
                Some(Node::Gone)
            ) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn keys_beneath(&self, path: &str) -> Vec<String> {
        let beneath = format!("{path}/");
        self.changes
            .range::<str, _>((Bound::Excluded(beneath.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&beneath))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Forgets what the commit did beneath `path`.
    fn remove_beneath(&mut self, path: &str) {
        for k in self.keys_beneath(path) {
            self.changes.remove(&k);
        }
    }

    /// Moves what the commit did beneath `from` to beneath `to`.
    fn move_beneath(&mut self, from: &str, to: &str) {
        for k in self.keys_beneath(from) {
            if let Some(n) = self.changes.remove(&k) {
                self.changes.insert(format!("{to}{}", &k[from.len()..]), n);
            }
        }
    }

    fn check_expected(
        &self,
        at: OpRef,
        op: &'static str,
        path: &str,
        now: &Now,
        expected: Option<&Vec<u8>>,
    ) -> Result<(), CommitError> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let conflict = |why: String| CommitError::Conflict {
            at,
            op,
            path: path.to_string(),
            why,
        };
        if expected.len() != 32 {
            return Err(CommitError::Refused {
                at,
                op,
                path: path.to_string(),
                why: format!("expected_sha256 has {} bytes, not 32", expected.len()),
            });
        }
        let actual = match now {
            Now::Absent | Now::Real { meta: None, .. } => {
                return Err(conflict("expected an existing file, there is none".into()));
            }
            Now::MadeDir => return Err(conflict("expected a file, found a directory".into())),
            Now::Real { meta: Some(m), .. } if !m.is_file() => {
                return Err(conflict("expected a file, found a directory".into()));
            }
            Now::Written(w) => match &self.plans[w.plan].operations[w.operation].op {
                Some(Op::WriteFile(f)) => sha256(&f.content),
                _ => unreachable!("a Written node is a WriteFile"),
            },
            Now::Real { path: real, .. } => self
                .ws
                .dir
                .open(real)
                .and_then(sha256_of)
                .map_err(|e| conflict(format!("cannot hash the current file: {e}")))?,
        };
        if actual[..] == expected[..] {
            Ok(())
        } else {
            Err(conflict(format!(
                "current SHA-256 {} differs from the expected {}",
                hex(&actual),
                hex(expected)
            )))
        }
    }
}

fn walk(dir: &Dir, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut names: Vec<(String, cap_std::fs::FileType)> = Vec::new();
    for e in dir.entries()? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue; // not UTF-8: cannot be named in the protocol
        };
        names.push((name, e.file_type()?));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, ft) in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = dir.symlink_metadata(&name)?;
        let mut entry = Entry {
            path: path.clone(),
            kind: Kind::Unspecified as i32,
            size: 0,
            mtime_millis: mtime_millis(&meta),
            mode: meta.permissions().mode() & 0o7777,
            sha256: Vec::new(),
            link_target: String::new(),
        };
        if ft.is_symlink() {
            let target = dir.read_link_contents(&name)?;
            entry.kind = Kind::Symlink as i32;
            entry.link_target = target.to_string_lossy().into_owned();
            entry.size = entry.link_target.len() as u64;
            out.push(entry);
        } else if ft.is_dir() {
            entry.kind = Kind::Dir as i32;
            out.push(entry);
            walk(&dir.open_dir(&name)?, &path, out)?;
        } else if ft.is_file() {
            entry.kind = Kind::File as i32;
            entry.size = meta.len();
            entry.sha256 = sha256_of(dir.open(&name)?)?.to_vec();
            out.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{MakeDir, Operation, WriteFile};

    fn plan(ops: Vec<Op>) -> SyncPlan {
        SyncPlan {
            operations: ops
                .into_iter()
                .map(|op| Operation { op: Some(op) })
                .collect(),
        }
    }

    fn write(path: &str) -> Op {
        Op::WriteFile(WriteFile {
            path: path.into(),
            content: path.as_bytes().to_vec(),
            expected_sha256: None,
            mode: 0,
        })
    }

    #[test]
    fn a_failure_mid_commit_says_what_was_applied() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = Workspace::open(tmp.path()).unwrap();
        ws.fail_at.store(2, std::sync::atomic::Ordering::Relaxed);
        let plans = [
            plan(vec![
                Op::MakeDir(MakeDir { path: "d".into() }),
                write("d/a"),
            ]),
            plan(vec![write("d/b"), write("c")]),
        ];
        let e = ws.commit(&plans, &CommitLimits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "commit failed at plan 1, operation 0 (write_file 'd/b'): injected I/O failure; \
             the 2 operation(s) before it were applied, it and those after it were not"
        );
        let CommitError::Partial { applied, at, .. } = e else {
            panic!("{e}")
        };
        assert_eq!((applied, at.plan, at.operation), (2, 1, 0));
        assert_eq!(std::fs::read(tmp.path().join("d/a")).unwrap(), b"d/a");
        assert!(!tmp.path().join("d/b").exists() && !tmp.path().join("c").exists());
        // No temporary file is left behind, and the next commit works.
        ws.fail_at
            .store(usize::MAX, std::sync::atomic::Ordering::Relaxed);
        let names: Vec<_> = std::fs::read_dir(tmp.path().join("d")).unwrap().collect();
        assert_eq!(names.len(), 1);
        let report = ws.commit(&plans[1..], &CommitLimits::default()).unwrap();
        assert_eq!(report.operations, 2);
    }

    #[test]
    fn each_directory_a_commit_changes_is_synced_once() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/keep")).unwrap();
        std::fs::create_dir_all(tmp.path().join("q/r")).unwrap();
        std::fs::create_dir_all(tmp.path().join("untouched/deep")).unwrap();
        std::fs::write(tmp.path().join("untouched/deep/f"), b"f").unwrap();
        let ws = Workspace::open(tmp.path()).unwrap();
        let plans = [
            plan(vec![
                Op::MakeDir(MakeDir {
                    path: "a/b/c/d".into(),
                }),
                Op::MakeDir(MakeDir {
                    path: "untouched/deep".into(),
                }),
                write("a/x"),
                write("a/b/c/d/y"),
                write("a/b/c/d/z"),
            ]),
            plan(vec![
                Op::Rename(crate::proto::Rename {
                    from: "a".into(),
                    to: "m".into(),
                }),
                // A new "a", distinct from the renamed one.
                Op::MakeDir(MakeDir { path: "a".into() }),
                write("a/w"),
                write("m/v"),
                Op::Delete(crate::proto::Delete {
                    path: "q/r".into(),
                    expected_sha256: None,
                }),
            ]),
        ];
        ws.commit(&plans, &CommitLimits::default()).unwrap();
        let synced = ws.synced.lock().unwrap().clone();
        // Paths as they were when first touched: "a" is the renamed one
        // (now "m"), the second "a" the new one; "m" is the renamed "a"
        // reopened by its new name after the rename.
        assert_eq!(
            synced,
            ["a", "a/b", "a/b/c", "a/b/c/d", "", "a", "m", "q"],
            "{synced:?}"
        );
        assert_eq!(
            std::fs::read(tmp.path().join("m/b/c/d/y")).unwrap(),
            b"a/b/c/d/y"
        );
        assert_eq!(std::fs::read(tmp.path().join("a/w")).unwrap(), b"a/w");
    }
}
