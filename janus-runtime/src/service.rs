//! The contract between the server and the code that answers a channel.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::context::RequestContext;
use crate::error::ErrorObject;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a generated client method returns: the boxed call, answering the
/// request's response or a [`CallError`](crate::CallError) with the
/// request's declared errors `E`. Await it like any future.
pub type CallFuture<'a, R, E = std::convert::Infallible> =
    BoxFuture<'a, Result<R, crate::error::CallError<E>>>;

/// One channel's requests: what a [`Server`](crate::Server) routes to.
///
/// Generated code implements this for each channel of a manifest (the
/// `…Server` dispatcher: decode, validate, call the handler, encode); it can
/// also be written by hand. The trait is object-safe: a server holds any
/// number of `Arc<dyn Service>`, one per channel.
///
/// The server has already checked everything the protocol requires before it
/// calls [`call`](Self::call): the request is well-formed, its names are valid,
/// `request` is one of [`requests`](Self::requests), and `args` is a JSON
/// object (`{}` when the request had none). The server also enforces the
/// handler timeout, catches panics and bounds the number of calls in flight.
pub trait Service: Send + Sync + 'static {
    /// The channel this service answers, e.g. `"user-service"`.
    fn channel_id(&self) -> &str;

    /// The request names of the channel. Read once, when the service is added
    /// to a server.
    fn requests(&self) -> Vec<String>;

    /// The manifest this service was generated from, as JSON text; served by
    /// the `manifest` built-in request.
    fn manifest(&self) -> Option<&str> {
        None
    }

    /// Checks `args` for `request` without running anything: `Ok` when a call
    /// would reach the handler, otherwise the `-32602` error it would get.
    /// Used by the `validate` built-in. The default accepts everything.
    fn validate(&self, request: &str, args: &Value) -> Result<(), ErrorObject> {
        let _ = (request, args);
        Ok(())
    }

    /// Runs `request` with `args` (always a JSON object). Argument errors are
    /// `-32602` error objects naming the field and the broken constraint.
    fn call(
        &self,
        ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>>;
}

impl std::fmt::Debug for dyn Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("channel_id", &self.channel_id())
            .finish_non_exhaustive()
    }
}
