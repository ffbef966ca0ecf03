//! Arguments checked against a manifest, answered as a generated server
//! answers: the same error code, message and `data` (`details`, `field`,
//! `value`, `constraints`, `errorType`).

use janus_codegen::model::{ArgError, Channel, Validator};
use janus_runtime::{ErrorCode, ErrorObject};
use serde_json::Value;

/// The `-32602` error a generated server sends for `errors`.
pub fn invalid_params(errors: &[ArgError]) -> ErrorObject {
    ErrorObject::invalid_params(errors)
}

/// The `-32601` error a generated channel gives for a request it lacks.
pub fn unknown_request(channel: &str, request: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::MethodNotFound,
        format!("channel `{channel}` has no request `{request}`"),
    )
}

/// What the generated `Service::validate` of `channel` answers for
/// `request` with `args`.
pub fn check(
    validator: &Validator,
    channel: &Channel,
    request: &str,
    args: &Value,
) -> Result<(), ErrorObject> {
    match channel.request(request) {
        None => Err(unknown_request(&channel.id, request)),
        Some(r) => validator
            .check_args(&channel.id, &r.name, args)
            .map_err(|e| invalid_params(&e)),
    }
}
