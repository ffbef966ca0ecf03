//! The shortest way in: one manifest, one `janus!`, a server and a client.
//!
//! ```text
//! cargo run -p macro-quickstart-example
//! ```

#![forbid(unsafe_code)]

mod api {
    // Path relative to this package's Cargo.toml; rebuilt when it changes.
    janus_runtime::janus!("manifest.json");
}

use api::greeter::{self, GreetArgs, GreetResponse, GreeterClient, GreeterHandler, GreeterServer};
use janus_runtime::{Client, HandlerError, RequestContext, Server};

struct Hello;

impl GreeterHandler for Hello {
    async fn greet(
        &self,
        _ctx: &RequestContext,
        args: GreetArgs,
    ) -> Result<GreetResponse, HandlerError> {
        let greeting = vec![format!("Hello, {}!", args.name); args.times.get() as usize].join(" ");
        Ok(GreetResponse { greeting })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::Builder::new()
        .prefix("janus-greeter")
        .tempdir_in("/tmp")?;
    let path = dir.path().join("greeter.sock");
    let server = Server::bind(&path)?
        .channel(GreeterServer::new(Hello))
        .spawn();
    let client = Client::connect(&path).await?;

    // `name!` and `times!` check their literal against the manifest while compiling:
    // `greeter::name!("")` would not compile (shorter than minLength 1).
    let reply = client
        .greet(GreetArgs {
            name: greeter::name!("Ada"),
            times: greeter::times!(2),
        })
        .await?;
    println!("{}", reply.greeting);

    server.shutdown().await;
    Ok(())
}
