//! Round trips over Unix datagram and stream sockets: a minimal blocking server (the
//! baseline) against our client and server, measured in the same run.
//!
//! ```text
//! cargo bench -p janus-runtime
//! JANUS_BENCH_SCALE=0.1 cargo bench -p janus-runtime   # a quick, smaller run
//! JANUS_BENCH_ONLY=stream JANUS_BENCH_SCALE=0.1 cargo bench -p janus-runtime   # stream rows only
//! ```
//!
//! `JANUS_BENCH_ONLY=dgram` or `stream` runs one transport's rows.
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
/// The CPU a server child pins itself to.
const CPU: &str = "JANUS_BENCH_CPU";

/// Pins this process (and the threads it starts later) to one CPU.
fn pin_to_cpu(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
        eprintln!("could not pin to CPU {cpu}: {e}");
    }
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        if let Some(cpu) = std::env::var(CPU).ok().and_then(|c| c.parse().ok()) {
            pin_to_cpu(cpu);
        }
        let path = std::env::args().nth(1).expect("socket path");
        match role.as_str() {
            "baseline" => baseline_server(Path::new(&path)),
            "ours" => our_server(Path::new(&path)),
            "stream-baseline" => stream_baseline_server(Path::new(&path)),
            "ours-stream" => our_stream_server(Path::new(&path)),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    if std::env::var("JANUS_BENCH_PROFILE").is_ok() {
        return profile_loop();
    }
    let scale: f64 = std::env::var("JANUS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = move |count: f64| ((count * scale) as usize).max(100);
    // Where processes run matters more than anything else here: a wake-up
    // that crosses CPUs costs tens of microseconds on a virtual machine, and
    // the scheduler's choice varies from run to run. So placement is fixed:
    // clients on CPU 0, servers on CPU 1 (each side has a core, as two
    // processes on this machine would), plus one row with everything on CPU 0.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_cpu = if cpus > 1 { 1 } else { 0 };
    pin_to_cpu(0);
    let dir = tempfile::Builder::new()
        .prefix("janus-bench")
        .tempdir_in("/tmp")
        .unwrap();

    let only = std::env::var("JANUS_BENCH_ONLY").unwrap_or_default();
    if only != "stream" {
        datagram_bench(dir.path(), &n, scale, cpus, server_cpu);
    }
    if only != "dgram" {
        stream_bench(dir.path(), &n, server_cpu);
    }
}

/// The datagram rows.
fn datagram_bench(
    dir: &Path,
    n: &dyn Fn(f64) -> usize,
    scale: f64,
    cpus: usize,
    server_cpu: usize,
) {
    println!("janus-runtime round-trip benchmark: `ping` over Unix datagram sockets");
    println!(
        "machine: {cpus} cores; baseline = blocking std::os::unix::net::UnixDatagram server that parses the JSON and replies"
    );
    println!(
        "clients pinned to CPU 0, servers to CPU {server_cpu}; baseline and ours alternate in rounds"
    );
    println!();

    let base_path = dir.join("baseline.sock");
    let base = ServerProcess::start("baseline", &base_path, server_cpu);
    let ours_path = dir.join("ours.sock");
    let ours = ServerProcess::start("ours", &ours_path, server_cpu);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(Client::builder().reply_dir(dir).connect(&ours_path))
        .unwrap();

    // Warm up both.
    baseline_sequential(&base_path, dir, n(5_000.0));
    rt.block_on(ours_sequential(&client, n(5_000.0), None));

    // Baseline and ours run in alternating short rounds, so both see the
    // same background load on a shared machine.
    let rounds = 10;
    let mut rows = Vec::new();
    let samples = n(30_000.0);
    let (mut base_lat, mut ours_lat) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_lat.extend(baseline_sequential(&base_path, dir, samples / rounds));
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
                baseline_throughput(&base_path, dir, in_flight, total / rounds)
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
        .block_on(Client::builder().reply_dir(dir).connect(&base_path))
        .unwrap();
    for _ in 0..rounds {
        base_lat2.extend(baseline_sequential(&base_path, dir, samples / rounds));
        add_lat.extend(rt.block_on(ours_sequential(&client, samples / rounds, add)));
        add_tp.add(n(100_000.0) / rounds, || {
            rt.block_on(ours_throughput(&client, 8, n(100_000.0) / rounds, add))
        });
        // Where the time goes: each side of ours against the other side of the baseline.
        client_to_base.extend(rt.block_on(ours_sequential(&to_base, samples / rounds, None)));
        base_to_ours.extend(baseline_sequential(&ours_path, dir, samples / rounds));
    }
    drop(to_base);
    // Everything on one CPU: no cross-CPU wake-ups, so this compares the
    // work each side does per request.
    let (mut same_base, mut same_ours) = (Vec::new(), Vec::new());
    {
        let base0 = ServerProcess::start("baseline", &dir.join("baseline0.sock"), 0);
        let ours0 = ServerProcess::start("ours", &dir.join("ours0.sock"), 0);
        let c0 = rt
            .block_on(
                Client::builder()
                    .reply_dir(dir)
                    .connect(dir.join("ours0.sock")),
            )
            .unwrap();
        baseline_sequential(&dir.join("baseline0.sock"), dir, n(2_000.0));
        rt.block_on(ours_sequential(&c0, n(2_000.0), None));
        for _ in 0..rounds {
            same_base.extend(baseline_sequential(
                &dir.join("baseline0.sock"),
                dir,
                samples / rounds,
            ));
            same_ours.extend(rt.block_on(ours_sequential(&c0, samples / rounds, None)));
        }
        drop((base0, ours0));
    }
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
    rows.push(Row::latency(
        "all on one CPU: sequential p50 (µs)",
        percentile(&same_base, 0.50),
        percentile(&same_ours, 0.50),
    ));
    rows.push(Row::latency(
        "all on one CPU: sequential p99 (µs)",
        percentile(&same_base, 0.99),
        percentile(&same_ours, 0.99),
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
    fn start(role: &str, path: &Path, cpu: usize) -> ServerProcess {
        let child = Command::new(std::env::current_exe().unwrap())
            .arg(path)
            .env(ROLE, role)
            .env(CPU, cpu.to_string())
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
        vec![
            "add".into(),
            "demo_stats".into(),
            "echo_args".into(),
            "blob".into(),
        ]
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
            "echo_args" => Ok(args),
            "blob" => {
                let len = args["len"].as_u64().unwrap_or(0) as usize;
                Ok(json!({"data": "b".repeat(len)}))
            }
            _ => Ok(json!({"answered": self.handle.get().map_or(0, |h| h.stats().answered)})),
        };
        Box::pin(std::future::ready(out))
    }
}

fn our_server(path: &Path) {
    let rt = match std::env::var("JANUS_BENCH_SERVER_RT").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    };
    serve_bench_channel(&rt, path, false);
}

/// Serves the bench channel at `path` (a stream socket if `stream`, else a
/// datagram socket) on `rt` until SIGTERM.
fn serve_bench_channel(rt: &tokio::runtime::Runtime, path: &Path, stream: bool) {
    rt.block_on(async {
        let handle = Arc::new(std::sync::OnceLock::new());
        let builder = Server::builder().allowed_dirs([path.parent().unwrap().to_str().unwrap()]);
        let builder = if stream {
            builder.stream(path)
        } else {
            builder.datagram(path)
        };
        let server = builder.build().unwrap().channel(Demo {
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

/// `JANUS_BENCH_PROFILE=1`: ten seconds of sequential pings, client and
/// server on CPU 0, for a profiler to watch.
fn profile_loop() {
    pin_to_cpu(0);
    let dir = tempfile::Builder::new()
        .prefix("janus-prof")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("ours.sock");
    let _server = ServerProcess::start("ours", &path, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::builder()
            .reply_dir(dir.path())
            .connect(&path)
            .await
            .unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(10) {
            call(&client, None).await;
            n += 1;
        }
        println!(
            "{:.1} µs per round trip",
            start.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    });
}

// ---- the stream transport ----

/// The stream rows: the same measurements over `SOCK_STREAM`, against a
/// baseline of a blocking `std::os::unix::net::UnixStream` server (one
/// thread per connection: read a frame, parse the JSON, answer) and
/// blocking clients (one connection per caller). Ours is one client, one
/// connection, every call in flight on it.
fn stream_bench(dir: &Path, n: &dyn Fn(f64) -> usize, server_cpu: usize) {
    println!();
    println!(
        "stream transport: baseline = blocking std::os::unix::net::UnixStream server (a thread per connection; read a frame, parse the JSON, answer) and blocking clients (a connection each)"
    );
    println!(
        "ours = one client, one connection, every call in flight on it; our calls run in tasks of a 2-worker runtime"
    );
    let base_path = dir.join("stream-baseline.sock");
    let _base = ServerProcess::start("stream-baseline", &base_path, server_cpu);
    let ours_path = dir.join("ours-stream.sock");
    let _ours = ServerProcess::start("ours-stream", &ours_path, server_cpu);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(Client::connect_stream(&ours_path)).unwrap();
    // Runs a future as a task of the runtime, as application code does.
    let task = |f: std::pin::Pin<Box<dyn std::future::Future<Output = f64> + Send>>| {
        rt.block_on(async { tokio::spawn(f).await.unwrap() })
    };
    let seq = |client: &Client, samples: usize| -> Vec<Duration> {
        let client = client.clone();
        rt.block_on(async move {
            tokio::spawn(async move { ours_sequential(&client, samples, None).await })
                .await
                .unwrap()
        })
    };

    let mut base = StreamBaselineClient::connect(&base_path);
    base.sequential(n(5_000.0), &StreamBaselineClient::ping());
    seq(&client, n(5_000.0));

    let rounds = 10;
    let samples = n(30_000.0);
    let mut rows = Vec::new();
    let (mut base_lat, mut ours_lat) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_lat.extend(base.sequential(samples / rounds, &StreamBaselineClient::ping()));
        ours_lat.extend(seq(&client, samples / rounds));
    }
    rows.push(Row::latency(
        "stream sequential p50 (µs)",
        percentile(&base_lat, 0.50),
        percentile(&ours_lat, 0.50),
    ));
    rows.push(Row::latency(
        "stream sequential p99 (µs)",
        percentile(&base_lat, 0.99),
        percentile(&ours_lat, 0.99),
    ));
    for in_flight in [1, 8, 64] {
        let total = n(if in_flight == 1 { 30_000.0 } else { 100_000.0 });
        let (mut b, mut o) = (Rate::default(), Rate::default());
        for _ in 0..rounds {
            b.add(total / rounds, || {
                stream_baseline_throughput(&base_path, in_flight, total / rounds)
            });
            let c = client.clone();
            o.add(total / rounds, || {
                task(Box::pin(async move {
                    ours_throughput(&c, in_flight, total / rounds, None).await
                }))
            });
        }
        rows.push(Row::throughput(
            &format!("stream throughput, {in_flight} in flight (req/s)"),
            b.per_sec(),
            o.per_sec(),
        ));
    }
    for (mib, label) in [(1usize, "1 MiB echo"), (9, "9 MiB answer")] {
        let size = mib * 1024 * 1024;
        let count = n(if mib == 1 { 200.0 } else { 30.0 }).min(if mib == 1 { 200 } else { 30 });
        let count = count.max(5);
        let request = if mib == 1 {
            StreamBaselineClient::echo(size)
        } else {
            StreamBaselineClient::blob(size)
        };
        // Bytes that cross the socket per round trip, both ways.
        let moved = if mib == 1 { 2 * size } else { size } as f64;
        base.sequential(2, &request);
        let base_times = base.sequential(count, &request);
        let c = client.clone();
        let ours_times: Vec<Duration> = rt.block_on(async move {
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..count + 2 {
                    let start = Instant::now();
                    if mib == 1 {
                        let back = c
                            .call("demo", "echo_args", json!({"data": "e".repeat(size)}))
                            .await
                            .unwrap();
                        assert_eq!(back["data"].as_str().unwrap().len(), size);
                    } else {
                        let back = c.call("demo", "blob", json!({"len": size})).await.unwrap();
                        assert_eq!(back["data"].as_str().unwrap().len(), size);
                    }
                    if i >= 2 {
                        out.push(start.elapsed());
                    }
                }
                out
            })
            .await
            .unwrap()
        });
        let mbps = |times: &[Duration]| {
            moved * times.len() as f64 / times.iter().sum::<Duration>().as_secs_f64() / 1e6
        };
        rows.push(Row::throughput(
            &format!("stream {label} (MB/s)"),
            mbps(&base_times),
            mbps(&ours_times),
        ));
    }
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
    println!(
        "(the 1 MiB echo sends 1 MiB of arguments and gets them back; the 9 MiB row asks for a 9 MiB result, since arguments are limited to 5 MiB; the string is built per request on both sides, and the MB/s count bytes crossing the socket)"
    );
    let stats = client.stats();
    assert_eq!(stats.connections_lost, 0, "{stats:?}");
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// A blocking client of the stream baseline (or of any stream server).
struct StreamBaselineClient {
    conn: std::os::unix::net::UnixStream,
    buf: Vec<u8>,
}

impl StreamBaselineClient {
    fn connect(path: &Path) -> StreamBaselineClient {
        StreamBaselineClient {
            conn: std::os::unix::net::UnixStream::connect(path).unwrap(),
            buf: Vec::new(),
        }
    }

    fn ping() -> Value {
        json!({"request": "ping"})
    }

    fn echo(size: usize) -> Value {
        json!({"request": "echo_args", "channelId": "demo", "args": {"data": "e".repeat(size)}})
    }

    fn blob(size: usize) -> Value {
        json!({"request": "blob", "channelId": "demo", "args": {"len": size}})
    }

    /// One round trip: a request made from `template`, its answer parsed.
    fn round_trip(&mut self, template: &Value) -> Value {
        let mut request = template.clone();
        request["id"] = json!(uuid::Uuid::new_v4().to_string());
        request["timestamp"] = json!(janus_runtime::wire::timestamp_now());
        let body = serde_json::to_vec(&request).unwrap();
        write_frame(&mut self.conn, &body);
        read_frame(&mut self.conn, &mut self.buf).unwrap();
        serde_json::from_slice(&self.buf).unwrap()
    }

    fn sequential(&mut self, samples: usize, template: &Value) -> Vec<Duration> {
        (0..samples)
            .map(|_| {
                let start = Instant::now();
                let answer = self.round_trip(template);
                assert_eq!(answer["success"], true, "{answer}");
                start.elapsed()
            })
            .collect()
    }
}

fn write_frame(conn: &mut impl std::io::Write, body: &[u8]) {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    conn.write_all(&out).unwrap();
}

/// Reads one frame's payload into `buf`; `None` at the end of the stream.
fn read_frame(conn: &mut impl std::io::Read, buf: &mut Vec<u8>) -> Option<()> {
    let mut header = [0u8; 4];
    conn.read_exact(&mut header).ok()?;
    buf.resize(u32::from_be_bytes(header) as usize, 0);
    conn.read_exact(buf).ok()?;
    Some(())
}

fn stream_baseline_throughput(server: &Path, in_flight: usize, total: usize) -> f64 {
    let left = Arc::new(AtomicU64::new(total as u64));
    let clients: Vec<_> = (0..in_flight)
        .map(|_| StreamBaselineClient::connect(server))
        .collect();
    let start = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let left = left.clone();
            std::thread::spawn(move || {
                let ping = StreamBaselineClient::ping();
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    client.round_trip(&ping);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The stream baseline: a thread per connection, each reading a frame,
/// parsing the JSON and answering, in a loop.
fn stream_baseline_server(path: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            while read_frame(&mut conn, &mut buf).is_some() {
                let Ok(request) = serde_json::from_slice::<Value>(&buf) else {
                    continue;
                };
                let result = match request["request"].as_str() {
                    Some("echo_args") => request["args"].clone(),
                    Some("blob") => {
                        let len = request["args"]["len"].as_u64().unwrap_or(0) as usize;
                        json!({"data": "b".repeat(len)})
                    }
                    _ => json!({"pong": true, "timestamp": janus_runtime::wire::timestamp_now()}),
                };
                let response = json!({
                    "result": result,
                    "error": null,
                    "success": true,
                    "request_id": request["id"],
                    "id": uuid::Uuid::new_v4().to_string(),
                    "timestamp": janus_runtime::wire::timestamp_now(),
                });
                write_frame(&mut conn, &serde_json::to_vec(&response).unwrap());
            }
        });
    }
}

/// Our server on a stream socket, with the bench channel.
fn our_stream_server(path: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    serve_bench_channel(&rt, path, true);
}
