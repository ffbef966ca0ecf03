//! The path-safety rules of the protocol, in one place.
//!
//! A path in a plan is accepted only if it is relative, `/`-separated,
//! non-empty, at most [`MAX_PATH_LEN`] bytes with components of at most
//! [`MAX_COMPONENT_LEN`] bytes, and every component is a plain name: not
//! empty, not `.` or `..`, without NUL or `\`. Lexical checks happen here;
//! resolution beneath the workspace root (with `cap-std`, which refuses to
//! leave its directory) and the refusal to touch any existing symlink are in
//! [`crate::workspace`].

/// The longest path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// The longest component accepted, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("empty path")]
    Empty,
    /// The path starts with `/`.
    #[error("absolute path")]
    Absolute,
    /// The path holds a NUL byte.
    #[error("NUL byte in path")]
    Nul,
    /// The path holds a backslash (ambiguous on other platforms).
    #[error("backslash in path")]
    Backslash,
    /// A `..` component.
    #[error("'..' component")]
    ParentDir,
    /// A `.` or empty component (`a//b`, `a/./b`, trailing `/`).
    #[error("empty or '.' component")]
    NonCanonical,
    /// The path is too long.
    #[error("path of {0} bytes exceeds {MAX_PATH_LEN}")]
    TooLong(usize),
    /// A component is too long.
    #[error("component of {0} bytes exceeds {MAX_COMPONENT_LEN}")]
    ComponentTooLong(usize),
}

/// Checks `path` and returns its components.
pub fn components(path: &str) -> Result<Vec<&str>, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong(path.len()));
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    let parts: Vec<&str> = path.split('/').collect();
    for p in &parts {
        match *p {
            ".." => return Err(PathError::ParentDir),
            "" | "." => return Err(PathError::NonCanonical),
            p if p.len() > MAX_COMPONENT_LEN => return Err(PathError::ComponentTooLong(p.len())),
            _ => {}
        }
    }
    Ok(parts)
}

/// Checks `path` and returns it unchanged (for use with `cap-std`).
pub fn check(path: &str) -> Result<&str, PathError> {
    components(path).map(|_| path)
}

/// Splits a checked path into its parent (possibly empty) and last name.
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_pass() {
        assert_eq!(components("a").unwrap(), vec!["a"]);
        assert_eq!(components("a/b.txt").unwrap(), vec!["a", "b.txt"]);
        assert_eq!(components("...").unwrap(), vec!["..."]);
        assert_eq!(split_parent("a/b/c"), ("a/b", "c"));
        assert_eq!(split_parent("c"), ("", "c"));
    }

    #[test]
    fn traversal_and_odd_paths_are_refused() {
        assert_eq!(components(""), Err(PathError::Empty));
        assert_eq!(components("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(components("../x"), Err(PathError::ParentDir));
        assert_eq!(components("a/../../x"), Err(PathError::ParentDir));
        assert_eq!(components("a/.."), Err(PathError::ParentDir));
        assert_eq!(components("a\0b"), Err(PathError::Nul));
        assert_eq!(components("a\\..\\b"), Err(PathError::Backslash));
        assert_eq!(components("a//b"), Err(PathError::NonCanonical));
        assert_eq!(components("./a"), Err(PathError::NonCanonical));
        assert_eq!(components("a/"), Err(PathError::NonCanonical));
        assert_eq!(
            components(&"a".repeat(256)),
            Err(PathError::ComponentTooLong(256))
        );
        let long = vec!["a"; 3000].join("/");
        assert_eq!(components(&long), Err(PathError::TooLong(long.len())));
    }
}
