//! Dialects: the message shapes a peer may speak, and answering in kind.
//!
//! | dialect | recognised by | answer |
//! |---|---|---|
//! | [`Dialect::V2`] | `request` and/or `method` | the six-key response of PROTOCOL.md |
//! | [`Dialect::V1`] | `command` (no `request`/`method`), RFC 3339 `timestamp` | `SocketResponse`, RFC 3339 `timestamp` |
//! | [`Dialect::V1Epoch`] | as v1, numeric `timestamp` | `SocketResponse`, epoch-seconds `timestamp` |
//!
//! Any dialect may arrive inside the envelope
//! `{"type":"command","payload":"<base64 of the JSON>"}`; its answer then
//! goes back as `{"type":"response","payload":"<base64>"}`. The dialect is
//! read from the fields present, never guessed from their content.
//!
//! A `SocketResponse` has the keys `commandId, channelId, success`, then
//! `result` (success) or `error` (failure), then `timestamp`. Its error is
//! `{code, message, details}` plus `field`, `value` and `constraints` when
//! the error names them; `code` is a string chosen by [`string_code`]:
//!
//! | numeric code | condition | string code |
//! |---|---|---|
//! | -32602 | a required argument is missing | `MISSING_REQUIRED_ARGUMENT` |
//! | -32602 | `minimum` / `maximum` broken | `ARGUMENT_OUT_OF_RANGE` |
//! | -32602 | `enum` broken | `INVALID_ENUM_VALUE` |
//! | -32602 | any other argument failure | `INVALID_ARGUMENT` |
//! | -32005 | `errorType` is a security name (`MESSAGE_TOO_LARGE`, `PATH_TRAVERSAL_ATTEMPT`, `INVALID_SOCKET_PATH`, `INVALID_CHARACTER_ENCODING`, `CHANNEL_ISOLATION_VIOLATION`, `SECURITY_VIOLATION`) | that name |
//! | -32005 | otherwise | `VALIDATION_FAILED` |
//! | -32000 | an application error (`errorType` from the manifest's `errorCodes`) | the application's name |
//! | -32000 | otherwise | `SERVER_ERROR` |
//! | -32700 | | `DECODING_FAILED` |
//! | -32600 | | `PROTOCOL_VIOLATION` |
//! | -32601 | | `HANDLER_NOT_FOUND` |
//! | -32603 | | `INTERNAL_ERROR` |
//! | -32001 | | `SERVICE_UNAVAILABLE` |
//! | -32002 | | `AUTHENTICATION_FAILED` |
//! | -32003 | | `RATE_LIMIT_EXCEEDED` |
//! | -32004 | unknown channel | `RESOURCE_NOT_FOUND` |
//! | -32006 | | `HANDLER_TIMEOUT` |
//! | -32007 | | `CONNECTION_ERROR` |
//! | -32009 | | `SECURITY_VIOLATION` |
//! | -32010 | | `RESOURCE_LIMIT_EXCEEDED` |
//! | other protocol codes | | the code's `errorType` (e.g. `MESSAGE_FRAMING_ERROR`) |
//!
//! Back from a string ([`code_for_string`]): every name above maps to its
//! numeric code (`SECURITY_VIOLATION` to -32009, `VALIDATION_FAILED` and the
//! other security names to -32005); besides, `COMMAND_TIMEOUT` and
//! `REQUEST_TIMEOUT` are -32006, `ENCODING_FAILED` is -32603. Any other
//! string is an application error: -32000 with the string kept in
//! `data.errorType`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde_json::Value;

use crate::error::{ErrorCode, ErrorObject, error_type};

/// The message shape a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// PROTOCOL.md: `request`/`method`, six-key responses (the default).
    #[default]
    V2,
    /// Seed 003: `SocketCommand` with `command`, RFC 3339 timestamps,
    /// answered by a `SocketResponse`.
    V1,
    /// Seed 001: as [`V1`](Self::V1) with epoch-seconds timestamps.
    V1Epoch,
}

impl Dialect {
    /// The name used on the command line: `v2`, `v1`, `v1-epoch`.
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::V2 => "v2",
            Dialect::V1 => "v1",
            Dialect::V1Epoch => "v1-epoch",
        }
    }

    /// Whether this is one of the `SocketCommand` dialects.
    pub const fn is_v1(self) -> bool {
        matches!(self, Dialect::V1 | Dialect::V1Epoch)
    }

    /// A timestamp for now, as this dialect writes it.
    pub fn timestamp_now(self) -> Value {
        match self {
            Dialect::V1Epoch => epoch_now(),
            Dialect::V2 | Dialect::V1 => Value::String(super::timestamp_now()),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v2" => Ok(Dialect::V2),
            "v1" => Ok(Dialect::V1),
            "v1-epoch" => Ok(Dialect::V1Epoch),
            other => Err(UnknownDialect(other.to_owned())),
        }
    }
}

/// A dialect name that is not `v2`, `v1` or `v1-epoch`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect `{0}`; expected v2, v1 or v1-epoch")]
pub struct UnknownDialect(pub String);

/// A dialect, and whether its messages travel inside the base64 envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Form {
    /// The message shape.
    pub dialect: Dialect,
    /// Whether messages are wrapped in `{"type", "payload"}`.
    pub enveloped: bool,
}

impl Form {
    /// The default: v2, not enveloped.
    pub const V2: Form = Form {
        dialect: Dialect::V2,
        enveloped: false,
    };

    /// `dialect`, not enveloped.
    pub const fn plain(dialect: Dialect) -> Form {
        Form {
            dialect,
            enveloped: false,
        }
    }
}

/// What an answer needs from the request it answers: the id, the channel
/// (v1 echoes it as `channelId`) and the form to answer in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Correlation {
    /// The request's `id`; `None` when it could not be read.
    pub request_id: Option<String>,
    /// The request's `channelId`, when it named one.
    pub channel_id: Option<String>,
    /// The form the request came in.
    pub form: Form,
}

impl Correlation {
    /// A v2 correlation with only an id (e.g. sniffed from a cut datagram).
    pub fn v2(request_id: Option<String>) -> Self {
        Correlation {
            request_id,
            channel_id: None,
            form: Form::V2,
        }
    }

    /// The correlation of a decoded request.
    pub fn of(request: &super::Request, form: Form) -> Self {
        Correlation {
            request_id: Some(request.id.clone()),
            channel_id: request.channel_id.clone(),
            form,
        }
    }
}

/// The current time as epoch seconds with millisecond precision.
pub fn epoch_now() -> Value {
    let millis = chrono::Utc::now().timestamp_millis();
    serde_json::Number::from_f64(millis as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The security names that a `-32005` keeps as its string code.
const SECURITY_NAMES: [&str; 6] = [
    error_type::MESSAGE_TOO_LARGE,
    error_type::PATH_TRAVERSAL_ATTEMPT,
    error_type::INVALID_SOCKET_PATH,
    error_type::INVALID_CHARACTER_ENCODING,
    error_type::CHANNEL_ISOLATION_VIOLATION,
    "SECURITY_VIOLATION",
];

/// The v1 string code for an error (see the module docs for the table).
pub fn string_code(error: &ErrorObject) -> Cow<'_, str> {
    let Some(code) = error.known_code() else {
        return Cow::Borrowed(error.error_type().unwrap_or("SERVER_ERROR"));
    };
    let name = match code {
        ErrorCode::InvalidParams => {
            let keyword = error
                .constraints()
                .and_then(Value::as_object)
                .and_then(|c| c.keys().next())
                .map(String::as_str);
            use janus_constraints::keyword as k;
            match keyword {
                Some(k::REQUIRED) => "MISSING_REQUIRED_ARGUMENT",
                Some(k::MINIMUM | k::MAXIMUM) => "ARGUMENT_OUT_OF_RANGE",
                Some(k::ENUM) => "INVALID_ENUM_VALUE",
                _ => "INVALID_ARGUMENT",
            }
        }
        ErrorCode::ValidationFailed => match error.error_type() {
            Some(t) if SECURITY_NAMES.contains(&t) => t,
            _ => "VALIDATION_FAILED",
        },
        ErrorCode::ServerError => {
            return Cow::Borrowed(error.error_type().unwrap_or("SERVER_ERROR"));
        }
        ErrorCode::ParseError => "DECODING_FAILED",
        ErrorCode::InvalidRequest => "PROTOCOL_VIOLATION",
        ErrorCode::MethodNotFound => "HANDLER_NOT_FOUND",
        ErrorCode::SocketError => "CONNECTION_ERROR",
        other => other.error_type(),
    };
    Cow::Borrowed(name)
}

/// The numeric code a v1 string code stands for; `None` for a name that is
/// not the protocol's (an application error, sent as `-32000`).
pub fn code_for_string(name: &str) -> Option<ErrorCode> {
    match name {
        "MISSING_REQUIRED_ARGUMENT"
        | "ARGUMENT_OUT_OF_RANGE"
        | "INVALID_ENUM_VALUE"
        | "INVALID_ARGUMENT" => Some(ErrorCode::InvalidParams),
        "DECODING_FAILED" => Some(ErrorCode::ParseError),
        "PROTOCOL_VIOLATION" => Some(ErrorCode::InvalidRequest),
        "HANDLER_NOT_FOUND" => Some(ErrorCode::MethodNotFound),
        "CONNECTION_ERROR" => Some(ErrorCode::SocketError),
        "COMMAND_TIMEOUT" => Some(ErrorCode::HandlerTimeout),
        "ENCODING_FAILED" => Some(ErrorCode::InternalError),
        other => ErrorCode::from_error_type(other),
    }
}

/// What can be read of a request from the start of its bytes alone, when
/// the whole cannot be decoded (a datagram cut short by the receive limit,
/// or text that is not valid JSON): the `id`, the `channelId` and the form,
/// read from the top-level fields present, as [`Request::decode_any`]
/// reads them. An envelope's `payload` is opened as far as it arrived.
///
/// A v1 request whose `timestamp` was not reached is taken as
/// [`Dialect::V1`] (RFC 3339), the form decoding assumes when no timestamp
/// tells otherwise.
///
/// [`Request::decode_any`]: super::Request::decode_any
pub fn sniff_correlation(bytes: &[u8]) -> Correlation {
    sniff(bytes, false)
}

fn sniff(bytes: &[u8], enveloped: bool) -> Correlation {
    let mut id = None;
    let mut channel_id = None;
    let mut command = false;
    let mut v2 = false;
    let mut numeric_timestamp = false;
    let mut payload = None;
    super::for_each_top_level_member(bytes, |name, value| {
        let string = || {
            (value.first() == Some(&b'"'))
                .then(|| super::scan_string(value, 0).map(|(s, _)| s))
                .flatten()
        };
        match name {
            "id" => id = string().filter(|id| super::check_id(id).is_ok()),
            "channelId" => {
                channel_id = string().filter(|c| crate::security::check_name("channel", c).is_ok())
            }
            "command" => command = true,
            "request" | "method" => v2 = true,
            "timestamp" => numeric_timestamp = matches!(value.first(), Some(b'-' | b'0'..=b'9')),
            "payload" => payload = value.strip_prefix(b"\"").map(base64_prefix),
            _ => {}
        }
        true
    });
    if id.is_none()
        && !enveloped
        && let Some(inner) = payload.and_then(|p| BASE64.decode(p).ok())
    {
        return sniff(&inner, true);
    }
    let dialect = match (command && !v2, numeric_timestamp) {
        (false, _) => Dialect::V2,
        (true, false) => Dialect::V1,
        (true, true) => Dialect::V1Epoch,
    };
    Correlation {
        request_id: id,
        channel_id,
        form: Form { dialect, enveloped },
    }
}

/// The id of the request an answer cut short is for, in any dialect:
/// `request_id` (v2) or `commandId` (v1), inside the envelope when the
/// answer is one (opened as far as it arrived).
pub(crate) fn sniff_answered_id(bytes: &[u8]) -> Option<String> {
    let id = super::sniff_top_level_string(bytes, "request_id")
        .or_else(|| super::sniff_top_level_string(bytes, "commandId"));
    if id.is_some() {
        return id;
    }
    let mut payload = None;
    super::for_each_top_level_member(bytes, |name, value| {
        if name == "payload" {
            payload = value.strip_prefix(b"\"").map(base64_prefix);
        }
        payload.is_none()
    });
    let inner = BASE64.decode(payload?).ok()?;
    super::sniff_top_level_string(&inner, "commandId")
        .or_else(|| super::sniff_top_level_string(&inner, "request_id"))
}

/// The longest start of a base64 string (cut anywhere) that decodes whole:
/// complete groups of four characters of the standard alphabet.
fn base64_prefix(text: &[u8]) -> &[u8] {
    let len = text
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')))
        .unwrap_or(text.len());
    &text[..len - len % 4]
}

/// Decodes the base64 `payload` of an envelope.
pub(crate) fn open_envelope(payload: &str) -> Result<Vec<u8>, String> {
    BASE64
        .decode(payload.trim())
        .map_err(|e| format!("the envelope's `payload` is not valid base64: {e}"))
}

/// Wraps `inner` in an envelope of `kind` (`"command"` or `"response"`).
pub(crate) fn seal_envelope(kind: &str, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inner.len() * 4 / 3 + 40);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"payload\":\"");
    let start = out.len();
    out.resize(
        start + base64::encoded_len(inner.len(), true).unwrap_or(0),
        0,
    );
    let written = BASE64
        .encode_slice(inner, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.truncate(start + written);
    out.extend_from_slice(b"\"}");
    out
}

#[derive(Serialize)]
struct SocketResponseJson<'a, T: ?Sized> {
    #[serde(rename = "commandId")]
    command_id: Option<&'a str>,
    #[serde(rename = "channelId")]
    channel_id: Option<&'a str>,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<V1Error<'a>>,
    timestamp: Value,
}

#[derive(Serialize)]
struct V1Error<'a> {
    code: Cow<'a, str>,
    message: &'a str,
    details: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<&'a Value>,
}

impl<'a> V1Error<'a> {
    fn of(error: &'a ErrorObject) -> Self {
        V1Error {
            code: string_code(error),
            message: &error.message,
            details: error.details().unwrap_or(&error.message),
            field: error.field(),
            value: error.value(),
            constraints: error.constraints(),
        }
    }
}

/// Appends the answer to a request, in the request's form, to `out`.
pub(crate) fn encode_response_in_kind<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    to: &Correlation,
    outcome: Result<&T, &ErrorObject>,
) -> Result<(), serde_json::Error> {
    if !to.form.enveloped {
        return encode_bare(out, to, outcome);
    }
    let mut inner = Vec::with_capacity(256);
    encode_bare(&mut inner, to, outcome)?;
    out.extend_from_slice(&seal_envelope("response", &inner));
    Ok(())
}

fn encode_bare<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    to: &Correlation,
    outcome: Result<&T, &ErrorObject>,
) -> Result<(), serde_json::Error> {
    let dialect = to.form.dialect;
    if !dialect.is_v1() {
        return super::encode_response(out, to.request_id.as_deref(), outcome);
    }
    let (result, error) = match outcome {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(V1Error::of(e))),
    };
    serde_json::to_writer(
        out,
        &SocketResponseJson {
            command_id: to.request_id.as_deref(),
            channel_id: to.channel_id.as_deref(),
            success: error.is_none(),
            result,
            error,
            timestamp: dialect.timestamp_now(),
        },
    )
}

#[cfg(test)]
mod tests;
