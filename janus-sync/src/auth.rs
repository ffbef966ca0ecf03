//! Workspace keys and the AES-256-GCM challenge answer.
//!
//! The client's answer to a 32-byte challenge is
//! `nonce (12 bytes) ‖ AES-256-GCM(key, nonce, challenge) (ciphertext ‖ 16-byte tag)`.
//! The server decrypts it with the workspace key and compares the plaintext
//! with the challenge it sent, in constant time. Keys are 32 random bytes
//! stored as 64 hex digits in a file of mode 0600; a key file that its group
//! or others can read is refused.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use subtle::ConstantTimeEq;

/// Length of a challenge, in bytes.
pub const CHALLENGE_LEN: usize = 32;
/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the answer to a challenge: nonce, ciphertext, tag.
pub const ANSWER_LEN: usize = NONCE_LEN + CHALLENGE_LEN + 16;

/// A workspace's 32-byte AES-256 key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct WorkspaceKey([u8; 32]);

impl fmt::Debug for WorkspaceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkspaceKey(..)")
    }
}

/// Why a key cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Group or others may read the file.
    #[error("key file {path} is readable by others (mode {mode:o}); run chmod 600")]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// The content is not 64 hex digits.
    #[error("key file {path} does not hold 64 hex digits")]
    BadFormat {
        /// The file.
        path: String,
    },
    /// The system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Fills `buf` with random bytes from the operating system.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

impl WorkspaceKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> WorkspaceKey {
        WorkspaceKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Result<WorkspaceKey, KeyError> {
        let mut k = [0u8; 32];
        random_bytes(&mut k)?;
        Ok(WorkspaceKey(k))
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Writes the key as hex to a new file of mode 0600 (an existing file is an error).
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(format!("{}\n", self.hex()).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io)
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn read_file(path: &Path) -> Result<WorkspaceKey, KeyError> {
        let shown = path.display().to_string();
        let io = |source| KeyError::Io {
            path: shown.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen { path: shown, mode });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_hex(text.trim()).ok_or(KeyError::BadFormat { path: shown })
    }

    fn from_hex(s: &str) -> Option<WorkspaceKey> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(WorkspaceKey(k))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }

    /// The client's answer to `challenge`.
    pub fn answer(&self, challenge: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let sealed = self
            .cipher()
            .encrypt(&Nonce::from(nonce), challenge)
            .map_err(|_| KeyError::Random("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Whether `answer` is this key's encryption of `challenge`.
    pub fn verify(&self, challenge: &[u8], answer: &[u8]) -> bool {
        if answer.len() != NONCE_LEN + challenge.len() + 16 {
            return false;
        }
        let nonce: [u8; NONCE_LEN] = answer[..NONCE_LEN].try_into().expect("12 bytes");
        match self
            .cipher()
            .decrypt(&Nonce::from(nonce), &answer[NONCE_LEN..])
        {
            Ok(plain) => bool::from(plain.ct_eq(challenge)),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_verifies_only_with_the_same_key_and_challenge() {
        let k = WorkspaceKey::generate().unwrap();
        let other = WorkspaceKey::generate().unwrap();
        let c = [7u8; CHALLENGE_LEN];
        let a = k.answer(&c).unwrap();
        assert_eq!(a.len(), ANSWER_LEN);
        assert!(k.verify(&c, &a));
        assert!(!other.verify(&c, &a));
        assert!(!k.verify(&[8u8; CHALLENGE_LEN], &a));
        assert!(!k.verify(&c, &a[..a.len() - 1]));
        assert_eq!(format!("{k:?}"), "WorkspaceKey(..)");
    }

    #[test]
    fn key_files_are_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ws.key");
        let k = WorkspaceKey::generate().unwrap();
        k.write_file(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let back = WorkspaceKey::read_file(&p).unwrap();
        assert_eq!(back.0, k.0);
        assert!(k.write_file(&p).is_err(), "never overwrites");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            WorkspaceKey::read_file(&p),
            Err(KeyError::TooOpen { .. })
        ));
        let bad = dir.path().join("bad.key");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&bad)
            .unwrap()
            .write_all(b"zz")
            .unwrap();
        assert!(matches!(
            WorkspaceKey::read_file(&bad),
            Err(KeyError::BadFormat { .. })
        ));
    }
}
