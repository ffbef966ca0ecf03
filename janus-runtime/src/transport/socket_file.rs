//! The rules for a server's socket file, the same for every transport: the
//! file's mode, replacing a stale socket file, never stealing a live one,
//! never deleting a file that is not a socket, and removing it at shutdown
//! only if it is still the one the server created.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::Path;

/// A server socket file we created: its identity, so we only ever remove our own.
///
/// The identity survives `chmod`/`chown` of the file (which change its
/// ctime): it is the inode plus its birth time, which a new file reusing the
/// inode number does not share. On a file system that reports no birth time
/// the inode alone identifies the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: (u32, u32),
    ino: u64,
    birth: Option<(i64, u32)>,
}

impl FileId {
    /// The identity of the file at `path` itself (a symlink is not followed).
    pub(crate) fn of(path: &Path) -> io::Result<Self> {
        use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
        let st = statx(
            CWD,
            path,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::INO | StatxFlags::BTIME,
        )?;
        let birth = StatxFlags::from_bits_retain(st.stx_mask)
            .contains(StatxFlags::BTIME)
            .then_some((st.stx_btime.tv_sec, st.stx_btime.tv_nsec));
        Ok(FileId {
            dev: (st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            birth,
        })
    }
}

/// Binds a server socket at `path` with `bind` (a datagram or a stream
/// listener), never stealing a live server's path and never deleting a file
/// that is not a socket; a stale socket file is replaced. The file gets
/// `mode`; on any failure after binding the file is removed again.
pub(crate) fn bind_with<S>(
    path: &Path,
    mode: u32,
    bind: impl FnOnce(&Path) -> io::Result<S>,
) -> io::Result<(S, FileId)> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
        Ok(meta) if meta.file_type().is_socket() => {
            if socket_is_live(path)? {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            tracing::info!(path = %path.display(), "replacing stale socket file");
            fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; refusing to replace it",
                    path.display()
                ),
            ));
        }
    }
    let socket = bind(path)?;
    let identify = || -> io::Result<FileId> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        FileId::of(path)
    };
    match identify() {
        Ok(id) => Ok((socket, id)),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Whether a socket file has a live socket behind it, whatever its type.
pub(crate) fn socket_is_live(path: &Path) -> io::Result<bool> {
    let probe = StdUnixDatagram::unbound()?;
    match probe.connect(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(false),
        // A stream or seqpacket socket is bound there: alive, and not ours to take.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PROTOTYPE.raw_os_error()) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Removes the socket file at `path` if it is still the one we created.
pub(crate) fn remove_own_socket(path: &Path, id: FileId) {
    match FileId::of(path) {
        Ok(found) if found == id => {
            if let Err(e) = fs::remove_file(path) {
                tracing::warn!(path = %path.display(), error = %e, "could not remove socket file");
            }
        }
        Ok(_) => {
            tracing::warn!(path = %path.display(), "socket file was replaced by another; leaving it")
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_live_socket_of_either_type_is_never_stolen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let (listener, id) = bind_with(&path, 0o600, |p| UnixListener::bind(p)).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Neither a stream nor a datagram server may take a live stream socket.
        let err = bind_with(&path, 0o600, |p| UnixListener::bind(p)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let err = bind_with(&path, 0o600, |p| StdUnixDatagram::bind(p)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(listener);
        // Stale now: replaced, by either type.
        let (_dgram, dgram_id) = bind_with(&path, 0o600, |p| StdUnixDatagram::bind(p)).unwrap();
        assert_ne!(id, dgram_id);
        let err = bind_with(&path, 0o600, |p| UnixListener::bind(p)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // The first owner's identity no longer matches: the file stays.
        remove_own_socket(&path, id);
        assert!(path.exists());
        remove_own_socket(&path, dgram_id);
        assert!(!path.exists());
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"keep me").unwrap();
        let err = bind_with(&file, 0o600, |p| UnixListener::bind(p)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&file).unwrap(), b"keep me");
    }
}
