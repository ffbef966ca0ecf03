//! The protocol's rules for socket paths and channel/request names.

use std::fmt;

use crate::error::{ErrorCode, ErrorObject, error_type};

use janus_constraints::names::describe_char;
pub use janus_constraints::names::{MAX_NAME_LEN, check_name};

/// Longest socket path, in bytes (the size of `sockaddr_un.sun_path`).
pub const MAX_SOCKET_PATH_LEN: usize = 108;

/// The directories a `reply_to` path may be in unless configured otherwise.
pub const DEFAULT_ALLOWED_DIRS: [&str; 4] = ["/tmp/", "/var/tmp/", "/var/run/", "/run/"];

/// The error a server sends for a name that breaks [`check_name`].
pub(crate) fn name_error(details: String) -> ErrorObject {
    ErrorObject::with_type(
        ErrorCode::ValidationFailed,
        ErrorCode::SecurityViolation.error_type(),
        details,
    )
}

/// Why a socket path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path does not start with `/`.
    NotAbsolute,
    /// The path is longer than [`MAX_SOCKET_PATH_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The path contains a NUL byte.
    NulByte,
    /// The path contains a character outside `[A-Za-z0-9/_.-]`.
    BadCharacter {
        /// The character.
        character: char,
    },
    /// The path has a `..` component.
    Traversal,
    /// The path is not inside an allowed directory.
    OutsideAllowedDirs {
        /// The allowed directories.
        allowed: Vec<String>,
    },
}

impl PathProblem {
    /// The `errorType` of the `-32005` this problem causes.
    pub fn error_type(&self) -> &'static str {
        match self {
            PathProblem::Traversal => error_type::PATH_TRAVERSAL_ATTEMPT,
            _ => error_type::INVALID_SOCKET_PATH,
        }
    }
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("the path is empty"),
            PathProblem::NotAbsolute => f.write_str("the path is not absolute"),
            PathProblem::TooLong { len } => write!(
                f,
                "the path is {len} bytes long; the limit is {MAX_SOCKET_PATH_LEN}"
            ),
            PathProblem::NulByte => f.write_str("the path contains a NUL byte"),
            PathProblem::BadCharacter { character } => write!(
                f,
                "the path contains {}; socket paths may only contain A-Z, a-z, 0-9, `/`, `_`, `.` and `-`",
                describe_char(*character)
            ),
            PathProblem::Traversal => f.write_str("the path contains a `..` component"),
            PathProblem::OutsideAllowedDirs { allowed } => write!(
                f,
                "the path is outside the allowed directories ({})",
                allowed.join(", ")
            ),
        }
    }
}

/// Checks the shape of a socket path: absolute, at most 108 bytes, only
/// `[A-Za-z0-9/_.-]`, no NUL, no `..` component.
pub fn check_socket_path_shape(path: &str) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.as_bytes().contains(&0) {
        return Err(PathProblem::NulByte);
    }
    if path.len() > MAX_SOCKET_PATH_LEN {
        return Err(PathProblem::TooLong { len: path.len() });
    }
    if !path.starts_with('/') {
        return Err(PathProblem::NotAbsolute);
    }
    if path.split('/').any(|component| component == "..") {
        return Err(PathProblem::Traversal);
    }
    if let Some(character) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-')))
    {
        return Err(PathProblem::BadCharacter { character });
    }
    Ok(())
}

/// Checks a socket path's shape and that it lies inside one of `allowed`
/// (each an absolute directory; a trailing `/` is optional).
pub fn check_socket_path<S: AsRef<str>>(path: &str, allowed: &[S]) -> Result<(), PathProblem> {
    check_socket_path_shape(path)?;
    if allowed.iter().any(|dir| is_inside(path, dir.as_ref())) {
        Ok(())
    } else {
        Err(PathProblem::OutsideAllowedDirs {
            allowed: allowed.iter().map(|d| d.as_ref().to_owned()).collect(),
        })
    }
}

/// Whether `path` names something strictly inside directory `dir`.
pub(crate) fn is_inside(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.trim_start_matches('/').is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("channel", "user-service").is_ok());
        assert!(check_name("request", "get_info").is_ok());
        assert!(check_name("request", &"a".repeat(256)).is_ok());
        assert_eq!(
            check_name("request", &"a".repeat(257)).unwrap_err(),
            "request name is 257 characters long; the limit is 256"
        );
        assert_eq!(
            check_name("channel", "").unwrap_err(),
            "channel name is empty"
        );
        let err = check_name("request", "rm -rf").unwrap_err();
        assert!(err.contains("U+0020"), "{err}");
        let err = check_name("request", "a/b").unwrap_err();
        assert!(err.contains("`/`"), "{err}");
        assert!(check_name("request", "ü").is_err());
    }

    #[test]
    fn path_shapes() {
        assert!(check_socket_path_shape("/tmp/janus-1.sock").is_ok());
        assert_eq!(check_socket_path_shape(""), Err(PathProblem::Empty));
        assert_eq!(
            check_socket_path_shape("tmp/x"),
            Err(PathProblem::NotAbsolute)
        );
        assert_eq!(
            check_socket_path_shape("/tmp/a\0b"),
            Err(PathProblem::NulByte)
        );
        assert_eq!(
            check_socket_path_shape("/tmp/../etc/x"),
            Err(PathProblem::Traversal)
        );
        assert_eq!(
            check_socket_path_shape("/tmp/x/.."),
            Err(PathProblem::Traversal)
        );
        assert!(check_socket_path_shape("/tmp/..x/y").is_ok());
        assert_eq!(
            check_socket_path_shape("/tmp/a b"),
            Err(PathProblem::BadCharacter { character: ' ' })
        );
        let long = format!("/tmp/{}", "x".repeat(104));
        assert_eq!(long.len(), 109);
        assert_eq!(
            check_socket_path_shape(&long),
            Err(PathProblem::TooLong { len: 109 })
        );
        assert!(check_socket_path_shape(&long[..108]).is_ok());
    }

    #[test]
    fn allowed_dirs() {
        let allowed = DEFAULT_ALLOWED_DIRS;
        assert!(check_socket_path("/tmp/x.sock", &allowed).is_ok());
        assert!(check_socket_path("/var/run/x.sock", &allowed).is_ok());
        assert!(matches!(
            check_socket_path("/etc/x.sock", &allowed),
            Err(PathProblem::OutsideAllowedDirs { .. })
        ));
        assert!(check_socket_path("/tmpx/y.sock", &allowed).is_err());
        assert!(check_socket_path("/tmp/", &allowed).is_err());
        assert!(check_socket_path("/tmp", &allowed).is_err());
        assert!(check_socket_path("/srv/app/a.sock", &["/srv/app"]).is_ok());
    }

    #[test]
    fn error_types() {
        assert_eq!(
            PathProblem::Traversal.error_type(),
            "PATH_TRAVERSAL_ATTEMPT"
        );
        assert_eq!(PathProblem::NulByte.error_type(), "INVALID_SOCKET_PATH");
    }
}
