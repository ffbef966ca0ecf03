//! Transports: how request and response bytes move between processes.
//!
//! The server's request handling ([`crate::server`]'s dispatcher) and the
//! client's correlation of answers to calls do not depend on the transport:
//! a transport hands complete messages (with what it knows of the sender)
//! to the dispatcher, and sends back the bytes it is given. The datagram
//! transport is the protocol's default; a stream transport (length-prefixed
//! messages on a `SOCK_STREAM` socket) plugs into the same seams.

pub(crate) mod batch;
pub(crate) mod datagram;
pub(crate) mod socket_file;
pub(crate) mod stream_client;
pub mod stream_frame;
