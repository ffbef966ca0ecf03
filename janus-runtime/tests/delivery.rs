//! Answers go to the verified sender or nowhere, and receivers that never
//! read hold up neither other clients nor the server's memory.
//!
//! The path-swap tests need a second user: they run as root and re-execute
//! this test binary as `nobody` (uid/gid 65534) for the attacker's part
//! (the ignored test `attacker`), talking to it over its stdin and stdout.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, Peer, now};
use janus_runtime::{BoxFuture, ErrorObject, RequestContext, ServerHandle, ServerStats, Service};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

const NOBODY: u32 = 65534;
const ATTACKER: &str = "JANUS_TEST_ATTACKER";

/// The channel `gate`: `wait` runs until the test lets it finish.
struct Gate {
    started: mpsc::UnboundedSender<()>,
    release: Arc<Semaphore>,
}

impl Service for Gate {
    fn channel_id(&self) -> &str {
        "gate"
    }

    fn requests(&self) -> Vec<String> {
        vec!["wait".into()]
    }

    fn call(
        &self,
        _ctx: RequestContext,
        _request: &str,
        _args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let _ = self.started.send(());
        let release = self.release.clone();
        Box::pin(async move {
            release.acquire().await.unwrap().forget();
            Ok(json!({"secret": "for the sender only"}))
        })
    }
}

/// Waits (bounded) until the server's counters satisfy `done`.
async fn counters(handle: &ServerHandle, done: impl Fn(&ServerStats) -> bool) -> ServerStats {
    for _ in 0..5000 {
        let s = handle.stats();
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("counters never got there: {:?}", handle.stats());
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The attacker process, running as `nobody`.
struct Attacker {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Attacker {
    fn start(variant: &str, dir: &Path, server: &Path) -> Attacker {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "attacker",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ATTACKER, variant)
            .env("JANUS_TEST_DIR", dir)
            .env("JANUS_TEST_SERVER", server)
            .current_dir(dir)
            .uid(NOBODY)
            .gid(NOBODY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the attacker process starts");
        let to = child.stdin.take().unwrap();
        let from = BufReader::new(child.stdout.take().unwrap());
        Attacker { child, to, from }
    }

    /// The attacker's next report (lines of test output are skipped).
    fn expect(&mut self, word: &str) -> String {
        loop {
            let mut line = String::new();
            assert!(
                self.from.read_line(&mut line).unwrap() > 0,
                "the attacker ended before saying {word}"
            );
            // The test harness may print on the same line first.
            if let Some((_, rest)) = line.trim().split_once("ATTACKER ") {
                assert!(rest.starts_with(word), "expected {word}, got {rest}");
                return rest[word.len()..].trim().to_owned();
            }
        }
    }

    fn say(&mut self, word: &str) {
        writeln!(self.to, "{word}").unwrap();
        self.to.flush().unwrap();
    }

    fn finish(mut self) {
        drop(self.to);
        assert!(self.child.wait().unwrap().success(), "the attacker failed");
    }
}

/// A server that `nobody` may send to, a directory `nobody` owns inside its
/// allowed directory, and a victim socket (root's) beside it.
async fn arena() -> (
    Harness,
    mpsc::UnboundedReceiver<()>,
    Arc<Semaphore>,
    PathBuf,
    Peer,
) {
    let (started_tx, started) = mpsc::unbounded_channel();
    let release = Arc::new(Semaphore::new(0));
    let gate_release = release.clone();
    let h = Harness::start_with(
        |b| b.socket_mode(0o666),
        move |server, _| {
            server.channel(Gate {
                started: started_tx,
                release: gate_release,
            })
        },
    )
    .await;
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&h.allowed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = h.allowed.join("nobody");
    std::fs::create_dir(&home).unwrap();
    rustix::fs::chown(
        &home,
        Some(rustix::fs::Uid::from_raw(NOBODY)),
        Some(rustix::fs::Gid::from_raw(NOBODY)),
    )
    .unwrap();
    let victim = h.peer("victim.sock");
    (h, started, release, home, victim)
}

/// The swap with a slow handler: the attacker asks, the handler runs, the
/// attacker replaces its reply path with a symlink to the victim, the
/// handler finishes. The answer must reach nobody.
async fn swap_during_a_slow_handler(variant: &str) {
    if !is_root() {
        eprintln!("skipped: the path-swap tests need root, to run the attacker as another user");
        return;
    }
    let (h, mut started, release, home, victim) = arena().await;
    let mut attacker = Attacker::start(variant, &home, &h.server_path);
    attacker.expect("sent");
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .unwrap_or_else(|_| panic!("the handler never started: {:?}", h.handle.stats()));
    attacker.say("swap");
    attacker.expect("swapped");
    release.add_permits(1);
    let s = counters(&h.handle, |s| {
        s.dropped.peer_mismatch == 1 && s.in_flight == 0
    })
    .await;
    assert_eq!(s.answered, 0, "{s:?}");
    assert!(
        victim.try_recv().is_none(),
        "the victim received the answer"
    );
    attacker.say("check");
    assert_eq!(attacker.expect("received"), "0");
    attacker.finish();
    h.assert_alive().await;
    assert!(victim.try_recv().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_sender_that_swaps_its_path_reaches_nobody() {
    swap_during_a_slow_handler("bound").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_sender_that_swaps_its_reply_to_reaches_nobody() {
    swap_during_a_slow_handler("anonymous").await;
}

/// The swap with a full queue: the attacker fills its own queue, asks, and
/// swaps its path while the answer waits for room. The answer stays with
/// the socket that asked, and arrives there once it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_with_a_full_queue_that_swaps_its_path_gets_its_own_answer_only() {
    if !is_root() {
        eprintln!("skipped: the path-swap tests need root, to run the attacker as another user");
        return;
    }
    let (h, _started, _release, home, victim) = arena().await;
    let mut attacker = Attacker::start("full", &home, &h.server_path);
    attacker.expect("sent");
    counters(&h.handle, |s| s.held_answers == 1).await;
    attacker.say("swap");
    attacker.expect("swapped");
    attacker.say("drain");
    assert_eq!(attacker.expect("answered"), "full1");
    let s = counters(&h.handle, |s| s.answered == 1 && s.held_answers == 0).await;
    assert_eq!(s.dropped.total(), 0, "{s:?}");
    assert!(
        victim.try_recv().is_none(),
        "the victim received the answer"
    );
    attacker.finish();
}

/// The attacker's side (run as `nobody` by the tests above; it does
/// nothing useful on its own).
#[test]
#[ignore = "run by the path-swap tests as another user"]
fn attacker() {
    let variant = std::env::var(ATTACKER).expect("run by the path-swap tests");
    let dir = PathBuf::from(std::env::var("JANUS_TEST_DIR").unwrap());
    let server = PathBuf::from(std::env::var("JANUS_TEST_SERVER").unwrap());
    let victim = dir.parent().unwrap().join("victim.sock");
    let path = dir.join("reply.sock");
    let moved = dir.join("moved.sock");
    let mut stdin = std::io::stdin().lock();
    let mut next = move || {
        let mut line = String::new();
        stdin.read_line(&mut line).unwrap();
        line.trim().to_owned()
    };
    let report = |what: &str| println!("ATTACKER {what}");

    let own = StdUnixDatagram::bind(&path).unwrap();
    let request = |id: &str, request: &str, channel: Option<&str>| {
        let mut r = json!({"id": id, "request": request, "reply_to": path.to_str().unwrap(), "timestamp": now(), "timeout": 30});
        if let Some(c) = channel {
            r["channelId"] = json!(c);
        }
        r.to_string()
    };
    match variant.as_str() {
        "bound" => {
            own.send_to(request("slow1", "wait", Some("gate")).as_bytes(), &server)
                .unwrap();
        }
        "anonymous" => {
            let unbound = StdUnixDatagram::unbound().unwrap();
            unbound
                .send_to(request("slow1", "wait", Some("gate")).as_bytes(), &server)
                .unwrap();
        }
        "full" => {
            // Fill our own queue, then ask.
            let filler = StdUnixDatagram::unbound().unwrap();
            filler.set_nonblocking(true).unwrap();
            while filler.send_to(b"filler", &path).is_ok() {}
            own.send_to(request("full1", "ping", None).as_bytes(), &server)
                .unwrap();
        }
        other => panic!("unknown variant {other}"),
    }
    report("sent");
    assert_eq!(next(), "swap");
    // Our socket stays open (and bound, under its old name); the path now
    // leads to the victim.
    std::fs::rename(&path, &moved).unwrap();
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    report("swapped");
    match next().as_str() {
        "check" => {
            own.set_nonblocking(true).unwrap();
            let mut buf = vec![0u8; 65536];
            let mut got = 0;
            while own.recv(&mut buf).is_ok() {
                got += 1;
            }
            report(&format!("received {got}"));
        }
        "drain" => {
            own.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = vec![0u8; 65536];
            loop {
                let n = own.recv(&mut buf).expect("the answer arrives");
                if &buf[..n] == b"filler" {
                    continue;
                }
                let answer: Value = serde_json::from_slice(&buf[..n]).unwrap();
                report(&format!(
                    "answered {}",
                    answer["request_id"].as_str().unwrap()
                ));
                break;
            }
        }
        other => panic!("unexpected {other}"),
    }
}

/// Bound peers in `dir` that never read.
fn non_readers(dir: &Path, count: usize) -> Vec<tokio::net::UnixDatagram> {
    (0..count)
        .map(|i| {
            let s = StdUnixDatagram::bind(dir.join(format!("n{i}.sock"))).unwrap();
            s.set_nonblocking(true).unwrap();
            tokio::net::UnixDatagram::from_std(s).unwrap()
        })
        .collect()
}

/// Sends, retrying while the server's queue is full (an unconnected sender
/// is not always woken when it has room again; this is load generation).
async fn send_retrying(socket: &tokio::net::UnixDatagram, bytes: &[u8], server: &Path) {
    loop {
        match socket.try_send_to(bytes, server) {
            Ok(_) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(Duration::from_millis(1)).await
            }
            Err(e) => panic!("sending failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_clients_that_never_read_starve_nobody() {
    const CLIENTS: usize = 5000;
    const EACH: usize = 3;
    let h = Harness::start_with(|b| b.max_in_flight(1000), |s, _| s).await;
    let attackers_dir = h.allowed.join("attackers");
    std::fs::create_dir(&attackers_dir).unwrap();
    let attackers = non_readers(&attackers_dir, CLIENTS);
    let server = h.server_path.clone();
    let attack = tokio::spawn(async move {
        for round in 0..EACH {
            for (i, socket) in attackers.iter().enumerate() {
                let path = format!("{}/n{i}.sock", attackers_dir.display());
                let r = json!({"id": format!("a{round}"), "request": "ping", "reply_to": path, "timestamp": now(), "timeout": 60});
                send_retrying(socket, r.to_string().as_bytes(), &server).await;
            }
        }
        attackers
    });
    // The attack is under way.
    counters(&h.handle, |s| s.received >= CLIENTS as u64).await;
    let client = h.client().await;
    let mut latencies = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let pong = client
            .request("ping")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("the well-behaved client is answered during the attack");
        latencies.push(t.elapsed());
        assert_eq!(pong["pong"], true);
    }
    let attackers = attack.await.unwrap();
    let total = (CLIENTS * EACH + 100) as u64;
    let s = counters(&h.handle, |s| {
        s.received == total && s.answered + s.dropped.total() + s.held_answers as u64 == total
    })
    .await;
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "well-behaved client during the attack of {CLIENTS} non-reading clients: 100/100 answered, p50 {p50:?}, p99 {p99:?}; server: {s:?}"
    );
    if let Some(limit) = std::env::var("JANUS_ASSERT_P99_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        assert!(
            p99 <= Duration::from_millis(limit),
            "p99 {p99:?} over {limit} ms"
        );
    }
    assert!(s.reply_sockets <= 1024, "{s:?}");
    drop(attackers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_to_a_blocked_client_are_capped_and_others_are_not_held_up() {
    const CAP: usize = 4 << 20;
    const MIB: usize = 1 << 20;
    let h = Harness::start_with(
        |b| {
            b.max_held_answer_bytes(CAP)
                .max_waiting_answers_per_receiver(1000, 1 << 30)
                .shutdown_grace(Duration::from_millis(100))
        },
        |s, _| s,
    )
    .await;
    // A client asks for 40 answers of 1 MiB and never reads.
    let blocked = h.peer("blocked.sock");
    const ASKED: u64 = 40;
    let mut highest = 0;
    for i in 0..ASKED {
        let r = json!({"id": format!("b{i}"), "request": "big", "channelId": "test", "args": {"bytes": MIB}, "reply_to": blocked.path_str(), "timestamp": now(), "timeout": 60});
        blocked.send(r.to_string().as_bytes()).await;
        highest = highest.max(h.handle.stats().held_bytes);
    }
    let s = counters(&h.handle, |s| {
        s.received == ASKED
            && s.in_flight == 0
            && s.answered + s.dropped.total() + s.held_answers as u64 == ASKED
    })
    .await;
    highest = highest.max(s.held_bytes);
    assert!(
        highest <= CAP,
        "held {highest} bytes, over the cap of {CAP}: {s:?}"
    );
    assert!(s.held_answers <= CAP / MIB, "{s:?}");
    assert!(s.dropped.held_bytes_cap > 0, "{s:?}");
    // Others are answered meanwhile, at once.
    let client = h.client().await;
    for _ in 0..20 {
        client
            .request("ping")
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("another client is answered");
    }
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "{ASKED} answers of 1 MiB to a blocked client: at most {highest} bytes held (cap {CAP}); test process RSS {} MiB; {s:?}",
        rss_kib / 1024
    );
    h.handle.shutdown().await;
    let s = h.handle.stats();
    assert_eq!((s.held_answers, s.held_bytes), (0, 0), "{s:?}");
}

#[tokio::test]
async fn answers_beyond_a_receivers_cap_are_dropped_not_held() {
    const CAP: usize = 32;
    let h = Harness::start_with(
        |b| {
            b.max_waiting_answers_per_receiver(CAP, 1 << 20)
                .shutdown_grace(Duration::from_millis(100))
        },
        |s, _| s,
    )
    .await;
    let qlen: usize = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let fits = qlen + 1;
    let blocked = h.peer("blocked.sock");
    let asked = fits + CAP + 50;
    for i in 0..asked {
        let r = json!({"id": format!("b{i}"), "request": "ping", "reply_to": blocked.path_str(), "timestamp": now(), "timeout": 60});
        blocked.send(r.to_string().as_bytes()).await;
    }
    let s = counters(&h.handle, |s| {
        s.received == asked as u64
            && s.answered + s.dropped.total() + s.held_answers as u64 == asked as u64
    })
    .await;
    assert_eq!(s.answered, fits as u64, "{s:?}");
    assert_eq!(s.held_answers, CAP, "{s:?}");
    assert_eq!(s.dropped.destination_backlog, 50, "{s:?}");
    // Reading lets the held answers through, in order.
    let mut ids = Vec::new();
    for _ in 0..fits + CAP {
        ids.push(
            blocked.recv().await["request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let expected: Vec<String> = (0..fits + CAP).map(|i| format!("b{i}")).collect();
    assert_eq!(ids, expected);
    let s = counters(&h.handle, |s| s.held_answers == 0).await;
    assert_eq!(s.answered, (fits + CAP) as u64, "{s:?}");
    assert_eq!(
        s.send_wait_fallbacks, 0,
        "the kernel's wake-ups were enough: {s:?}"
    );
}
