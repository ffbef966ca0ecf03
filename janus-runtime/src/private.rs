//! What generated code calls, so that it stays short and every behaviour is
//! written once: the embedded schema and its checker, a client call, a
//! server's decode and answer, the compile-time literals.

pub use janus_constraints;
pub use janus_macros::__check_literal as check_literal;
pub use serde;
pub use serde_json;

use janus_constraints::schema::{Checker, RequestSchema};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ErrorCode, ErrorObject};
use crate::typed::{Base, Constrained, Rule};
use crate::{ApplicationError, CallError, CallFuture, Client, HandlerError};

/// The manifest's rules embedded in generated code (the schema's JSON
/// text), turned into a [`Checker`] on first use.
#[derive(Debug)]
pub struct EmbeddedSchema {
    json: &'static str,
    checker: std::sync::OnceLock<Result<Checker, String>>,
}

impl EmbeddedSchema {
    /// The schema whose JSON form is `json`.
    pub const fn new(json: &'static str) -> Self {
        Self {
            json,
            checker: std::sync::OnceLock::new(),
        }
    }

    /// The checker; an `InternalError` if the embedded text is not a usable
    /// schema (never the case for generated code).
    pub fn checker(&self) -> Result<&Checker, ErrorObject> {
        self.checker
            .get_or_init(|| Checker::from_json(self.json).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| {
                ErrorObject::new(
                    ErrorCode::InternalError,
                    format!("the generated schema cannot be used: {e}"),
                )
            })
    }

    fn request(
        &self,
        channel: &str,
        request: &str,
    ) -> Result<(&Checker, &RequestSchema), ErrorObject> {
        let checker = self.checker()?;
        match checker.request(channel, request) {
            Some(r) => Ok((checker, r)),
            None => Err(unknown_request(channel, request)),
        }
    }

    /// The `validate` of a generated service: every violation of `args` in
    /// one `-32602`.
    pub fn validate(&self, channel: &str, request: &str, args: &Value) -> Result<(), ErrorObject> {
        let (checker, r) = self.request(channel, request)?;
        checker
            .check_args(r, args)
            .map_err(|errors| ErrorObject::invalid_params(&errors))
    }

    /// Checks `args` once (every violation in one `-32602`) and returns them
    /// with integral floats of integer members made integers, ready to
    /// decode.
    pub fn checked_args(
        &self,
        channel: &str,
        request: &str,
        mut args: Value,
    ) -> Result<Value, ErrorObject> {
        let (checker, r) = self.request(channel, request)?;
        checker
            .check_args(r, &args)
            .map_err(|errors| ErrorObject::invalid_params(&errors))?;
        checker.normalise_args(r, &mut args);
        Ok(args)
    }

    /// Checks a result received by a client against the request's declared
    /// response, then normalises it for decoding.
    pub fn checked_response(
        &self,
        channel: &str,
        request: &str,
        mut value: Value,
    ) -> Result<Value, CallError> {
        let (checker, r) = self.request(channel, request).map_err(CallError::Remote)?;
        checker
            .check_response(r, &value)
            .map_err(|errors| CallError::InvalidResponse {
                request: request.to_owned(),
                errors,
            })?;
        if let Some(node) = &r.response {
            checker.normalise(node, &mut value);
        }
        Ok(value)
    }
}

/// The arguments of a request that takes none: `{}` on the wire.
#[derive(Debug, Clone, Copy)]
pub struct NoArgs;

impl Serialize for NoArgs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::ser::SerializeMap::end(serializer.serialize_map(Some(0))?)
    }
}

/// What a generated client method does: sends the arguments, checks the
/// result against the manifest (a [`CallError::InvalidResponse`] names the
/// member that broke which rule), then decodes it without checking it again.
///
/// The future is boxed here, once per request type, so that a generated
/// client trait names one concrete type instead of an opaque future per
/// method (which the compiler checks and lowers separately for each).
pub fn call<'a, A, R, E>(
    client: &'a Client,
    schema: &'static EmbeddedSchema,
    channel: &'static str,
    request: &'static str,
    args: A,
) -> CallFuture<'a, R, E>
where
    A: Serialize + Send + Sync + 'a,
    R: DeserializeOwned + Send + 'a,
    E: ApplicationError,
{
    Box::pin(async move {
        let result = async {
            let value: Value = client.call_typed(channel, request, &args).await?;
            let value = schema.checked_response(channel, request, value)?;
            crate::typed::decode_checked(value).map_err(CallError::Decode)
        };
        result.await.map_err(CallError::into_application)
    })
}

/// Checks a request's arguments once (every violation in one `-32602`) and
/// decodes them without checking them again.
pub fn decode_args<T: DeserializeOwned>(
    schema: &EmbeddedSchema,
    channel: &str,
    request: &str,
    args: Value,
) -> Result<T, ErrorObject> {
    let args = schema.checked_args(channel, request, args)?;
    crate::typed::decode_checked(args).map_err(|e| {
        ErrorObject::new(
            ErrorCode::InvalidParams,
            format!("the arguments of `{request}` could not be decoded: {e}"),
        )
    })
}

/// What a handler's outcome is sent as: its result encoded, or its error.
pub fn answer<T: Serialize, E: ApplicationError>(
    request: &str,
    outcome: Result<T, HandlerError<E>>,
) -> Result<Value, ErrorObject> {
    match outcome {
        Ok(result) => serde_json::to_value(&result).map_err(|e| {
            ErrorObject::new(
                ErrorCode::InternalError,
                format!("the result of `{request}` could not be encoded: {e}"),
            )
        }),
        Err(error) => Err(error.into_error_object()),
    }
}

/// The error for a request the channel does not have.
pub fn unknown_request(channel: &str, request: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::MethodNotFound,
        format!("channel `{channel}` has no request `{request}`"),
    )
}

/// A rule whose literals are checked at compile time against the spec with
/// id `ID`, so that a literal checked for one type cannot become another.
pub trait LiteralSpec<const ID: u64> {}

/// Builds a constrained value from a literal checked at compile time (the
/// expansion of the generated literal macros).
pub fn from_checked_literal<T, R, const ID: u64>(value: T::Literal) -> Constrained<T, R>
where
    T: Base,
    R: Rule<T> + LiteralSpec<ID>,
{
    Constrained::from_checked_literal(value)
}

/// The protocol code a declared error is sent with: its own for a protocol
/// name (`VALIDATION_FAILED`), `-32000` for an application name.
pub fn error_code(error_type: &str) -> ErrorCode {
    ErrorCode::from_error_type(error_type).unwrap_or(ErrorCode::ServerError)
}

/// The error object of a declared error of `request`.
pub fn error_object(request: &str, error_type: &str) -> ErrorObject {
    ErrorObject::with_type(
        error_code(error_type),
        error_type,
        format!("request `{request}` failed: {error_type}"),
    )
}

/// The declared error (of `all`) an error object stands for: matched on
/// `data.errorType` when present, otherwise on the code of protocol names.
pub fn declared_error<E: Copy>(
    all: &[E],
    error_type: fn(E) -> &'static str,
    error: &ErrorObject,
) -> Option<E> {
    match error.error_type() {
        Some(name) => all.iter().copied().find(|e| error_type(*e) == name),
        None => all.iter().copied().find(|e| {
            ErrorCode::from_error_type(error_type(*e)).is_some_and(|code| code.code() == error.code)
        }),
    }
}
