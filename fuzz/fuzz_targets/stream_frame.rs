//! The v1 stream framing of janus-runtime (4-byte big-endian length prefix):
//! a byte stream from an untrusted peer, delivered in arbitrary chunks, and
//! each frame's payload handed to the request decoder as the stream server
//! does.
//!
//! Properties: no panic; a bad length is reported as soon as its header is
//! complete, whatever the chunking; the frames and the error do not depend
//! on how the stream was chunked; the buffer never grows past one frame of
//! the limit plus the bytes already fed; each payload re-encodes to the same
//! bytes it came in as.

#![no_main]

use bytes::BytesMut;
use janus_runtime::frame::{self, FrameCodec, FrameError, HEADER_LEN};
use janus_runtime::wire::Request;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

/// A small frame limit, so that it is reachable by fuzzed inputs.
const MAX_FRAME: usize = 4096;

/// The frames of `data` fed `chunk` bytes at a time (all at once when 0),
/// with the error that ended the stream, if any.
fn decode_stream(data: &[u8], chunk: usize) -> (Vec<bytes::Bytes>, Option<String>) {
    let mut codec = FrameCodec::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let step = if chunk == 0 { data.len().max(1) } else { chunk };
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(payload)) => out.push(payload),
                Ok(None) => break,
                Err(e) => return (out, Some(kind(&e))),
            }
        }
        assert!(
            buf.capacity() <= 2 * (HEADER_LEN + MAX_FRAME + data.len()) + 1024,
            "the framing buffered beyond one frame: {}",
            buf.capacity()
        );
    }
    match codec.decode_eof(&mut buf) {
        Ok(Some(payload)) => out.push(payload),
        Ok(None) => {}
        Err(e) => return (out, Some(kind(&e))),
    }
    (out, None)
}

/// The error without the byte counts of a cut frame, which depend on where
/// the stream was cut only through the same total.
fn kind(e: &FrameError) -> String {
    match e {
        FrameError::Truncated { .. } => "truncated".to_owned(),
        other => other.to_string(),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(first % 32);
    let (whole, whole_err) = decode_stream(data, 0);
    let (chunked, chunked_err) = decode_stream(data, chunk.max(1));
    assert_eq!(whole, chunked, "frames depend on the chunking");
    assert_eq!(whole_err, chunked_err, "the error depends on the chunking");

    // What was decoded is exactly a prefix of the input, frame by frame.
    let mut again = BytesMut::new();
    let mut codec = FrameCodec::new(MAX_FRAME);
    for payload in &whole {
        assert!(!payload.is_empty() && payload.len() <= MAX_FRAME);
        codec.encode(payload, &mut again).expect("a decoded payload re-encodes");
        // The stream server hands every payload to the request decoder.
        let _ = Request::decode_any(payload, usize::MAX);
    }
    assert_eq!(&data[..again.len()], &again[..], "re-encoding differs from the input");

    // The blocking reader agrees with the codec on the first frame.
    let mut reader = data;
    match (frame::read_frame(&mut reader, MAX_FRAME), whole.first()) {
        (Ok(payload), Some(first)) => assert_eq!(&payload, first),
        (Ok(payload), None) => panic!("read_frame found a frame the codec did not: {payload:?}"),
        (Err(_), Some(_)) => panic!("read_frame refused the frame the codec decoded"),
        (Err(_), None) => {}
    }
});
