//! Helpers for running `janus` as a process: paths, temporary directories
//! under /tmp, captured output, and a `janus serve` child that is stopped
//! with SIGINT like a person pressing Ctrl-C.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `janus` binary built for these tests.
pub fn janus() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_janus"));
    cmd.env_remove("NO_COLOR").stdin(Stdio::null());
    cmd
}

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("janus-cli is inside the workspace")
        .to_owned()
}

/// A snapshot manifest under `tests/manifests/`.
pub fn manifest(name: &str) -> PathBuf {
    repo().join("tests/manifests").join(name)
}

/// The snapshot manifests, by file name.
pub const SNAPSHOT_MANIFESTS: [&str; 4] = [
    "all-types.json",
    "inheritance.json",
    "names.json",
    "user-management.json",
];

/// A fresh directory under /tmp (where servers accept reply sockets).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("janus-cli-test-")
        .tempdir_in("/tmp")
        .expect("temp dir in /tmp")
}

/// What a finished process printed, and how it exited.
#[derive(Debug)]
pub struct Out {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs a command to the end.
pub fn run(cmd: &mut Command) -> Out {
    let output = cmd.output().expect("janus runs");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `janus ARGS…` to the end.
pub fn janus_run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    run(janus().args(args))
}

/// Runs `janus ARGS…` from an async test without blocking its runtime.
pub async fn janus_async(args: Vec<String>) -> Out {
    tokio::task::spawn_blocking(move || janus_run(&args))
        .await
        .expect("the janus process finished")
}

/// A `janus serve` process.
pub struct Serve {
    child: Option<Child>,
    /// The socket it serves on.
    pub socket: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
    /// The thread reading stdout; it ends at EOF, when the process is gone.
    drain: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Serve {
    /// Starts `janus serve MANIFEST --socket <temp>/mock.sock EXTRA…` and
    /// waits until it says it is listening.
    pub fn start(manifest: &Path, extra: &[&str]) -> Serve {
        let dir = temp_dir();
        let socket = dir.path().join("mock.sock");
        let mut serve = Serve::start_at(manifest, &socket, extra);
        serve._dir = Some(dir);
        serve
    }

    /// Starts `janus serve` on `socket`.
    pub fn start_at(manifest: &Path, socket: &Path, extra: &[&str]) -> Serve {
        let mut child = janus()
            .arg("serve")
            .arg(manifest)
            .arg("--socket")
            .arg(socket)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("janus serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let drain = {
            // Drain stdout all along, so that logging never blocks the server.
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut ready = Some(ready_tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("listening on")
                        && let Some(tx) = ready.take()
                    {
                        let _ = tx.send(());
                    }
                    lines.lock().expect("lines").push(line);
                }
            })
        };
        if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let out = child.wait_with_output().expect("janus serve output");
            panic!(
                "janus serve did not start\n--- stdout\n{:?}\n--- stderr\n{}",
                lines.lock().expect("lines"),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Serve {
            child: Some(child),
            socket: socket.to_owned(),
            lines,
            drain: Some(drain),
            _dir: None,
        }
    }

    /// The socket path as a string argument.
    pub fn sock(&self) -> String {
        self.socket.display().to_string()
    }

    /// Stops the server with SIGINT (Ctrl-C) and returns its exit status,
    /// every stdout line, and its stderr.
    pub fn interrupt(mut self) -> (ExitStatus, Vec<String>, String) {
        let child = self.child.take().expect("running");
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::INT,
        )
        .expect("SIGINT sent");
        let out = child.wait_with_output().expect("janus serve exits");
        // The process has exited, so stdout is at EOF: once the drain
        // thread ends, every line is in.
        self.drain
            .take()
            .expect("drain thread")
            .join()
            .expect("drain thread finished");
        let lines = self.lines.lock().expect("lines").clone();
        (
            out.status,
            lines,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
