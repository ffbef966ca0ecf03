//! Serves the `user-service` channel until SIGINT (Ctrl-C), SIGTERM or
//! SIGHUP, then removes its socket file:
//!
//! ```text
//! cargo run -p user-management-example --bin server -- /tmp/users.sock
//! ```

#![forbid(unsafe_code)]

use janus_runtime::Server;
use user_management_example::Users;
use user_management_example::user_service::UserServiceServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/janus-users.sock".to_owned());
    let server = Server::bind(&path)?.channel(UserServiceServer::new(Users::default()));
    let serving = server.serve_until_signal()?;
    println!("listening on {path} (Ctrl-C to stop)");
    serving.await?;
    Ok(())
}
