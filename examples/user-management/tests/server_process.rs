//! The example server binary, run as a process: it answers the example
//! client, and on SIGTERM (a service manager's stop) or SIGINT it exits
//! cleanly and removes its socket file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, Signal, kill_process};

/// Kills the server if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_then_stop(signal: Signal) {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let path = dir.path().join("users.sock");
    let mut server = Running(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut first_line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(
        first_line.starts_with(&format!("listening on {}", path.display())),
        "{first_line:?}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_client"))
        .arg(&path)
        .args(["jane_doe", "jane@example.com"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("user-1 created: created jane_doe"),
        "{out:?}"
    );

    kill_process(Pid::from_child(&server.0), signal).unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{signal:?}: {status:?}");
    assert!(!path.exists(), "{signal:?} leaves {}", path.display());
}

#[test]
fn sigterm_stops_the_server_and_removes_its_socket() {
    serve_then_stop(Signal::TERM);
}

#[test]
fn sigint_stops_the_server_and_removes_its_socket() {
    serve_then_stop(Signal::INT);
}
