//! The datagram decoder: any bytes a peer can send to a server (requests in
//! every dialect, enveloped or not) and to a client (responses).
//!
//! Properties: no panic, no unbounded work; a request that decodes is
//! re-encoded in the form it came in, and that encoding decodes to the same
//! request in the same form (what encoding fills in aside: a missing
//! timeout, a timestamp that is not a string) and encodes to the same bytes
//! again; a decoded response re-encodes to one with the same ids and the
//! same outcome (`into_result`), and to the same bytes again.

#![no_main]

use janus_runtime::wire::{Request, Response};
use libfuzzer_sys::fuzz_target;

/// The argument limit used here: small enough that the limit check is
/// reached by inputs the fuzzer can build, as with a server configured low.
const SMALL_ARGS_LIMIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    if let Ok((request, form)) = Request::decode_any(data, usize::MAX) {
        let encoded = request.encode_in(form).expect("a decoded request encodes");
        let (decoded, form_again) = Request::decode_any(&encoded, usize::MAX)
            .unwrap_or_else(|e| panic!("re-encoded request is refused: {e:?}"));
        assert_eq!(form_again, form, "form changed by a round trip");
        // Encoding fills in what the receiver would assume (a missing
        // timeout, a timestamp that is not a string); everything else
        // survives as it was.
        assert_eq!(decoded.id, request.id);
        assert_eq!(decoded.channel_id, request.channel_id);
        assert_eq!(decoded.request, request.request);
        assert_eq!(decoded.reply_to, request.reply_to);
        assert_eq!(decoded.args, request.args);
        if request.timeout.is_some() {
            assert_eq!(decoded.timeout, request.timeout);
        }
        if request.timestamp.is_string() {
            assert_eq!(decoded.timestamp, request.timestamp);
        }
        // And what was filled in is stable: encoding is a fixed point.
        let again = decoded.encode_in(form).expect("a decoded request encodes");
        assert_eq!(again, encoded, "a second round trip changed the bytes");
    }
    let _ = Request::decode_any(data, SMALL_ARGS_LIMIT);
    if let Ok(response) = Response::decode(data) {
        let encoded = response.encode().expect("a decoded response encodes");
        let decoded = Response::decode(&encoded)
            .unwrap_or_else(|e| panic!("re-encoded response is refused: {e}"));
        let again = decoded.encode().expect("a decoded response encodes");
        assert_eq!(again, encoded, "a second round trip changed the bytes");
        assert_eq!(decoded.request_id, response.request_id);
        assert_eq!(decoded.id, response.id);
        if response.timestamp.is_string() {
            // Otherwise filled in with the time of encoding.
            assert_eq!(decoded.timestamp, response.timestamp);
        }
        assert_eq!(
            decoded.into_result(),
            response.into_result(),
            "the outcome changed by a round trip"
        );
    }
});
