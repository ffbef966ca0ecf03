//! The runtime of Janus IPC: JSON requests over Unix domain datagram sockets.
//!
//! - [`Client`]: one reply socket for its whole life, many requests in flight,
//!   correlated by id, with per-call timeouts.
//! - [`Server`]: routes requests to [`Service`]s (one per channel), validates
//!   everything the protocol requires before a handler runs, bounds the work
//!   in flight, cancels handlers at their timeout, survives panicking
//!   handlers, and answers the built-in requests (`ping`, `echo`, `get_info`,
//!   `manifest`, `validate`).
//! - [`wire`]: the request and response formats, what we send and what we
//!   accept from other implementations.
//! - [`janus!`] and [`include_janus!`]: typed clients and servers generated
//!   from a manifest.

#![deny(missing_docs)]

mod client;
pub mod config;
pub mod context;
pub mod error;
pub mod security;
mod server;
pub mod service;
mod transport;
pub mod wire;

pub use client::{CallBuilder, Client, ClientBuilder, ClientStats, RetryPolicy};
pub use config::TimeoutProfile;
pub use context::{PeerCredentials, RequestContext};
pub use error::{ApplicationError, CallError, ErrorCode, ErrorObject, HandlerError};
pub use server::{DropCounts, RESERVED_REQUESTS, Server, ServerBuilder, ServerHandle, ServerStats};
pub use service::{BoxFuture, Service};

pub use janus_constraints as constraints;

/// Items used by generated code. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use janus_constraints;
    pub use serde;
    pub use serde_json;
}
