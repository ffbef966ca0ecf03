//! Throughput of the jANu server against plain file-system baselines
//! measured in the same run, on the same files:
//!
//! 1. FetchFileTree of a workspace of 100,000 files (1,000 directories of
//!    100) against a recursive `std::fs` walk that reads and hashes every
//!    file with SHA-256 (what the server must do to answer);
//! 2. push of 1 GiB in 1,000 files into an empty workspace (reading and
//!    hashing the local tree, the remote tree, the transfer, the server's
//!    validated atomic writes) against `std::fs::copy` of the same files,
//!    and against `std::fs::copy` followed by an fsync of each file (the
//!    server fsyncs every file it writes).
//!
//! Both go over a Unix stream socket. Run with `cargo bench -p janus-sync`;
//! `JANUS_SYNC_BENCH_SCALE=0.1` scales the file counts and the pushed bytes
//! down (0.1: 10,000 files and 100 MiB), `JANUS_SYNC_BENCH_REPS` sets the
//! repetitions (default 3; the best of each is reported).

use std::path::Path;
use std::time::{Duration, Instant};

use janus_sync::mirror::{self, BatchLimits};
use janus_sync::{SyncAddr, SyncClient, SyncServer, Workspace, WorkspaceKey};
use sha2::{Digest, Sha256};

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

/// Deterministic, incompressible bytes (xorshift64*), distinct per seed.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// The baseline of a tree fetch: walk, read and hash every file.
fn walk_and_hash(dir: &Path) -> usize {
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type().expect("file type");
        let p = e.path();
        if ft.is_dir() {
            n += 1 + walk_and_hash(&p);
        } else if ft.is_file() {
            let _meta = std::fs::symlink_metadata(&p).expect("metadata");
            let digest = Sha256::digest(std::fs::read(&p).expect("readable"));
            std::hint::black_box(digest);
            n += 1;
        }
    }
    n
}

fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let mut min = Duration::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        let v = f();
        min = min.min(t.elapsed());
        out = Some(v);
    }
    (min, out.expect("at least one repetition"))
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

async fn start(tmp: &Path, name: &str, ws: &Path, key: &WorkspaceKey) -> (SyncServer, SyncAddr) {
    let server = SyncServer::builder()
        .listen(SyncAddr::Unix(tmp.join(format!("{name}.sock"))))
        .workspace("bench", ws, key.clone())
        .start()
        .await
        .expect("server starts");
    let addr = server.local_addrs()[0].clone();
    (server, addr)
}

async fn tree_bench(tmp: &Path, scale: f64, reps: usize, key: &WorkspaceKey) {
    let dirs = ((1000.0 * scale).round() as usize).max(1);
    let per_dir = 100;
    let ws = tmp.join("tree");
    let mut content = [0u8; 64];
    for d in 0..dirs {
        let dir = ws.join(format!("d{d:04}"));
        std::fs::create_dir_all(&dir).expect("dir");
        for f in 0..per_dir {
            fill(&mut content, (d * per_dir + f) as u64);
            std::fs::write(dir.join(format!("f{f:03}")), content).expect("file");
        }
    }
    let files = dirs * per_dir;
    let (server, addr) = start(tmp, "tree", &ws, key).await;
    let mut client = SyncClient::open(&addr, "bench", key).await.expect("client");
    // One unmeasured run of each, so both start with a warm page cache.
    walk_and_hash(&ws);
    client.file_tree().await.expect("tree");

    let (walk, n) = best(reps, || walk_and_hash(&ws));
    assert_eq!(n, files + dirs);
    let mut fetch = Duration::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        let tree = client.file_tree().await.expect("tree");
        fetch = fetch.min(t.elapsed());
        assert_eq!(tree.entries.len(), files + dirs);
    }
    println!("tree of {files} files in {dirs} directories (best of {reps}):");
    println!(
        "  std::fs walk + read + SHA-256   {:>9.1} ms",
        walk.as_secs_f64() * 1e3
    );
    println!(
        "  FetchFileTree over Unix socket  {:>9.1} ms",
        fetch.as_secs_f64() * 1e3
    );
    println!(
        "  ratio FetchFileTree / walk      {:>9.2}",
        fetch.as_secs_f64() / walk.as_secs_f64()
    );
    server.shutdown().await;
    std::fs::remove_dir_all(&ws).expect("cleanup");
}

async fn push_bench(tmp: &Path, scale: f64, reps: usize, key: &WorkspaceKey) {
    let files = ((1000.0 * scale).round() as usize).max(1);
    let size = 1 << 20;
    let total = (files * size) as u64;
    let src = tmp.join("src");
    std::fs::create_dir(&src).expect("src");
    let mut buf = vec![0u8; size];
    for i in 0..files {
        fill(&mut buf, 1_000_000 + i as u64);
        std::fs::write(src.join(format!("file{i:04}.bin")), &buf).expect("file");
    }
    let names: Vec<_> = (0..files).map(|i| format!("file{i:04}.bin")).collect();

    let copy = |sync: bool, round: usize| {
        let dst = tmp.join(format!("copy-{sync}-{round}"));
        std::fs::create_dir(&dst).expect("dst");
        let t = Instant::now();
        for n in &names {
            std::fs::copy(src.join(n), dst.join(n)).expect("copy");
            if sync {
                std::fs::File::open(dst.join(n))
                    .and_then(|f| f.sync_all())
                    .expect("fsync");
            }
        }
        let d = t.elapsed();
        std::fs::remove_dir_all(&dst).expect("cleanup");
        d
    };
    let mut plain = Duration::MAX;
    let mut synced = Duration::MAX;
    let mut push = Duration::MAX;
    let local = Workspace::open(&src).expect("local");
    for round in 0..reps {
        plain = plain.min(copy(false, round));
        synced = synced.min(copy(true, round));

        let ws = tmp.join(format!("ws-{round}"));
        std::fs::create_dir(&ws).expect("ws");
        let (server, addr) = start(tmp, &format!("push-{round}"), &ws, key).await;
        let t = Instant::now();
        let mut client = SyncClient::open(&addr, "bench", key).await.expect("client");
        let diff = mirror::diff(
            &local.file_tree().expect("local tree"),
            &client.file_tree().await.expect("remote tree"),
            false,
        );
        let report = mirror::push(&mut client, &local, &diff, &BatchLimits::default(), |_| {})
            .await
            .expect("push");
        push = push.min(t.elapsed());
        assert_eq!(report.bytes_written, total);
        server.shutdown().await;
        std::fs::remove_dir_all(&ws).expect("cleanup");
    }
    let mib = total >> 20;
    println!("push of {mib} MiB in {files} files (best of {reps}):");
    println!(
        "  std::fs::copy                   {:>9.1} ms  {:>8.1} MiB/s",
        plain.as_secs_f64() * 1e3,
        mib_per_s(total, plain)
    );
    println!(
        "  std::fs::copy + fsync           {:>9.1} ms  {:>8.1} MiB/s",
        synced.as_secs_f64() * 1e3,
        mib_per_s(total, synced)
    );
    println!(
        "  janus push over Unix socket     {:>9.1} ms  {:>8.1} MiB/s",
        push.as_secs_f64() * 1e3,
        mib_per_s(total, push)
    );
    println!(
        "  ratio push / copy               {:>9.2}",
        push.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "  ratio push / (copy + fsync)     {:>9.2}",
        push.as_secs_f64() / synced.as_secs_f64()
    );
    std::fs::remove_dir_all(&src).expect("cleanup");
}

#[tokio::main]
async fn main() {
    let scale = env_f64("JANUS_SYNC_BENCH_SCALE", 1.0);
    let reps = env_f64("JANUS_SYNC_BENCH_REPS", 3.0) as usize;
    let tmp = tempfile::tempdir().expect("temp dir");
    let key = WorkspaceKey::generate().expect("key");
    println!("janus-sync bench, scale {scale}, {reps} repetition(s)");
    tree_bench(tmp.path(), scale, reps.max(1), &key).await;
    push_bench(tmp.path(), scale, reps.max(1), &key).await;
}
