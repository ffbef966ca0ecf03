//! Creates one user on a running server:
//!
//! ```text
//! cargo run -p user-management-example --bin client -- /tmp/users.sock john_doe john@example.com
//! ```

#![forbid(unsafe_code)]

use std::process::ExitCode;

use janus_runtime::Client;
use user_management_example::user_service::{
    self, CreateUserArgs, Email, Role, UserServiceClient, Username,
};

/// Prints what went wrong as a sentence (`Display`), not as a struct dump.
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/janus-users.sock".to_owned());
    // The defaults are literals checked while compiling, by the library's
    // literal macros.
    let username = match args.next() {
        Some(name) => Username::new(name)?,
        None => user_service::username!("john_doe"),
    };
    let email = match args.next() {
        Some(address) => Email::new(address)?,
        None => user_service::email!("john@example.com"),
    };
    let client = Client::connect(&path).await?;
    let reply = client
        .create_user(CreateUserArgs {
            username,
            email,
            role: Role::default(),
            profile: None,
        })
        .await?;
    println!("{} {}: {}", reply.user_id, reply.status, reply.message);
    Ok(())
}
