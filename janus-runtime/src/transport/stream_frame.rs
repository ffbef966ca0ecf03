//! Framing of the stream transport: every message is a 4-byte big-endian
//! unsigned length followed by that many bytes of JSON.
//!
//! [`decode`] is a pure function over a buffer (what a fuzz target calls);
//! [`FrameCodec`] wraps it, and [`encode`], as a tokio-util
//! [`Decoder`]/[`Encoder`]. A length of 0 or above the configured maximum is
//! a [`FrameError`]: the peer cannot be resynchronised after it, so the
//! server answers it with `-32011` ([`FrameError::error_object`]) and closes
//! the connection. What the payload holds (JSON or not) is not this layer's
//! business.
//!
//! ```
//! use janus_runtime::frame::{self, BytesMut};
//!
//! let mut wire = BytesMut::new();
//! frame::encode(br#"{"id":"a"}"#, &mut wire, frame::DEFAULT_MAX_FRAME).unwrap();
//! assert_eq!(&wire[..4], &[0, 0, 0, 10]);
//! let message = frame::decode(&mut wire, frame::DEFAULT_MAX_FRAME).unwrap();
//! assert_eq!(message.as_deref(), Some(&br#"{"id":"a"}"#[..]));
//! assert!(wire.is_empty());
//! ```

use std::io;

use bytes::{Buf, BufMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{ErrorCode, ErrorObject};

/// The buffer types of the API, re-exported so callers need no `bytes` dependency.
pub use bytes::{Bytes, BytesMut};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// The default largest message: 10 MiB (seed 003, PROTOCOL.md "Limits").
pub const DEFAULT_MAX_FRAME: usize = 10 * 1024 * 1024;

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix says 0: a message is never empty.
    #[error("frame length is 0 (a message must hold at least one byte of JSON)")]
    Empty,
    /// The length prefix announces more than the maximum.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("the connection closed in the middle of a frame ({received} of {expected} bytes)")]
    Truncated {
        /// Bytes of the frame (header included) that arrived.
        received: usize,
        /// Bytes the frame needed (header included; 4 while the header itself was cut).
        expected: usize,
    },
    /// Reading or writing the connection failed.
    #[error("stream i/o failed: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// The `-32011 MessageFramingError` a server answers a framing violation
    /// with, its `data.details` naming what was wrong. `None` for I/O errors,
    /// which are not the peer's protocol fault and get no answer.
    pub fn error_object(&self) -> Option<ErrorObject> {
        match self {
            FrameError::Io(_) => None,
            other => Some(ErrorObject::new(
                ErrorCode::MessageFramingError,
                other.to_string(),
            )),
        }
    }
}

/// Checks a length read from a header against the rules.
fn check_len(len: u64, max: usize) -> Result<usize, FrameError> {
    if len == 0 {
        return Err(FrameError::Empty);
    }
    match usize::try_from(len) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(FrameError::TooLarge { len, max }),
    }
}

/// Takes one complete frame's payload off the front of `buf`.
///
/// `Ok(None)` when `buf` does not hold a whole frame yet (nothing is
/// consumed; room for the rest of the frame is reserved, so the caller's
/// next read fills it). A bad length is reported as soon as the header is
/// complete, before any of the payload arrives, and leaves `buf` untouched.
pub fn decode(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let len = check_len(u64::from(len), max)?;
    let total = HEADER_LEN + len;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    Ok(Some(buf.split_to(len).freeze()))
}

/// The 4-byte header for a payload of `len` bytes.
pub fn header(len: usize, max: usize) -> Result<[u8; HEADER_LEN], FrameError> {
    let len = check_len(len as u64, max)?;
    // `max` may be configured above u32::MAX; the wire cannot say more.
    let len = u32::try_from(len).map_err(|_| FrameError::TooLarge {
        len: len as u64,
        max: u32::MAX as usize,
    })?;
    Ok(len.to_be_bytes())
}

/// Appends `payload` as one frame to `dst`.
pub fn encode(payload: &[u8], dst: &mut BytesMut, max: usize) -> Result<(), FrameError> {
    let header = header(payload.len(), max)?;
    dst.reserve(HEADER_LEN + payload.len());
    dst.put_slice(&header);
    dst.put_slice(payload);
    Ok(())
}

/// Writes `payload` as one frame to a blocking writer (for example a
/// `std::os::unix::net::UnixStream`): a plain client needs nothing else to
/// send a request.
pub fn write_frame(w: &mut impl io::Write, payload: &[u8], max: usize) -> Result<(), FrameError> {
    w.write_all(&header(payload.len(), max)?)?;
    w.write_all(payload)?;
    Ok(())
}

/// Reads one frame's payload from a blocking reader, checking its length
/// against `max` before reading the payload. A stream that ends inside the
/// frame is [`FrameError::Truncated`].
pub fn read_frame(r: &mut impl io::Read, max: usize) -> Result<Bytes, FrameError> {
    fn fill(
        r: &mut impl io::Read,
        buf: &mut [u8],
        before: usize,
        expected: usize,
    ) -> Result<(), FrameError> {
        let mut got = 0;
        while got < buf.len() {
            match r.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(FrameError::Truncated {
                        received: before + got,
                        expected,
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
    let mut head = [0u8; HEADER_LEN];
    fill(r, &mut head, 0, HEADER_LEN)?;
    let len = check_len(u64::from(u32::from_be_bytes(head)), max)?;
    let mut payload = vec![0u8; len];
    fill(r, &mut payload, HEADER_LEN, HEADER_LEN + len)?;
    Ok(Bytes::from(payload))
}

/// The framing as a tokio-util codec: decodes payloads as [`Bytes`], encodes
/// any byte slice, both bounded by the same maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    max: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameCodec {
    /// A codec accepting payloads of 1 ..= `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameCodec { max: max.max(1) }
    }

    /// The largest payload accepted.
    pub fn max_frame(&self) -> usize {
        self.max
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        decode(src, self.max)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if let Some(frame) = decode(src, self.max)? {
            return Ok(Some(frame));
        }
        if src.is_empty() {
            return Ok(None);
        }
        let expected = match src.get(..HEADER_LEN) {
            Some(h) => HEADER_LEN + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => HEADER_LEN,
        };
        Err(FrameError::Truncated {
            received: src.len(),
            expected,
        })
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode(item.as_ref(), dst, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_frames_round_trip_and_report_cuts_and_bad_lengths() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"{\"a\":1}", DEFAULT_MAX_FRAME).unwrap();
        write_frame(&mut wire, b"[]", DEFAULT_MAX_FRAME).unwrap();
        let mut r = &wire[..];
        assert_eq!(
            &read_frame(&mut r, DEFAULT_MAX_FRAME).unwrap()[..],
            b"{\"a\":1}"
        );
        assert_eq!(&read_frame(&mut r, DEFAULT_MAX_FRAME).unwrap()[..], b"[]");
        assert!(matches!(
            read_frame(&mut r, DEFAULT_MAX_FRAME),
            Err(FrameError::Truncated {
                received: 0,
                expected: 4
            })
        ));
        let mut cut = &wire[..6];
        assert!(matches!(
            read_frame(&mut cut, DEFAULT_MAX_FRAME),
            Err(FrameError::Truncated {
                received: 6,
                expected: 11
            })
        ));
        let mut big = &[0u8, 0, 1, 0][..];
        assert!(matches!(
            read_frame(&mut big, 255),
            Err(FrameError::TooLarge { len: 256, max: 255 })
        ));
        assert!(matches!(
            write_frame(&mut Vec::new(), b"", 16),
            Err(FrameError::Empty)
        ));
    }

    fn framed(payload: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        encode(payload, &mut b, DEFAULT_MAX_FRAME).unwrap();
        b
    }

    #[test]
    fn round_trips_several_frames_in_one_buffer() {
        let mut buf = framed(b"{}");
        buf.extend_from_slice(&framed(br#"{"a":1}"#));
        assert_eq!(&buf[..HEADER_LEN], &[0, 0, 0, 2]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap(), &b"{}"[..]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap(), &br#"{"a":1}"#[..]);
        assert!(decode(&mut buf, 100).unwrap().is_none());
        assert!(buf.is_empty());
    }

    #[test]
    fn waits_for_a_whole_frame_byte_by_byte() {
        let whole = framed(b"[1,2,3]");
        let mut buf = BytesMut::new();
        for (i, byte) in whole.iter().enumerate() {
            assert!(decode(&mut buf, 100).unwrap().is_none(), "after {i} bytes");
            buf.put_u8(*byte);
        }
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap(), &b"[1,2,3]"[..]);
    }

    #[test]
    fn a_zero_length_is_refused() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, b'{'][..]);
        let err = decode(&mut buf, 100).unwrap_err();
        assert!(matches!(err, FrameError::Empty), "{err:?}");
        assert_eq!(buf.len(), 5, "nothing consumed");
        let obj = err.error_object().unwrap();
        assert_eq!(obj.code, -32011);
        assert!(obj.details().unwrap().contains("length is 0"));
    }

    #[test]
    fn an_oversized_length_is_refused_from_the_header_alone() {
        let mut buf = BytesMut::from(&101u32.to_be_bytes()[..]);
        match decode(&mut buf, 100).unwrap_err() {
            FrameError::TooLarge { len, max } => assert_eq!((len, max), (101, 100)),
            other => panic!("{other:?}"),
        }
        // Exactly the maximum is fine.
        let mut buf = BytesMut::from(&100u32.to_be_bytes()[..]);
        buf.extend_from_slice(&[b' '; 100]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap().len(), 100);
        // The largest header the wire can carry, against the default.
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let err = decode(&mut buf, DEFAULT_MAX_FRAME).unwrap_err();
        assert!(
            err.to_string()
                .contains("4294967295 exceeds the maximum of 10485760"),
            "{err}"
        );
    }

    #[test]
    fn an_incomplete_frame_reserves_room_for_its_rest() {
        let mut buf = BytesMut::from(&1000u32.to_be_bytes()[..]);
        assert!(decode(&mut buf, 2000).unwrap().is_none());
        assert!(buf.capacity() >= HEADER_LEN + 1000);
    }

    #[test]
    fn encoding_refuses_what_decoding_would() {
        let mut dst = BytesMut::new();
        assert!(matches!(encode(b"", &mut dst, 10), Err(FrameError::Empty)));
        assert!(matches!(
            encode(&[b'x'; 11], &mut dst, 10),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        ));
        assert!(dst.is_empty());
    }

    #[test]
    fn the_codec_reports_a_stream_cut_inside_a_frame() {
        let mut codec = FrameCodec::new(100);
        let mut whole = framed(b"hello");
        whole.truncate(6);
        match codec.decode_eof(&mut whole).unwrap_err() {
            FrameError::Truncated { received, expected } => {
                assert_eq!((received, expected), (6, 9))
            }
            other => panic!("{other:?}"),
        }
        let mut header_only = BytesMut::from(&[0u8, 0][..]);
        assert!(matches!(
            codec.decode_eof(&mut header_only),
            Err(FrameError::Truncated {
                received: 2,
                expected: 4
            })
        ));
        let mut empty = BytesMut::new();
        assert!(codec.decode_eof(&mut empty).unwrap().is_none());
        let mut out = BytesMut::new();
        Encoder::encode(&mut codec, b"{}", &mut out).unwrap();
        assert_eq!(codec.decode_eof(&mut out).unwrap().unwrap(), &b"{}"[..]);
    }

    #[tokio::test]
    async fn frames_cross_a_real_socket_through_the_codec() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_util::codec::Framed;

        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let mut tx = Framed::new(a, FrameCodec::new(1 << 20));
        let mut rx = Framed::new(b, FrameCodec::new(1 << 20));
        // Sent from another task: 700 kB do not fit in the socket's buffer.
        let sender = tokio::spawn(async move {
            tx.send(vec![b'7'; 700_000]).await.unwrap();
            tx.send(b"{}").await.unwrap();
        });
        assert_eq!(rx.next().await.unwrap().unwrap().len(), 700_000);
        assert_eq!(rx.next().await.unwrap().unwrap(), &b"{}"[..]);
        assert!(rx.next().await.is_none());
        sender.await.unwrap();
    }
}
