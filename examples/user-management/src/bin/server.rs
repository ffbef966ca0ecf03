//! Serves the `user-service` channel until interrupted:
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
    println!("listening on {path} (Ctrl-C to stop)");
    server
        .serve_with_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
