//! The binary `jANu` protocol: a workspace time, file-tree and sync server
//! and client that cannot be talked into writing outside its workspace.
//!
//! - [`codec`]: the wire format ([`SyncCodec`], [`Message`]);
//! - [`proto`]: the protobuf `FileTree` and `SyncPlan` (matching
//!   `proto/janus_sync.proto`);
//! - [`auth`]: workspace keys and the AES-256-GCM challenge answer;
//! - [`paths`]: the path-safety rules;
//! - [`workspace`]: the tree and the validated, atomic commits;
//! - [`mirror`]: push and pull of whole trees, in bounded atomic batches;
//! - [`SyncServer`] and [`SyncClient`] over TCP or Unix stream sockets.

#![deny(missing_docs)]

pub mod auth;
mod client;
pub mod codec;
pub mod mirror;
pub mod paths;
pub mod proto;
mod server;
mod transport;
pub mod workspace;

pub use auth::WorkspaceKey;
pub use client::{ClientError, ClientOptions, SyncClient};
pub use codec::{Message, SyncCodec};
pub use server::{Counters, ServerError, ServerLimits, SyncServer, SyncServerBuilder, lies_within};
pub use transport::{AddrError, SyncAddr, SyncStream};
pub use workspace::{CommitError, CommitLimits, CommitReport, ReadError, Workspace};

/// The protocol versions this implementation supports.
pub const PROTOCOL_VERSIONS: &[i32] = &[1];

/// The codes of error responses.
pub mod codes {
    /// Authentication denied (wrong key or unknown workspace).
    pub const DENIED: i32 = 1;
    /// A plan does not decode.
    pub const BAD_REQUEST: i32 = 2;
    /// The commit breaks a rule (path, symlink, limit); nothing changed.
    pub const REFUSED: i32 = 3;
    /// An expected SHA-256 does not match; nothing changed.
    pub const CONFLICT: i32 = 4;
    /// An I/O failure mid-commit; the log says what was applied.
    pub const PARTIAL: i32 = 5;
    /// The server cannot read the workspace.
    pub const SERVER_ERROR: i32 = 6;
    /// FetchFile: no regular file at that path.
    pub const NOT_FOUND: i32 = 7;
    /// FetchFile or FetchFileTree: the answer exceeds what one message may carry.
    pub const TOO_LARGE: i32 = 8;
}
