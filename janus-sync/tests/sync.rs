//! The jANu protocol over real sockets and real directories.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, BytesMut};
use janus_sync::proto::{Delete, Kind, MakeDir, Op, Operation, Rename, SyncPlan, WriteFile};
use janus_sync::workspace::sha256;
use janus_sync::{
    ClientError, Counters, Message, ServerError, SyncAddr, SyncClient, SyncServer, Workspace,
    WorkspaceKey, codes,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fixture {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    sentinel: PathBuf,
    key: WorkspaceKey,
    server: SyncServer,
}

impl Fixture {
    async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let sentinel = tmp.path().join("sentinel");
        std::fs::create_dir(&ws).unwrap();
        std::fs::create_dir(&sentinel).unwrap();
        std::fs::write(sentinel.join("secret"), b"untouched").unwrap();
        std::fs::write(ws.join("present.txt"), b"old").unwrap();
        let key = WorkspaceKey::generate().unwrap();
        let server = SyncServer::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .listen(SyncAddr::Unix(tmp.path().join("sync.sock")))
            .workspace("main", &ws, key.clone())
            .start()
            .await
            .unwrap();
        Fixture {
            _tmp: tmp,
            ws,
            sentinel,
            key,
            server,
        }
    }

    fn tcp(&self) -> &SyncAddr {
        &self.server.local_addrs()[0]
    }

    fn unix(&self) -> &SyncAddr {
        &self.server.local_addrs()[1]
    }

    async fn client(&self) -> SyncClient {
        SyncClient::open(self.tcp(), "main", &self.key)
            .await
            .unwrap()
    }

    fn assert_sentinel_untouched(&self) {
        assert_eq!(
            snapshot(&self.sentinel),
            BTreeMap::from([("secret".to_string(), b"untouched".to_vec())])
        );
    }

    /// Proves the server still serves a well-behaved client.
    async fn assert_still_serving(&self) {
        let mut c = self.client().await;
        assert!(c.system_time_millis().await.unwrap() > 0);
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()).into_bytes(),
                );
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

fn plan(ops: Vec<Op>) -> SyncPlan {
    SyncPlan {
        operations: ops
            .into_iter()
            .map(|op| Operation { op: Some(op) })
            .collect(),
    }
}

fn write(path: &str, content: &[u8]) -> Op {
    Op::WriteFile(WriteFile {
        path: path.into(),
        content: content.to_vec(),
        expected_sha256: None,
        mode: 0,
    })
}

fn delete(path: &str) -> Op {
    Op::Delete(Delete {
        path: path.into(),
        expected_sha256: None,
    })
}

fn rename(from: &str, to: &str) -> Op {
    Op::Rename(Rename {
        from: from.into(),
        to: to.into(),
    })
}

/// Sends raw bytes on a fresh connection and proves the server closes it.
async fn assert_closed_after(addr: &SyncAddr, bytes: &[u8]) {
    let mut s = janus_sync::SyncStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    // End our side, as a peer that sent a truncated message and stopped would.
    s.shutdown().await.unwrap();
    let mut rest = Vec::new();
    // The server closes; reading to EOF terminates (a reset counts as closed).
    // The timeout only turns a hang into a failure.
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(30), s.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open after {bytes:?}"
    );
}

fn header(ty: i32, len: i64) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_slice(b"jANu");
    b.put_i32(ty);
    b.put_i64(len);
    b
}

#[tokio::test]
async fn time_and_tree_over_tcp_and_unix() {
    let f = Fixture::new().await;
    std::fs::create_dir_all(f.ws.join("a/b")).unwrap();
    std::fs::create_dir(f.ws.join("empty")).unwrap();
    std::fs::write(f.ws.join("a/b/deep.bin"), b"deep").unwrap();
    symlink("/etc", f.ws.join("out")).unwrap();
    symlink(&f.sentinel, f.ws.join("a/sentinel-link")).unwrap();
    for addr in [f.tcp(), f.unix()] {
        let mut c = SyncClient::open(addr, "main", &f.key).await.unwrap();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let t = c.system_time_millis().await.unwrap();
        assert!(t >= before - 1, "{t} < {before}");
        let tree = c.file_tree().await.unwrap();
        let got: Vec<(String, Kind)> = tree
            .entries
            .iter()
            .map(|e| (e.path.clone(), e.kind()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), Kind::Dir),
                ("a/b".into(), Kind::Dir),
                ("a/b/deep.bin".into(), Kind::File),
                ("a/sentinel-link".into(), Kind::Symlink),
                ("empty".into(), Kind::Dir),
                ("out".into(), Kind::Symlink),
                ("present.txt".into(), Kind::File),
            ]
        );
        let deep = &tree.entries[2];
        assert_eq!(deep.sha256, sha256(b"deep").to_vec());
        assert_eq!(deep.size, 4);
        assert_eq!(tree.entries[5].link_target, "/etc");
        // Symlinks are never followed: nothing of the sentinel or /etc shows up.
        assert!(
            !tree
                .entries
                .iter()
                .any(|e| e.path.contains("secret") || e.path.starts_with("out/"))
        );
    }
}

#[tokio::test]
async fn version_negotiation() {
    let f = Fixture::new().await;
    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    assert_eq!(c.hello(&[3, 1, 2]).await.unwrap(), 1);

    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    assert!(matches!(
        c.hello(&[2, 3]).await,
        Err(ClientError::NoCommonVersion(_))
    ));
    assert!(c.recv().await.is_err(), "rejected client is closed");

    // A client that picks a version the server did not offer is closed.
    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    c.send(Message::Hello(vec![1])).await.unwrap();
    assert_eq!(c.recv().await.unwrap(), Message::Hello(vec![1]));
    c.send(Message::Hello(vec![2])).await.unwrap();
    assert!(matches!(
        c.recv().await,
        Err(ClientError::Closed | ClientError::Codec(_))
    ));
    f.assert_still_serving().await;
}

#[tokio::test]
async fn auth_right_wrong_unknown_and_replayed() {
    let f = Fixture::new().await;
    f.client().await;
    let wrong = WorkspaceKey::generate().unwrap();
    let e = SyncClient::open(f.tcp(), "main", &wrong).await.unwrap_err();
    assert!(matches!(e, ClientError::Denied(_)), "{e}");
    let e2 = SyncClient::open(f.tcp(), "nope", &f.key).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        e2.to_string(),
        "an unknown workspace looks like a wrong key"
    );

    // Replay: record an answer to one challenge, send it to a new one.
    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    c.hello(&[1]).await.unwrap();
    c.send(Message::Auth(Bytes::from_static(b"main")))
        .await
        .unwrap();
    let Message::Auth(old_challenge) = c.recv().await.unwrap() else {
        panic!()
    };
    let recorded = f.key.answer(&old_challenge).unwrap();
    drop(c);
    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    c.hello(&[1]).await.unwrap();
    c.send(Message::Auth(Bytes::from_static(b"main")))
        .await
        .unwrap();
    let Message::Auth(new_challenge) = c.recv().await.unwrap() else {
        panic!()
    };
    assert_ne!(old_challenge, new_challenge);
    c.send(Message::ok(recorded)).await.unwrap();
    assert!(matches!(
        c.recv().await.unwrap(),
        Message::Response {
            code: codes::DENIED,
            ..
        }
    ));
    assert!(c.recv().await.is_err(), "denied client is closed");

    // A name that is not UTF-8 is an unknown workspace.
    let mut c = SyncClient::connect(f.tcp()).await.unwrap();
    c.hello(&[1]).await.unwrap();
    c.send(Message::Auth(Bytes::from_static(b"ma\xffin")))
        .await
        .unwrap();
    let Message::Auth(challenge) = c.recv().await.unwrap() else {
        panic!()
    };
    c.send(Message::ok(f.key.answer(&challenge).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        c.recv().await.unwrap(),
        Message::error(codes::DENIED, "wrong key or unknown workspace")
    );

    assert_eq!(Counters::get(&f.server.counters().auth_denied), 4);
    assert_eq!(Counters::get(&f.server.counters().auth_accepted), 1);
    f.assert_still_serving().await;
}

#[tokio::test]
async fn protocol_abuse_closes_only_that_connection() {
    let f = Fixture::new().await;
    // A client that stays connected through all the abuse.
    let mut good = f.client().await;
    let mut hello = header(0x1000, 4);
    hello.put_i32(1);
    let cases: Vec<Vec<u8>> = vec![
        b"jAN".to_vec(),                    // truncated header
        b"HTTP/1.1 GET /\r\n\r\n".to_vec(), // bad magic
        header(0x1000, -1).to_vec(),        // negative length
        header(0x1000, 1 << 40).to_vec(),   // oversized length
        header(0x7777, 0).to_vec(),         // unknown type
        header(0x1801, 0).to_vec(),         // time before Hello
        [hello.to_vec(), hello.to_vec(), header(0x2001, 0).to_vec()].concat(), // tree before Auth
        {
            // Response whose msg len exceeds the body, instead of a Hello.
            let mut b = header(0xA001, 10);
            b.put_i32(1);
            b.put_i32(100);
            b.put_slice(b"xy");
            b.to_vec()
        },
    ];
    let n = cases.len() as u64;
    for bytes in cases {
        assert_closed_after(f.tcp(), &bytes).await;
        assert_closed_after(f.unix(), &bytes).await;
    }
    assert!(good.system_time_millis().await.is_ok());
    // A message not allowed after auth closes that connection only.
    good.send(Message::Hello(vec![1])).await.unwrap();
    assert!(good.recv().await.is_err());
    f.assert_still_serving().await;
    // Every abusive connection was counted (truncated header ends as a
    // truncation, all others as violations) plus the late Hello.
    assert_eq!(
        Counters::get(&f.server.counters().protocol_errors),
        2 * n + 1
    );
}

#[tokio::test]
async fn commit_create_overwrite_delete_rename() {
    let f = Fixture::new().await;
    let mut c = f.client().await;
    let summary = c
        .commit(&[
            plan(vec![
                Op::MakeDir(MakeDir { path: "d/e".into() }),
                write("d/e/new.txt", b"new"),
                Op::WriteFile(WriteFile {
                    path: "present.txt".into(),
                    content: b"newer".to_vec(),
                    expected_sha256: Some(sha256(b"old").to_vec()),
                    mode: 0o600,
                }),
            ]),
            plan(vec![rename("d/e/new.txt", "moved.txt"), delete("d/e")]),
        ])
        .await
        .unwrap();
    assert!(summary.contains("applied 5 operation(s)"), "{summary}");
    assert_eq!(
        snapshot(&f.ws),
        BTreeMap::from([
            ("d/".to_string(), vec![]),
            ("moved.txt".to_string(), b"new".to_vec()),
            ("present.txt".to_string(), b"newer".to_vec()),
        ])
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(f.ws.join("present.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

/// Every traversal attempt is refused whole: a valid first operation is not applied either.
#[tokio::test]
async fn traversal_attempts_are_refused_whole() {
    let f = Fixture::new().await;
    symlink(&f.sentinel, f.ws.join("escape")).unwrap();
    symlink(f.sentinel.join("secret"), f.ws.join("secret-link")).unwrap();
    let before = snapshot(&f.ws);
    let long = vec!["a"; 2100].join("/");
    let attempts: Vec<(Op, &str)> = vec![
        (write("../x", b"x"), "'..' component"),
        (write("/etc/passwd", b"x"), "absolute path"),
        (write("a/../../x", b"x"), "'..' component"),
        (write("a\0b", b"x"), "NUL"),
        (write(&long, b"x"), "exceeds"),
        (write("escape/secret", b"x"), "'escape' is a symlink"),
        (write("escape/new", b"x"), "'escape' is a symlink"),
        (write("secret-link", b"x"), "'secret-link' is a symlink"),
        (
            Op::MakeDir(MakeDir {
                path: "escape/d".into(),
            }),
            "symlink",
        ),
        (delete("escape/secret"), "symlink"),
        (delete("secret-link"), "symlink"),
        (rename("escape/secret", "stolen"), "symlink"),
        (rename("present.txt", "escape/planted"), "symlink"),
        (rename("present.txt", "../planted"), "'..' component"),
    ];
    let mut c = f.client().await;
    for (i, (op, why)) in attempts.into_iter().enumerate() {
        let plans = [
            plan(vec![write("first.txt", b"must not appear")]),
            plan(vec![delete("present.txt"), op]),
        ];
        match c.commit(&plans).await {
            Err(ClientError::Server { code, log }) => {
                assert_eq!(code, codes::REFUSED, "attempt {i}: {log}");
                assert!(log.contains("plan 1, operation 1"), "attempt {i}: {log}");
                assert!(log.contains(why), "attempt {i}: {log}");
            }
            other => panic!("attempt {i} not refused: {other:?}"),
        }
        assert_eq!(snapshot(&f.ws), before, "attempt {i} changed the workspace");
        f.assert_sentinel_untouched();
    }
    f.assert_still_serving().await;
}

#[tokio::test]
async fn conflicts_and_limits_refuse_the_commit() {
    let f = Fixture::new().await;
    let before = snapshot(&f.ws);
    let mut c = f.client().await;
    let stale = Op::WriteFile(WriteFile {
        path: "present.txt".into(),
        content: b"mine".to_vec(),
        expected_sha256: Some(sha256(b"something else").to_vec()),
        mode: 0,
    });
    let Err(ClientError::Server { code, log }) =
        c.commit(&[plan(vec![write("a.txt", b"a"), stale])]).await
    else {
        panic!("conflict not refused")
    };
    assert_eq!(code, codes::CONFLICT);
    assert!(
        log.contains("conflict at plan 0, operation 1") && log.contains("present.txt"),
        "{log}"
    );
    let gone = Op::Delete(Delete {
        path: "missing.txt".into(),
        expected_sha256: Some(sha256(b"x").to_vec()),
    });
    let Err(ClientError::Server { code, .. }) = c.commit(&[plan(vec![gone])]).await else {
        panic!()
    };
    assert_eq!(code, codes::CONFLICT);
    // A plan that is not protobuf.
    c.send(Message::CommitSyncPlan(vec![Bytes::from_static(
        b"\xff\xff\xff",
    )]))
    .await
    .unwrap();
    assert!(matches!(
        c.recv().await.unwrap(),
        Message::Response {
            code: codes::BAD_REQUEST,
            ..
        }
    ));
    assert_eq!(snapshot(&f.ws), before);
    assert!(
        c.system_time_millis().await.is_ok(),
        "refusals keep the connection"
    );
}

#[tokio::test]
async fn two_committers_at_once_are_serialised() {
    let f = Fixture::new().await;
    // Both expect the current content; exactly one may win.
    let mut a = f.client().await;
    let mut b = f.client().await;
    let op = |content: &'static [u8]| {
        plan(vec![Op::WriteFile(WriteFile {
            path: "present.txt".into(),
            content: content.to_vec(),
            expected_sha256: Some(sha256(b"old").to_vec()),
            mode: 0,
        })])
    };
    let (pa, pb) = (op(b"from a"), op(b"from b"));
    let (ra, rb) = tokio::join!(
        a.commit(std::slice::from_ref(&pa)),
        b.commit(std::slice::from_ref(&pb))
    );
    let content = std::fs::read(f.ws.join("present.txt")).unwrap();
    match (ra, rb) {
        (
            Ok(_),
            Err(ClientError::Server {
                code: codes::CONFLICT,
                ..
            }),
        ) => assert_eq!(content, b"from a"),
        (
            Err(ClientError::Server {
                code: codes::CONFLICT,
                ..
            }),
            Ok(_),
        ) => assert_eq!(content, b"from b"),
        other => panic!("expected one winner and one conflict: {other:?}"),
    }
    assert_eq!(Counters::get(&f.server.counters().commits_applied), 1);
}

#[tokio::test]
async fn shutdown_removes_the_unix_socket() {
    let f = Fixture::new().await;
    let SyncAddr::Unix(path) = f.unix().clone() else {
        panic!()
    };
    let mut idle = f.client().await;
    assert!(path.exists());
    let Fixture { server, _tmp, .. } = f;
    server.shutdown().await;
    assert!(!path.exists());
    assert!(idle.recv().await.is_err(), "open connections are closed");
}

#[tokio::test]
async fn fetch_file_reads_only_regular_files_beneath_the_root() {
    let f = Fixture::new().await;
    symlink(&f.sentinel, f.ws.join("escape")).unwrap();
    symlink(f.sentinel.join("secret"), f.ws.join("secret-link")).unwrap();
    std::fs::create_dir(f.ws.join("dir")).unwrap();
    let mut c = f.client().await;
    assert_eq!(&c.fetch_file("present.txt").await.unwrap()[..], b"old");
    let refused = [
        ("../sentinel/secret", codes::REFUSED, "'..' component"),
        ("/etc/passwd", codes::REFUSED, "absolute path"),
        ("escape/secret", codes::REFUSED, "'escape' is a symlink"),
        ("secret-link", codes::REFUSED, "'secret-link' is a symlink"),
        ("missing", codes::NOT_FOUND, "not a file"),
        ("dir", codes::NOT_FOUND, "not a file"),
    ];
    for (path, want, why) in refused {
        match c.fetch_file(path).await {
            Err(ClientError::Server { code, log }) => {
                assert_eq!(code, want, "{path}: {log}");
                assert!(log.contains(why) && log.contains(path), "{path}: {log}");
            }
            other => panic!("{path} not refused: {other:?}"),
        }
    }
    assert!(
        c.system_time_millis().await.is_ok(),
        "refusals keep the connection"
    );
    // Before Auth it closes the connection, like every request.
    let mut hello = header(0x1000, 4);
    hello.put_i32(1);
    let mut fetch = header(0x2003, 11);
    fetch.put_slice(b"present.txt");
    assert_closed_after(
        f.tcp(),
        &[hello.to_vec(), hello.to_vec(), fetch.to_vec()].concat(),
    )
    .await;
    f.assert_still_serving().await;
}

/// A diff made stale by a symlink planted after it was computed: the server
/// (push) and the local workspace (pull) refuse the batch on their own.
#[tokio::test]
async fn stale_mirrors_cannot_write_through_a_planted_symlink() {
    use janus_sync::mirror::{self, BatchLimits, MirrorError};
    let f = Fixture::new().await;
    let local_dir = f._tmp.path().join("local");
    std::fs::create_dir_all(local_dir.join("d")).unwrap();
    std::fs::write(local_dir.join("d/secret"), b"overwritten").unwrap();
    let local = Workspace::open(&local_dir).unwrap();
    let mut c = f.client().await;

    let diff = mirror::diff(
        &local.file_tree().unwrap(),
        &c.file_tree().await.unwrap(),
        false,
    );
    symlink(&f.sentinel, f.ws.join("d")).unwrap();
    let e = mirror::push(&mut c, &local, &diff, &BatchLimits::default(), |_| {})
        .await
        .unwrap_err();
    let MirrorError::Remote {
        source: ClientError::Server { code, log },
        done,
    } = e
    else {
        panic!("{e}")
    };
    assert_eq!((code, done.commits), (codes::REFUSED, 0), "{log}");
    assert!(log.contains("'d' is a symlink"), "{log}");
    f.assert_sentinel_untouched();

    // Pull: the server has e/secret; the local e becomes a symlink meanwhile.
    std::fs::remove_file(f.ws.join("d")).unwrap();
    std::fs::create_dir(f.ws.join("e")).unwrap();
    std::fs::write(f.ws.join("e/secret"), b"overwritten").unwrap();
    let pulled_dir = f._tmp.path().join("pulled");
    std::fs::create_dir(&pulled_dir).unwrap();
    let pulled = Workspace::open(&pulled_dir).unwrap();
    let diff = mirror::diff(
        &c.file_tree().await.unwrap(),
        &pulled.file_tree().unwrap(),
        false,
    );
    symlink(&f.sentinel, pulled_dir.join("e")).unwrap();
    let e = mirror::pull(&mut c, &pulled, &diff, &BatchLimits::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MirrorError::Local { .. }) && e.to_string().contains("'e' is a symlink"),
        "{e}"
    );
    f.assert_sentinel_untouched();
    assert_eq!(
        std::fs::read_dir(&pulled_dir).unwrap().count(),
        1,
        "only the symlink"
    );
}

/// Many small batches (one commit in flight while the next is read): the
/// counts are exact, and a file changed meanwhile stops the push after the
/// batches before it, with nothing of its own batch applied.
#[tokio::test]
async fn pushes_and_pulls_in_small_batches() {
    use janus_sync::mirror::{self, BatchLimits, MirrorError};
    let f = Fixture::new().await;
    let local_dir = f._tmp.path().join("local");
    std::fs::create_dir_all(local_dir.join("sub")).unwrap();
    for name in ["a", "b", "c", "d", "sub/e"] {
        std::fs::write(local_dir.join(name), name.repeat(7)).unwrap();
    }
    let local = Workspace::open(&local_dir).unwrap();
    let tiny = BatchLimits {
        bytes: 10,
        operations: 2,
    };
    let mut c = f.client().await;
    let diff = mirror::diff(
        &local.file_tree().unwrap(),
        &c.file_tree().await.unwrap(),
        false,
    );
    std::fs::write(local_dir.join("d"), b"changed meanwhile").unwrap();
    let e = mirror::push(&mut c, &local, &diff, &tiny, |_| {})
        .await
        .unwrap_err();
    let MirrorError::Changed { done, path } = &e else {
        panic!("{e}")
    };
    assert_eq!(path, "d");
    // [a] [b] [c] [d …]: three commits applied, d's batch not sent.
    assert_eq!((done.commits, done.files_written), (3, 3), "{e}");
    assert!(f.ws.join("c").exists() && !f.ws.join("d").exists());

    let diff = mirror::diff(
        &local.file_tree().unwrap(),
        &c.file_tree().await.unwrap(),
        true,
    );
    let mut seen = 0;
    let report = mirror::push(&mut c, &local, &diff, &tiny, |n| seen += n)
        .await
        .unwrap();
    assert_eq!(
        (report.files_written, report.dirs_created, report.deleted),
        (2, 1, 1),
        "d, sub, sub/e written; present.txt deleted"
    );
    assert_eq!(seen, 17 + "sub/e".len() as u64 * 7);
    assert_eq!(snapshot(&f.ws), snapshot(&local_dir));

    let back_dir = f._tmp.path().join("back");
    std::fs::create_dir(&back_dir).unwrap();
    let back = Workspace::open(&back_dir).unwrap();
    let diff = mirror::diff(
        &c.file_tree().await.unwrap(),
        &back.file_tree().unwrap(),
        false,
    );
    let report = mirror::pull(&mut c, &back, &diff, &tiny, |_| {})
        .await
        .unwrap();
    assert_eq!((report.files_written, report.dirs_created), (5, 1));
    assert_eq!(snapshot(&back_dir), snapshot(&local_dir));
}

/// One directory tree, one workspace: the same directory under two names
/// (however it is spelt) and nested workspaces are refused at start.
#[tokio::test]
async fn overlapping_workspaces_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (a, b, a2) = (t.join("a"), t.join("b"), t.join("a2"));
    std::fs::create_dir_all(a.join("sub/deeper")).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::create_dir(&a2).unwrap();
    symlink(&a, t.join("link")).unwrap();
    let key = WorkspaceKey::generate().unwrap();
    let start = |first: PathBuf, second: PathBuf| {
        let key = key.clone();
        async move {
            SyncServer::builder()
                .listen("127.0.0.1:0".parse().unwrap())
                .workspace("one", first, key.clone())
                .workspace("two", second, key)
                .start()
                .await
        }
    };
    let cases: Vec<(PathBuf, PathBuf, &str, &str, bool)> = vec![
        (a.clone(), a.join("."), "one", "two", true),
        (a.clone(), t.join("link"), "one", "two", true),
        (a.join("sub"), t.join("link/sub"), "one", "two", true),
        (a.clone(), t.join("b/../a"), "one", "two", true),
        (a.clone(), a.join("sub"), "one", "two", false),
        (a.join("sub/deeper"), t.join("link"), "two", "one", false),
    ];
    for (first, second, outer, inner, same) in cases {
        let shown = format!("{} and {}", first.display(), second.display());
        match start(first, second).await {
            Err(e @ ServerError::Overlap { .. }) => {
                let text = e.to_string();
                let ServerError::Overlap {
                    outer: o,
                    inner: i,
                    same: s,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!((o.as_str(), i.as_str(), s), (outer, inner, same), "{shown}");
                let why = if same {
                    "are the same directory"
                } else {
                    "lies inside"
                };
                assert!(text.contains(why), "{shown}: {text}");
            }
            Err(e) => panic!("{shown}: {e}"),
            Ok(_) => panic!("{shown}: served twice"),
        }
    }
    // Siblings, even with a common prefix in their names, are fine.
    for (first, second) in [(a.clone(), b.clone()), (a.clone(), a2.clone())] {
        let server = start(first, second).await.unwrap();
        server.shutdown().await;
    }
}

/// Each operation is validated against the workspace as the operations
/// before it in the commit leave it: what would fail half-way (a missing
/// parent, a directory not empty, nothing to delete or rename, a target in
/// the way) refuses the commit before anything is changed, and sequences
/// that only work in order are accepted.
#[tokio::test]
async fn operations_are_validated_against_the_state_the_commit_leaves() {
    let f = Fixture::new().await;
    std::fs::create_dir(f.ws.join("d")).unwrap();
    std::fs::write(f.ws.join("d/f"), b"f").unwrap();
    symlink(&f.sentinel, f.ws.join("d/l")).unwrap();
    let before = snapshot(&f.ws);
    let mut c = f.client().await;
    let mkdir = |p: &str| Op::MakeDir(MakeDir { path: p.into() });
    let refused: Vec<(Vec<Op>, &str)> = vec![
        (
            vec![write("nodir/b.txt", b"b")],
            "the directory 'nodir' does not exist",
        ),
        (vec![delete("missing")], "nothing to delete"),
        (vec![delete("d")], "not empty"),
        (vec![delete("d/f"), delete("d")], "not empty"), // d/l is still there
        (vec![rename("missing", "x")], "nothing to rename"),
        (vec![rename("present.txt", "d")], "the target exists"),
        (
            vec![mkdir("present.txt/sub")],
            "'present.txt' exists and is not a directory",
        ),
        (
            vec![write("w", b"w"), write("w/x", b"x")],
            "'w' is not a directory",
        ),
        (
            vec![delete("present.txt"), write("present.txt/x", b"x")],
            "does not exist",
        ),
        (
            vec![mkdir("n"), rename("n", "m"), write("n/x", b"x")],
            "'n' does not exist",
        ),
        // Renamed, d still holds its symlink, which is never written through.
        (
            vec![rename("d", "e"), write("e/l/x", b"x")],
            "'d/l' is a symlink",
        ),
        (vec![rename("d", "e"), delete("e/l")], "'d/l' is a symlink"),
    ];
    for (i, (ops, why)) in refused.into_iter().enumerate() {
        let last = ops.len();
        let mut all = vec![write("first.txt", b"must not appear")];
        all.extend(ops);
        match c.commit(&[plan(all)]).await {
            Err(ClientError::Server { code, log }) => {
                assert_eq!(code, codes::REFUSED, "case {i}: {log}");
                let at = format!("plan 0, operation {last}");
                assert!(log.contains(&at) && log.contains(why), "case {i}: {log}");
            }
            other => panic!("case {i} not refused: {other:?}"),
        }
        assert_eq!(snapshot(&f.ws), before, "case {i} changed the workspace");
        f.assert_sentinel_untouched();
    }

    // Sequences that hold only in order.
    let written = sha256(b"v1").to_vec();
    c.commit(&[
        plan(vec![
            mkdir("n"),
            write("n/f", b"v1"),
            rename("n", "m"),
            Op::WriteFile(WriteFile {
                path: "m/f".into(),
                content: b"v2".to_vec(),
                expected_sha256: Some(written),
                mode: 0,
            }),
            rename("m/f", "top.txt"),
            delete("m"),
        ]),
        plan(vec![
            rename("d", "e"),
            write("e/g", b"g"),
            delete("e/f"),
            rename("present.txt", "e/present.txt"),
        ]),
    ])
    .await
    .unwrap();
    let after = snapshot(&f.ws);
    let names: Vec<&str> = after.keys().map(String::as_str).collect();
    assert_eq!(names, ["e/", "e/g", "e/l", "e/present.txt", "top.txt"]);
    assert_eq!(after["top.txt"], b"v2");
    assert_eq!(after["e/present.txt"], b"old");
    f.assert_sentinel_untouched();
}

/// A server with `limits` on a fresh workspace holding nothing.
async fn limited(
    limits: janus_sync::ServerLimits,
) -> (tempfile::TempDir, WorkspaceKey, SyncServer) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("ws")).unwrap();
    let key = WorkspaceKey::generate().unwrap();
    let server = SyncServer::builder()
        .listen(SyncAddr::Unix(tmp.path().join("s.sock")))
        .workspace("main", tmp.path().join("ws"), key.clone())
        .limits(limits)
        .start()
        .await
        .unwrap();
    (tmp, key, server)
}

/// Waits for the server to close `s` (the timeout only turns a hang into a failure).
async fn closed_by_server(s: &mut janus_sync::SyncStream) {
    let mut rest = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(30), s.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server kept the connection open");
}

#[tokio::test]
async fn commit_and_connection_limits() {
    use janus_sync::{CommitLimits, ServerLimits};
    let (tmp, key, server) = limited(ServerLimits {
        max_connections: 1,
        max_body: 4096,
        commit: CommitLimits {
            max_plans: 2,
            max_operations_per_plan: 3,
            max_file_bytes: 10,
            max_commit_bytes: 15,
        },
        ..ServerLimits::default()
    })
    .await;
    let addr = server.local_addrs()[0].clone();
    let mut c = SyncClient::open(&addr, "main", &key).await.unwrap();
    let cases: Vec<(Vec<SyncPlan>, &str)> = vec![
        (
            vec![plan(vec![]), plan(vec![]), plan(vec![])],
            "3 plans exceed the limit of 2",
        ),
        (
            vec![plan(vec![
                write("a", b""),
                write("b", b""),
                write("c", b""),
                write("d", b""),
            ])],
            "plan 0: 4 operations exceed the limit of 3",
        ),
        (
            vec![plan(vec![write("a", b"12345678901")])],
            "11 bytes exceed the per-file limit of 10",
        ),
        (
            vec![
                plan(vec![write("a", b"12345678")]),
                plan(vec![write("b", b"12345678")]),
            ],
            "the commit's content exceeds 15 bytes",
        ),
    ];
    for (plans, why) in cases {
        match c.commit(&plans).await {
            Err(ClientError::Server { code, log }) => {
                assert_eq!(code, codes::REFUSED, "{log}");
                assert!(
                    log.contains(why) && log.contains("nothing changed"),
                    "{log}"
                );
            }
            other => panic!("{why}: not refused: {other:?}"),
        }
    }
    assert_eq!(std::fs::read_dir(tmp.path().join("ws")).unwrap().count(), 0);
    c.commit(&[plan(vec![write("a", b"1234567890")])])
        .await
        .unwrap();

    // A tree larger than one message is an error answer, not a closed connection.
    for i in 0..60 {
        std::fs::write(tmp.path().join(format!("ws/{:060}", i)), b"").unwrap();
    }
    match c.file_tree().await {
        Err(ClientError::Server { code, log }) => {
            assert_eq!(code, codes::TOO_LARGE, "{log}");
            assert!(log.contains("the tree of 61 entries"), "{log}");
        }
        other => panic!("tree not refused: {other:?}"),
    }

    // One connection at a time: a second one is closed at once.
    let mut second = janus_sync::SyncStream::connect(&addr).await.unwrap();
    closed_by_server(&mut second).await;
    assert_eq!(Counters::get(&server.counters().connections_refused), 1);
    assert!(c.system_time_millis().await.is_ok(), "the first is served");

    // A message above the body limit closes the connection.
    c.send(Message::FetchFile("x".repeat(5000))).await.unwrap();
    assert!(c.recv().await.is_err());
    assert_eq!(Counters::get(&server.counters().protocol_errors), 1);
}

#[tokio::test]
async fn auth_and_idle_timeouts_close_connections() {
    use janus_sync::ServerLimits;
    use std::time::Duration;
    // A peer that connects and says nothing is closed after the auth timeout.
    let (_tmp, _key, server) = limited(ServerLimits {
        auth_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut silent = janus_sync::SyncStream::connect(&server.local_addrs()[0])
        .await
        .unwrap();
    closed_by_server(&mut silent).await;
    assert_eq!(Counters::get(&server.counters().protocol_errors), 1);

    // An authenticated client that stays silent is closed after the idle timeout.
    let (_tmp, key, server) = limited(ServerLimits {
        idle_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut idle = SyncClient::open(&server.local_addrs()[0], "main", &key)
        .await
        .unwrap();
    assert!(idle.recv().await.is_err(), "closed");
    assert_eq!(Counters::get(&server.counters().protocol_errors), 1);
    assert_eq!(Counters::get(&server.counters().auth_accepted), 1);
}

/// An answer above the client's message limit is a clear error naming the
/// option; raising the limit fetches it.
#[tokio::test]
async fn the_client_message_limit_is_configurable() {
    use janus_sync::ClientOptions;
    let (tmp, key, server) = limited(janus_sync::ServerLimits::default()).await;
    let addr = server.local_addrs()[0].clone();
    std::fs::write(tmp.path().join("ws/big"), vec![7u8; 5000]).unwrap();
    let small = ClientOptions::default().max_body(4096);
    let mut c = small.open(&addr, "main", &key).await.unwrap();
    match c.fetch_file("big").await {
        Err(e @ ClientError::AnswerTooLarge { .. }) => {
            let ClientError::AnswerTooLarge { len, max } = e else {
                unreachable!()
            };
            // The body is the code and message length (8 bytes), then the file.
            assert_eq!((len, max), (5008, 4096));
            let text = e.to_string();
            assert!(
                text.contains("more than this client's message limit of 4096")
                    && text.contains("--max-body"),
                "{text}"
            );
        }
        other => panic!("not refused: {other:?}"),
    }
    let mut c = ClientOptions::default()
        .max_body(8192)
        .open(&addr, "main", &key)
        .await
        .unwrap();
    assert_eq!(c.fetch_file("big").await.unwrap().len(), 5000);
    // The default is 64 MiB.
    assert_eq!(
        ClientOptions::default(),
        ClientOptions::default().max_body(64 << 20)
    );
}
