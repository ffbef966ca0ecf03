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
//! `JANUS_BENCH_CLIENT_WORKERS=N` gives our client's runtime N worker
//! threads instead of 2 (all on the client's one CPU).
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

/// Heap allocations made by this process (`alloc`, `alloc_zeroed` and
/// `realloc` calls), counted by its global allocator.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations.
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's guarantees are the system allocator's.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    // the datagram rows run twice, everything on CPU 0, then servers on
    // CPU 0 and clients on CPU 1; the stream rows put clients on CPU 0 and
    // servers on CPU 1.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_cpu = if cpus > 1 { 1 } else { 0 };
    pin_to_cpu(0);
    let dir = tempfile::Builder::new()
        .prefix("janus-bench")
        .tempdir_in("/tmp")
        .unwrap();

    let only = std::env::var("JANUS_BENCH_ONLY").unwrap_or_default();
    if only != "stream" {
        datagram_bench(dir.path(), &n, scale, cpus);
    }
    if only != "dgram" {
        stream_bench(dir.path(), &n, server_cpu);
    }
}

/// Where the bench's clients and the servers run.
#[derive(Clone, Copy)]
struct Placement {
    name: &'static str,
    server_cpu: usize,
    client_cpu: usize,
}

/// A runtime for our client, its threads on the CPU the calling thread is pinned to.
fn client_runtime() -> tokio::runtime::Runtime {
    let workers = std::env::var("JANUS_BENCH_CLIENT_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn print_rows(rows: &[Row]) {
    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "", "baseline", "ours", "ours/baseline"
    );
    for row in rows {
        println!(
            "{:<44} {:>12.1} {:>12.1} {:>13.2}x",
            row.name,
            row.baseline,
            row.ours,
            row.ours / row.baseline
        );
    }
}

/// The datagram rows: the issue's table for each placement, then
/// allocations and system calls per request, the service path, and memory.
fn datagram_bench(dir: &Path, n: &dyn Fn(f64) -> usize, scale: f64, cpus: usize) {
    println!("janus-runtime round-trip benchmark: `ping` over Unix datagram sockets");
    println!(
        "machine: {cpus} cores; baseline = blocking std::os::unix::net::UnixDatagram server that parses the JSON and replies"
    );
    println!(
        "baseline clients: a blocking thread per request in flight; ours: one client, a task per request in flight, on a 2-worker runtime"
    );
    println!("baseline and ours alternate in rounds; latencies are over all rounds");
    let mut placements = vec![Placement {
        name: "same CPU (servers and clients on CPU 0)",
        server_cpu: 0,
        client_cpu: 0,
    }];
    if cpus > 1 {
        placements.push(Placement {
            name: "different CPUs (servers on CPU 0, clients on CPU 1)",
            server_cpu: 0,
            client_cpu: 1,
        });
    }
    for (i, placement) in placements.iter().enumerate() {
        println!();
        println!("placement: {}", placement.name);
        pin_to_cpu(placement.client_cpu);
        let rt = client_runtime();
        let rows = placement_rows(dir, n, *placement, &rt, i);
        print_rows(&rows);
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    let last = *placements.last().unwrap();
    pin_to_cpu(last.client_cpu);
    let rt = client_runtime();
    println!();
    allocations_per_request(dir, n, last, &rt);
    println!();
    syscalls_per_request(dir, n, last, &rt);
    println!();
    println!("placement: {}", last.name);
    service_rows(dir, n, scale, last, &rt);
    rt.shutdown_timeout(Duration::from_secs(1));
    pin_to_cpu(0);
}

/// Sequential latency, and throughput with p50/p99 at 1, 8 and 64 in flight.
fn placement_rows(
    dir: &Path,
    n: &dyn Fn(f64) -> usize,
    placement: Placement,
    rt: &tokio::runtime::Runtime,
    index: usize,
) -> Vec<Row> {
    let base_path = dir.join(format!("baseline-{index}.sock"));
    let _base = ServerProcess::start("baseline", &base_path, placement.server_cpu);
    let ours_path = dir.join(format!("ours-{index}.sock"));
    let _ours = ServerProcess::start("ours", &ours_path, placement.server_cpu);
    let client = rt
        .block_on(Client::builder().reply_dir(dir).connect(&ours_path))
        .unwrap();
    baseline_sequential(&base_path, dir, n(5_000.0));
    ours_sequential_task(rt, &client, n(5_000.0), None);

    let rounds = 10;
    let samples = n(30_000.0);
    let mut rows = Vec::new();
    let (mut base_lat, mut ours_lat, mut outside) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_lat.extend(baseline_sequential(&base_path, dir, samples / rounds));
        ours_lat.extend(ours_sequential_task(rt, &client, samples / rounds, None));
        outside.extend(rt.block_on(ours_sequential(&client, samples / rounds / 4, None)));
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
    rows.push(Row::latency(
        "sequential p50, caller in block_on (µs)",
        percentile(&base_lat, 0.50),
        percentile(&outside, 0.50),
    ));
    for in_flight in [1, 8, 64] {
        let total = n(if in_flight == 1 { 30_000.0 } else { 100_000.0 });
        let (mut b, mut o) = (Rate::default(), Rate::default());
        let (mut b_lat, mut o_lat) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            b.add(total / rounds, || {
                let (rate, lat) = baseline_load(&base_path, dir, in_flight, total / rounds);
                b_lat.extend(lat);
                rate
            });
            o.add(total / rounds, || {
                let (rate, lat) = rt.block_on(ours_load(&client, in_flight, total / rounds, None));
                o_lat.extend(lat);
                rate
            });
        }
        rows.push(Row::throughput(
            &format!("{in_flight} in flight: throughput (req/s)"),
            b.per_sec(),
            o.per_sec(),
        ));
        rows.push(Row::latency(
            &format!("{in_flight} in flight: p50 (µs)"),
            percentile(&b_lat, 0.50),
            percentile(&o_lat, 0.50),
        ));
        rows.push(Row::latency(
            &format!("{in_flight} in flight: p99 (µs)"),
            percentile(&b_lat, 0.99),
            percentile(&o_lat, 0.99),
        ));
    }
    let stats = rt
        .block_on(client.request("demo_stats").channel("demo").send())
        .unwrap();
    let ours = client.stats();
    println!(
        "sends that found room on the fallback timer, not by a wake-up: our server {}, our client {}",
        stats["send_wait_fallbacks"], ours.send_wait_fallbacks
    );
    println!(
        "answers our callers received right after sending (not woken for): {:.1}%",
        100.0 * ours.received_by_callers as f64 / ours.answered.max(1) as f64
    );
    rows
}

/// Heap allocations per request (the counting global allocator of this
/// binary): of each server process, as it reports them, and of this
/// process while only our client runs in it.
fn allocations_per_request(
    dir: &Path,
    n: &dyn Fn(f64) -> usize,
    placement: Placement,
    rt: &tokio::runtime::Runtime,
) {
    let base_path = dir.join("baseline-alloc.sock");
    let _base = ServerProcess::start("baseline", &base_path, placement.server_cpu);
    let ours_path = dir.join("ours-alloc.sock");
    let _ours = ServerProcess::start("ours", &ours_path, placement.server_cpu);
    let client = rt
        .block_on(Client::builder().reply_dir(dir).connect(&ours_path))
        .unwrap();
    let to_base = rt
        .block_on(Client::builder().reply_dir(dir).connect(&base_path))
        .unwrap();
    let server_allocations = |c: &Client| -> u64 {
        let info = rt
            .block_on(c.request("demo_stats").channel("demo").send())
            .unwrap();
        info["allocations"].as_u64().unwrap()
    };
    println!(
        "heap allocations per request (counting allocator; server = the server process, client = this process running only our client)"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "", "baseline", "ours", "ours/baseline"
    );
    for in_flight in [1usize, 64] {
        let count = n(20_000.0);
        rt.block_on(ours_load(&client, in_flight, n(2_000.0), None));
        baseline_load(&base_path, dir, in_flight, n(2_000.0));
        let (b0, o0, c0) = (
            server_allocations(&to_base),
            server_allocations(&client),
            ALLOCATIONS.load(Ordering::Relaxed),
        );
        rt.block_on(ours_load(&client, in_flight, count, None));
        let c1 = ALLOCATIONS.load(Ordering::Relaxed);
        let o1 = server_allocations(&client);
        baseline_load(&base_path, dir, in_flight, count);
        let b1 = server_allocations(&to_base);
        let per = |a: u64, b: u64| (b - a) as f64 / count as f64;
        println!(
            "{:<44} {:>12.1} {:>12.1} {:>13.2}x",
            format!("server, {in_flight} in flight"),
            per(b0, b1),
            per(o0, o1),
            per(o0, o1) / per(b0, b1)
        );
        println!(
            "{:<44} {:>12} {:>12.1}",
            format!("our client, {in_flight} in flight"),
            "-",
            per(c0, c1)
        );
    }
}

/// System calls per request, counted by `strace -c -f` attached to each
/// server (and to this process, for our client) while only the measured
/// requests run. Tracing slows every call down, so more requests wait in
/// the queues than untraced: the figures at 64 in flight favour batching.
fn syscalls_per_request(
    dir: &Path,
    n: &dyn Fn(f64) -> usize,
    placement: Placement,
    rt: &tokio::runtime::Runtime,
) {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("system calls per request: strace is not installed; not measured");
        return;
    }
    let base_path = dir.join("baseline-strace.sock");
    let base = ServerProcess::start("baseline", &base_path, placement.server_cpu);
    let ours_path = dir.join("ours-strace.sock");
    let ours = ServerProcess::start("ours", &ours_path, placement.server_cpu);
    let client = rt
        .block_on(Client::builder().reply_dir(dir).connect(&ours_path))
        .unwrap();
    println!(
        "system calls per request (strace -c -f attached while the requests run; server = server process, client = the calling process)"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>14}",
        "", "baseline", "ours", "ours/baseline"
    );
    let me = std::process::id();
    for in_flight in [1usize, 64] {
        let count = n(5_000.0);
        rt.block_on(ours_load(&client, in_flight, n(1_000.0), None));
        baseline_load(&base_path, dir, in_flight, n(1_000.0));
        let traced = [
            Strace::attach(ours.child.id(), dir),
            Strace::attach(me, dir),
        ];
        rt.block_on(ours_load(&client, in_flight, count, None));
        let [o_server, o_client] = traced.map(Strace::calls);
        let traced = [
            Strace::attach(base.child.id(), dir),
            Strace::attach(me, dir),
        ];
        baseline_load(&base_path, dir, in_flight, count);
        let [b_server, b_client] = traced.map(Strace::calls);
        for (side, b, o) in [
            ("server", b_server, o_server),
            ("client", b_client, o_client),
        ] {
            let (b, o) = (b as f64 / count as f64, o as f64 / count as f64);
            println!(
                "{:<44} {:>12.2} {:>12.2} {:>13.2}x",
                format!("{side}, {in_flight} in flight"),
                b,
                o,
                o / b
            );
        }
    }
}

/// `strace -c -f` attached to a process, all its threads.
struct Strace {
    child: Child,
    out: PathBuf,
}

impl Strace {
    fn attach(pid: u32, dir: &Path) -> Strace {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let out = dir.join(format!(
            "strace-{}.txt",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let child = Command::new("strace")
            .args(["-c", "-f", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Attached once every thread of the process has a tracer.
        let started = Instant::now();
        let traced = || {
            std::fs::read_dir(format!("/proc/{pid}/task"))
                .unwrap()
                .flatten()
                .all(|task| {
                    std::fs::read_to_string(task.path().join("status"))
                        .unwrap_or_default()
                        .lines()
                        .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
                })
        };
        while !traced() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "strace did not attach"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Strace { child, out }
    }

    /// Detaches and returns the number of system calls seen.
    fn calls(mut self) -> u64 {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::INT,
        );
        let _ = self.child.wait();
        let summary = std::fs::read_to_string(&self.out).unwrap_or_default();
        summary
            .lines()
            .find(|l| l.trim_end().ends_with(" total"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

/// Requests through a service (argument checks, routing), one side of
/// ours against the other side of the baseline, and memory under load.
fn service_rows(
    dir: &Path,
    n: &dyn Fn(f64) -> usize,
    scale: f64,
    placement: Placement,
    rt: &tokio::runtime::Runtime,
) {
    let base_path = dir.join("baseline-svc.sock");
    let base = ServerProcess::start("baseline", &base_path, placement.server_cpu);
    let ours_path = dir.join("ours-svc.sock");
    let ours = ServerProcess::start("ours", &ours_path, placement.server_cpu);
    let client = rt
        .block_on(Client::builder().reply_dir(dir).connect(&ours_path))
        .unwrap();
    let to_base = rt
        .block_on(Client::builder().reply_dir(dir).connect(&base_path))
        .unwrap();
    baseline_sequential(&base_path, dir, n(2_000.0));
    ours_sequential_task(rt, &client, n(2_000.0), None);
    let rounds = 10;
    let samples = n(30_000.0);
    let add = Some(("demo", "add"));
    let (mut base_lat, mut add_lat) = (Vec::new(), Vec::new());
    let (mut base_tp, mut add_tp) = (Rate::default(), Rate::default());
    let (mut client_to_base, mut base_to_ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base_lat.extend(baseline_sequential(&base_path, dir, samples / rounds));
        add_lat.extend(ours_sequential_task(rt, &client, samples / rounds, add));
        base_tp.add(n(100_000.0) / rounds, || {
            baseline_throughput(&base_path, dir, 8, n(100_000.0) / rounds)
        });
        add_tp.add(n(100_000.0) / rounds, || {
            rt.block_on(ours_throughput(&client, 8, n(100_000.0) / rounds, add))
        });
        // Where the time goes: each side of ours against the other side of the baseline.
        client_to_base.extend(ours_sequential_task(rt, &to_base, samples / rounds, None));
        base_to_ours.extend(baseline_sequential(&ours_path, dir, samples / rounds));
    }
    drop(to_base);
    let base_p50 = percentile(&base_lat, 0.50);
    let rows = [
        Row::latency(
            "demo.add sequential p50 (µs)",
            base_p50,
            percentile(&add_lat, 0.50),
        ),
        Row::throughput(
            "demo.add throughput, 8 in flight (req/s)",
            base_tp.per_sec(),
            add_tp.per_sec(),
        ),
        Row::latency(
            "our client -> baseline server, p50 (µs)",
            base_p50,
            percentile(&client_to_base, 0.50),
        ),
        Row::latency(
            "baseline client -> our server, p50 (µs)",
            base_p50,
            percentile(&base_to_ours, 0.50),
        ),
    ];
    print_rows(&rows);
    println!("(demo.add rows compare our service path with the baseline's ping)");
    println!();

    // Memory of our server under sustained load.
    let served_so_far = ours.requests_served(&client, rt);
    let to_100k = 100_000u64.saturating_sub(served_so_far) as usize;
    rt.block_on(ours_throughput(&client, 64, to_100k.max(1), None));
    let rss_100k = ours.rss_kib();
    let to_1m = 1_000_000 - ours.requests_served(&client, rt).min(1_000_000);
    let load = (to_1m as f64 * scale.min(1.0)) as usize;
    let start = Instant::now();
    rt.block_on(ours_throughput(&client, 64, load.max(1), None));
    let total_served = ours.requests_served(&client, rt);
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
        let result = if request["request"] == "demo_stats" {
            // What the bench asks of every server.
            json!({"allocations": ALLOCATIONS.load(Ordering::Relaxed)})
        } else {
            json!({"pong": true, "timestamp": janus_runtime::wire::timestamp_now()})
        };
        let response = json!({
            "result": result,
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
    baseline_load(server, dir, in_flight, total).0
}

/// `total` requests from `in_flight` blocking clients: requests per
/// second, and each request's round trip.
fn baseline_load(
    server: &Path,
    dir: &Path,
    in_flight: usize,
    total: usize,
) -> (f64, Vec<Duration>) {
    let left = Arc::new(AtomicU64::new(total as u64));
    let start = Instant::now();
    let threads: Vec<_> = (0..in_flight)
        .map(|_| {
            let (socket, path) = baseline_socket(dir);
            let server = server.to_owned();
            let left = left.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                let mut times = Vec::with_capacity(total / in_flight + 1);
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    let sent = Instant::now();
                    socket
                        .send_to(&baseline_request(path.to_str().unwrap()), &server)
                        .unwrap();
                    let n = socket.recv(&mut buf).unwrap();
                    let _: Value = serde_json::from_slice(&buf[..n]).unwrap();
                    times.push(sent.elapsed());
                }
                let _ = std::fs::remove_file(path);
                times
            })
        })
        .collect();
    let mut times = Vec::with_capacity(total);
    for t in threads {
        times.extend(t.join().unwrap());
    }
    (total as f64 / start.elapsed().as_secs_f64(), times)
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

/// [`ours_sequential`] in a task of the runtime, as application code
/// calls (the loads of many calls in flight run in tasks too).
fn ours_sequential_task(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    samples: usize,
    target: Option<(&'static str, &'static str)>,
) -> Vec<Duration> {
    let client = client.clone();
    rt.block_on(async move {
        tokio::spawn(async move { ours_sequential(&client, samples, target).await })
            .await
            .unwrap()
    })
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
    ours_load(client, in_flight, total, target).await.0
}

/// `total` calls from `in_flight` tasks: calls per second, and each call's
/// round trip.
async fn ours_load(
    client: &Client,
    in_flight: usize,
    total: usize,
    target: Option<(&'static str, &'static str)>,
) -> (f64, Vec<Duration>) {
    let left = Arc::new(AtomicU64::new(total as u64));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let client = client.clone();
        let left = left.clone();
        tasks.spawn(async move {
            let mut times = Vec::with_capacity(total / in_flight + 1);
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                .is_ok()
            {
                let sent = Instant::now();
                call(&client, target).await;
                times.push(sent.elapsed());
            }
            times
        });
    }
    let mut times = Vec::with_capacity(total);
    while let Some(r) = tasks.join_next().await {
        times.extend(r.unwrap());
    }
    (total as f64 / start.elapsed().as_secs_f64(), times)
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
            _ => {
                let stats = self.handle.get().map(|h| h.stats());
                Ok(json!({
                    "answered": stats.as_ref().map_or(0, |s| s.answered),
                    "send_wait_fallbacks": stats.as_ref().map_or(0, |s| s.send_wait_fallbacks),
                    "allocations": ALLOCATIONS.load(Ordering::Relaxed),
                }))
            }
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
/// server on CPU 0, for a profiler to watch; `JANUS_BENCH_PROFILE=64`: of
/// 64 pings in flight (any number: that many).
fn profile_loop() {
    let in_flight: usize = std::env::var("JANUS_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    pin_to_cpu(0);
    let dir = tempfile::Builder::new()
        .prefix("janus-prof")
        .tempdir_in("/tmp")
        .unwrap();
    let path = dir.path().join("ours.sock");
    let _server = ServerProcess::start("ours", &path, 0);
    let rt = client_runtime();
    let reply_dir = dir.path().to_owned();
    rt.block_on(async move {
        tokio::spawn(async move {
            let client = Client::builder()
                .reply_dir(&reply_dir)
                .connect(&path)
                .await
                .unwrap();
            if in_flight > 1 {
                // About ten seconds' worth at this machine's rate.
                let (rate, _) = ours_load(&client, in_flight, 800_000, None).await;
                println!("{rate:.0} requests/s at {in_flight} in flight");
                return;
            }
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
        })
        .await
        .unwrap()
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
