//! Where an answer may go (see the protocol's "Limits and security").
//!
//! Over a connection the answer goes back on the connection and `reply_to`
//! is never used as an address (the stream endpoint needs no policy beyond
//! that). Over datagrams this module decides: never to a path that breaks
//! the socket path rules; when the sender has a bound address, only there;
//! when it does not, only to a socket file owned by the sender's uid, in a
//! directory that is really (symlinks resolved) inside an allowed one.

use std::path::{Path, PathBuf};

use super::stats::DropReason;
use crate::error::{ErrorCode, ErrorObject};
use crate::security::{self, is_inside};
use crate::transport::datagram::{self as dgram, Sender, UnverifiedReply};

/// A request the reply policy will not answer where it asks.
#[derive(Debug)]
pub(crate) struct Refusal<D> {
    /// What to tell the sender, if anything.
    pub error: Option<ErrorObject>,
    /// Where the error may go instead (never the refused address).
    pub to: Option<D>,
    /// The reason counted when the error goes nowhere.
    pub drop: DropReason,
}

/// A refusal, boxed: the rare path stays out of the way of the common one.
pub(crate) type Refused<D> = Box<Refusal<D>>;

impl<D> Refusal<D> {
    /// Nothing to tell, nowhere to tell it: the request is dropped.
    pub fn drop(reason: DropReason) -> Refused<D> {
        Box::new(Refusal {
            error: None,
            to: None,
            drop: reason,
        })
    }
}

/// A validated datagram address to send an answer to.
#[derive(Debug, Clone)]
pub(crate) struct ReplyAddr {
    pub path: PathBuf,
}

impl ReplyAddr {
    /// The address, if it is one a socket can have.
    fn new(path: &Path) -> Option<ReplyAddr> {
        dgram::socket_addr(path).ok()?;
        Some(ReplyAddr {
            path: path.to_owned(),
        })
    }
}

/// The datagram reply-address policy of one server.
#[derive(Debug)]
pub(crate) struct DgramPolicy {
    allowed_dirs: Vec<String>,
    /// The allowed directories with symlinks resolved (e.g. /var/run -> /run).
    allowed_real_dirs: Vec<String>,
}

impl DgramPolicy {
    pub fn new(allowed_dirs: &[String]) -> Self {
        let allowed_real_dirs = allowed_dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .filter_map(|p| p.to_str().map(str::to_owned))
            .collect();
        DgramPolicy {
            allowed_dirs: allowed_dirs.to_vec(),
            allowed_real_dirs,
        }
    }

    /// Where the answer to a well-formed request goes: `Ok(None)` when it
    /// has no `reply_to` (fire-and-forget).
    pub fn resolve(
        &self,
        reply_to: Option<&str>,
        sender: &Sender,
        uid: Option<u32>,
    ) -> Result<Option<ReplyAddr>, Refused<ReplyAddr>> {
        match reply_to {
            None => Ok(None),
            Some(path) => self.resolve_path(path, sender, uid).map(Some),
        }
    }

    /// Where the error answering an unreadable request goes: its `reply_to`
    /// if one could be read (under the same rules), otherwise the sender's
    /// own address.
    pub fn resolve_malformed(
        &self,
        reply_to: Option<&str>,
        sender: &Sender,
        uid: Option<u32>,
    ) -> Result<ReplyAddr, Refused<ReplyAddr>> {
        match reply_to {
            Some(path) => self.resolve_path(path, sender, uid),
            None => self
                .sender_addr(sender)
                .ok_or(Refusal::drop(DropReason::Unanswerable)),
        }
    }

    /// The sender's bound path, if it is one we may send to.
    fn sender_addr(&self, sender: &Sender) -> Option<ReplyAddr> {
        let path = sender.path()?;
        let text = path.to_str()?;
        security::check_socket_path(text, &self.allowed_dirs).ok()?;
        ReplyAddr::new(path)
    }

    /// The rules for a `reply_to` that is present.
    fn resolve_path(
        &self,
        path: &str,
        sender: &Sender,
        uid: Option<u32>,
    ) -> Result<ReplyAddr, Refused<ReplyAddr>> {
        if let Err(problem) = security::check_socket_path(path, &self.allowed_dirs) {
            let error = ErrorObject::with_type(
                ErrorCode::ValidationFailed,
                problem.error_type(),
                format!(
                    "`reply_to` {} is refused: {problem}",
                    janus_constraints::show_str(path)
                ),
            );
            let to = self
                .sender_addr(sender)
                .filter(|s| s.path.as_os_str() != path);
            return Err(Box::new(Refusal {
                error: Some(error),
                to,
                drop: DropReason::InvalidReplyTo,
            }));
        }
        match sender {
            Sender::Path(own) if own.as_os_str() == path => {
                ReplyAddr::new(own).ok_or(Refusal::drop(DropReason::InvalidReplyTo))
            }
            Sender::Path(own) => Err(Box::new(Refusal {
                error: Some(ErrorObject::with_type(
                    ErrorCode::SecurityViolation,
                    ErrorCode::SecurityViolation.error_type(),
                    format!(
                        "`reply_to` ({path}) is not the address this request was sent from ({}); answers go only to the sender",
                        own.display()
                    ),
                )),
                to: self.sender_addr(sender),
                drop: DropReason::InvalidReplyTo,
            })),
            Sender::Anonymous => {
                let path = Path::new(path);
                if !self.really_inside_allowed_dirs(path) {
                    return Err(Refusal::drop(DropReason::InvalidReplyTo));
                }
                match dgram::check_unverified_reply_socket(path, uid) {
                    Ok(()) => ReplyAddr::new(path).ok_or(Refusal::drop(DropReason::InvalidReplyTo)),
                    Err(UnverifiedReply::Missing) => Err(Refusal::drop(DropReason::ReplyToMissing)),
                    Err(UnverifiedReply::NotASocket) => {
                        Err(Refusal::drop(DropReason::ReplyToNotSocket))
                    }
                    Err(UnverifiedReply::OwnerMismatch { owner, sender }) => {
                        tracing::warn!(path = %path.display(), owner, sender, "reply_to belongs to another user; not answering");
                        Err(Refusal::drop(DropReason::ReplyToOwnerMismatch))
                    }
                }
            }
        }
    }

    /// Whether `path`'s directory, with symlinks resolved, is still inside an
    /// allowed directory (a symlinked directory cannot lead answers elsewhere).
    fn really_inside_allowed_dirs(&self, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        let Ok(real_parent) = std::fs::canonicalize(parent) else {
            return false;
        };
        let real = real_parent.join(name);
        let Some(real) = real.to_str() else {
            return false;
        };
        self.allowed_dirs
            .iter()
            .chain(&self.allowed_real_dirs)
            .any(|dir| is_inside(real, dir))
    }
}
