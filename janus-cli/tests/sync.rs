//! `janus sync` as processes: keygen, serve over TCP and a Unix socket, push
//! and pull round trips that leave byte-identical trees, refused traversals
//! through symlinks, and the exit codes of failures.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{janus, janus_run, temp_dir};

/// A `janus sync serve` process on 127.0.0.1:0 and a Unix socket, serving
/// workspace `main` from `<tmp>/ws` with the key `<tmp>/main.key`.
struct SyncServe {
    child: Option<Child>,
    tcp: String,
    unix: String,
    socket: PathBuf,
    stdout: mpsc::Receiver<String>,
}

impl SyncServe {
    fn start(tmp: &Path) -> SyncServe {
        SyncServe::start_with(tmp, &[])
    }

    /// Like [`SyncServe::start`], with more options for `janus sync serve`.
    fn start_with(tmp: &Path, extra: &[&str]) -> SyncServe {
        let socket = tmp.join("sync.sock");
        let log = std::fs::File::create(tmp.join("serve.log")).unwrap();
        let mut child = janus()
            .args(["sync", "serve", "--listen", "127.0.0.1:0", "--listen"])
            .arg(format!("unix:{}", socket.display()))
            .arg("--workspace")
            .arg(format!("main={}", tmp.join("ws").display()))
            .arg("--key")
            .arg(format!("main={}", tmp.join("main.key").display()))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("janus sync serve starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("janus sync serve says where it listens");
        // "janus sync serve: listening on 127.0.0.1:PORT, unix:/…; workspaces: …"
        let addrs = first
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split_once(';'))
            .map(|(a, _)| a.to_string())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        let (tcp, unix) = addrs.split_once(", ").expect("two addresses");
        SyncServe {
            child: Some(child),
            tcp: tcp.to_string(),
            unix: unix.to_string(),
            socket,
            stdout: rx,
        }
    }

    /// Stops the server with SIGINT; returns its exit code and last line.
    fn interrupt(mut self) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&child),
            rustix::process::Signal::INT,
        )
        .expect("SIGINT sent");
        let status = child.wait().unwrap();
        let last = self.stdout.iter().last().unwrap_or_default();
        (status.code().unwrap_or(-1), last)
    }
}

impl Drop for SyncServe {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every entry beneath `dir`: directories with their mode, files with mode
/// and bytes, symlinks with their target.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, (0, target.display().to_string().into_bytes()));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), (mode, Vec::new()));
                walk(base, &p, out);
            } else {
                out.insert(rel, (mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn without_symlinks(
    mut s: BTreeMap<String, (u32, Vec<u8>)>,
    links: &[&str],
) -> BTreeMap<String, (u32, Vec<u8>)> {
    for l in links {
        assert!(s.remove(*l).is_some(), "{l} was in the tree");
    }
    s
}

fn client(verb: &str, addr: &str, tmp: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "sync".to_string(),
        verb.to_string(),
        addr.to_string(),
        "--workspace".into(),
        "main".into(),
        "--key".into(),
        tmp.join("main.key").display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn keygen(tmp: &Path) {
    let key = tmp.join("main.key");
    let out = janus_run(&["sync", "keygen", key.to_str().unwrap()]).expect_code(0);
    assert!(out.stdout.contains("mode 0600"), "{}", out.stdout);
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn push_then_pull_leaves_byte_identical_trees() {
    let tmp = temp_dir();
    let t = tmp.path();
    let (src, ws, dst) = (t.join("src"), t.join("ws"), t.join("dst"));
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(src.join("a/b/c/deep.txt"), b"deep\n").unwrap();
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("a/blob.bin"), &binary).unwrap();
    std::fs::write(src.join("empty-file"), b"").unwrap();
    std::fs::write(src.join("private"), b"secret-ish").unwrap();
    std::fs::set_permissions(src.join("private"), PermissionsExt::from_mode(0o600)).unwrap();
    symlink("/etc", src.join("a/link")).unwrap();
    keygen(t);
    let key = t.join("main.key");
    let again = janus_run(&["sync", "keygen", key.to_str().unwrap()]).expect_code(1);
    assert!(again.stderr.contains("main.key"), "{}", again.stderr);

    let serve = SyncServe::start(t);
    let out = janus_run(&client("push", &serve.tcp, t, &[src.to_str().unwrap()])).expect_code(0);
    assert!(
        out.stdout.contains("skipped symlink a/link"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("4 directories created, 4 files written (300015 bytes), 0 deleted"),
        "{}",
        out.stdout
    );
    let expected = without_symlinks(snapshot(&src), &["a/link"]);
    assert_eq!(snapshot(&ws), expected);

    let out = janus_run(&client("pull", &serve.unix, t, &[dst.to_str().unwrap()])).expect_code(0);
    assert!(out.stdout.contains("4 files written"), "{}", out.stdout);
    assert_eq!(snapshot(&dst), expected, "pulled tree = pushed tree");
    let tree = janus_run(&client("tree", &serve.unix, t, &["--json"])).expect_code(0);
    let tree: serde_json::Value = serde_json::from_str(&tree.stdout).unwrap();
    assert_eq!(tree.as_array().unwrap().len(), expected.len());

    // Change, add and remove on the source; without --delete nothing goes.
    std::fs::write(src.join("a/b/c/deep.txt"), b"changed\n").unwrap();
    std::fs::write(src.join("new"), b"new").unwrap();
    std::fs::remove_file(src.join("empty-file")).unwrap();
    std::fs::remove_dir(src.join("empty")).unwrap();
    let dry = janus_run(&client(
        "push",
        &serve.tcp,
        t,
        &[src.to_str().unwrap(), "--delete", "--dry-run"],
    ))
    .expect_code(0);
    for line in [
        "delete  empty-file",
        "delete  empty",
        "update  a/b/c/deep.txt (8 bytes)",
        "create  new (3 bytes)",
    ] {
        assert!(dry.stdout.contains(line), "{line}: {}", dry.stdout);
    }
    assert_eq!(snapshot(&ws), expected, "a dry run changes nothing");
    janus_run(&client("push", &serve.tcp, t, &[src.to_str().unwrap()])).expect_code(0);
    assert!(ws.join("empty-file").exists() && ws.join("empty").exists());
    let out = janus_run(&client(
        "push",
        &serve.tcp,
        t,
        &[src.to_str().unwrap(), "--delete"],
    ))
    .expect_code(0);
    assert!(out.stdout.contains("2 deleted"), "{}", out.stdout);
    let expected = without_symlinks(snapshot(&src), &["a/link"]);
    assert_eq!(snapshot(&ws), expected);
    janus_run(&client(
        "pull",
        &serve.tcp,
        t,
        &[dst.to_str().unwrap(), "--delete"],
    ))
    .expect_code(0);
    assert_eq!(snapshot(&dst), expected);
    let out = janus_run(&client("push", &serve.unix, t, &[src.to_str().unwrap()])).expect_code(0);
    assert!(out.stdout.contains("already up to date"), "{}", out.stdout);

    let (code, last) = serve.interrupt();
    assert_eq!(code, 0, "{last}");
    assert!(last.contains("commits applied"), "{last}");
    assert!(!t.join("sync.sock").exists(), "the socket file is removed");
}

#[test]
fn traversal_through_symlinks_is_refused_and_changes_nothing() {
    let tmp = temp_dir();
    let t = tmp.path();
    let (src, ws, dst, sentinel) = (
        t.join("src"),
        t.join("ws"),
        t.join("dst"),
        t.join("sentinel"),
    );
    for d in [&src, &ws, &dst, &sentinel] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(sentinel.join("secret"), b"untouched").unwrap();
    keygen(t);
    let serve = SyncServe::start(t);

    // The workspace holds a symlink to the sentinel; a push of a directory
    // of that name would write through it.
    symlink(&sentinel, ws.join("escape")).unwrap();
    std::fs::create_dir(src.join("escape")).unwrap();
    std::fs::write(src.join("escape/secret"), b"overwritten").unwrap();
    std::fs::write(src.join("innocent"), b"x").unwrap();
    let before = snapshot(&ws);
    for extra in [&[][..], &["--delete"][..]] {
        let mut args = vec![src.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = janus_run(&client("push", &serve.tcp, t, &args)).expect_code(1);
        assert!(
            out.stderr.contains("nothing was changed") && out.stderr.contains("'escape'"),
            "{}",
            out.stderr
        );
        assert_eq!(snapshot(&ws), before, "not even the innocent file");
    }

    // The same the other way: a pull never writes through a local symlink.
    std::fs::remove_file(ws.join("escape")).unwrap();
    janus_run(&client("push", &serve.tcp, t, &[src.to_str().unwrap()])).expect_code(0);
    symlink(&sentinel, dst.join("escape")).unwrap();
    let out = janus_run(&client(
        "pull",
        &serve.unix,
        t,
        &[dst.to_str().unwrap(), "--delete"],
    ))
    .expect_code(1);
    assert!(out.stderr.contains("'escape'"), "{}", out.stderr);
    assert_eq!(
        snapshot(&sentinel),
        BTreeMap::from([("secret".to_string(), (0o644, b"untouched".to_vec()))])
    );
    assert_eq!(
        std::fs::read_dir(&dst).unwrap().count(),
        1,
        "only the symlink"
    );
}

#[test]
fn failures_have_their_exit_codes() {
    let tmp = temp_dir();
    let t = tmp.path();
    std::fs::create_dir(t.join("ws")).unwrap();
    keygen(t);
    let key = t.join("main.key");

    // A key file others can read is refused by the server and the client.
    std::fs::set_permissions(&key, PermissionsExt::from_mode(0o644)).unwrap();
    let out = janus_run(&[
        "sync",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workspace",
        &format!("main={}", t.join("ws").display()),
        "--key",
        &format!("main={}", key.display()),
    ])
    .expect_code(1);
    assert!(out.stderr.contains("readable by others"), "{}", out.stderr);
    std::fs::set_permissions(&key, PermissionsExt::from_mode(0o600)).unwrap();

    // A workspace without its key, and a bad address, are usage errors.
    let out = janus_run(&[
        "sync",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workspace",
        "main=/nonexistent",
        "--key",
        &format!("other={}", key.display()),
    ])
    .expect_code(1);
    assert!(
        out.stderr.contains("no --workspace other"),
        "{}",
        out.stderr
    );
    janus_run(&client("time", "no-port", t, &[])).expect_code(2);

    // A key file inside a workspace (here through a symlink) is refused.
    std::fs::copy(&key, t.join("ws/inside.key")).unwrap();
    symlink(t.join("ws/inside.key"), t.join("outside.key")).unwrap();
    let out = janus_run(&[
        "sync",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workspace",
        &format!("main={}", t.join("ws").display()),
        "--key",
        &format!("main={}", t.join("outside.key").display()),
    ])
    .expect_code(1);
    assert!(
        out.stderr.contains("lies inside workspace 'main'"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(t.join("ws/inside.key")).unwrap();

    // One directory tree is one workspace: not under two names, not nested.
    std::fs::create_dir(t.join("ws/sub")).unwrap();
    for (second, why) in [
        (t.join("ws/."), "are the same directory"),
        (t.join("ws/sub"), "the second lies inside the first"),
    ] {
        let out = janus_run(&[
            "sync",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workspace",
            &format!("main={}", t.join("ws").display()),
            "--workspace",
            &format!("copy={}", second.display()),
            "--key",
            &format!("main={}", key.display()),
            "--key",
            &format!("copy={}", key.display()),
        ])
        .expect_code(1);
        assert!(
            out.stderr.contains("workspaces 'main'") && out.stderr.contains(why),
            "{}",
            out.stderr
        );
    }

    let serve = SyncServe::start(t);
    let out = janus_run(&client("time", &serve.tcp, t, &[])).expect_code(0);
    let millis: i64 = out.stdout.trim().parse().unwrap();
    assert!(millis > 1_700_000_000_000, "{millis}");

    // A wrong key is denied (exit 1), like an unknown workspace.
    let other = t.join("other.key");
    janus_run(&["sync", "keygen", other.to_str().unwrap()]).expect_code(0);
    let mut wrong = client("time", &serve.tcp, t, &[]);
    wrong[6] = other.display().to_string();
    let out = janus_run(&wrong).expect_code(1);
    assert!(
        out.stderr.contains("authentication denied"),
        "{}",
        out.stderr
    );

    // No server there: a transport failure.
    let gone = format!("unix:{}", t.join("nobody.sock").display());
    janus_run(&client("tree", &gone, t, &[])).expect_code(4);
    assert!(serve.socket.exists());
    let (code, _) = serve.interrupt();
    assert_eq!(code, 0);
}

#[test]
fn batch_bytes_sizes_the_commits_of_push_and_pull() {
    let tmp = temp_dir();
    let t = tmp.path();
    let (src, ws, dst) = (t.join("src"), t.join("ws"), t.join("dst"));
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&ws).unwrap();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let content: Vec<u8> = (0..40_000u32).map(|j| (j * 13 + i as u32) as u8).collect();
        std::fs::write(src.join(name), content).unwrap();
    }
    keygen(t);
    // A server that takes messages of at most 64 KiB: one commit of the
    // three files (120,000 bytes) is too large for it.
    let serve = SyncServe::start_with(t, &["--max-body", "65536"]);
    let out = janus_run(&client("push", &serve.tcp, t, &[src.to_str().unwrap()])).expect_code(4);
    assert!(
        out.stderr
            .contains("try a smaller --batch-bytes (this push used 16777216)"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&ws), BTreeMap::new(), "nothing was applied");

    let out = janus_run(&client(
        "push",
        &serve.unix,
        t,
        &[src.to_str().unwrap(), "--batch-bytes", "50000"],
    ))
    .expect_code(0);
    assert!(
        out.stdout
            .contains("3 files written (120000 bytes), 0 deleted, in 3 commits"),
        "{}",
        out.stdout
    );
    assert_eq!(snapshot(&ws), snapshot(&src));

    // A dry run of a pull into a directory not made yet changes nothing.
    let out = janus_run(&client(
        "pull",
        &serve.tcp,
        t,
        &[dst.to_str().unwrap(), "--dry-run"],
    ))
    .expect_code(0);
    assert!(
        out.stdout.contains("create  c (40000 bytes)") && out.stdout.contains("dry run"),
        "{}",
        out.stdout
    );
    assert!(!dst.exists());

    // Pull: two files fit 80,000 bytes, the third goes in a second commit.
    let out = janus_run(&client(
        "pull",
        &serve.tcp,
        t,
        &[dst.to_str().unwrap(), "--batch-bytes", "80000"],
    ))
    .expect_code(0);
    assert!(out.stdout.contains("in 2 commits"), "{}", out.stdout);
    assert_eq!(snapshot(&dst), snapshot(&src));

    for bad in ["0", "many", "67108864"] {
        let out = janus_run(&client(
            "push",
            &serve.tcp,
            t,
            &[src.to_str().unwrap(), "--batch-bytes", bad],
        ))
        .expect_code(2);
        assert!(
            out.stderr.contains("--batch-bytes"),
            "{bad}: {}",
            out.stderr
        );
    }
}

#[test]
fn max_body_sets_the_client_message_limit() {
    let tmp = temp_dir();
    let t = tmp.path();
    let (ws, dst) = (t.join("ws"), t.join("dst"));
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("big"), vec![3u8; 5000]).unwrap();
    keygen(t);
    let serve = SyncServe::start(t);
    let out = janus_run(&client(
        "pull",
        &serve.tcp,
        t,
        &[dst.to_str().unwrap(), "--max-body", "4096"],
    ))
    .expect_code(4);
    assert!(
        out.stderr
            .contains("more than this client's message limit of 4096")
            && out.stderr.contains("--max-body"),
        "{}",
        out.stderr
    );
    assert!(!dst.join("big").exists());
    janus_run(&client(
        "pull",
        &serve.unix,
        t,
        &[dst.to_str().unwrap(), "--max-body", "8192"],
    ))
    .expect_code(0);
    assert_eq!(snapshot(&dst), snapshot(&ws));
    for bad in ["0", "1023", "many", "1073741825"] {
        let out = janus_run(&client("tree", &serve.tcp, t, &["--max-body", bad])).expect_code(2);
        assert!(out.stderr.contains("--max-body"), "{bad}: {}", out.stderr);
    }
}

#[test]
fn serve_applies_its_commit_limits() {
    let tmp = temp_dir();
    let t = tmp.path();
    let (src, ws) = (t.join("src"), t.join("ws"));
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&ws).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(src.join(name), b"123456").unwrap();
    }
    keygen(t);
    let serve = SyncServe::start_with(
        t,
        &[
            "--max-operations",
            "2",
            "--max-commit-bytes",
            "10",
            "--max-plans",
            "1",
        ],
    );
    let push = || janus_run(&client("push", &serve.unix, t, &[src.to_str().unwrap()]));
    let out = push().expect_code(1);
    assert!(
        out.stderr
            .contains("plan 0: 3 operations exceed the limit of 2"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(src.join("c")).unwrap();
    let out = push().expect_code(1);
    assert!(
        out.stderr.contains("the commit's content exceeds 10 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&ws), BTreeMap::new());
}
