//! The seed manifest through `janus!`: literal macros, typed args, a handler
//! written with `async fn`, all under `#![deny(warnings)]`.
#![deny(warnings)]

mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}

use api::models::{self, UserProfile};
use api::user_service::{self, CreateUserArgs, CreateUserError, Role, UserServiceHandler};
use janus_runtime::{HandlerError, RequestContext};

struct Users;

impl UserServiceHandler for Users {
    async fn create_user(
        &self,
        _ctx: &RequestContext,
        args: CreateUserArgs,
    ) -> Result<models::CreateUserResponse, HandlerError<CreateUserError>> {
        if args.username.as_str() == "taken" {
            return Err(CreateUserError::UsernameExists.into());
        }
        Ok(models::CreateUserResponse {
            user_id: args.username.into_inner(),
            status: models::Status::Created,
            message: String::from("ok"),
            created_at: None,
        })
    }
}

fn main() {
    let args = CreateUserArgs {
        username: user_service::username!("john_doe"),
        email: user_service::email!("john@example.com"),
        role: Role::default(),
        profile: Some(UserProfile {
            first_name: Some(models::first_name!("John")),
            last_name: None,
            age: Some(models::age!(30)),
            preferences: None,
        }),
    };
    assert_eq!(args.role, Role::User);
    let age: models::Age = models::age!(13);
    assert_eq!(age.get(), 13);
    let _server = user_service::UserServiceServer::new(Users);
    let _ = (
        user_service::CHANNEL_ID,
        user_service::CREATE_USER,
        api::MANIFEST,
    );
    // The client method's type: the request is typed, the future is named.
    let call = |c: &janus_runtime::Client| {
        let future: janus_runtime::CallFuture<'_, _, _> =
            user_service::UserServiceClient::create_user(c, args.clone());
        ::std::mem::drop(future);
    };
    let _ = call;
}
