//! A generated server and a generated client talking over a real Unix
//! datagram socket in a temporary directory:
//!
//! ```text
//! cargo run -p user-management-example
//! ```
//!
//! Prints each step and exits 0 when everything behaved as the manifest says.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use janus_runtime::{CallError, Client, Server};
use serde_json::json;
use user_management_example::Users;
use user_management_example::models::{self, UserProfile};
use user_management_example::user_service::{
    CreateUserArgs, Email, Role, UserServiceClient, UserServiceServer, Username,
};

type Error = Box<dyn std::error::Error>;

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

/// What an unexpected outcome was, in words.
fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(result: &Result<T, CallError<E>>) -> String {
    match result {
        Ok(value) => format!("a result: {value:?}"),
        Err(e) => format!("an error: {e}"),
    }
}

async fn run() -> Result<(), Error> {
    let dir = tempfile::Builder::new()
        .prefix("janus-users")
        .tempdir_in("/tmp")?;
    let path = dir.path().join("users.sock");

    let server = Server::bind(&path)?
        .channel(UserServiceServer::new(Users::default()))
        .spawn();
    println!("server: listening on {}", path.display());

    let client = Client::connect(&path).await?;
    if let Some(reply) = client.reply_path() {
        println!("client: connected from {}", reply.display());
    }

    // 1. A typed call: arguments checked while building them.
    let args = CreateUserArgs {
        username: Username::new("john_doe")?,
        email: Email::new("john@example.com")?,
        role: Role::Admin,
        profile: Some(UserProfile {
            first_name: Some(models::FirstName::new("John")?),
            last_name: None,
            age: Some(models::Age::new(42)?),
            preferences: None,
        }),
    };
    let created = client.create_user(args.clone()).await?;
    println!(
        "create-user john_doe -> {} ({}): {}",
        created.user_id, created.status, created.message
    );

    // 2. The same name again: the manifest's USERNAME_EXISTS, as a typed error.
    match client.create_user(args).await {
        Err(CallError::Application { error, object }) => println!(
            "create-user john_doe again -> {error} ({}): {}",
            object.code,
            object.details().unwrap_or_default()
        ),
        other => return Err(format!("expected USERNAME_EXISTS, got {}", outcome(&other)).into()),
    }

    // 3. A value that breaks the manifest never reaches a handler...
    match Username::new("jo") {
        Err(e) => println!("Username::new(\"jo\") -> {e}"),
        Ok(_) => return Err("`jo` must be refused".into()),
    }
    // ...and an untyped caller gets -32602 naming the field and the constraint.
    match client
        .call(
            "user-service",
            "create-user",
            json!({"username": "jane", "email": "jane@example", "role": "root"}),
        )
        .await
    {
        Err(CallError::Remote(e)) => println!(
            "untyped create-user with a bad email -> {} on `{}`: {}",
            e.code,
            e.field().unwrap_or_default(),
            e.details().unwrap_or_default()
        ),
        other => return Err(format!("expected -32602, got {}", outcome(&other)).into()),
    }

    // 4. Defaults from the manifest: `role` absent -> "user".
    let reply = client
        .call(
            "user-service",
            "create-user",
            json!({"username": "jane", "email": "jane@example.com"}),
        )
        .await?;
    println!("untyped create-user jane -> {}", reply["message"]);

    // 5. Built-ins answered by the server itself.
    let pong = client.call("user-service", "ping", json!({})).await?;
    println!("ping -> {pong}");
    let manifest = client.call("user-service", "manifest", json!({})).await?;
    println!(
        "manifest -> {} v{}",
        manifest["name"].as_str().unwrap_or_default(),
        manifest["version"].as_str().unwrap_or_default()
    );

    server.shutdown().await;
    let stats = server.stats();
    println!(
        "server: stopped; {} requests answered, {} of them errors",
        stats.answered, stats.errors
    );
    Ok(())
}
