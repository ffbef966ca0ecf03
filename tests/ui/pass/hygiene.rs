//! Hygiene: generated code (from `janus!` and from every snapshot) compiles
//! under `#![no_implicit_prelude]`, beside user types that shadow the
//! prelude's names.
#![deny(warnings)]
#![no_implicit_prelude]

/// User types that shadow the prelude, in every module the code lands in.
macro_rules! shadows {
    () => {
        pub struct Result;
        pub struct Option;
        pub struct String;
        pub struct Box;
        pub struct Vec;
        pub struct Ok;
        pub struct Some;
        pub struct Default;
        pub struct Value;
        pub struct Error;
    };
}

pub mod from_macro {
    shadows!();
    ::janus_runtime::janus!("../manifests/user-management.json");
}

pub mod user_management {
    shadows!();
    ::core::include!("../../snapshots/user_management.rs");
}

pub mod all_types {
    shadows!();
    ::core::include!("../../snapshots/all_types.rs");
}

pub mod names {
    shadows!();
    ::core::include!("../../snapshots/names.rs");
}

pub mod inheritance {
    shadows!();
    ::core::include!("../../snapshots/inheritance.rs");
}

fn main() {
    let _: from_macro::user_service::Username = from_macro::user_service::username!("john_doe");
    let _ = (
        from_macro::MANIFEST,
        user_management::MANIFEST,
        all_types::MANIFEST,
        names::MANIFEST,
        inheritance::MANIFEST,
    );
}
