//! Errors: the JSON-RPC 2.0 error object on the wire, the protocol's codes,
//! what a handler returns, and what a caller gets.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::time::Duration;

use janus_constraints::Violation;
use janus_constraints::schema::PathViolation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The error codes of the protocol (JSON-RPC 2.0 codes plus the Janus range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `-32700`: the datagram is not valid JSON / not UTF-8 / empty.
    ParseError,
    /// `-32600`: missing or ill-typed protocol fields, bad timeout, ambiguous routing.
    InvalidRequest,
    /// `-32601`: the request name is unknown in the channel.
    MethodNotFound,
    /// `-32602`: the arguments break the manifest.
    InvalidParams,
    /// `-32603`: the handler panicked or failed unexpectedly.
    InternalError,
    /// `-32000`: generic server-side failure; also application errors declared in a manifest.
    ServerError,
    /// `-32001`: the server is shutting down or overloaded.
    ServiceUnavailable,
    /// `-32002`: the sender's credentials are not allowed.
    AuthenticationFailed,
    /// `-32003`: per-sender rate limit hit.
    RateLimitExceeded,
    /// `-32004`: unknown channel.
    ResourceNotFound,
    /// `-32005`: security validation failed (bad `reply_to`, NUL bytes, message too large).
    ValidationFailed,
    /// `-32006`: the handler exceeded its timeout.
    HandlerTimeout,
    /// `-32007`: transport failure.
    SocketError,
    /// `-32008`: the server is misconfigured.
    ConfigurationError,
    /// `-32009`: policy violation, e.g. `reply_to` not matching the sender.
    SecurityViolation,
    /// `-32010`: too many requests in flight.
    ResourceLimitExceeded,
    /// `-32011`: framing or encoding problem (stream transport).
    MessageFramingError,
    /// `-32012`: correlation failure.
    ResponseTrackingError,
    /// `-32013`: the manifest is invalid.
    ManifestValidationError,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::InternalError,
        ErrorCode::ServerError,
        ErrorCode::ServiceUnavailable,
        ErrorCode::AuthenticationFailed,
        ErrorCode::RateLimitExceeded,
        ErrorCode::ResourceNotFound,
        ErrorCode::ValidationFailed,
        ErrorCode::HandlerTimeout,
        ErrorCode::SocketError,
        ErrorCode::ConfigurationError,
        ErrorCode::SecurityViolation,
        ErrorCode::ResourceLimitExceeded,
        ErrorCode::MessageFramingError,
        ErrorCode::ResponseTrackingError,
        ErrorCode::ManifestValidationError,
    ];

    /// The numeric code sent on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::InternalError => -32603,
            ErrorCode::ServerError => -32000,
            ErrorCode::ServiceUnavailable => -32001,
            ErrorCode::AuthenticationFailed => -32002,
            ErrorCode::RateLimitExceeded => -32003,
            ErrorCode::ResourceNotFound => -32004,
            ErrorCode::ValidationFailed => -32005,
            ErrorCode::HandlerTimeout => -32006,
            ErrorCode::SocketError => -32007,
            ErrorCode::ConfigurationError => -32008,
            ErrorCode::SecurityViolation => -32009,
            ErrorCode::ResourceLimitExceeded => -32010,
            ErrorCode::MessageFramingError => -32011,
            ErrorCode::ResponseTrackingError => -32012,
            ErrorCode::ManifestValidationError => -32013,
        }
    }

    /// The code for a numeric value, if the protocol defines it.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The standard `message` of an error object with this code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "Parse error",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::MethodNotFound => "Method not found",
            ErrorCode::InvalidParams => "Invalid params",
            ErrorCode::InternalError => "Internal error",
            ErrorCode::ServerError => "Server error",
            ErrorCode::ServiceUnavailable => "Service unavailable",
            ErrorCode::AuthenticationFailed => "Authentication failed",
            ErrorCode::RateLimitExceeded => "Rate limit exceeded",
            ErrorCode::ResourceNotFound => "Resource not found",
            ErrorCode::ValidationFailed => "Validation failed",
            ErrorCode::HandlerTimeout => "Handler timeout",
            ErrorCode::SocketError => "Socket error",
            ErrorCode::ConfigurationError => "Configuration error",
            ErrorCode::SecurityViolation => "Security violation",
            ErrorCode::ResourceLimitExceeded => "Resource limit exceeded",
            ErrorCode::MessageFramingError => "Message framing error",
            ErrorCode::ResponseTrackingError => "Response tracking error",
            ErrorCode::ManifestValidationError => "Manifest validation error",
        }
    }

    /// The symbolic name used in `data.errorType` and in a manifest's
    /// `errorCodes`, e.g. `"METHOD_NOT_FOUND"`.
    pub const fn error_type(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::MethodNotFound => "METHOD_NOT_FOUND",
            ErrorCode::InvalidParams => "INVALID_PARAMS",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::ServerError => "SERVER_ERROR",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::AuthenticationFailed => "AUTHENTICATION_FAILED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ErrorCode::ValidationFailed => "VALIDATION_FAILED",
            ErrorCode::HandlerTimeout => "HANDLER_TIMEOUT",
            ErrorCode::SocketError => "SOCKET_ERROR",
            ErrorCode::ConfigurationError => "CONFIGURATION_ERROR",
            ErrorCode::SecurityViolation => "SECURITY_VIOLATION",
            ErrorCode::ResourceLimitExceeded => "RESOURCE_LIMIT_EXCEEDED",
            ErrorCode::MessageFramingError => "MESSAGE_FRAMING_ERROR",
            ErrorCode::ResponseTrackingError => "RESPONSE_TRACKING_ERROR",
            ErrorCode::ManifestValidationError => "MANIFEST_VALIDATION_ERROR",
        }
    }

    /// The protocol code a symbolic error name stands for, if it is one of the
    /// protocol's names (each code's [`error_type`](Self::error_type), plus the
    /// security sub-types such as `MESSAGE_TOO_LARGE`, which are `-32005`).
    ///
    /// A manifest's `errorCodes` entry that is not a protocol name is an
    /// application error, sent as `-32000` with the name in `data.errorType`.
    pub fn from_error_type(name: &str) -> Option<Self> {
        if let Some(code) = Self::ALL.into_iter().find(|c| c.error_type() == name) {
            return Some(code);
        }
        match name {
            error_type::INVALID_CHARACTER_ENCODING
            | error_type::INVALID_SOCKET_PATH
            | error_type::PATH_TRAVERSAL_ATTEMPT
            | error_type::MESSAGE_TOO_LARGE
            | error_type::CHANNEL_ISOLATION_VIOLATION => Some(ErrorCode::ValidationFailed),
            error_type::REQUEST_TIMEOUT => Some(ErrorCode::HandlerTimeout),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.message())
    }
}

/// Symbolic names that appear in `data.errorType` besides each code's own
/// name (see [`ErrorCode::error_type`]).
pub mod error_type {
    /// A NUL byte or invalid encoding in the datagram (`-32005`).
    pub const INVALID_CHARACTER_ENCODING: &str = "INVALID_CHARACTER_ENCODING";
    /// `reply_to` breaks the socket path rules (`-32005`).
    pub const INVALID_SOCKET_PATH: &str = "INVALID_SOCKET_PATH";
    /// `reply_to` contains a `..` component (`-32005`).
    pub const PATH_TRAVERSAL_ATTEMPT: &str = "PATH_TRAVERSAL_ATTEMPT";
    /// The message or its arguments exceed the size limit (`-32005`).
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    /// Cross-channel access attempt (`-32005`).
    pub const CHANNEL_ISOLATION_VIOLATION: &str = "CHANNEL_ISOLATION_VIOLATION";
    /// Legacy name for a timeout (`-32006`).
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
}

/// The `error` member of a response: a JSON-RPC 2.0 error object.
///
/// `data` is kept as JSON: what we send always has `details` and `errorType`,
/// and, for argument errors, `field`, `value` and `constraints`; what we accept
/// may carry any value (or none) there. Legacy error objects whose `code` is
/// a string (`"VALIDATION_FAILED"`) and whose details sit beside `message` are
/// accepted and normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawErrorObject")]
pub struct ErrorObject {
    /// The numeric code.
    pub code: i32,
    /// A short human-readable message.
    pub message: String,
    /// Extra information; see the accessors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with `code`'s standard message, whose `data` names the cause
    /// in `details` and carries the code's symbolic `errorType`.
    pub fn new(code: ErrorCode, details: impl Into<String>) -> Self {
        Self::with_type(code, code.error_type(), details)
    }

    /// Like [`new`](Self::new) with an explicit `errorType`, e.g.
    /// `MESSAGE_TOO_LARGE` for a `-32005`.
    pub fn with_type(code: ErrorCode, error_type: &str, details: impl Into<String>) -> Self {
        let mut data = Map::new();
        data.insert("details".to_owned(), Value::String(details.into()));
        data.insert("errorType".to_owned(), Value::String(error_type.to_owned()));
        Self {
            code: code.code(),
            message: code.message().to_owned(),
            data: Some(Value::Object(data)),
        }
    }

    /// An error with any numeric code, message and data.
    pub fn from_parts(code: i32, message: impl Into<String>, data: Option<Value>) -> Self {
        Self {
            code,
            message: message.into(),
            data,
        }
    }

    /// A `-32602` for an argument that breaks a constraint: `field` is the
    /// argument's path (`"username"`, `"profile.age"`, `"tags[2]"`), `value`
    /// the offending value (`None` when it is missing).
    pub fn invalid_param(field: &str, value: Option<&Value>, violation: &Violation) -> Self {
        let details = argument_words(field, violation);
        let mut err = Self::new(ErrorCode::InvalidParams, details)
            .with_data_entry("field", Value::String(field.to_owned()))
            .with_data_entry("constraints", violation.constraints_json());
        if let Some(value) = value {
            err = err.with_data_entry("value", value.clone());
        }
        err
    }

    /// A `-32602` for every violation the arguments have (in the checker's
    /// order): `data.errors` lists them all (`field`, `value`, `constraints`,
    /// `message` each), and the first is also in `data.field`, `data.value`
    /// and `data.constraints`, as single-error peers expect. `details` says
    /// them all in words.
    pub fn invalid_params(violations: &[PathViolation]) -> Self {
        let Some(first) = violations.first() else {
            return Self::new(ErrorCode::InvalidParams, "the arguments were refused");
        };
        let mut err = Self::invalid_param(first.path(), first.value(), first.violation());
        if violations.len() > 1 {
            let all: Vec<String> = violations
                .iter()
                .map(|v| argument_words(v.path(), v.violation()))
                .collect();
            err = err.with_data_entry(
                "details",
                Value::String(format!(
                    "{} problems with the arguments: {}",
                    violations.len(),
                    all.join("; ")
                )),
            );
        }
        err.with_data_entry(
            "errors",
            Value::Array(violations.iter().map(PathViolation::to_json).collect()),
        )
    }

    /// Adds or replaces one member of `data` (turning `data` into an object
    /// if it was absent or not an object).
    pub fn with_data_entry(mut self, key: &str, value: Value) -> Self {
        let map = match &mut self.data {
            Some(Value::Object(map)) => map,
            other => {
                *other = Some(Value::Object(Map::new()));
                match other {
                    Some(Value::Object(map)) => map,
                    _ => unreachable!("just set to an object"),
                }
            }
        };
        map.insert(key.to_owned(), value);
        self
    }

    /// The protocol code, if `code` is one.
    pub fn known_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }

    fn data_str(&self, key: &str) -> Option<&str> {
        self.data.as_ref()?.get(key)?.as_str()
    }

    /// `data.details`, the cause in words.
    pub fn details(&self) -> Option<&str> {
        self.data_str("details")
    }

    /// `data.errorType`, the symbolic name.
    pub fn error_type(&self) -> Option<&str> {
        self.data_str("errorType")
    }

    /// `data.field`, the argument that caused an argument error.
    pub fn field(&self) -> Option<&str> {
        self.data_str("field")
    }

    /// `data.value`, the offending value.
    pub fn value(&self) -> Option<&Value> {
        self.data.as_ref()?.get("value")
    }

    /// `data.constraints`, the broken rules.
    pub fn constraints(&self) -> Option<&Value> {
        self.data.as_ref()?.get("constraints")
    }
}

/// `-32602 INVALID_PARAMS: argument `username`: …`: the code, the symbolic
/// name (or the message when there is none), then the details. A message is
/// shown beside the name only when it says more than the code's standard one.
impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        let standard = self.known_code().map(ErrorCode::message);
        let message = self.message.trim();
        let says_more = !message.is_empty() && Some(message) != standard;
        match self.error_type() {
            Some(name) if says_more && message != name => write!(f, " {name} ({message})")?,
            Some(name) => write!(f, " {name}")?,
            None if !message.is_empty() => write!(f, " {message}")?,
            None => {}
        }
        if let Some(d) = self.details().filter(|d| *d != message) {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorObject {}

/// What we accept as an error object: current and legacy forms.
#[derive(Deserialize)]
struct RawErrorObject {
    code: Value,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    /// Legacy (seed 001): details beside the message.
    #[serde(default)]
    details: Option<Value>,
    /// v1 (seed 003): `field`, `value`, `constraints` beside the message.
    #[serde(default)]
    field: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    constraints: Option<Value>,
}

impl TryFrom<RawErrorObject> for ErrorObject {
    type Error = String;

    fn try_from(raw: RawErrorObject) -> Result<Self, String> {
        let (code, legacy_type) = match &raw.code {
            Value::Number(n) => match n.as_i64().and_then(|c| i32::try_from(c).ok()) {
                Some(c) => (c, None),
                None => return Err(format!("error code {n} is not a 32-bit integer")),
            },
            Value::String(name) => (
                crate::wire::dialect::code_for_string(name)
                    .unwrap_or(ErrorCode::ServerError)
                    .code(),
                Some(name.clone()),
            ),
            other => return Err(format!("error code must be a number, found {other}")),
        };
        let message = raw.message.unwrap_or_else(|| {
            ErrorCode::from_code(code)
                .map(ErrorCode::message)
                .unwrap_or("Error")
                .to_owned()
        });
        let mut err = ErrorObject {
            code,
            message,
            data: raw.data,
        };
        if let Some(details) = raw.details
            && err.details().is_none()
        {
            err = err.with_data_entry("details", details);
        }
        let beside = [
            ("field", raw.field),
            ("value", raw.value),
            ("constraints", raw.constraints),
        ];
        for (key, value) in beside {
            if let Some(value) = value
                && err.data.as_ref().and_then(|d| d.get(key)).is_none()
            {
                err = err.with_data_entry(key, value);
            }
        }
        if let Some(name) = legacy_type
            && err.error_type().is_none()
        {
            err = err.with_data_entry("errorType", Value::String(name));
        }
        Ok(err)
    }
}

/// An error enum generated from a request's `errorCodes`.
///
/// Generated code implements this; the runtime uses it to send a declared
/// error (handler side) and to recognise one (client side).
pub trait ApplicationError: fmt::Debug + fmt::Display + Send + Sync + Sized + 'static {
    /// The error object sent for this error (details are added by the caller).
    fn to_error_object(&self) -> ErrorObject;

    /// The declared error an error object stands for, if any: matched on
    /// `data.errorType` when present, otherwise on the code for protocol names.
    fn from_error_object(error: &ErrorObject) -> Option<Self>;
}

impl ApplicationError for Infallible {
    fn to_error_object(&self) -> ErrorObject {
        match *self {}
    }

    fn from_error_object(_: &ErrorObject) -> Option<Self> {
        None
    }
}

/// What a handler returns when it does not succeed.
///
/// `E` is the request's generated error enum (from `errorCodes`);
/// `?` on a value of type `E` converts it.
#[derive(Debug)]
pub enum HandlerError<E = Infallible> {
    /// A declared application error, with optional details for the caller.
    Application {
        /// The declared error.
        error: E,
        /// `data.details` sent with it.
        details: Option<String>,
    },
    /// Any error object, sent as it is.
    Error(ErrorObject),
}

impl<E> HandlerError<E> {
    /// An unexpected failure: `-32603` with `details`.
    pub fn internal(details: impl Into<String>) -> Self {
        HandlerError::Error(ErrorObject::new(ErrorCode::InternalError, details))
    }

    /// A generic server-side failure: `-32000` with `details`.
    pub fn server(details: impl Into<String>) -> Self {
        HandlerError::Error(ErrorObject::new(ErrorCode::ServerError, details))
    }

    /// Any protocol error with `details`.
    pub fn protocol(code: ErrorCode, details: impl Into<String>) -> Self {
        HandlerError::Error(ErrorObject::new(code, details))
    }

    /// Sets the details sent to the caller.
    pub fn with_details(self, details: impl Into<String>) -> Self {
        match self {
            HandlerError::Application { error, .. } => HandlerError::Application {
                error,
                details: Some(details.into()),
            },
            HandlerError::Error(obj) => {
                HandlerError::Error(obj.with_data_entry("details", Value::String(details.into())))
            }
        }
    }
}

impl<E: ApplicationError> HandlerError<E> {
    /// The error object sent on the wire.
    pub fn into_error_object(self) -> ErrorObject {
        match self {
            HandlerError::Application { error, details } => {
                let obj = error.to_error_object();
                match details {
                    Some(d) => obj.with_data_entry("details", Value::String(d)),
                    None => obj,
                }
            }
            HandlerError::Error(obj) => obj,
        }
    }
}

impl<E> From<E> for HandlerError<E> {
    fn from(error: E) -> Self {
        HandlerError::Application {
            error,
            details: None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for HandlerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Application {
                error,
                details: Some(d),
            } => write!(f, "{error}: {d}"),
            HandlerError::Application { error, .. } => write!(f, "{error}"),
            HandlerError::Error(obj) => write!(f, "{obj}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for HandlerError<E> {}

/// Why a call did not return a result.
///
/// `E` is the request's generated error enum; untyped calls use
/// [`Infallible`] and report every server error as [`CallError::Remote`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError<E = Infallible> {
    /// The server answered with an error the request declares in `errorCodes`.
    ///
    /// Shown as the error's name, then the server's details without a
    /// repetition of the name: `NOT_FOUND: note 42 does not exist`.
    #[error("{error}{}", application_tail(&error.to_string(), object))]
    Application {
        /// The declared error.
        error: E,
        /// The error object as received (details, context).
        object: ErrorObject,
    },
    /// The server answered with an error object.
    #[error("server error {0}")]
    Remote(ErrorObject),
    /// No answer arrived within the call's timeout.
    #[error("no response within {timeout:?}")]
    Timeout {
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The request is larger than the transport can carry; nothing was sent.
    #[error("request is {size} bytes; the transport limit is {limit} bytes (nothing was sent)")]
    TooLarge {
        /// Encoded size of the request.
        size: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The answer was larger than this client can receive; it was discarded.
    #[error("the answer is {size} bytes; this client receives at most {limit} bytes")]
    ResponseTooLarge {
        /// Size of the answer.
        size: usize,
        /// The client's receive limit.
        limit: usize,
    },
    /// Too many calls are waiting for answers on this client; nothing was sent.
    #[error("{limit} requests are already pending on this client (nothing was sent)")]
    Busy {
        /// The client's pending-request limit.
        limit: usize,
    },
    /// The transport failed (socket missing, send failure, receive failure).
    #[error("transport failure: {context}: {source}")]
    Transport {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The arguments could not be encoded as JSON; nothing was sent.
    #[error("could not encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The answer could not be decoded into the expected type.
    #[error("could not decode the response: {0}")]
    Decode(#[source] serde_json::Error),
    /// The result breaks the manifest's declared response; every violation,
    /// each naming the member's path.
    #[error("the result of `{request}` breaks the manifest: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidResponse {
        /// The request whose result was refused.
        request: String,
        /// Every violation, in the manifest's order.
        errors: Vec<PathViolation>,
    },
}

/// What [`CallError::Application`] shows after the error's name: `: ` and
/// the details, without a repetition of the name at their end
/// (`request `x` failed: NOT_FOUND` becomes `request `x` failed`).
fn application_tail(name: &str, object: &ErrorObject) -> String {
    let Some(details) = object.details() else {
        return String::new();
    };
    let rest = details
        .strip_suffix(name)
        .map(|rest| rest.trim_end().trim_end_matches(':').trim_end())
        .unwrap_or(details);
    if rest.is_empty() || rest == name {
        String::new()
    } else {
        format!(": {rest}")
    }
}

impl<E> CallError<E> {
    /// The error object the server sent, for remote and application errors.
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match self {
            CallError::Application { object, .. } | CallError::Remote(object) => Some(object),
            _ => None,
        }
    }

    /// The protocol code of a remote or application error.
    pub fn code(&self) -> Option<i32> {
        self.error_object().map(|o| o.code)
    }

    /// Whether the call timed out on the client side.
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::Timeout { .. })
    }
}

impl CallError<Infallible> {
    /// Recognises a remote error as one of the request's declared errors.
    pub fn into_application<E: ApplicationError>(self) -> CallError<E> {
        match self {
            CallError::Application { error, .. } => match error {},
            CallError::Remote(object) => match E::from_error_object(&object) {
                Some(error) => CallError::Application { error, object },
                None => CallError::Remote(object),
            },
            CallError::Timeout { timeout } => CallError::Timeout { timeout },
            CallError::TooLarge { size, limit } => CallError::TooLarge { size, limit },
            CallError::ResponseTooLarge { size, limit } => {
                CallError::ResponseTooLarge { size, limit }
            }
            CallError::Busy { limit } => CallError::Busy { limit },
            CallError::Transport { context, source } => CallError::Transport { context, source },
            CallError::Encode(e) => CallError::Encode(e),
            CallError::Decode(e) => CallError::Decode(e),
            CallError::InvalidResponse { request, errors } => {
                CallError::InvalidResponse { request, errors }
            }
        }
    }
}

/// One argument's problem in words: ``argument `age`: 130 is greater than
/// maximum 120``; the arguments object itself is `the arguments`.
fn argument_words(field: &str, violation: &Violation) -> String {
    let what = if field.is_empty() {
        "the arguments".to_owned()
    } else {
        format!("argument `{field}`")
    };
    if violation.keyword() == janus_constraints::keyword::REQUIRED {
        format!("{what} is required but missing")
    } else {
        format!("{what}: {}", violation.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
            assert_eq!(ErrorCode::from_error_type(code.error_type()), Some(code));
        }
        assert_eq!(ErrorCode::from_code(-1), None);
        assert_eq!(
            ErrorCode::from_error_type("MESSAGE_TOO_LARGE"),
            Some(ErrorCode::ValidationFailed)
        );
        assert_eq!(ErrorCode::from_error_type("USERNAME_EXISTS"), None);
    }

    #[test]
    fn new_error_carries_details_and_type() {
        let e = ErrorObject::new(ErrorCode::MethodNotFound, "no request `x` in channel `c`");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"code": -32601, "message": "Method not found",
                   "data": {"details": "no request `x` in channel `c`", "errorType": "METHOD_NOT_FOUND"}})
        );
        assert_eq!(e.known_code(), Some(ErrorCode::MethodNotFound));
    }

    #[test]
    fn invalid_param_names_field_value_and_constraint() {
        let v = janus_constraints::check_integer(130, Some(13), Some(120)).unwrap_err();
        let e = ErrorObject::invalid_param("profile.age", Some(&json!(130)), &v);
        assert_eq!(e.code, -32602);
        assert_eq!(e.field(), Some("profile.age"));
        assert_eq!(e.value(), Some(&json!(130)));
        assert_eq!(e.constraints(), Some(&json!({"maximum": 120})));
        assert_eq!(
            e.details(),
            Some("argument `profile.age`: 130 is greater than maximum 120")
        );
        let missing =
            ErrorObject::invalid_param("email", None, &janus_constraints::missing_required());
        assert_eq!(
            missing.details(),
            Some("argument `email` is required but missing")
        );
        assert_eq!(missing.value(), None);
    }

    #[test]
    fn accepts_error_without_data_and_with_any_data() {
        let e: ErrorObject =
            serde_json::from_value(json!({"code": -32601, "message": "Method not found"})).unwrap();
        assert_eq!(e.data, None);
        let e: ErrorObject =
            serde_json::from_value(json!({"code": -32000, "message": "x", "data": [1, 2]}))
                .unwrap();
        assert_eq!(e.data, Some(json!([1, 2])));
        assert_eq!(e.details(), None);
    }

    #[test]
    fn accepts_legacy_string_codes() {
        let e: ErrorObject = serde_json::from_value(json!({
            "code": "VALIDATION_FAILED", "message": "Username contains invalid characters",
            "details": "Username must contain only alphanumeric characters"
        }))
        .unwrap();
        assert_eq!(e.code, -32005);
        assert_eq!(e.error_type(), Some("VALIDATION_FAILED"));
        assert_eq!(
            e.details(),
            Some("Username must contain only alphanumeric characters")
        );
        let e: ErrorObject = serde_json::from_value(json!({"code": "USERNAME_EXISTS"})).unwrap();
        assert_eq!(e.code, -32000);
        assert_eq!(e.error_type(), Some("USERNAME_EXISTS"));
        assert!(serde_json::from_value::<ErrorObject>(json!({"code": 1.5})).is_err());
    }

    #[derive(Debug, PartialEq)]
    enum Declared {
        Exists,
    }
    impl fmt::Display for Declared {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("USERNAME_EXISTS")
        }
    }
    impl ApplicationError for Declared {
        fn to_error_object(&self) -> ErrorObject {
            ErrorObject::with_type(ErrorCode::ServerError, "USERNAME_EXISTS", "username exists")
        }
        fn from_error_object(error: &ErrorObject) -> Option<Self> {
            (error.error_type() == Some("USERNAME_EXISTS")).then_some(Declared::Exists)
        }
    }

    #[test]
    fn an_error_object_reads_code_name_and_details_once() {
        let v = janus_constraints::check_integer(130, Some(13), Some(120)).unwrap_err();
        let e = ErrorObject::invalid_param("age", Some(&json!(130)), &v);
        assert_eq!(
            e.to_string(),
            "-32602 INVALID_PARAMS: argument `age`: 130 is greater than maximum 120"
        );
        let bare: ErrorObject =
            serde_json::from_value(json!({"code": -32601, "message": "Method not found"})).unwrap();
        assert_eq!(bare.to_string(), "-32601 Method not found");
        // A message of another implementation that says more than the standard one is kept.
        let legacy: ErrorObject = serde_json::from_value(json!({
            "code": "VALIDATION_FAILED", "message": "Username contains invalid characters",
            "details": "only alphanumeric characters"
        }))
        .unwrap();
        assert_eq!(
            legacy.to_string(),
            "-32005 VALIDATION_FAILED (Username contains invalid characters): only alphanumeric characters"
        );
    }

    #[test]
    fn an_application_error_names_itself_once() {
        let generated = ErrorObject::with_type(
            ErrorCode::ServerError,
            "USERNAME_EXISTS",
            "request `create-user` failed: USERNAME_EXISTS",
        );
        let call: CallError<Declared> = CallError::Application {
            error: Declared::Exists,
            object: generated,
        };
        assert_eq!(
            call.to_string(),
            "USERNAME_EXISTS: request `create-user` failed"
        );
        let custom: CallError<Declared> = CallError::Application {
            error: Declared::Exists,
            object: ErrorObject::with_type(
                ErrorCode::ServerError,
                "USERNAME_EXISTS",
                "`john` is taken",
            ),
        };
        assert_eq!(custom.to_string(), "USERNAME_EXISTS: `john` is taken");
        let remote: CallError =
            CallError::Remote(ErrorObject::new(ErrorCode::InternalError, "boom"));
        assert_eq!(
            remote.to_string(),
            "server error -32603 INTERNAL_ERROR: boom"
        );
    }

    #[test]
    fn handler_error_round_trips_through_call_error() {
        let h: HandlerError<Declared> = Declared::Exists.into();
        let obj = h.with_details("`john` is taken").into_error_object();
        assert_eq!(obj.code, -32000);
        assert_eq!(obj.details(), Some("`john` is taken"));
        let call: CallError = CallError::Remote(obj.clone());
        match call.into_application::<Declared>() {
            CallError::Application { error, object } => {
                assert_eq!(error, Declared::Exists);
                assert_eq!(object, obj);
            }
            other => panic!("expected application error, got {other:?}"),
        }
        let other: CallError =
            CallError::Remote(ErrorObject::new(ErrorCode::InternalError, "boom"));
        assert!(matches!(
            other.into_application::<Declared>(),
            CallError::Remote(_)
        ));
    }
}
