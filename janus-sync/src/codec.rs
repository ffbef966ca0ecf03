//! The `jANu` wire format: a 16-byte header (magic, type, length, all
//! big-endian) followed by a body whose layout depends on the type.
//!
//! [`SyncCodec`] is a [`Decoder`]/[`Encoder`] of whole [`Message`]s. Any
//! violation (bad magic, unknown type, negative or oversized length, a body
//! that does not fit its type) is a [`CodecError`]; the peer that sees one
//! closes the connection, as the protocol asks.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The protocol magic, ASCII `jANu`.
pub const MAGIC: [u8; 4] = *b"jANu";
/// The size of the header: magic, type (`int32`), length (`int64`).
pub const HEADER_LEN: usize = 16;
/// The seed's hard ceiling on a body: 1 GiB.
pub const MAX_BODY_CEILING: u64 = 1 << 30;
/// The default maximum body: 64 MiB.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// Message type `0xA001`: Common Response.
pub const TYPE_RESPONSE: i32 = 0xA001;
/// Message type `0x1000`: Hello (version negotiation).
pub const TYPE_HELLO: i32 = 0x1000;
/// Message type `0x1001`: Auth (challenge).
pub const TYPE_AUTH: i32 = 0x1001;
/// Message type `0x1801`: GetSystemTimeMillis.
pub const TYPE_GET_SYSTEM_TIME_MILLIS: i32 = 0x1801;
/// Message type `0x2001`: FetchFileTree.
pub const TYPE_FETCH_FILE_TREE: i32 = 0x2001;
/// Message type `0x2002`: CommitSyncPlan.
pub const TYPE_COMMIT_SYNC_PLAN: i32 = 0x2002;
/// Message type `0x2003`: FetchFile, this implementation's extension of
/// version 1 (the seed has no way to read a file's content, which a pull
/// needs). Body: the UTF-8 relative path; answer: the file's bytes.
pub const TYPE_FETCH_FILE: i32 = 0x2003;

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `0xA001`: a status code and a message (data when `code` is 0, a UTF-8
    /// error log otherwise).
    Response {
        /// 0 for OK.
        code: i32,
        /// The data (code 0) or the error log (non-zero code).
        msg: Bytes,
    },
    /// `0x1000`: the protocol versions the sender supports (or, from the
    /// client's final Hello, the one it chose).
    Hello(Vec<i32>),
    /// `0x1001`: a challenge (the workspace name from the client, random
    /// bytes from the server).
    Auth(Bytes),
    /// `0x1801`: ask for the server's clock.
    GetSystemTimeMillis,
    /// `0x2001`: ask for the workspace's file tree.
    FetchFileTree,
    /// `0x2002`: protobuf-encoded `SyncPlan`s, applied as one commit.
    CommitSyncPlan(Vec<Bytes>),
    /// `0x2003` (extension): ask for the content of one regular file, by its
    /// relative path (the same rules as a plan's paths).
    FetchFile(String),
}

impl Message {
    /// The message's type code.
    pub fn type_code(&self) -> i32 {
        match self {
            Message::Response { .. } => TYPE_RESPONSE,
            Message::Hello(_) => TYPE_HELLO,
            Message::Auth(_) => TYPE_AUTH,
            Message::GetSystemTimeMillis => TYPE_GET_SYSTEM_TIME_MILLIS,
            Message::FetchFileTree => TYPE_FETCH_FILE_TREE,
            Message::CommitSyncPlan(_) => TYPE_COMMIT_SYNC_PLAN,
            Message::FetchFile(_) => TYPE_FETCH_FILE,
        }
    }

    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Response { .. } => "Response",
            Message::Hello(_) => "Hello",
            Message::Auth(_) => "Auth",
            Message::GetSystemTimeMillis => "GetSystemTimeMillis",
            Message::FetchFileTree => "FetchFileTree",
            Message::CommitSyncPlan(_) => "CommitSyncPlan",
            Message::FetchFile(_) => "FetchFile",
        }
    }

    /// A successful response carrying `msg`.
    pub fn ok(msg: impl Into<Bytes>) -> Message {
        Message::Response {
            code: 0,
            msg: msg.into(),
        }
    }

    /// An error response with a UTF-8 error log.
    pub fn error(code: i32, log: impl Into<String>) -> Message {
        Message::Response {
            code,
            msg: Bytes::from(log.into()),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Message::Response { msg, .. } => 8 + msg.len(),
            Message::Hello(v) => 4 * v.len(),
            Message::Auth(c) => c.len(),
            Message::GetSystemTimeMillis | Message::FetchFileTree => 0,
            Message::CommitSyncPlan(plans) => plans.iter().map(|p| 8 + p.len()).sum(),
            Message::FetchFile(path) => path.len(),
        }
    }
}

/// What is wrong with the bytes on the wire.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The first four bytes are not `jANu`.
    #[error("bad magic {0:02x?} (expected \"jANu\")")]
    BadMagic([u8; 4]),
    /// The type is none of the protocol's.
    #[error("unknown message type 0x{0:04x}")]
    UnknownType(i32),
    /// The length is negative.
    #[error("negative body length {0}")]
    NegativeLength(i64),
    /// The length exceeds the configured maximum.
    #[error("body length {len} exceeds the limit of {max} bytes")]
    TooLong {
        /// The announced length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A body that does not fit its type.
    #[error("malformed {kind} body: {why}")]
    Malformed {
        /// The message type's name.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The connection ended inside a message.
    #[error("connection closed inside a message ({0} bytes pending)")]
    Truncated(usize),
    /// A socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Encoder and decoder of [`Message`]s with a maximum body size.
#[derive(Debug, Clone)]
pub struct SyncCodec {
    max_body: u64,
}

impl Default for SyncCodec {
    fn default() -> Self {
        SyncCodec::new(DEFAULT_MAX_BODY)
    }
}

impl SyncCodec {
    /// A codec that refuses bodies above `max_body` bytes (clamped to 1 GiB).
    pub fn new(max_body: u64) -> SyncCodec {
        SyncCodec {
            max_body: max_body.min(MAX_BODY_CEILING),
        }
    }

    /// The maximum body this codec accepts.
    pub fn max_body(&self) -> u64 {
        self.max_body
    }
}

fn malformed(kind: &'static str, why: impl Into<String>) -> CodecError {
    CodecError::Malformed {
        kind,
        why: why.into(),
    }
}

/// Decodes a body of the given type (the header already checked).
fn decode_body(ty: i32, mut body: Bytes) -> Result<Message, CodecError> {
    match ty {
        TYPE_RESPONSE => {
            if body.len() < 8 {
                return Err(malformed(
                    "Response",
                    format!("{} bytes, need at least 8", body.len()),
                ));
            }
            let code = body.get_i32();
            let msg_len = body.get_i32();
            if code != 0 {
                if msg_len < 0 || msg_len as usize > body.len() {
                    return Err(malformed(
                        "Response",
                        format!(
                            "msg len {msg_len} does not fit the {} bytes left",
                            body.len()
                        ),
                    ));
                }
                body.truncate(msg_len as usize);
                if let Err(e) = std::str::from_utf8(&body) {
                    return Err(malformed(
                        "Response",
                        format!("the error log is not UTF-8: {e}"),
                    ));
                }
            }
            Ok(Message::Response { code, msg: body })
        }
        TYPE_HELLO => {
            if !body.len().is_multiple_of(4) {
                return Err(malformed(
                    "Hello",
                    format!(
                        "{} bytes is not a whole number of int32 versions",
                        body.len()
                    ),
                ));
            }
            let mut v = Vec::with_capacity(body.len() / 4);
            while body.has_remaining() {
                v.push(body.get_i32());
            }
            Ok(Message::Hello(v))
        }
        TYPE_AUTH => Ok(Message::Auth(body)),
        TYPE_GET_SYSTEM_TIME_MILLIS | TYPE_FETCH_FILE_TREE => {
            if !body.is_empty() {
                let kind = if ty == TYPE_FETCH_FILE_TREE {
                    "FetchFileTree"
                } else {
                    "GetSystemTimeMillis"
                };
                return Err(malformed(kind, format!("{} unexpected bytes", body.len())));
            }
            Ok(if ty == TYPE_FETCH_FILE_TREE {
                Message::FetchFileTree
            } else {
                Message::GetSystemTimeMillis
            })
        }
        TYPE_COMMIT_SYNC_PLAN => {
            let mut plans = Vec::new();
            while body.has_remaining() {
                let index = plans.len();
                if body.len() < 8 {
                    return Err(malformed(
                        "CommitSyncPlan",
                        format!("plan {index}: truncated size ({} bytes)", body.len()),
                    ));
                }
                let size = body.get_i64();
                if size < 0 || size as u64 > body.len() as u64 {
                    return Err(malformed(
                        "CommitSyncPlan",
                        format!(
                            "plan {index}: size {size} does not fit the {} bytes left",
                            body.len()
                        ),
                    ));
                }
                plans.push(body.split_to(size as usize));
            }
            Ok(Message::CommitSyncPlan(plans))
        }
        TYPE_FETCH_FILE => match String::from_utf8(body.to_vec()) {
            Ok(path) => Ok(Message::FetchFile(path)),
            Err(e) => Err(malformed("FetchFile", format!("path is not UTF-8: {e}"))),
        },
        other => Err(CodecError::UnknownType(other)),
    }
}

fn known_type(ty: i32) -> bool {
    matches!(
        ty,
        TYPE_RESPONSE
            | TYPE_HELLO
            | TYPE_AUTH
            | TYPE_GET_SYSTEM_TIME_MILLIS
            | TYPE_FETCH_FILE_TREE
            | TYPE_COMMIT_SYNC_PLAN
            | TYPE_FETCH_FILE
    )
}

impl Decoder for SyncCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        if src.len() < 4 {
            // Check what magic bytes we have early, to close fast on garbage.
            if src[..] != MAGIC[..src.len()] {
                let mut m = [0u8; 4];
                m[..src.len()].copy_from_slice(src);
                return Err(CodecError::BadMagic(m));
            }
            return Ok(None);
        }
        let magic: [u8; 4] = src[..4].try_into().expect("4 bytes");
        if magic != MAGIC {
            return Err(CodecError::BadMagic(magic));
        }
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let ty = i32::from_be_bytes(src[4..8].try_into().expect("4 bytes"));
        let len = i64::from_be_bytes(src[8..16].try_into().expect("8 bytes"));
        if !known_type(ty) {
            return Err(CodecError::UnknownType(ty));
        }
        if len < 0 {
            return Err(CodecError::NegativeLength(len));
        }
        if len as u64 > self.max_body {
            return Err(CodecError::TooLong {
                len: len as u64,
                max: self.max_body,
            });
        }
        let total = HEADER_LEN + len as usize;
        if src.len() < total {
            // Reserve only up to what is announced, which is within the limit.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let body = src.split_to(len as usize).freeze();
        decode_body(ty, body).map(Some)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        match self.decode(buf)? {
            Some(m) => Ok(Some(m)),
            None if buf.is_empty() => Ok(None),
            None => Err(CodecError::Truncated(buf.len())),
        }
    }
}

impl Encoder<Message> for SyncCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        let len = item.body_len();
        if len as u64 > self.max_body {
            return Err(CodecError::TooLong {
                len: len as u64,
                max: self.max_body,
            });
        }
        dst.reserve(HEADER_LEN + len);
        dst.put_slice(&MAGIC);
        dst.put_i32(item.type_code());
        dst.put_i64(len as i64);
        match item {
            Message::Response { code, msg } => {
                dst.put_i32(code);
                dst.put_i32(i32::try_from(msg.len()).unwrap_or(i32::MAX));
                dst.put_slice(&msg);
            }
            Message::Hello(v) => v.iter().for_each(|x| dst.put_i32(*x)),
            Message::Auth(c) => dst.put_slice(&c),
            Message::GetSystemTimeMillis | Message::FetchFileTree => {}
            Message::CommitSyncPlan(plans) => {
                for p in plans {
                    dst.put_i64(p.len() as i64);
                    dst.put_slice(&p);
                }
            }
            Message::FetchFile(path) => dst.put_slice(path.as_bytes()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: Message) {
        let mut c = SyncCodec::default();
        let mut buf = BytesMut::new();
        c.encode(m.clone(), &mut buf).unwrap();
        assert_eq!(&buf[..4], b"jANu");
        let got = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(got, m);
        assert!(buf.is_empty());
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(Message::ok(Bytes::from_static(b"data")));
        round_trip(Message::error(7, "no such workspace"));
        round_trip(Message::Hello(vec![1, 2, 3]));
        round_trip(Message::Hello(vec![]));
        round_trip(Message::Auth(Bytes::from_static(b"ws")));
        round_trip(Message::GetSystemTimeMillis);
        round_trip(Message::FetchFileTree);
        round_trip(Message::CommitSyncPlan(vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"z"),
        ]));
        round_trip(Message::FetchFile("a/b.txt".into()));
    }

    #[test]
    fn code_zero_ignores_msg_len() {
        let mut buf = BytesMut::new();
        buf.put_slice(b"jANu");
        buf.put_i32(TYPE_RESPONSE);
        buf.put_i64(8 + 8);
        buf.put_i32(0);
        buf.put_i32(-5);
        buf.put_i64(1234);
        let m = SyncCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(m, Message::ok(Bytes::from(1234i64.to_be_bytes().to_vec())));
    }

    fn header(ty: i32, len: i64) -> BytesMut {
        let mut buf = BytesMut::new();
        buf.put_slice(b"jANu");
        buf.put_i32(ty);
        buf.put_i64(len);
        buf
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut c = SyncCodec::new(1024);
        let mut bad = BytesMut::from(&b"JANU"[..]);
        assert!(matches!(c.decode(&mut bad), Err(CodecError::BadMagic(_))));
        let mut bad = BytesMut::from(&b"x"[..]);
        assert!(matches!(c.decode(&mut bad), Err(CodecError::BadMagic(_))));
        assert!(matches!(
            c.decode(&mut header(0x7777, 0)),
            Err(CodecError::UnknownType(0x7777))
        ));
        assert!(matches!(
            c.decode(&mut header(TYPE_AUTH, -1)),
            Err(CodecError::NegativeLength(-1))
        ));
        assert!(matches!(
            c.decode(&mut header(TYPE_AUTH, 1025)),
            Err(CodecError::TooLong { len: 1025, .. })
        ));
        let mut trunc = BytesMut::from(&b"jANu\0\0"[..]);
        assert!(c.decode(&mut trunc).unwrap().is_none());
        assert!(matches!(
            c.decode_eof(&mut trunc),
            Err(CodecError::Truncated(6))
        ));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let mut c = SyncCodec::default();
        let mut b = header(TYPE_RESPONSE, 8 + 2);
        b.put_i32(3);
        b.put_i32(5);
        b.put_slice(b"ab");
        let e = c.decode(&mut b).unwrap_err().to_string();
        assert!(e.contains("msg len 5"), "{e}");
        let mut b = header(TYPE_RESPONSE, 8 + 2);
        b.put_i32(3);
        b.put_i32(2);
        b.put_slice(&[0xc3, 0x28]);
        let e = c.decode(&mut b).unwrap_err().to_string();
        assert!(e.contains("error log is not UTF-8"), "{e}");
        let mut b = header(TYPE_HELLO, 3);
        b.put_slice(b"abc");
        assert!(c.decode(&mut b).is_err());
        let mut b = header(TYPE_COMMIT_SYNC_PLAN, 9);
        b.put_i64(2);
        b.put_u8(0);
        let e = c.decode(&mut b).unwrap_err().to_string();
        assert!(e.contains("plan 0"), "{e}");
        let mut b = header(TYPE_FETCH_FILE_TREE, 1);
        b.put_u8(0);
        assert!(c.decode(&mut b).is_err());
        let mut b = header(TYPE_FETCH_FILE, 2);
        b.put_slice(&[0xff, 0xfe]);
        let e = c.decode(&mut b).unwrap_err().to_string();
        assert!(e.contains("FetchFile") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn ceiling_is_one_gib() {
        assert_eq!(SyncCodec::new(u64::MAX).max_body(), MAX_BODY_CEILING);
    }
}
