//! Janus code generator (skeleton).
