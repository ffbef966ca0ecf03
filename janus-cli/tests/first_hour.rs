//! What a new user meets first, as processes over real sockets: arguments
//! from stdin, help texts that tell the truth, and a benchmark interrupted
//! with Ctrl-C that still reports what it measured.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::sync::{Mutex, mpsc};

use common::{Serve, janus, janus_run, manifest, temp_dir};
use janus_runtime::Server;

#[test]
fn args_are_read_from_stdin_with_at_dash() {
    let serve = Serve::start(&manifest("user-management.json"), &["--quiet"]);
    let call = |json: &str| {
        let mut child = janus()
            .args(["call", &serve.sock(), "create-user", "--args", "@-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("janus call starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(json.as_bytes())
            .expect("stdin written");
        let output = child.wait_with_output().expect("janus call ends");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = call(r#"{"username": "john_doe", "email": "john@example.com"}"#);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"userId\""), "{stdout}");
    // What was read is what was sent: the server refuses this one.
    let (code, _, stderr) = call(r#"{"username": "jo", "email": "john@example.com"}"#);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`jo` is shorter than minLength 3"),
        "{stderr}"
    );
    let (code, _, stderr) = call("not json");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--args @- (stdin) is not JSON"), "{stderr}");
}

/// The text with every run of whitespace made one space (help is wrapped
/// to the terminal's width).
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn help_texts_tell_the_truth() {
    let ping = flat(&janus_run(&["ping", "--help"]).expect_code(0).stdout);
    assert!(
        !ping.contains("manifest"),
        "ping reads no manifest:\n{ping}"
    );
    assert!(
        ping.contains("1 the server answered a ping with an error"),
        "{ping}"
    );
    let call = flat(&janus_run(&["call", "--help"]).expect_code(0).stdout);
    assert!(call.contains("at most 0.1 s: 4.9 for 5"), "{call}");
    assert!(call.contains("or @- to read them from stdin"), "{call}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_bench_prints_what_it_measured() {
    let dir = temp_dir();
    let path = dir.path().join("ping.sock");
    // Tells the test when the measured run has answers: with 2 in flight,
    // the server seeing its 10th request means the bench already had 8
    // answers (the unmeasured first one among them). The server seeing a
    // request says nothing of its answer having arrived, so 3 was a race.
    let (seen_tx, seen_rx) = mpsc::channel();
    let seen = Mutex::new((0u32, Some(seen_tx)));
    let server = Server::builder()
        .observe(move |_| {
            let mut seen = seen.lock().expect("counter");
            seen.0 += 1;
            if seen.0 == 10
                && let Some(tx) = seen.1.take()
            {
                let _ = tx.send(());
            }
        })
        .bind(&path)
        .expect("bind")
        .spawn();
    let sock = path.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let child = janus()
            .args(["bench", &sock, "-d", "300", "-c", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("janus bench starts");
        seen_rx.recv().expect("the bench sends requests");
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::INT,
        )
        .expect("SIGINT sent");
        run_child(child)
    })
    .await
    .expect("the bench ended");
    server.shutdown().await;
    assert_eq!(out.0, Some(130), "{}\n{}", out.1, out.2);
    assert!(
        out.1.starts_with("ping on ") && out.1.contains("interrupted: these figures cover"),
        "{}",
        out.1
    );
    assert!(out.1.contains("latency ms  p50 "), "{}", out.1);
    assert_eq!(out.2, "janus: interrupted\n");
}

fn run_child(child: std::process::Child) -> (Option<i32>, String, String) {
    let output = child.wait_with_output().expect("janus bench exits");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
