//! The protobuf messages, written as `prost` derives that match
//! `proto/janus_sync.proto` field by field (so no `protoc` is needed);
//! `tests/proto_schema.rs` compiles the `.proto` with `protox` and fails
//! when the two differ.

/// The answer to FetchFileTree.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FileTree {
    /// Entries in lexicographic order of `path`.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Entry>,
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum Kind {
    /// Not set (never sent by this implementation).
    Unspecified = 0,
    /// A regular file.
    File = 1,
    /// A directory.
    Dir = 2,
    /// A symbolic link (reported, never followed).
    Symlink = 3,
}

/// One file, directory or symlink of a tree.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Entry {
    /// Relative `/`-separated path from the workspace root.
    #[prost(string, tag = "1")]
    pub path: String,
    /// A [`Kind`].
    #[prost(enumeration = "Kind", tag = "2")]
    pub kind: i32,
    /// Size in bytes.
    #[prost(uint64, tag = "3")]
    pub size: u64,
    /// Modification time in milliseconds since the Unix epoch.
    #[prost(int64, tag = "4")]
    pub mtime_millis: i64,
    /// Unix permission bits.
    #[prost(uint32, tag = "5")]
    pub mode: u32,
    /// SHA-256 of a file's content (32 bytes), empty otherwise.
    #[prost(bytes = "vec", tag = "6")]
    pub sha256: Vec<u8>,
    /// A symlink's target, empty otherwise.
    #[prost(string, tag = "7")]
    pub link_target: String,
}

/// One plan: operations applied in order.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SyncPlan {
    /// The operations.
    #[prost(message, repeated, tag = "1")]
    pub operations: Vec<Operation>,
}

/// One operation of a plan.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Operation {
    /// Which operation.
    #[prost(oneof = "Op", tags = "1, 2, 3, 4")]
    pub op: Option<Op>,
}

/// The operations a plan can hold.
#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Op {
    /// Create a directory (and missing parents).
    #[prost(message, tag = "1")]
    MakeDir(MakeDir),
    /// Create or replace a file atomically.
    #[prost(message, tag = "2")]
    WriteFile(WriteFile),
    /// Remove a file or an empty directory.
    #[prost(message, tag = "3")]
    Delete(Delete),
    /// Rename within the workspace.
    #[prost(message, tag = "4")]
    Rename(Rename),
}

/// Create a directory and its missing parents.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MakeDir {
    /// The directory.
    #[prost(string, tag = "1")]
    pub path: String,
}

/// Create or replace a regular file; its directory must exist when the
/// operation runs.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct WriteFile {
    /// The file.
    #[prost(string, tag = "1")]
    pub path: String,
    /// Its new content.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
    /// The SHA-256 the file must have now, if any.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub expected_sha256: Option<Vec<u8>>,
    /// Permission bits; 0 means `0o644`.
    #[prost(uint32, tag = "4")]
    pub mode: u32,
}

/// Remove a file or an empty directory.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Delete {
    /// The path.
    #[prost(string, tag = "1")]
    pub path: String,
    /// The SHA-256 the file must have now, if any.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub expected_sha256: Option<Vec<u8>>,
}

/// Rename within the workspace.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Rename {
    /// The existing path.
    #[prost(string, tag = "1")]
    pub from: String,
    /// The new path (must not exist).
    #[prost(string, tag = "2")]
    pub to: String,
}

impl Op {
    /// The operation's name, for error logs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::MakeDir(_) => "make_dir",
            Op::WriteFile(_) => "write_file",
            Op::Delete(_) => "delete",
            Op::Rename(_) => "rename",
        }
    }
}
