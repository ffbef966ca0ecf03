//! The datagram wire format: what we send and what we accept.
//!
//! One datagram is one UTF-8 JSON object. We emit requests with the keys
//! `id, method, channelId, request, reply_to, args, timeout, timestamp` in
//! that order and responses with all six keys
//! `result, error, success, request_id, id, timestamp`. We accept what other
//! implementations really send: unknown keys, ids that are not lowercase
//! UUIDs, no `channelId`, `command` for `request` (legacy), numeric
//! timestamps, responses that omit `result` or `error`.

use std::borrow::Cow;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::{ErrorCode, ErrorObject, error_type};
use crate::security;

pub mod dialect;

pub use dialect::{Correlation, Dialect, Form};

/// Smallest accepted `timeout`, in seconds.
pub const MIN_TIMEOUT_SECS: f64 = 0.1;
/// Largest accepted `timeout`, in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 300.0;
/// The `timeout` assumed when a request has none, in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// Largest `args` object, in bytes of JSON.
pub const MAX_ARGS_BYTES: usize = 5 * 1024 * 1024;
/// Longest accepted request `id`.
pub const MAX_ID_LEN: usize = 128;

/// The current time as the protocol writes it: UTC, three fraction digits, `Z`.
pub fn timestamp_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A request as it travels on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Correlation id; we send a lowercase UUID v4.
    pub id: String,
    /// The channel, when the sender names one.
    pub channel_id: Option<String>,
    /// The request name (sent as both `method` and `request`).
    pub request: String,
    /// Where the answer goes; `None` for fire-and-forget.
    pub reply_to: Option<String>,
    /// The arguments: always a JSON object when present.
    pub args: Option<serde_json::Map<String, Value>>,
    /// Seconds the sender will wait; `None` when absent (the receiver assumes 30).
    pub timeout: Option<f64>,
    /// When it was sent, as received (RFC 3339, or legacy epoch seconds).
    pub timestamp: Value,
}

impl Request {
    /// A new request with a fresh id and the current time.
    pub fn new(channel_id: Option<&str>, request: &str) -> Self {
        Request {
            id: Uuid::new_v4().to_string(),
            channel_id: channel_id.map(str::to_owned),
            request: request.to_owned(),
            reply_to: None,
            args: None,
            timeout: Some(DEFAULT_TIMEOUT_SECS),
            timestamp: Value::String(timestamp_now()),
        }
    }

    /// Encodes the request in the order we emit.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        self.encode_in(Form::V2)
    }

    /// Encodes the request in `form`: a v2 request, or a `SocketCommand`,
    /// optionally enveloped.
    pub fn encode_in(&self, form: Form) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(256);
        let timestamp = match &self.timestamp {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            _ => Cow::Owned(timestamp_now()),
        };
        encode_request(
            &mut out,
            &OutgoingRequest {
                id: &self.id,
                channel_id: self.channel_id.as_deref(),
                request: &self.request,
                reply_to: self.reply_to.as_deref(),
                timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
                timestamp: &timestamp,
                form,
            },
            self.args.as_ref(),
        )?;
        Ok(out)
    }

    /// Decodes a datagram leniently (see the module docs), with the default
    /// argument size limit.
    pub fn decode(bytes: &[u8]) -> Result<Request, Box<Rejection>> {
        Self::decode_with_limit(bytes, MAX_ARGS_BYTES)
    }

    /// Decodes a datagram, refusing `args` larger than `max_args_bytes`.
    pub fn decode_with_limit(
        bytes: &[u8],
        max_args_bytes: usize,
    ) -> Result<Request, Box<Rejection>> {
        parse_request(bytes, max_args_bytes, false).map(|(request, _)| request)
    }

    /// Decodes a message in any dialect, enveloped or not (see
    /// [`dialect`]): the request, and the form to answer it in.
    pub fn decode_any(
        bytes: &[u8],
        max_args_bytes: usize,
    ) -> Result<(Request, Form), Box<Rejection>> {
        parse_request(bytes, max_args_bytes, false)
    }
}

/// A datagram refused while decoding it as a request: the error to answer
/// with, and what could be read of the request to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's `id` when it could be read; answered as `request_id`.
    pub request_id: Option<String>,
    /// The request's `reply_to` when it was a string (not yet validated).
    pub reply_to: Option<String>,
    /// What was wrong.
    pub error: ErrorObject,
    /// The request's `channelId` when it could be read.
    pub channel_id: Option<String>,
    /// The form to answer in, as far as it could be read.
    pub form: Form,
    /// The message is not a request at all: an object that names no
    /// request (no `request`, `method` or `command`, which is also what
    /// every response looks like) or an envelope that is not a command's.
    /// A server never answers it, so that two servers (or a server and
    /// itself) cannot answer each other's answers for ever.
    pub not_a_request: bool,
}

impl Rejection {
    /// Who the error answer goes to, and in which form.
    pub fn correlation(&self) -> Correlation {
        Correlation {
            request_id: self.request_id.clone(),
            channel_id: self.channel_id.clone(),
            form: self.form,
        }
    }
}

/// The header of a request we send; arguments are passed separately so they
/// can be serialized straight from the caller's type.
pub(crate) struct OutgoingRequest<'a> {
    pub id: &'a str,
    pub channel_id: Option<&'a str>,
    pub request: &'a str,
    pub reply_to: Option<&'a str>,
    pub timeout: f64,
    pub timestamp: &'a str,
    pub form: Form,
}

#[derive(Serialize)]
struct OutgoingRequestJson<'a, A: ?Sized> {
    id: &'a str,
    method: &'a str,
    #[serde(rename = "channelId", skip_serializing_if = "Option::is_none")]
    channel_id: Option<&'a str>,
    request: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a A>,
    timeout: f64,
    timestamp: &'a str,
}

#[derive(Serialize)]
struct SocketCommandJson<'a, A: ?Sized> {
    id: &'a str,
    #[serde(rename = "channelId", skip_serializing_if = "Option::is_none")]
    channel_id: Option<&'a str>,
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a A>,
    timeout: f64,
    timestamp: Value,
}

/// Appends the JSON of a request, in `header.form`, to `out`.
pub(crate) fn encode_request<A: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    header: &OutgoingRequest<'_>,
    args: Option<&A>,
) -> Result<(), serde_json::Error> {
    if header.form.enveloped {
        let mut inner = Vec::with_capacity(256);
        encode_bare_request(&mut inner, header, args)?;
        out.extend_from_slice(&dialect::seal_envelope("command", &inner));
        return Ok(());
    }
    encode_bare_request(out, header, args)
}

fn encode_bare_request<A: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    header: &OutgoingRequest<'_>,
    args: Option<&A>,
) -> Result<(), serde_json::Error> {
    if header.form.dialect.is_v1() {
        // Every v1 server routes by `channelId`; without one the command
        // could only be refused (or dropped) on the other side.
        if header.channel_id.is_none() {
            return Err(<serde_json::Error as serde::ser::Error>::custom(format!(
                "a {} `SocketCommand` always names its channel, and `{}` was given none",
                header.form.dialect, header.request
            )));
        }
        let timestamp = match header.form.dialect {
            Dialect::V1Epoch => chrono::DateTime::parse_from_rfc3339(header.timestamp)
                .ok()
                .and_then(|t| serde_json::Number::from_f64(t.timestamp_millis() as f64 / 1000.0))
                .map(Value::Number)
                .unwrap_or_else(dialect::epoch_now),
            _ => Value::String(header.timestamp.to_owned()),
        };
        return serde_json::to_writer(
            out,
            &SocketCommandJson {
                id: header.id,
                channel_id: header.channel_id,
                command: header.request,
                reply_to: header.reply_to,
                args,
                timeout: header.timeout,
                timestamp,
            },
        );
    }
    serde_json::to_writer(
        out,
        &OutgoingRequestJson {
            id: header.id,
            method: header.request,
            channel_id: header.channel_id,
            request: header.request,
            reply_to: header.reply_to,
            args,
            timeout: header.timeout,
            timestamp: header.timestamp,
        },
    )
}

#[derive(Deserialize)]
struct RawRequestFields<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
    #[serde(borrow, default)]
    request: Option<&'a RawValue>,
    #[serde(borrow, default)]
    command: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "channelId")]
    channel_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reply_to: Option<&'a RawValue>,
    #[serde(borrow, default)]
    args: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timeout: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

fn raw_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn invalid_request(details: String) -> ErrorObject {
    ErrorObject::new(ErrorCode::InvalidRequest, details)
}

/// Checks the bytes of a datagram before JSON parsing: emptiness, NUL
/// bytes, UTF-8.
pub(crate) fn check_datagram(bytes: &[u8]) -> Result<&str, ErrorObject> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ErrorObject::new(
            ErrorCode::ParseError,
            "the datagram is empty; a request is one JSON object",
        ));
    }
    if let Some(pos) = memchr::memchr(0, bytes) {
        return Err(ErrorObject::with_type(
            ErrorCode::ValidationFailed,
            error_type::INVALID_CHARACTER_ENCODING,
            format!("the datagram contains a NUL byte at offset {pos}"),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        ErrorObject::new(
            ErrorCode::ParseError,
            format!(
                "the datagram is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

fn parse_request(
    bytes: &[u8],
    max_args_bytes: usize,
    enveloped: bool,
) -> Result<(Request, Form), Box<Rejection>> {
    // Refused before its fields could be read: answered in the form the
    // start of the bytes shows. A v2 request is then answered with
    // `request_id: null`, as JSON-RPC does; a v1 client can only correlate
    // by `commandId`, so it gets the id that could be read.
    let reject = |error| {
        let seen = dialect::sniff_correlation(bytes);
        let v1 = seen.form.dialect.is_v1();
        Box::new(Rejection {
            request_id: seen.request_id.filter(|_| v1),
            reply_to: None,
            error,
            channel_id: seen.channel_id.filter(|_| v1),
            form: Form {
                dialect: seen.form.dialect,
                enveloped: enveloped || seen.form.enveloped,
            },
            not_a_request: false,
        })
    };
    let text = check_datagram(bytes).map_err(reject)?;
    let first = text.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        // Not an object: tell apart broken JSON from valid JSON of the wrong kind.
        let error = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(e) => parse_error(&e),
            Ok(_) => invalid_request(format!(
                "a request must be a JSON object, found {}",
                match first {
                    Some(b'[') => "an array",
                    Some(b'"') => "a string",
                    Some(b't' | b'f') => "a boolean",
                    Some(b'n') => "null",
                    _ => "a number",
                }
            )),
        };
        return Err(reject(error));
    }
    let fields: RawRequestFields<'_> = serde_json::from_str(text).map_err(|e| {
        reject(if e.is_data() {
            invalid_request(format!("the request object is malformed: {e}"))
        } else {
            parse_error(&e)
        })
    })?;

    // The envelope: `type` and `payload`, and no `id` of its own.
    if fields.id.is_none() && (fields.payload.is_some() || fields.kind.is_some()) {
        return open_request_envelope(&fields, max_args_bytes, enveloped).map_err(|mut r| {
            r.form.enveloped = true;
            r
        });
    }
    // The dialect, from the fields present.
    let dialect = if fields.command.is_some() && fields.request.is_none() && fields.method.is_none()
    {
        match fields.timestamp.map(|t| t.get().as_bytes().first()) {
            Some(Some(b'-' | b'0'..=b'9')) => Dialect::V1Epoch,
            _ => Dialect::V1,
        }
    } else {
        Dialect::V2
    };
    let form = Form { dialect, enveloped };
    let channel_hint = fields.channel_id.and_then(raw_string);
    // Whatever else is wrong with it, an object that names no request is
    // not one (a response never does).
    let not_a_request =
        fields.request.is_none() && fields.method.is_none() && fields.command.is_none();

    // reply_to first: every later error needs somewhere to go.
    let reply_to = match fields.reply_to {
        None => None,
        Some(raw) => match raw_string(raw) {
            Some(s) => Some(s),
            None => {
                return Err(Box::new(Rejection {
                    form,
                    channel_id: channel_hint,
                    not_a_request,
                    ..*reject(invalid_request(format!(
                        "`reply_to` must be a string (a socket path), found {}",
                        json_kind(raw)
                    )))
                }));
            }
        },
    };
    let fail = |error: ErrorObject, request_id: Option<&str>| {
        Box::new(Rejection {
            request_id: request_id.map(str::to_owned),
            reply_to: reply_to.clone(),
            error,
            channel_id: channel_hint.clone(),
            form,
            not_a_request,
        })
    };

    let id = match fields.id {
        None => {
            return Err(fail(
                invalid_request("the request has no `id`".into()),
                None,
            ));
        }
        Some(raw) => match raw_string(raw) {
            None => {
                return Err(fail(
                    invalid_request(format!("`id` must be a string, found {}", json_kind(raw))),
                    None,
                ));
            }
            Some(id) => id,
        },
    };
    if let Err(why) = check_id(&id) {
        return Err(fail(invalid_request(why), None));
    }
    let id_ref = Some(id.as_str());

    let string_field =
        |raw: Option<&RawValue>, key: &str| -> Result<Option<String>, Box<Rejection>> {
            match raw {
                None => Ok(None),
                Some(raw) => raw_string(raw).map(Some).ok_or_else(|| {
                    fail(
                        invalid_request(format!(
                            "`{key}` must be a string, found {}",
                            json_kind(raw)
                        )),
                        id_ref,
                    )
                }),
            }
        };
    let method = string_field(fields.method, "method")?;
    let request = string_field(fields.request, "request")?;
    let command = string_field(fields.command, "command")?;
    if let (Some(r), Some(c)) = (&request, &command)
        && r != c
    {
        return Err(fail(
            invalid_request(format!(
                "`command` ({}) and `request` ({}) name different requests",
                janus_constraints::show_str(c),
                janus_constraints::show_str(r)
            )),
            id_ref,
        ));
    }
    // Which key named the request, for the message when `method` differs.
    let named_by = if request.is_some() {
        "request"
    } else {
        "command"
    };
    let request = match (request.or(command), method) {
        (None, None) => {
            return Err(fail(
                invalid_request(
                    "the request names no request: `request` (or `method`) is missing".into(),
                ),
                id_ref,
            ));
        }
        (Some(r), None) | (None, Some(r)) => r,
        (Some(r), Some(m)) if r == m => r,
        (Some(r), Some(m)) => {
            return Err(fail(
                invalid_request(format!(
                    "`method` ({}) and `{named_by}` ({}) name different requests",
                    janus_constraints::show_str(&m),
                    janus_constraints::show_str(&r)
                )),
                id_ref,
            ));
        }
    };
    if let Err(why) = security::check_name("request", &request) {
        return Err(fail(security::name_error(why), id_ref));
    }
    let channel_id = string_field(fields.channel_id, "channelId")?;
    if dialect.is_v1() && channel_id.is_none() {
        return Err(fail(
            invalid_request(format!(
                "a {dialect} `SocketCommand` (named by `command`) requires `channelId`"
            )),
            id_ref,
        ));
    }
    if let Some(channel) = &channel_id
        && let Err(why) = security::check_name("channel", channel)
    {
        return Err(fail(security::name_error(why), id_ref));
    }

    let timestamp = match fields.timestamp {
        None => {
            return Err(fail(
                invalid_request("the request has no `timestamp`".into()),
                id_ref,
            ));
        }
        Some(raw) => match check_timestamp(raw) {
            Ok(ts) => ts,
            Err(why) => return Err(fail(invalid_request(why), id_ref)),
        },
    };

    let timeout = match fields.timeout {
        None => None,
        Some(raw) => match serde_json::from_str::<f64>(raw.get()) {
            Ok(t) if (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&t) => Some(t),
            Ok(t) => {
                return Err(fail(
                    invalid_request(format!(
                        "`timeout` is {t} seconds; it must be between {MIN_TIMEOUT_SECS} and {MAX_TIMEOUT_SECS}"
                    )),
                    id_ref,
                ));
            }
            Err(_) if json_kind(raw) == "a number" => {
                return Err(fail(
                    invalid_request(format!(
                        "`timeout` is {}, out of range; it must be between {MIN_TIMEOUT_SECS} and {MAX_TIMEOUT_SECS} seconds",
                        raw.get()
                    )),
                    id_ref,
                ));
            }
            Err(_) => {
                return Err(fail(
                    invalid_request(format!(
                        "`timeout` must be a number of seconds, found {}",
                        json_kind(raw)
                    )),
                    id_ref,
                ));
            }
        },
    };

    let args = match fields.args {
        None => None,
        Some(raw) => {
            if raw.get().len() > max_args_bytes {
                return Err(fail(
                    ErrorObject::with_type(
                        ErrorCode::ValidationFailed,
                        error_type::MESSAGE_TOO_LARGE,
                        format!(
                            "`args` is {} bytes of JSON; the limit is {max_args_bytes}",
                            raw.get().len()
                        ),
                    ),
                    id_ref,
                ));
            }
            // Measured before parsing, so that no parser recurses on hostile
            // nesting; the limit is the one every checker applies.
            let limit = janus_constraints::schema::MAX_DEPTH;
            if let Some(depth) =
                janus_constraints::schema::depth_exceeds(raw.get().as_bytes(), limit)
            {
                let mut error = ErrorObject::new(
                    ErrorCode::InvalidParams,
                    format!(
                        "`args` nests arrays and objects deeper than the limit of {limit} levels (level {depth} reached)"
                    ),
                );
                error = error
                    .with_data_entry("field", Value::from(""))
                    .with_data_entry(
                        "constraints",
                        serde_json::json!({ janus_constraints::schema::MAX_DEPTH_KEYWORD: limit }),
                    );
                return Err(fail(error, id_ref));
            }
            match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Object(map)) => Some(map),
                Ok(other) => {
                    return Err(fail(
                        ErrorObject::new(
                            ErrorCode::InvalidParams,
                            format!(
                                "`args` must be a JSON object, found {}",
                                janus_constraints::describe_value(&other)
                            ),
                        ),
                        id_ref,
                    ));
                }
                // The whole datagram already parsed as JSON, so what fails
                // here is a value JSON allows but a number cannot hold
                // (`1e400`): a bad argument, not a bad datagram.
                Err(e) => {
                    return Err(fail(
                        ErrorObject::new(
                            ErrorCode::InvalidParams,
                            format!(
                                "`args` holds a value that cannot be read: {} at line {} column {} of `args`",
                                strip_position(&e.to_string()),
                                e.line(),
                                e.column()
                            ),
                        ),
                        id_ref,
                    ));
                }
            }
        }
    };

    Ok((
        Request {
            id,
            channel_id,
            request,
            reply_to,
            args,
            timeout,
            timestamp,
        },
        form,
    ))
}

/// Opens `{"type":"command","payload":"<base64>"}` and decodes what it holds.
fn open_request_envelope(
    fields: &RawRequestFields<'_>,
    max_args_bytes: usize,
    already_enveloped: bool,
) -> Result<(Request, Form), Box<Rejection>> {
    // An envelope that does not say it holds a command (a response's, or
    // one without `type`) is not a request.
    let not_a_request = !matches!(fields.kind.and_then(raw_string).as_deref(), Some("command"));
    let reject = |details: String| {
        Box::new(Rejection {
            request_id: None,
            reply_to: None,
            error: invalid_request(details),
            channel_id: None,
            form: Form {
                dialect: Dialect::V2,
                enveloped: true,
            },
            not_a_request,
        })
    };
    if already_enveloped {
        return Err(reject(
            "an envelope's payload is itself an envelope; only one level is allowed".into(),
        ));
    }
    match fields.kind.map(|k| (raw_string(k), k)) {
        Some((Some(kind), _)) if kind == "command" => {}
        Some((Some(kind), _)) => {
            return Err(reject(format!(
                "the envelope's `type` is {}; a request's envelope has `\"type\":\"command\"`",
                janus_constraints::show_str(&kind)
            )));
        }
        Some((None, raw)) => {
            return Err(reject(format!(
                "the envelope's `type` must be a string, found {}",
                json_kind(raw)
            )));
        }
        None => {
            return Err(reject(
                "the envelope has no `type` (and the request no `id`)".into(),
            ));
        }
    }
    let payload = match fields.payload.map(|p| (raw_string(p), p)) {
        Some((Some(p), _)) => p,
        Some((None, raw)) => {
            return Err(reject(format!(
                "the envelope's `payload` must be a base64 string, found {}",
                json_kind(raw)
            )));
        }
        None => return Err(reject("the envelope has no `payload`".into())),
    };
    let inner = dialect::open_envelope(&payload).map_err(reject)?;
    parse_request(&inner, max_args_bytes, true)
}

fn parse_error(e: &serde_json::Error) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::ParseError,
        format!(
            "the datagram is not valid JSON: {} at line {} column {}",
            strip_position(&e.to_string()),
            e.line(),
            e.column()
        ),
    )
}

/// serde_json appends " at line L column C"; we report the position ourselves.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("`id` is empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "`id` is {} characters long; the limit is {MAX_ID_LEN}",
            id.chars().count()
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "`id` {} may only contain A-Z, a-z, 0-9, `_` and `-`",
            janus_constraints::show_str(id)
        ));
    }
    Ok(())
}

fn check_timestamp(raw: &RawValue) -> Result<Value, String> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(s)) => {
            if chrono::DateTime::parse_from_rfc3339(&s).is_ok() {
                Ok(Value::String(s))
            } else {
                Err(format!(
                    "`timestamp` {} is not an RFC 3339 date-time",
                    janus_constraints::show_str(&s)
                ))
            }
        }
        Ok(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => Ok(Value::Number(n)),
        Ok(other) => Err(format!(
            "`timestamp` must be an RFC 3339 string or epoch seconds, found {}",
            janus_constraints::describe_value(&other)
        )),
        Err(e) => Err(format!("`timestamp` is malformed: {e}")),
    }
}

/// A response as it travels on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The handler's value; `None` (`null`) on error.
    pub result: Option<Value>,
    /// The error; `None` (`null`) on success.
    pub error: Option<ErrorObject>,
    /// Whether the request succeeded.
    pub success: bool,
    /// The `id` of the request answered; `None` when it could not be read.
    pub request_id: Option<String>,
    /// This response's own id.
    pub id: String,
    /// When it was sent.
    pub timestamp: Value,
}

impl Response {
    /// A success response to `request_id`.
    pub fn success(request_id: &str, result: Value) -> Self {
        Response {
            result: Some(result),
            error: None,
            success: true,
            request_id: Some(request_id.to_owned()),
            id: Uuid::new_v4().to_string(),
            timestamp: Value::String(timestamp_now()),
        }
    }

    /// An error response.
    pub fn error(request_id: Option<&str>, error: ErrorObject) -> Self {
        Response {
            result: None,
            error: Some(error),
            success: false,
            request_id: request_id.map(str::to_owned),
            id: Uuid::new_v4().to_string(),
            timestamp: Value::String(timestamp_now()),
        }
    }

    /// Encodes the response with all six keys, in the order we emit. The
    /// outcome encoded is [`Response::into_result`]'s: a response that says
    /// `success: false` without an error object is encoded as that error,
    /// never as a success.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(256);
        let missing;
        let outcome = match (&self.error, self.success) {
            (Some(e), _) => Err(e),
            (None, true) => Ok(self.result.as_ref().unwrap_or(&Value::Null)),
            (None, false) => {
                missing = missing_error_object();
                Err(&missing)
            }
        };
        let ts = match &self.timestamp {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            _ => Cow::Owned(timestamp_now()),
        };
        encode_response_with(&mut out, self.request_id.as_deref(), &self.id, &ts, outcome)?;
        Ok(out)
    }

    /// Decodes a response leniently: `result`/`error` may be absent, ids of
    /// any case, legacy `commandId` for `request_id`, legacy error objects.
    pub fn decode(bytes: &[u8]) -> Result<Response, serde_json::Error> {
        let raw = RawResponse::decode(bytes)?;
        let result = match &raw.result {
            Some(r) => Some(serde_json::from_str(r.get())?),
            None => None,
        };
        let success = raw.is_success();
        Ok(Response {
            result,
            error: raw.error,
            success,
            request_id: raw.request_id,
            id: raw.id.unwrap_or_default(),
            timestamp: raw.timestamp.unwrap_or(Value::Null),
        })
    }

    /// The outcome as a `Result`.
    pub fn into_result(self) -> Result<Value, ErrorObject> {
        match (self.error, self.success) {
            (Some(e), _) => Err(e),
            (None, true) => Ok(self.result.unwrap_or(Value::Null)),
            (None, false) => Err(missing_error_object()),
        }
    }
}

fn missing_error_object() -> ErrorObject {
    ErrorObject::new(
        ErrorCode::ResponseTrackingError,
        "the response says success=false but carries no error object",
    )
}

/// A response as received, with `result` kept as raw JSON so typed callers
/// decode it straight into their type.
#[derive(Deserialize)]
pub(crate) struct RawResponse {
    #[serde(default)]
    pub result: Option<Box<RawValue>>,
    #[serde(default)]
    pub error: Option<ErrorObject>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default, alias = "commandId", alias = "requestId")]
    pub request_id: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<Value>,
    /// The envelope's `type`, when the response is enveloped.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The envelope's base64 `payload`.
    #[serde(default)]
    pub payload: Option<String>,
}

impl RawResponse {
    /// Decodes a response in any dialect, opening the envelope
    /// `{"type":"response","payload":"<base64>"}` when it is one.
    pub(crate) fn decode(bytes: &[u8]) -> Result<RawResponse, serde_json::Error> {
        let raw: RawResponse = serde_json::from_slice(bytes)?;
        if raw.request_id.is_some() || raw.kind.as_deref() != Some("response") {
            return Ok(raw);
        }
        let Some(payload) = &raw.payload else {
            return Ok(raw);
        };
        let inner = dialect::open_envelope(payload)
            .map_err(<serde_json::Error as serde::de::Error>::custom)?;
        let inner: RawResponse = serde_json::from_slice(&inner)?;
        if inner.payload.is_some() && inner.request_id.is_none() {
            return Err(<serde_json::Error as serde::de::Error>::custom(
                "an envelope inside an envelope",
            ));
        }
        Ok(inner)
    }

    fn is_success(&self) -> bool {
        self.error.is_none() && self.success != Some(false)
    }

    /// The outcome: the raw result, or the error object.
    pub(crate) fn into_outcome(self) -> Result<Option<Box<RawValue>>, ErrorObject> {
        match (self.error, self.success) {
            (Some(e), _) => Err(e),
            (None, Some(false)) => Err(missing_error_object()),
            (None, _) => Ok(self.result),
        }
    }
}

#[derive(Serialize)]
struct OutgoingResponseJson<'a, T: ?Sized> {
    result: Option<&'a T>,
    error: Option<&'a ErrorObject>,
    success: bool,
    request_id: Option<&'a str>,
    id: &'a str,
    timestamp: &'a str,
}

/// Appends the JSON of a response (fresh id, current time) to `out`.
pub(crate) fn encode_response<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    request_id: Option<&str>,
    outcome: Result<&T, &ErrorObject>,
) -> Result<(), serde_json::Error> {
    let mut id_buf = Uuid::encode_buffer();
    let id = Uuid::new_v4().hyphenated().encode_lower(&mut id_buf);
    encode_response_with(out, request_id, id, &timestamp_now(), outcome)
}

fn encode_response_with<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    request_id: Option<&str>,
    id: &str,
    timestamp: &str,
    outcome: Result<&T, &ErrorObject>,
) -> Result<(), serde_json::Error> {
    let (result, error) = match outcome {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    serde_json::to_writer(
        out,
        &OutgoingResponseJson {
            result,
            error,
            success: error.is_none(),
            request_id,
            id,
            timestamp,
        },
    )
}

/// Reads the string value of a top-level `key` from the start of a JSON
/// object that may be cut short (a truncated datagram). Only members of the
/// outermost object count; nested objects and strings are skipped.
pub(crate) fn sniff_top_level_string(bytes: &[u8], key: &str) -> Option<String> {
    let mut found = None;
    for_each_top_level_member(bytes, |name, value| {
        if name != key {
            return true;
        }
        found = (value.first() == Some(&b'"'))
            .then(|| scan_string(value, 0).map(|(v, _)| v))
            .flatten();
        false
    });
    found
}

/// Calls `visit` with the name of each top-level member of a JSON object
/// that may be cut short, and the bytes from the member's value on, until
/// `visit` returns false or the bytes end. Nested objects and strings are
/// skipped; nothing is parsed beyond what a member name needs.
pub(crate) fn for_each_top_level_member<'a>(
    bytes: &'a [u8],
    mut visit: impl FnMut(&str, &'a [u8]) -> bool,
) {
    let mut depth = 0usize;
    let mut i = 0;
    // At depth 1, whether the next string is a member name.
    let mut expect_key = false;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && bytes[i] == b'{';
            }
            b'}' | b']' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return,
            },
            b',' if depth == 1 => expect_key = true,
            b'"' if !(depth == 1 && expect_key) => {
                // A value or a nested string: skipped, not read, so that
                // what it holds (a NUL byte, say) hides no later member.
                let Some(end) = string_end(bytes, i) else {
                    return;
                };
                i = end;
                continue;
            }
            b'"' => {
                // A member name at the top level.
                let Some((name, end)) = scan_string(bytes, i) else {
                    return;
                };
                expect_key = false;
                // The value after the colon.
                let rest = &bytes[end..];
                let Some(colon) = rest.iter().position(|b| !b.is_ascii_whitespace()) else {
                    return;
                };
                if rest[colon] != b':' {
                    return;
                }
                let after = &rest[colon + 1..];
                let Some(start) = after.iter().position(|b| !b.is_ascii_whitespace()) else {
                    return;
                };
                if !visit(&name, &after[start..]) {
                    return;
                }
                i = end + colon + 1 + start;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The JSON string starting at `bytes[start]` (a quote) and the index after
/// its closing quote; `None` if it is cut off or not valid.
fn scan_string(bytes: &[u8], start: usize) -> Option<(String, usize)> {
    let end = string_end(bytes, start)?;
    let text: String = serde_json::from_slice(&bytes[start..end]).ok()?;
    Some((text, end))
}

/// The index after the closing quote of the JSON string starting at
/// `bytes[start]` (a quote); `None` if it is cut off.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests;
