//! The example client against the example server, as processes: a refused
//! request is printed as a sentence, with exit status 1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_refused_request_prints_readably() {
    let dir = tempfile::Builder::new()
        .prefix("janus-example")
        .tempdir_in("/tmp")
        .unwrap();
    let socket = dir.path().join("users.sock");
    let socket = socket.to_str().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg(socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let _server = Running(server);
    assert!(ready.starts_with("listening on"), "{ready}");

    let client = || {
        Command::new(env!("CARGO_BIN_EXE_client"))
            .args([socket, "john_doe", "john@example.com"])
            .output()
            .unwrap()
    };
    let first = client();
    assert!(first.status.success(), "{first:?}");
    let again = client();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "error: USERNAME_EXISTS: username `john_doe` is already taken\n"
    );
}
