//! Janus procedural macros (skeleton).
