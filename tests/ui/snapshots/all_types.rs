//! The checked-in snapshot `snapshots/all_types.rs` compiles on its own under
//! `#![deny(warnings)]`.
#![deny(warnings)]

mod generated {
    include!("../../snapshots/all_types.rs");
}

fn main() {
    let _ = generated::MANIFEST;
}
