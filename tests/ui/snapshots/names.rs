//! The checked-in snapshot `snapshots/names.rs` compiles on its own under
//! `#![deny(warnings)]`.
#![deny(warnings)]

mod generated {
    include!("../../snapshots/names.rs");
}

fn main() {
    let _ = generated::MANIFEST;
}
