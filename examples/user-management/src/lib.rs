//! The seed's user-management API, generated from `manifest.json` by
//! `build.rs`, and an in-memory implementation of its `user-service` channel.

#![forbid(unsafe_code)]

janus_runtime::include_janus!("user_management_api");

use std::collections::BTreeMap;
use std::sync::Mutex;

use janus_runtime::{HandlerError, RequestContext};

use models::{CreateUserResponse, Status};
use user_service::{CreateUserArgs, CreateUserError, UserServiceHandler};

/// Users kept in memory, by username.
#[derive(Debug, Default)]
pub struct Users {
    by_name: Mutex<BTreeMap<String, CreateUserArgs>>,
}

impl Users {
    /// How many users exist.
    pub fn len(&self) -> usize {
        self.by_name.lock().map_or(0, |m| m.len())
    }

    /// Whether no user exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UserServiceHandler for Users {
    async fn create_user(
        &self,
        ctx: &RequestContext,
        args: CreateUserArgs,
    ) -> Result<CreateUserResponse, HandlerError<CreateUserError>> {
        let mut users = self
            .by_name
            .lock()
            .map_err(|_| HandlerError::internal("the user table is unavailable"))?;
        let name = args.username.to_string();
        if users.contains_key(&name) {
            return Err(HandlerError::from(CreateUserError::UsernameExists)
                .with_details(format!("username `{name}` is already taken")));
        }
        if users.values().any(|u| u.email == args.email) {
            return Err(HandlerError::from(CreateUserError::EmailExists)
                .with_details(format!("email `{}` is already registered", args.email)));
        }
        let id = format!("user-{}", users.len() + 1);
        let message = format!(
            "created {name} as {} (request {})",
            args.role,
            ctx.request_id()
        );
        users.insert(name, args);
        Ok(CreateUserResponse {
            user_id: id,
            status: Status::Created,
            message,
            created_at: None,
        })
    }
}
