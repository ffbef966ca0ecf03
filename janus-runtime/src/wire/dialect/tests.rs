use super::*;
use crate::wire::{Request, Response};
use serde_json::json;

/// Seed 003's `SocketCommand` example.
const SEED_003_COMMAND: &str = include_str!("../../../../testdata/seeds/003-socket-command.json");

/// Seed 001's `SocketCommand` example.
const SEED_001_COMMAND: &str = include_str!("../../../../testdata/seeds/001-socket-command.json");

/// The envelope example of seeds 001 and 003.
const SEED_ENVELOPE: &str = include_str!("../../../../testdata/seeds/envelope.json");

const ID: &str = "550e8400-e29b-41d4-a716-446655440000";

/// The member names of a JSON object, in the order they appear.
fn keys(bytes: &[u8]) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Keys>(bytes).unwrap().0
}

/// The raw text of member `key`.
fn member(bytes: &[u8], key: &str) -> Vec<u8> {
    let map: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(bytes).unwrap();
    map[key].get().as_bytes().to_vec()
}

#[test]
fn seed_commands_decode_with_their_dialect() {
    let (req, form) = Request::decode_any(SEED_003_COMMAND.as_bytes(), 1 << 20).unwrap();
    assert_eq!(form, Form::plain(Dialect::V1));
    assert_eq!(req.request, "create-user");
    assert_eq!(req.channel_id.as_deref(), Some("user-service"));
    assert_eq!(req.args.unwrap()["role"], "user");

    let (req, form) = Request::decode_any(SEED_001_COMMAND.as_bytes(), 1 << 20).unwrap();
    assert_eq!(form, Form::plain(Dialect::V1Epoch));
    assert_eq!(
        req.reply_to.as_deref(),
        Some("/tmp/client_response_123456.sock")
    );
    assert_eq!(req.timestamp, json!(1722249000.123));

    let (req, form) = Request::decode_any(SEED_ENVELOPE.as_bytes(), 1 << 20).unwrap();
    assert_eq!(
        form,
        Form {
            dialect: Dialect::V1,
            enveloped: true
        }
    );
    assert_eq!(req.id, ID);
    assert_eq!(req.request, "create-user");
}

#[test]
fn v2_requests_are_v2() {
    let v2 =
        r#"{"id":"a1","request":"ping","command":"ping","timestamp":"2025-08-06T12:34:56.789Z"}"#;
    let (_, form) = Request::decode_any(v2.as_bytes(), 1024).unwrap();
    assert_eq!(form, Form::V2);
}

#[test]
fn contradictory_and_incomplete_v1_requests_are_refused_in_kind() {
    let mixed = r#"{"id":"a1","request":"ping","command":"echo","channelId":"c","timestamp":"2025-08-06T12:34:56.789Z"}"#;
    let r = Request::decode_any(mixed.as_bytes(), 1024).unwrap_err();
    assert_eq!(r.error.code, -32600);
    assert!(r.error.details().unwrap().contains("`command`"));

    let no_channel = r#"{"id":"a1","command":"ping","timestamp":1722249000.5}"#;
    let r = Request::decode_any(no_channel.as_bytes(), 1024).unwrap_err();
    assert_eq!(r.error.code, -32600);
    assert_eq!(r.form, Form::plain(Dialect::V1Epoch));
    assert_eq!(r.request_id.as_deref(), Some("a1"));
    assert!(r.error.details().unwrap().contains("`channelId`"));
}

#[test]
fn bad_envelopes_name_what_is_wrong() {
    for (bytes, needle) in [
        (r#"{"type":"response","payload":"e30="}"#, "`type`"),
        (r#"{"type":"command"}"#, "no `payload`"),
        (r#"{"type":"command","payload":"%%%"}"#, "base64"),
        (r#"{"type":"command","payload":7}"#, "base64 string"),
    ] {
        let r = Request::decode_any(bytes.as_bytes(), 1024).unwrap_err();
        assert_eq!(r.error.code, -32600, "{bytes}");
        assert!(r.form.enveloped);
        assert!(
            r.error.details().unwrap().contains(needle),
            "{bytes}: {:?}",
            r.error
        );
    }
    // An envelope holding an envelope.
    let inner = seal_envelope("command", br#"{"id":"a"}"#);
    let outer = seal_envelope("command", &inner);
    let r = Request::decode_any(&outer, 1024).unwrap_err();
    assert!(r.error.details().unwrap().contains("itself an envelope"));
    // Not JSON inside.
    let r = Request::decode_any(&seal_envelope("command", b"{nope"), 1024).unwrap_err();
    assert_eq!(r.error.code, -32700);
    assert!(r.form.enveloped);
}

/// The answer's bytes (opened when enveloped) and its JSON.
fn answer(form: Form, outcome: Result<&Value, &ErrorObject>) -> (Vec<u8>, Value) {
    let to = Correlation {
        request_id: Some(ID.into()),
        channel_id: Some("user-service".into()),
        form,
    };
    let mut out = Vec::new();
    encode_response_in_kind(&mut out, &to, outcome).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    if form.enveloped {
        assert_eq!(keys(&out), ["type", "payload"]);
        assert_eq!(v["type"], "response");
        let inner = open_envelope(v["payload"].as_str().unwrap()).unwrap();
        let json = serde_json::from_slice(&inner).unwrap();
        return (inner, json);
    }
    (out, v)
}

#[test]
fn success_answers_in_kind() {
    let result = json!({"userId": "12345"});
    for enveloped in [false, true] {
        let (raw, v1) = answer(
            Form {
                dialect: Dialect::V1,
                enveloped,
            },
            Ok(&result),
        );
        assert_eq!(
            keys(&raw),
            ["commandId", "channelId", "success", "result", "timestamp"]
        );
        assert_eq!(v1["commandId"], ID);
        assert_eq!(v1["channelId"], "user-service");
        assert_eq!(v1["success"], true);
        assert_eq!(v1["result"], result);
        let ts = v1["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() == 24,
            "{ts}"
        );

        let (_, epoch) = answer(
            Form {
                dialect: Dialect::V1Epoch,
                enveloped,
            },
            Ok(&result),
        );
        let t = epoch["timestamp"].as_f64().unwrap();
        assert!(t > 1.7e9);
        assert_eq!((t * 1000.0).round() / 1000.0, t, "millisecond precision");

        let (raw, _) = answer(
            Form {
                dialect: Dialect::V2,
                enveloped,
            },
            Ok(&result),
        );
        assert_eq!(
            keys(&raw),
            [
                "result",
                "error",
                "success",
                "request_id",
                "id",
                "timestamp"
            ]
        );
    }
}

#[test]
fn error_answers_carry_string_codes_and_argument_details() {
    let v = janus_constraints::check_integer(130, Some(13), Some(120)).unwrap_err();
    let err = ErrorObject::invalid_param("age", Some(&json!(130)), &v);
    let (raw, a) = answer(Form::plain(Dialect::V1), Err(&err));
    assert_eq!(
        keys(&raw),
        ["commandId", "channelId", "success", "error", "timestamp"]
    );
    assert_eq!(a["success"], false);
    assert_eq!(
        keys(&member(&raw, "error")),
        [
            "code",
            "message",
            "details",
            "field",
            "value",
            "constraints"
        ]
    );
    assert_eq!(a["error"]["code"], "ARGUMENT_OUT_OF_RANGE");
    assert_eq!(a["error"]["field"], "age");
    assert_eq!(a["error"]["value"], 130);
    assert_eq!(a["error"]["constraints"], json!({"maximum": 120}));

    let plain = ErrorObject::new(ErrorCode::MethodNotFound, "no request `x`");
    let (raw, a) = answer(Form::plain(Dialect::V1Epoch), Err(&plain));
    assert_eq!(keys(&member(&raw, "error")), ["code", "message", "details"]);
    assert_eq!(a["error"]["code"], "HANDLER_NOT_FOUND");
    assert_eq!(a["error"]["details"], "no request `x`");
}

#[test]
fn the_mapping_table_both_ways() {
    use janus_constraints as c;
    let param = |v: c::Violation| ErrorObject::invalid_param("f", None, &v);
    let rows: Vec<(ErrorObject, &str, i32)> = vec![
        (
            param(c::missing_required()),
            "MISSING_REQUIRED_ARGUMENT",
            -32602,
        ),
        (
            param(c::check_integer(1, Some(2), None).unwrap_err()),
            "ARGUMENT_OUT_OF_RANGE",
            -32602,
        ),
        (
            param(c::check_enum_str("x", &["a", "b"]).unwrap_err()),
            "INVALID_ENUM_VALUE",
            -32602,
        ),
        (
            param(c::check_type(&json!(1), c::JsonType::String).unwrap_err()),
            "INVALID_ARGUMENT",
            -32602,
        ),
        (
            ErrorObject::new(ErrorCode::InvalidParams, "args not an object"),
            "INVALID_ARGUMENT",
            -32602,
        ),
        (
            ErrorObject::with_type(
                ErrorCode::ValidationFailed,
                error_type::MESSAGE_TOO_LARGE,
                "big",
            ),
            "MESSAGE_TOO_LARGE",
            -32005,
        ),
        (
            ErrorObject::with_type(
                ErrorCode::ValidationFailed,
                error_type::PATH_TRAVERSAL_ATTEMPT,
                "..",
            ),
            "PATH_TRAVERSAL_ATTEMPT",
            -32005,
        ),
        (
            ErrorObject::new(ErrorCode::ValidationFailed, "x"),
            "VALIDATION_FAILED",
            -32005,
        ),
        (
            ErrorObject::with_type(ErrorCode::ServerError, "USERNAME_EXISTS", "taken"),
            "USERNAME_EXISTS",
            -32000,
        ),
        (
            ErrorObject::new(ErrorCode::ParseError, "x"),
            "DECODING_FAILED",
            -32700,
        ),
        (
            ErrorObject::new(ErrorCode::InvalidRequest, "x"),
            "PROTOCOL_VIOLATION",
            -32600,
        ),
        (
            ErrorObject::new(ErrorCode::MethodNotFound, "x"),
            "HANDLER_NOT_FOUND",
            -32601,
        ),
        (
            ErrorObject::new(ErrorCode::InternalError, "x"),
            "INTERNAL_ERROR",
            -32603,
        ),
        (
            ErrorObject::new(ErrorCode::ServiceUnavailable, "x"),
            "SERVICE_UNAVAILABLE",
            -32001,
        ),
        (
            ErrorObject::new(ErrorCode::AuthenticationFailed, "x"),
            "AUTHENTICATION_FAILED",
            -32002,
        ),
        (
            ErrorObject::new(ErrorCode::ResourceNotFound, "x"),
            "RESOURCE_NOT_FOUND",
            -32004,
        ),
        (
            ErrorObject::new(ErrorCode::HandlerTimeout, "x"),
            "HANDLER_TIMEOUT",
            -32006,
        ),
        (
            ErrorObject::new(ErrorCode::SocketError, "x"),
            "CONNECTION_ERROR",
            -32007,
        ),
        (
            ErrorObject::new(ErrorCode::SecurityViolation, "x"),
            "SECURITY_VIOLATION",
            -32009,
        ),
        (
            ErrorObject::new(ErrorCode::ResourceLimitExceeded, "x"),
            "RESOURCE_LIMIT_EXCEEDED",
            -32010,
        ),
    ];
    for (err, name, code) in rows {
        assert_eq!(string_code(&err), name, "{err}");
        let back = code_for_string(name).map(ErrorCode::code).unwrap_or(-32000);
        assert_eq!(back, code, "{name}");
    }
    assert_eq!(
        code_for_string("COMMAND_TIMEOUT"),
        Some(ErrorCode::HandlerTimeout)
    );
    assert_eq!(code_for_string("SOMETHING_NEW"), None);
}

#[test]
fn seed_responses_decode_with_string_codes() {
    let ok = r#"{"commandId":"550e8400-e29b-41d4-a716-446655440000","channelId":"user-service","success":true,"result":{"userId":"12345","status":"created","message":"User created successfully"},"timestamp":1722249001.234}"#;
    let r = Response::decode(ok.as_bytes()).unwrap();
    assert_eq!(r.request_id.as_deref(), Some(ID));
    assert_eq!(r.into_result().unwrap()["userId"], "12345");

    let err = r#"{"commandId":"550e8400-e29b-41d4-a716-446655440000","channelId":"user-service","success":false,"error":{"code":"VALIDATION_FAILED","message":"Username contains invalid characters","details":"Username must contain only alphanumeric characters and underscores","field":"username","value":"invalid-value","constraints":{"pattern":"^[a-zA-Z0-9_]+$","minLength":3,"maxLength":50}},"timestamp":"2025-07-29T10:50:01.234Z"}"#;
    let e = Response::decode(err.as_bytes())
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(e.code, -32005);
    assert_eq!(e.error_type(), Some("VALIDATION_FAILED"));
    assert_eq!(e.field(), Some("username"));
    assert_eq!(e.value(), Some(&json!("invalid-value")));
    assert_eq!(e.constraints().unwrap()["minLength"], 3);

    let unknown = r#"{"commandId":"550e8400-e29b-41d4-a716-446655440000","channelId":"c","success":false,"error":{"code":"QUOTA_GONE","message":"m"},"timestamp":1.0}"#;
    let e = Response::decode(unknown.as_bytes())
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(e.code, -32000);
    assert_eq!(e.error_type(), Some("QUOTA_GONE"));

    let sealed = seal_envelope("response", ok.as_bytes());
    let r = Response::decode(&sealed).unwrap();
    assert_eq!(r.request_id.as_deref(), Some(ID));
}

#[test]
fn requests_encode_in_every_form_and_decode_back() {
    let mut req = Request::new(Some("user-service"), "create-user");
    req.args = Some(json!({"username": "john_doe"}).as_object().unwrap().clone());
    for dialect in [Dialect::V2, Dialect::V1, Dialect::V1Epoch] {
        for enveloped in [false, true] {
            let form = Form { dialect, enveloped };
            let bytes = req.encode_in(form).unwrap();
            let (back, seen) = Request::decode_any(&bytes, 1 << 20).unwrap();
            assert_eq!(seen, form);
            assert_eq!(back.id, req.id);
            assert_eq!(back.args, req.args);
            if !enveloped && dialect.is_v1() {
                assert_eq!(
                    keys(&bytes),
                    ["id", "channelId", "command", "args", "timeout", "timestamp"]
                );
            }
        }
    }
    // A v1 command without a channel cannot be written.
    let e = Request::new(None, "ping")
        .encode_in(Form::plain(Dialect::V1Epoch))
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "a v1-epoch `SocketCommand` always names its channel, and `ping` was given none"
        ),
        "{e}"
    );
    assert!(Request::new(None, "ping").encode_in(Form::V2).is_ok());
    assert_eq!("v1-epoch".parse::<Dialect>(), Ok(Dialect::V1Epoch));
    assert!("v3".parse::<Dialect>().is_err());
}

#[test]
fn cut_requests_are_sniffed_for_their_id_channel_and_form() {
    let sniffed = |bytes: &[u8]| {
        let c = sniff_correlation(bytes);
        (c.request_id, c.channel_id, c.form)
    };
    // v2: the id when it arrived whole and is a valid id.
    let (id, _, form) = sniffed(br#"{"id":"abc-1","method":"x","args":{"#);
    assert_eq!((id.as_deref(), form), (Some("abc-1"), Form::V2));
    assert_eq!(
        sniff_correlation(br#"{ "id" : "abc" "#)
            .request_id
            .as_deref(),
        Some("abc")
    );
    assert_eq!(sniff_correlation(br#"{"id":"a b"}"#).request_id, None);
    assert_eq!(sniff_correlation(br#"{"id":"abc"#).request_id, None);
    assert_eq!(
        sniff_correlation(br#"{"args":{"id":"no"},"id":"yes","request":"#)
            .request_id
            .as_deref(),
        Some("yes")
    );
    assert_eq!(sniff_correlation(br#"{"method":"x"}"#).request_id, None);
    assert_eq!(sniff_correlation(br#"{"id":7}"#).request_id, None);

    // v1 and v1-epoch, read from the fields that arrived.
    let cut = &SEED_003_COMMAND.as_bytes()[..SEED_003_COMMAND.find("\"email\"").unwrap()];
    assert_eq!(
        sniffed(cut),
        (
            Some(ID.into()),
            Some("user-service".into()),
            Form::plain(Dialect::V1)
        )
    );
    assert_eq!(
        sniffed(&SEED_001_COMMAND.as_bytes()[..SEED_001_COMMAND.len() - 3]).2,
        Form::plain(Dialect::V1Epoch)
    );
    // What a string value holds (a NUL byte) hides no later member.
    let nul = b"{\"id\":\"n\",\"channelId\":\"c\",\"command\":\"x\",\"args\":{\"s\":\"a\0b\"},\"timestamp\":1.5}";
    assert_eq!(
        sniffed(nul),
        (
            Some("n".into()),
            Some("c".into()),
            Form::plain(Dialect::V1Epoch)
        )
    );
    // `command` beside `request` is not v1; a bad channel name is not echoed.
    assert_eq!(
        sniffed(br#"{"id":"a","command":"x","request":"x","#).2,
        Form::V2
    );
    assert_eq!(
        sniffed(br#"{"id":"a","channelId":"../x","command":"x","#).1,
        None
    );

    // An envelope cut anywhere: the payload is opened as far as it arrived.
    for cut in [170, 200, 300, SEED_ENVELOPE.len() - 5] {
        let (id, channel, form) = sniffed(&SEED_ENVELOPE.as_bytes()[..cut]);
        assert_eq!(
            form,
            Form {
                dialect: Dialect::V1,
                enveloped: true
            },
            "cut at {cut}"
        );
        assert_eq!(id.as_deref(), Some(ID), "cut at {cut}");
        assert_eq!(channel.as_deref(), Some("user-service"), "cut at {cut}");
    }
    // Too little of the payload to read the id: still answered enveloped.
    for cut in [40, 80] {
        let (id, _, form) = sniffed(&SEED_ENVELOPE.as_bytes()[..cut]);
        assert!(form.enveloped && id.is_none(), "cut at {cut}");
    }
}

#[test]
fn undecodable_v1_requests_are_refused_in_kind_with_their_id() {
    // Broken JSON after the fields a v1 client correlates by.
    let broken = br#"{"id":"c-1","channelId":"test","command":"add","args":{"a":1,,}}"#;
    let r = Request::decode_any(broken, 1024).unwrap_err();
    assert_eq!(r.error.code, -32700);
    assert_eq!(r.correlation().form, Form::plain(Dialect::V1));
    assert_eq!(r.request_id.as_deref(), Some("c-1"));
    assert_eq!(r.channel_id.as_deref(), Some("test"));
    // The same inside an envelope.
    let r = Request::decode_any(&seal_envelope("command", broken), 1024).unwrap_err();
    assert_eq!(r.error.code, -32700);
    assert_eq!(
        r.form,
        Form {
            dialect: Dialect::V1,
            enveloped: true
        }
    );
    assert_eq!(r.request_id.as_deref(), Some("c-1"));
    // A v2 request that cannot be decoded keeps `request_id: null`.
    let r = Request::decode_any(br#"{"id":"r1","request":"add",,}"#, 1024).unwrap_err();
    assert_eq!((r.request_id, r.form), (None, Form::V2));
}

#[test]
fn cut_answers_are_sniffed_for_the_id_they_answer_in_every_form() {
    let big = json!({"blob": "x".repeat(4000)});
    for form in [
        Form::V2,
        Form::plain(Dialect::V1),
        Form {
            dialect: Dialect::V1Epoch,
            enveloped: true,
        },
        Form {
            dialect: Dialect::V2,
            enveloped: true,
        },
    ] {
        let to = Correlation {
            request_id: Some(ID.into()),
            channel_id: Some("c".into()),
            form,
        };
        let mut out = Vec::new();
        encode_response_in_kind(&mut out, &to, Ok(&big)).unwrap();
        // v2 puts `request_id` after `result`: only a whole one shows it.
        let cut = if form.dialect.is_v1() {
            &out[..out.len() / 2]
        } else {
            &out[..]
        };
        assert_eq!(sniff_answered_id(cut).as_deref(), Some(ID), "{form:?}");
    }
    assert_eq!(
        sniff_answered_id(br#"{"type":"response","payload":"eyJj"#),
        None
    );
}
