//! The checked-in snapshot `snapshots/inheritance.rs` compiles on its own under
//! `#![deny(warnings)]`.
#![deny(warnings)]

mod generated {
    include!("../../snapshots/inheritance.rs");
}

fn main() {
    let _ = generated::MANIFEST;
}
