//! Round trips over Unix datagram sockets: a minimal blocking server (the
//! baseline) against our client and server, measured in the same run.
//!
//! ```text
//! cargo bench -p janus-runtime
//! JANUS_BENCH_SCALE=0.1 cargo bench -p janus-runtime   # a quick, smaller run
//! ```
//!
//! Each server runs in its own child process (this binary, re-executed), so
//! the resident memory reported is the server's alone. Figures are printed
//! with the ratio ours/baseline; the machine is shared and noisy, so compare
//! ratios from one run rather than absolute numbers across runs.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use janus_runtime::{BoxFuture, Client, ErrorObject, RequestContext, Server, Service};
use serde_json::{Value, json};

const ROLE: &str = "JANUS_BENCH_ROLE";

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let path = std::env::args().nth(1).expect("socket path");
        match role.as_str() {
            "baseline" => baseline_server(Path::new(&path)),
            "ours" => our_server(Path::new(&path)),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let scale: f64 = std::env::var("JANUS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |count: f64| ((count * scale) as usize).max(100);
    let dir = tempfile::Builder::new()
        .prefix("janus-bench")
        .tempdir_in("/tmp")
        .unwrap();

    println!("janus-runtime round-trip benchmark: `ping` over Unix datagram sockets");
    println!(
        "machine: {} cores; baseline = blocking std::os::unix::net::UnixDatagram server that parses the JSON and replies",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    let base_path = dir.path().join("baseline.sock");
    let base = ServerProcess::start("baseline", &base_path);
    let ours_path = dir.path().join("ours.sock");
    let ours = ServerProcess::start("ours", &ours_path);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(Client::builder().reply_dir(dir.path()).connect(&ours_path))
        .unwrap();

    // Warm up both.
    baseline_sequential(&base_path, dir.path(), n(5_000.0));
    rt.block_on(ours_sequential(&client, n(5_000.0), None));

    // Baseline and ours run in alternating short rounds, so both see the
    // same background load on a shared machine.
    let rounds = 10;
    let mut rows = Vec::new();
    let samples = n(30_000.0);
    let (mut base_lat, mut ours_lat) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_lat.extend(baseline_sequential(
            &base_path,
            dir.path(),
            samples / rounds,
        ));
        ours_lat.extend(rt.block_on(ours_sequential(&client, samples / rounds, None)));
    }
    rows.push(Row::latency(
        "sequential p50 (µs)",
        percentile(&base_lat, 0.50),
        percentile(&ours_lat, 0.50),
    ));
    rows.push(Row::latency(
        "sequential p99 (µs)",
        percentile(&base_lat, 0.99),
        percentile(&ours_lat, 0.99),
    ));

    for in_flight in [1, 8, 64] {
        let total = n(if in_flight == 1 { 30_000.0 } else { 100_000.0 });
        let (mut b, mut o) = (Rate::default(), Rate::default());
        for _ in 0..rounds {
            b.add(total / rounds, || {
                baseline_throughput(&base_path, dir.path(), in_flight, total / rounds)
            });
            o.add(total / rounds, || {
                rt.block_on(ours_throughput(&client, in_flight, total / rounds, None))
            });
        }
        rows.push(Row::throughput(
            &format!("throughput, {in_flight} in flight (req/s)"),
            b.per_sec(),
            o.per_sec(),
        ));
    }
    let base_tp8 = rows[3].baseline;

    // A request that goes through a service (argument checks, routing) rather than a built-in.
    let add = Some(("demo", "add"));
    let (mut base_lat2, mut add_lat, mut add_tp) = (Vec::new(), Vec::new(), Rate::default());
    let (mut client_to_base, mut base_to_ours) = (Vec::new(), Vec::new());
    let to_base = rt
        .block_on(Client::builder().reply_dir(dir.path()).connect(&base_path))
        .unwrap();
    for _ in 0..rounds {
        base_lat2.extend(baseline_sequential(
            &base_path,
            dir.path(),
            samples / rounds,
        ));
        add_lat.extend(rt.block_on(ours_sequential(&client, samples / rounds, add)));
        add_tp.add(n(100_000.0) / rounds, || {
            rt.block_on(ours_throughput(&client, 8, n(100_000.0) / rounds, add))
        });
        // Where the time goes: each side of ours against the other side of the baseline.
        client_to_base.extend(rt.block_on(ours_sequential(&to_base, samples / rounds, None)));
        base_to_ours.extend(baseline_sequential(
            &ours_path,
            dir.path(),
            samples / rounds,
        ));
    }
    drop(to_base);
    let base_p50 = percentile(&base_lat2, 0.50);
    rows.push(Row::latency(
        "demo.add sequential p50 (µs)",
        base_p50,
        percentile(&add_lat, 0.50),
    ));
    rows.push(Row::throughput(
        "demo.add throughput, 8 in flight (req/s)",
        base_tp8,
        add_tp.per_sec(),
    ));
    rows.push(Row::latency(
        "our client -> baseline server, p50 (µs)",
        base_p50,
        percentile(&client_to_base, 0.50),
    ));
    rows.push(Row::latency(
        "baseline client -> our server, p50 (µs)",
        base_p50,
        percentile(&base_to_ours, 0.50),
    ));

    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "", "baseline", "ours", "ours/baseline"
    );
    for row in &rows {
        println!(
            "{:<44} {:>12.1} {:>12.1} {:>13.2}x",
            row.name,
            row.baseline,
            row.ours,
            row.ours / row.baseline
        );
    }
    println!("(demo.add rows compare our service path with the baseline's ping)");
    println!();

    // Memory of our server under sustained load.
    let served_so_far = ours.requests_served(&client, &rt);
    let to_100k = 100_000u64.saturating_sub(served_so_far) as usize;
    rt.block_on(ours_throughput(&client, 64, to_100k.max(1), None));
    let rss_100k = ours.rss_kib();
    let to_1m = 1_000_000 - ours.requests_served(&client, &rt).min(1_000_000);
    let load = (to_1m as f64 * scale.min(1.0)) as usize;
    let start = Instant::now();
    rt.block_on(ours_throughput(&client, 64, load.max(1), None));
    let total_served = ours.requests_served(&client, &rt);
    let rss_1m = ours.rss_kib();
    println!(
        "our server's resident memory: {:.1} MiB after 100k requests, {:.1} MiB after {}k requests ({:.2}x; {:.1} s of load at 64 in flight)",
        rss_100k as f64 / 1024.0,
        rss_1m as f64 / 1024.0,
        total_served / 1000,
        rss_1m as f64 / rss_100k as f64,
        start.elapsed().as_secs_f64()
    );
    println!(
        "baseline server's resident memory: {:.1} MiB",
        base.rss_kib() as f64 / 1024.0
    );
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Requests and the time they took, summed over rounds.
#[derive(Default)]
struct Rate {
    requests: usize,
    seconds: f64,
}

impl Rate {
    fn add(&mut self, requests: usize, run: impl FnOnce() -> f64) {
        let per_sec = run();
        self.requests += requests;
        self.seconds += requests as f64 / per_sec;
    }

    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

struct Row {
    name: String,
    baseline: f64,
    ours: f64,
}

impl Row {
    fn latency(name: &str, baseline: Duration, ours: Duration) -> Row {
        Row {
            name: name.to_owned(),
            baseline: baseline.as_secs_f64() * 1e6,
            ours: ours.as_secs_f64() * 1e6,
        }
    }

    fn throughput(name: &str, baseline: f64, ours: f64) -> Row {
        Row {
            name: name.to_owned(),
            baseline,
            ours,
        }
    }
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// A server in a child process, killed when dropped.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(role: &str, path: &Path) -> ServerProcess {
        let child = Command::new(std::env::current_exe().unwrap())
            .arg(path)
            .env(ROLE, role)
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !path.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{role} server did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        ServerProcess { child }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    /// Requests the server has answered, as it reports them (`get_info`).
    fn requests_served(&self, client: &Client, rt: &tokio::runtime::Runtime) -> u64 {
        let info = rt
            .block_on(client.request("demo_stats").channel("demo").send())
            .unwrap();
        info["answered"].as_u64().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        );
        let _ = self.child.wait();
    }
}

// ---- the baseline: what a careful hand-written blocking server does ----

fn baseline_server(path: &Path) {
    let socket = UnixDatagram::bind(path).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(request) = serde_json::from_slice::<Value>(&buf[..n]) else {
            continue;
        };
        let response = json!({
            "result": {"pong": true, "timestamp": janus_runtime::wire::timestamp_now()},
            "error": null,
            "success": true,
            "request_id": request["id"],
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": janus_runtime::wire::timestamp_now(),
        });
        let bytes = serde_json::to_vec(&response).unwrap();
        let target = request["reply_to"].as_str().map(PathBuf::from);
        let _ = match (target, from.as_pathname()) {
            (Some(t), _) => socket.send_to(&bytes, t),
            (None, Some(p)) => socket.send_to(&bytes, p),
            (None, None) => continue,
        };
    }
}

fn baseline_request(reply_to: &str) -> Vec<u8> {
    let mut r = janus_runtime::wire::Request::new(None, "ping");
    r.reply_to = Some(reply_to.to_owned());
    r.encode().unwrap()
}

fn baseline_socket(dir: &Path) -> (UnixDatagram, PathBuf) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!(
        "base-client-{}.sock",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    (UnixDatagram::bind(&path).unwrap(), path)
}

fn baseline_sequential(server: &Path, dir: &Path, samples: usize) -> Vec<Duration> {
    let (socket, path) = baseline_socket(dir);
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        socket
            .send_to(&baseline_request(path.to_str().unwrap()), server)
            .unwrap();
        let n = socket.recv(&mut buf).unwrap();
        let _: Value = serde_json::from_slice(&buf[..n]).unwrap();
        out.push(start.elapsed());
    }
    let _ = std::fs::remove_file(path);
    out
}

fn baseline_throughput(server: &Path, dir: &Path, in_flight: usize, total: usize) -> f64 {
    let left = Arc::new(AtomicU64::new(total as u64));
    let start = Instant::now();
    let threads: Vec<_> = (0..in_flight)
        .map(|_| {
            let (socket, path) = baseline_socket(dir);
            let server = server.to_owned();
            let left = left.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    socket
                        .send_to(&baseline_request(path.to_str().unwrap()), &server)
                        .unwrap();
                    let n = socket.recv(&mut buf).unwrap();
                    let _: Value = serde_json::from_slice(&buf[..n]).unwrap();
                }
                let _ = std::fs::remove_file(path);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

// ---- ours ----

async fn call(client: &Client, target: Option<(&str, &str)>) {
    match target {
        None => {
            client.request("ping").send().await.unwrap();
        }
        Some((channel, request)) => {
            client
                .call(channel, request, json!({"a": 2, "b": 3}))
                .await
                .unwrap();
        }
    }
}

async fn ours_sequential(
    client: &Client,
    samples: usize,
    target: Option<(&str, &str)>,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        call(client, target).await;
        out.push(start.elapsed());
    }
    out
}

async fn ours_throughput(
    client: &Client,
    in_flight: usize,
    total: usize,
    target: Option<(&'static str, &'static str)>,
) -> f64 {
    let left = Arc::new(AtomicU64::new(total as u64));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let client = client.clone();
        let left = left.clone();
        tasks.spawn(async move {
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                .is_ok()
            {
                call(&client, target).await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The bench server's channel: `add`, and `demo_stats` (the server's own
/// counters, so the bench knows how many requests it has answered).
struct Demo {
    handle: Arc<std::sync::OnceLock<janus_runtime::ServerHandle>>,
}

impl Service for Demo {
    fn channel_id(&self) -> &str {
        "demo"
    }

    fn requests(&self) -> Vec<String> {
        vec!["add".into(), "demo_stats".into()]
    }

    fn call(
        &self,
        _ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let out = match request {
            "add" => match (args["a"].as_i64(), args["b"].as_i64()) {
                (Some(a), Some(b)) => Ok(json!({"sum": a + b})),
                _ => Err(ErrorObject::new(
                    janus_runtime::ErrorCode::InvalidParams,
                    "a and b must be integers",
                )),
            },
            _ => Ok(json!({"answered": self.handle.get().map_or(0, |h| h.stats().answered)})),
        };
        Box::pin(std::future::ready(out))
    }
}

fn our_server(path: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let handle = Arc::new(std::sync::OnceLock::new());
        let server = Server::builder()
            .allowed_dirs([path.parent().unwrap().to_str().unwrap()])
            .bind(path)
            .unwrap()
            .channel(Demo {
                handle: handle.clone(),
            });
        let _ = handle.set(server.handle());
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        server
            .serve_with_shutdown(async move {
                term.recv().await;
            })
            .await
            .unwrap();
    });
}
