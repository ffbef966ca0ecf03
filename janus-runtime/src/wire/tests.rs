use std::fs;
use std::path::PathBuf;

use serde_json::json;

use super::*;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors")
}

/// Every file of `dir` under the vectors directory whose name ends in `suffix`.
fn vector_files(dir: &str, suffix: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(vectors_dir().join(dir))
        .unwrap_or_else(|e| panic!("reading vectors/{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().ends_with(suffix))
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {dir}");
    files
}

#[test]
fn decodes_every_request_other_clients_send() {
    let mut seen = 0;
    for dir in ["go-client-sends", "rust-client-sends", "ts-client-sends"] {
        for (name, bytes) in vector_files(dir, ".json") {
            let req = Request::decode(&bytes).unwrap_or_else(|r| panic!("{name}: {:?}", r.error));
            let raw: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(req.id, raw["id"].as_str().unwrap(), "{name}");
            assert_eq!(req.request, raw["request"].as_str().unwrap(), "{name}");
            assert_eq!(req.reply_to.as_deref(), raw["reply_to"].as_str(), "{name}");
            assert_eq!(
                req.channel_id, None,
                "{name}: no implementation sends channelId"
            );
            // The file name says which request it is: `<case>.<n>_<request>.json`.
            let stem = name.strip_suffix(".json").unwrap();
            let file_request = stem.rsplit_once('.').unwrap().1.split_once('_').unwrap().1;
            assert_eq!(req.request, file_request, "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 25);
}

#[test]
fn decodes_every_request_sent_to_other_servers() {
    for dir in [
        "go-server-replies",
        "rust-server-replies",
        "ts-server-replies",
    ] {
        for (name, bytes) in vector_files(dir, ".request.json") {
            let req = Request::decode(&bytes).unwrap_or_else(|r| panic!("{name}: {:?}", r.error));
            if name.contains("ping_seed_format") {
                assert_eq!(req.channel_id.as_deref(), Some("test"));
                assert_eq!(req.args, Some(serde_json::Map::new()));
                assert_eq!(req.timeout, Some(30.0));
            }
            if name.contains("no_args_no_timeout") {
                assert_eq!(req.args, None);
                assert_eq!(req.timeout, None);
            }
        }
    }
}

#[test]
fn decodes_every_reply_other_servers_give() {
    let mut seen = 0;
    for dir in [
        "go-server-replies",
        "rust-server-replies",
        "ts-server-replies",
    ] {
        for (name, bytes) in vector_files(dir, ".response.json") {
            let resp = Response::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let request_name = name.replace(".response.json", ".request.json");
            let request: Value = serde_json::from_slice(&fs::read(&request_name).unwrap()).unwrap();
            assert_eq!(resp.request_id.as_deref(), request["id"].as_str(), "{name}");
            let is_error = name.contains("unknown_request");
            assert_eq!(resp.success, !is_error, "{name}");
            match resp.into_result() {
                Ok(result) => {
                    assert!(!is_error, "{name}");
                    assert!(result.is_object(), "{name}: {result}");
                }
                Err(e) => {
                    assert!(is_error, "{name}");
                    assert_eq!(e.code, -32601, "{name}");
                    assert_eq!(e.message, "Method not found");
                    assert!(e.details().unwrap().contains("no_such_request"), "{name}");
                }
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 21);
}

#[test]
fn raw_responses_give_the_same_outcome() {
    for (name, bytes) in vector_files("ts-server-replies", ".response.json") {
        let raw: RawResponse = serde_json::from_slice(&bytes).unwrap();
        let outcome = raw.into_outcome();
        assert_eq!(outcome.is_err(), name.contains("unknown_request"), "{name}");
    }
}

const SEED_REQUEST: &str = r#"{
  "id": "550e8400-e29b-41d4-a716-446655440000",
  "method": "create-user",
  "channelId": "user-service",
  "request": "create-user",
  "reply_to": "/tmp/client_response_123456.sock",
  "args": {"username": "john_doe", "email": "john@example.com", "role": "user"},
  "timeout": 30.0,
  "timestamp": "2025-08-06T12:34:56.789Z"
}"#;

#[test]
fn decodes_seed_examples() {
    let req = Request::decode(SEED_REQUEST.as_bytes()).unwrap();
    assert_eq!(req.channel_id.as_deref(), Some("user-service"));
    assert_eq!(req.request, "create-user");
    assert_eq!(req.args.as_ref().unwrap()["username"], "john_doe");

    let resp = Response::decode(
        br#"{"result":{"userId":"12345","status":"created","message":"User created successfully"},
            "error":null,"success":true,"request_id":"550e8400-e29b-41d4-a716-446655440000",
            "id":"998e7654-f21c-32a8-b827-556677889900","timestamp":"2025-08-06T12:34:56.789Z"}"#,
    )
    .unwrap();
    assert_eq!(resp.into_result().unwrap()["userId"], "12345");

    let resp = Response::decode(
        br#"{"result":null,"error":{"code":-32602,"message":"Invalid parameters",
            "data":{"details":"Missing required field: email"}},"success":false,
            "request_id":"550e8400-e29b-41d4-a716-446655440000",
            "id":"887e6543-d10b-21a7-a716-445566778899","timestamp":"2025-08-06T12:34:56.789Z"}"#,
    )
    .unwrap();
    let err = resp.into_result().unwrap_err();
    assert_eq!(err.code, -32602);
    assert_eq!(err.details(), Some("Missing required field: email"));
}

#[test]
fn decodes_legacy_dialect() {
    // Seed 001: `command`, no `method`, epoch-seconds timestamp.
    let req = Request::decode(
        br#"{"id":"550e8400-e29b-41d4-a716-446655440000","channelId":"user-service",
            "command":"create-user","reply_to":"/tmp/client_response_123456.sock",
            "args":{"username":"john_doe"},"timeout":30.0,"timestamp":1722249000.123}"#,
    )
    .unwrap();
    assert_eq!(req.request, "create-user");
    assert_eq!(req.timestamp, json!(1722249000.123));

    let resp = Response::decode(
        br#"{"commandId":"550e8400-e29b-41d4-a716-446655440000","channelId":"user-service",
            "success":false,"error":{"code":"VALIDATION_FAILED","message":"Username contains invalid characters",
            "details":"Username must contain only alphanumeric characters and underscores"},
            "timestamp":1722249001.234}"#,
    )
    .unwrap();
    assert_eq!(
        resp.request_id.as_deref(),
        Some("550e8400-e29b-41d4-a716-446655440000")
    );
    let err = resp.into_result().unwrap_err();
    assert_eq!(err.code, -32005);
    assert_eq!(err.error_type(), Some("VALIDATION_FAILED"));
}

fn is_lower_uuid_v4(s: &str) -> bool {
    Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4) && s == s.to_lowercase()
}

fn is_protocol_timestamp(s: &str) -> bool {
    // %Y-%m-%dT%H:%M:%S%.3fZ
    s.len() == 24
        && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok()
        && s.as_bytes()[19] == b'.'
}

#[test]
fn emits_requests_in_protocol_order() {
    let mut req = Request::new(Some("user-service"), "create-user");
    req.reply_to = Some("/tmp/janus-1-abc.sock".into());
    req.args = Some(json!({"username": "john_doe"}).as_object().unwrap().clone());
    let bytes = req.encode().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let keys = [
        "\"id\"",
        "\"method\"",
        "\"channelId\"",
        "\"request\"",
        "\"reply_to\"",
        "\"args\"",
        "\"timeout\"",
        "\"timestamp\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(is_lower_uuid_v4(v["id"].as_str().unwrap()), "{text}");
    assert!(
        is_protocol_timestamp(v["timestamp"].as_str().unwrap()),
        "{text}"
    );
    assert_eq!(v["method"], v["request"]);
    assert!(text.contains("\"timeout\":30.0"), "{text}");
    // And we accept what we send.
    assert_eq!(Request::decode(&bytes).unwrap(), req);
}

#[test]
fn omits_args_channel_and_reply_to_when_absent() {
    let req = Request::new(None, "ping");
    let v: Value = serde_json::from_slice(&req.encode().unwrap()).unwrap();
    let obj = v.as_object().unwrap();
    assert!(!obj.contains_key("args"));
    assert!(!obj.contains_key("channelId"));
    assert!(!obj.contains_key("reply_to"));
    assert!(obj.contains_key("timeout"));
}

#[test]
fn emits_responses_with_all_six_keys_in_order() {
    let mut out = Vec::new();
    encode_response(&mut out, Some("abc"), Ok(&json!({"pong": true}))).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            r#"{"result":{"pong":true},"error":null,"success":true,"request_id":"abc","id":""#
        ),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(is_lower_uuid_v4(v["id"].as_str().unwrap()));
    assert!(is_protocol_timestamp(v["timestamp"].as_str().unwrap()));

    let mut out = Vec::new();
    let err = ErrorObject::new(ErrorCode::ParseError, "bad");
    encode_response::<Value>(&mut out, None, Err(&err)).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            r#"{"result":null,"error":{"code":-32700,"message":"Parse error","data":{"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#""success":false,"request_id":null,"id":""#),
        "{text}"
    );
}

#[test]
fn response_struct_round_trips() {
    let resp = Response::success("r1", json!({"sum": 3}));
    assert_eq!(Response::decode(&resp.encode().unwrap()).unwrap(), resp);
    let resp = Response::error(None, ErrorObject::new(ErrorCode::InvalidRequest, "x"));
    assert_eq!(Response::decode(&resp.encode().unwrap()).unwrap(), resp);
}

/// Found by fuzzing (`fuzz/`, target `datagram`): a response that says
/// `success: false` without an error object was re-encoded as a success.
#[test]
fn a_failure_without_an_error_object_stays_a_failure_when_re_encoded() {
    let text =
        br#"{"request_id":"r1","id":"x","success":false,"timestamp":"2026-11-21T04:26:02.675Z"}"#;
    let decoded = Response::decode(text).unwrap();
    assert!(!decoded.success);
    let outcome = decoded.clone().into_result();
    assert!(outcome.is_err(), "{outcome:?}");
    let again = Response::decode(&decoded.encode().unwrap()).unwrap();
    assert!(!again.success, "re-encoded as a success: {again:?}");
    assert_eq!(again.request_id.as_deref(), Some("r1"));
    assert_eq!(again.into_result(), outcome);
}

/// Found by fuzzing (`fuzz/`, target `datagram`): numbers changed in their
/// last bit between the sender and the receiver, because JSON floats were
/// parsed to the nearest-but-one `f64`. Each must decode to the correctly
/// rounded value (what `str::parse` gives) and survive re-encoding.
#[test]
fn numbers_decode_correctly_rounded_and_round_trip_exactly() {
    for text in [
        "42222222999999222222222222222222222222222229999994",
        "4.2222222999999216e49",
        "4.222222299999922e49",
        "0.30000000000000004",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
    ] {
        let exact: f64 = text.parse().unwrap();
        let datagram = format!(
            r#"{{"result":[{text}],"success":true,"request_id":"r","id":"x","timestamp":"t"}}"#
        );
        let response = Response::decode(datagram.as_bytes()).unwrap();
        let got = response.result.as_ref().unwrap()[0].as_f64().unwrap();
        assert_eq!(got.to_bits(), exact.to_bits(), "{text} decoded as {got:e}");
        let again = Response::decode(&response.encode().unwrap()).unwrap();
        let back = again.result.unwrap()[0].as_f64().unwrap();
        assert_eq!(
            back.to_bits(),
            exact.to_bits(),
            "{text} came back as {back:e}"
        );

        let request = format!(
            r#"{{"id":"r","method":"m","request":"m","args":{{"x":{text}}},"timestamp":"2026-11-21T04:26:00.823Z"}}"#
        );
        let decoded = Request::decode(request.as_bytes()).unwrap();
        let arg = decoded.args.as_ref().unwrap()["x"].as_f64().unwrap();
        assert_eq!(
            arg.to_bits(),
            exact.to_bits(),
            "argument {text} decoded as {arg:e}"
        );
    }
}

/// Each malformed datagram: (input, code, errorType, whether the id is echoed).
#[test]
fn rejects_malformed_requests_with_the_right_code() {
    let ok_tail = r#""reply_to":"/tmp/r.sock","timestamp":"2025-08-06T12:34:56.789Z""#;
    let cases: Vec<(String, i32, &str, bool)> = vec![
        (String::new(), -32700, "PARSE_ERROR", false),
        ("   \n".into(), -32700, "PARSE_ERROR", false),
        ("{\"id\":".into(), -32700, "PARSE_ERROR", false),
        ("[1,2".into(), -32700, "PARSE_ERROR", false),
        ("{} trailing".into(), -32700, "PARSE_ERROR", false),
        ("[1,2]".into(), -32600, "INVALID_REQUEST", false),
        ("\"ping\"".into(), -32600, "INVALID_REQUEST", false),
        ("42".into(), -32600, "INVALID_REQUEST", false),
        (
            format!(r#"{{"request":"ping",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(r#"{{"id":7,"request":"ping",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(r#"{{"id":"","request":"ping",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(r#"{{"id":"a b","request":"ping",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(
                r#"{{"id":"{}","request":"ping",{ok_tail}}}"#,
                "x".repeat(129)
            ),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(r#"{{"id":"a","id":"b","request":"ping",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            false,
        ),
        (
            format!(r#"{{"id":"a1",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":5,{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","method":"echo",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"pi ng",{ok_tail}}}"#),
            -32005,
            "SECURITY_VIOLATION",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","channelId":"../x",{ok_tail}}}"#),
            -32005,
            "SECURITY_VIOLATION",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"{}",{ok_tail}}}"#, "r".repeat(257)),
            -32005,
            "SECURITY_VIOLATION",
            true,
        ),
        (
            r#"{"id":"a1","request":"ping","reply_to":"/tmp/r.sock"}"#.into(),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            r#"{"id":"a1","request":"ping","reply_to":"/tmp/r.sock","timestamp":"yesterday"}"#
                .into(),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            r#"{"id":"a1","request":"ping","reply_to":"/tmp/r.sock","timestamp":true}"#.into(),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","timeout":0.05,{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","timeout":301,{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","timeout":"5",{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","args":[1],{ok_tail}}}"#),
            -32602,
            "INVALID_PARAMS",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","args":"x",{ok_tail}}}"#),
            -32602,
            "INVALID_PARAMS",
            true,
        ),
        // Valid JSON whose number no float can hold: a bad argument.
        (
            format!(r#"{{"id":"a1","request":"ping","args":{{"n":1e400}},{ok_tail}}}"#),
            -32602,
            "INVALID_PARAMS",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","args":{{"n":[-1e400]}},{ok_tail}}}"#),
            -32602,
            "INVALID_PARAMS",
            true,
        ),
        (
            format!(r#"{{"id":"a1","request":"ping","timeout":1e400,{ok_tail}}}"#),
            -32600,
            "INVALID_REQUEST",
            true,
        ),
    ];
    for (input, code, error_type, echoes_id) in cases {
        let rejection = Request::decode(input.as_bytes()).expect_err(&input);
        assert_eq!(rejection.error.code, code, "{input}: {:?}", rejection.error);
        assert_eq!(rejection.error.error_type(), Some(error_type), "{input}");
        assert!(
            !rejection.error.details().unwrap_or("").is_empty(),
            "{input}: every rejection says why"
        );
        assert_eq!(rejection.request_id.is_some(), echoes_id, "{input}");
        if input.contains("/tmp/r.sock") && !input.contains("\"id\":\"a\",\"id\"") {
            assert_eq!(
                rejection.reply_to.as_deref(),
                Some("/tmp/r.sock"),
                "{input}"
            );
        }
    }
}

#[test]
fn rejects_nul_bytes_and_invalid_utf8() {
    let mut bytes = SEED_REQUEST.as_bytes().to_vec();
    bytes[10] = 0;
    let r = Request::decode(&bytes).unwrap_err();
    assert_eq!(r.error.code, -32005);
    assert_eq!(r.error.error_type(), Some("INVALID_CHARACTER_ENCODING"));
    assert_eq!(
        r.error.details(),
        Some("the datagram contains a NUL byte at offset 10")
    );

    let mut bytes = SEED_REQUEST.as_bytes().to_vec();
    bytes[12] = 0xff;
    let r = Request::decode(&bytes).unwrap_err();
    assert_eq!(r.error.code, -32700);
    assert!(r.error.details().unwrap().contains("UTF-8"));
}

#[test]
fn rejects_oversized_args() {
    let big = "x".repeat(1000);
    let input = format!(
        r#"{{"id":"a1","request":"echo","args":{{"message":"{big}"}},"timestamp":"2025-08-06T12:34:56.789Z"}}"#
    );
    let r = Request::decode_with_limit(input.as_bytes(), 500).unwrap_err();
    assert_eq!(r.error.code, -32005);
    assert_eq!(r.error.error_type(), Some("MESSAGE_TOO_LARGE"));
    assert!(Request::decode_with_limit(input.as_bytes(), 2000).is_ok());
}

#[test]
fn accepts_lenient_forms() {
    // Unknown keys, uppercase id, null args, method only, RFC 3339 with offset.
    let r = Request::decode(
        br#"{"id":"ABC-123_x","method":"ping","args":null,"extra":{"a":1},
            "timestamp":"2025-08-06T12:34:56+02:00"}"#,
    )
    .unwrap();
    assert_eq!(r.id, "ABC-123_x");
    assert_eq!(r.request, "ping");
    assert_eq!(r.args, None);
    assert_eq!(r.reply_to, None);
    // Integral timeout.
    let r = Request::decode(
        br#"{"id":"a","request":"ping","timeout":5,"timestamp":"2025-08-06T12:34:56Z"}"#,
    )
    .unwrap();
    assert_eq!(r.timeout, Some(5.0));
}

#[test]
fn sniffs_top_level_strings_from_cut_json() {
    let cut = br#"{"args":{"id":"inner","x":[{"id":"deeper"}]},"id":"outer-1","request":"ec"#;
    assert_eq!(
        sniff_top_level_string(cut, "id").as_deref(),
        Some("outer-1")
    );
    assert_eq!(
        sniff_top_level_string(cut, "request"),
        None,
        "value cut off"
    );
    let escaped = br#"{"note":"a \"id\": \"fake\"","id" : "real"}"#;
    assert_eq!(
        sniff_top_level_string(escaped, "id").as_deref(),
        Some("real")
    );
    assert_eq!(sniff_top_level_string(br#"{"id":7}"#, "id"), None);
    assert_eq!(sniff_top_level_string(br#"{"args":{"id":"x""#, "id"), None);
    assert_eq!(sniff_top_level_string(br#"[{"id":"x"}]"#, "id"), None);
    assert_eq!(
        sniff_top_level_string(
            br#"{"result":"xxxx","request_id":"abc","id":"#,
            "request_id"
        )
        .as_deref(),
        Some("abc")
    );
}

#[test]
fn out_of_range_numbers_outside_args_are_ignored_or_named() {
    // An unknown key is ignored whatever number it holds.
    let r = Request::decode(
        br#"{"id":"a1","request":"ping","extra":1e400,"timestamp":"2025-08-06T12:34:56.789Z"}"#,
    )
    .unwrap();
    assert_eq!(r.request, "ping");
    // The out-of-range argument is reported with its position inside `args`.
    let e = Request::decode(
        br#"{"id":"a1","request":"ping","args":{"n":1e400},"timestamp":"2025-08-06T12:34:56.789Z"}"#,
    )
    .unwrap_err();
    let details = e.error.details().unwrap();
    assert!(details.contains("number out of range"), "{details}");
    assert!(details.contains("of `args`"), "{details}");
}
