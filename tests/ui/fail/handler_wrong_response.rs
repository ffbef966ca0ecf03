//! A handler returning something other than the manifest's response type.
mod api {
    janus_runtime::janus!("../manifests/user-management.json");
}
use api::user_service::{self, CreateUserArgs};

use api::user_service::{CreateUserError, UserServiceHandler};
use janus_runtime::{HandlerError, RequestContext};

struct Users;

impl UserServiceHandler for Users {
    async fn create_user(
        &self,
        _ctx: &RequestContext,
        args: CreateUserArgs,
    ) -> Result<String, HandlerError<CreateUserError>> {
        Ok(args.username.into_inner())
    }
}

fn main() {
    let _ = user_service::UserServiceServer::new(Users);
}
