//! The `jANu` codec of janus-sync: a byte stream from an untrusted peer,
//! delivered in arbitrary chunks.
//!
//! Properties: no panic; the decoder never asks to buffer more than the
//! body limit; the messages decoded do not depend on how the stream was
//! chunked; each decoded message re-encodes to one that decodes to itself;
//! the protobuf plans of a commit decode or fail cleanly, and their paths are
//! checked without panicking.

#![no_main]

use bytes::BytesMut;
use janus_sync::codec::CodecError;
use janus_sync::proto::SyncPlan;
use janus_sync::{Message, SyncCodec, paths};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

/// A small body limit, so that the limit is reachable by fuzzed inputs.
const MAX_BODY: u64 = 4096;

/// Decodes `data`, fed `chunk` bytes at a time (all at once when 0).
fn decode_stream(data: &[u8], chunk: usize) -> (Vec<Message>, Option<String>) {
    let mut codec = SyncCodec::new(MAX_BODY);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let step = if chunk == 0 { data.len().max(1) } else { chunk };
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(message)) => out.push(message),
                Ok(None) => break,
                Err(e) => return (out, Some(error_kind(&e))),
            }
            assert!(
                buf.capacity() as u64 <= 2 * (MAX_BODY + 16 + data.len() as u64) + 1024,
                "decoder buffered beyond the limit: {}",
                buf.capacity()
            );
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(Some(message)) => out.push(message),
        Ok(None) => {}
        Err(e) => return (out, Some(error_kind(&e))),
    }
    (out, None)
}

/// The error's variant and text: the same stream must fail the same way
/// whatever its chunking (the pending byte count of `Truncated` aside).
fn error_kind(e: &CodecError) -> String {
    match e {
        CodecError::Truncated(_) => "truncated".to_owned(),
        // Fewer than four bytes are reported zero-padded.
        CodecError::BadMagic(_) => "bad magic".to_owned(),
        other => other.to_string(),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&chunk, data)) = input.split_first() else {
        return;
    };
    let (whole, whole_err) = decode_stream(data, 0);
    let (chunked, chunked_err) = decode_stream(data, usize::from(chunk % 32));
    assert_eq!(whole, chunked, "messages depend on the chunking");
    assert_eq!(whole_err, chunked_err, "errors depend on the chunking");

    for message in whole {
        let mut codec = SyncCodec::new(MAX_BODY);
        let mut bytes = BytesMut::new();
        codec
            .encode(message.clone(), &mut bytes)
            .expect("a decoded message re-encodes within the limit");
        let again = codec
            .decode(&mut bytes)
            .expect("a re-encoded message decodes")
            .expect("a re-encoded message is complete");
        assert_eq!(again, message, "message changed by a round trip");
        assert!(bytes.is_empty(), "a re-encoded message left bytes behind");

        if let Message::CommitSyncPlan(plans) = message {
            for plan in plans {
                let Ok(plan) = SyncPlan::decode(plan.as_ref()) else {
                    continue;
                };
                for operation in plan.operations {
                    let text = format!("{operation:?}");
                    for path in text.split('"').skip(1).step_by(2) {
                        let _ = paths::check(path);
                        let _ = paths::components(path);
                        let _ = paths::split_parent(path);
                    }
                }
            }
        }
    }
});
