//! Cross-crate tests of Janus for Rust: snapshots of generated code, UI
//! tests, hygiene and end-to-end tests over real sockets.
//!
//! The library compiles every checked-in snapshot as a module, under
//! `#![deny(warnings)]`, so the end-to-end tests run the very code the
//! snapshots show.

#![deny(warnings, missing_docs)]
#![forbid(unsafe_code)]

/// Generated from `manifests/user-management.json` (the seed's example).
pub mod user_management {
    include!("../snapshots/user_management.rs");
}

/// Handlers shared by the tests that serve the generated code.
pub mod fixtures {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use janus_runtime::{HandlerError, RequestContext};

    use crate::user_management::models::{CreateUserResponse, Status};
    use crate::user_management::user_service::{
        CreateUserArgs, CreateUserError, UserServiceHandler,
    };

    /// The seed's `user-service`: remembers usernames; a second `create-user`
    /// with the same name fails with the declared `USERNAME_EXISTS`. The
    /// answer's message reads `<email> (<role>, age <age or unknown>)`.
    #[derive(Debug, Default)]
    pub struct Users {
        taken: Mutex<HashSet<String>>,
    }

    impl UserServiceHandler for Users {
        async fn create_user(
            &self,
            _ctx: &RequestContext,
            args: CreateUserArgs,
        ) -> Result<CreateUserResponse, HandlerError<CreateUserError>> {
            let fresh = self
                .taken
                .lock()
                .map_err(|_| HandlerError::internal("user table poisoned"))?
                .insert(args.username.to_string());
            if !fresh {
                return Err(HandlerError::from(CreateUserError::UsernameExists)
                    .with_details(format!("`{}` is taken", args.username)));
            }
            let age = args
                .profile
                .as_ref()
                .and_then(|p| p.age)
                .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
            Ok(CreateUserResponse {
                user_id: format!("u-{}", args.username),
                status: Status::Created,
                message: format!("{} ({}, age {age})", args.email, args.role),
                created_at: None,
            })
        }
    }
}

/// Generated from `manifests/all-types.json`: every type and constraint.
pub mod all_types {
    include!("../snapshots/all_types.rs");
}

/// Generated from `manifests/names.json`: names that need sanitising.
pub mod names {
    include!("../snapshots/names.rs");
}

/// Generated from `manifests/inheritance.json`: `extends`, arrays of models,
/// a recursive model, requests without arguments.
pub mod inheritance {
    include!("../snapshots/inheritance.rs");
}

/// Generated from `manifests/value-models.json`: enum and constrained-value
/// models used by arguments, responses and other models.
pub mod value_models {
    include!("../snapshots/value_models.rs");
}

/// The code blocks of `janus-codegen/README.md`, compiled as doctests
/// (`janus!("manifest.json")` reads `tests/manifest.json`, the seed).
#[cfg(doctest)]
#[doc = include_str!("../../janus-codegen/README.md")]
pub struct ReadmeDoctests;

/// The code blocks of the workspace `README.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadmeDoctests;

#[cfg(test)]
mod literal_macros {
    use crate::all_types::catalog;

    #[test]
    fn literals_become_validated_values() {
        let low: catalog::MatrixItemItem = catalog::matrix_item_item!(-5);
        assert_eq!(low.get(), -5);
        let discount: catalog::Discount = catalog::discount!(1);
        assert_eq!(discount.get(), 1.0);
        let price: catalog::Price = catalog::price!(0.01);
        assert_eq!(price.get(), 0.01);
        let sku: catalog::PutItemSku = catalog::put_item_sku!("ABC-0001");
        assert_eq!(sku.as_str(), "ABC-0001");
        let title: catalog::Title = catalog::title!("é");
        assert_eq!(title.chars().count(), 1);
    }
}
