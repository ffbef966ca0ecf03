//! The checked-in snapshot `snapshots/user_management.rs` compiles on its own under
//! `#![deny(warnings)]`.
#![deny(warnings)]

mod generated {
    include!("../../snapshots/user_management.rs");
}

fn main() {
    let _ = generated::MANIFEST;
}
