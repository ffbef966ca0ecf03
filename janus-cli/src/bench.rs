//! `janus bench`: a load generator on one client.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use janus_runtime::{CallError, Client, ErrorCode};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::cli::BenchArgs;
use crate::output::{call_failure, connect, out, outln};
use crate::{Exit, Failure};

/// Requests sent when neither `-n` nor `-d` is given.
const DEFAULT_REQUESTS: u64 = 10_000;
/// The slowest latency the histogram keeps exactly: 10 minutes, in nanoseconds.
const MAX_LATENCY_NS: u64 = 600_000_000_000;

/// When a run stops.
#[derive(Debug, Clone, Copy)]
enum Stop {
    After(u64),
    At(Instant),
}

/// What one worker saw.
struct Tally {
    latencies: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Result<Self, Failure> {
        Ok(Self {
            latencies: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .map_err(|e| Failure::new(Exit::Failure, format!("histogram: {e}")))?,
            ok: 0,
            errors: BTreeMap::new(),
        })
    }
}

/// The shared state of one run.
struct Run {
    client: Client,
    request: String,
    channel: Option<String>,
    args: Option<Value>,
    timeout: Duration,
    stop: Stop,
    issued: AtomicU64,
    done: AtomicU64,
    /// Set when the user interrupts the run: no request is started after it.
    interrupted: AtomicBool,
}

impl Run {
    async fn once(&self) -> Result<Value, CallError> {
        let mut call = self.client.request(&self.request).timeout(self.timeout);
        if let Some(channel) = &self.channel {
            call = call.channel(channel);
        }
        if let Some(args) = &self.args {
            call = call.args(args.clone());
        }
        call.send().await
    }

    /// Claims the next request, or says the run is over.
    fn next(&self) -> bool {
        if self.interrupted.load(Relaxed) {
            return false;
        }
        match self.stop {
            Stop::After(n) => self.issued.fetch_add(1, Relaxed) < n,
            Stop::At(deadline) => Instant::now() < deadline,
        }
    }
}

async fn worker(run: Arc<Run>, mut interrupted: watch::Receiver<bool>) -> Result<Tally, Failure> {
    let mut tally = Tally::new()?;
    while run.next() {
        let start = Instant::now();
        // A request still in flight when the user interrupts is not counted.
        let outcome = tokio::select! {
            outcome = run.once() => outcome,
            _ = interrupted.wait_for(|stop| *stop) => break,
        };
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let answered = match outcome {
            Ok(_) => {
                tally.ok += 1;
                true
            }
            Err(e) => {
                *tally.errors.entry(error_key(&e)).or_default() += 1;
                e.error_object().is_some()
            }
        };
        if answered {
            tally.latencies.saturating_record(ns.max(1));
        }
        run.done.fetch_add(1, Relaxed);
    }
    Ok(tally)
}

/// How an error is counted: the code and message of an error response,
/// otherwise the kind of failure.
fn error_key(error: &CallError) -> String {
    match error.error_object() {
        Some(e) => match ErrorCode::from_code(e.code) {
            Some(code) => format!("{} {}", e.code, code.message()),
            None => format!("{} {}", e.code, e.message),
        },
        None => match error {
            CallError::Timeout { .. } => "timeout".to_owned(),
            CallError::Transport { .. } => "transport".to_owned(),
            CallError::Busy { .. } => "busy".to_owned(),
            CallError::TooLarge { .. } | CallError::ResponseTooLarge { .. } => {
                "too large".to_owned()
            }
            _ => "other".to_owned(),
        },
    }
}

pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    let request_args = match &args.args {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| Failure::new(Exit::Usage, format!("--args is not JSON: {e}")))?,
        ),
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    let concurrency = args.concurrency as usize;
    let mut interruption = Box::pin(crate::interruption()?);
    let client = tokio::select! {
        client = connect(
            &args.socket,
            &args.reply_dir,
            timeout,
            concurrency,
            &args.wire,
            args.channel.as_deref(),
        ) => client?,
        () = &mut interruption => return Err(crate::interrupted_failure()),
    };

    let mut run = Run {
        client,
        request: args.request.clone(),
        channel: args.channel.clone(),
        args: request_args,
        timeout,
        stop: Stop::After(0),
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        interrupted: AtomicBool::new(false),
    };
    // One unmeasured request: stop early when nobody answers.
    let first = tokio::select! {
        first = run.once() => first,
        () = &mut interruption => return Err(crate::interrupted_failure()),
    };
    if let Err(e @ (CallError::Timeout { .. } | CallError::Transport { .. })) = first {
        return Err(call_failure(&args.socket, e));
    }

    let target = match (args.requests, args.duration) {
        (_, Some(secs)) => Target::Time(Duration::from_secs_f64(secs)),
        (Some(n), None) => Target::Count(n),
        (None, None) => Target::Count(DEFAULT_REQUESTS),
    };
    let progress = progress_bar(target);
    let started = Instant::now();
    run.stop = match target {
        Target::Count(n) => Stop::After(n),
        Target::Time(d) => Stop::At(started + d),
    };
    let run = Arc::new(run);
    let (interrupt, interrupted) = watch::channel(false);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(run.clone(), interrupted.clone())))
        .collect();
    let watcher = {
        let run = run.clone();
        tokio::spawn(async move {
            interruption.await;
            run.interrupted.store(true, Relaxed);
            let _ = interrupt.send(true);
        })
    };
    let ticker = {
        let run = run.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match target {
                    Target::Count(_) => progress.set_position(run.done.load(Relaxed)),
                    Target::Time(_) => {
                        progress.set_position(started.elapsed().as_millis() as u64);
                        progress.set_message(format!("{} requests", run.done.load(Relaxed)));
                    }
                }
            }
        })
    };
    let mut total = Tally::new()?;
    for w in workers {
        let tally = w
            .await
            .map_err(|e| Failure::new(Exit::Failure, format!("a bench worker failed: {e}")))??;
        total.ok += tally.ok;
        for (k, n) in tally.errors {
            *total.errors.entry(k).or_default() += n;
        }
        total
            .latencies
            .add(&tally.latencies)
            .map_err(|e| Failure::new(Exit::Failure, format!("histogram: {e}")))?;
    }
    let elapsed = started.elapsed();
    ticker.abort();
    watcher.abort();
    progress.finish_and_clear();
    let interrupted = run.interrupted.load(Relaxed);

    let report = Report {
        socket: args.socket.display().to_string(),
        request: args.request.clone(),
        concurrency: args.concurrency,
        tally: total,
        elapsed,
        interrupted,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report.json())
            .map_err(|e| Failure::new(Exit::Failure, format!("cannot print the report: {e}")))?;
        outln(&text);
    } else {
        out(&report.text());
    }
    if interrupted {
        return Err(crate::interrupted_failure());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Count(u64),
    Time(Duration),
}

fn progress_bar(target: Target) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match target {
        Target::Count(n) => (
            ProgressBar::new(n),
            "{bar:40.cyan/blue} {pos}/{len} requests  {per_sec}  eta {eta}",
        ),
        Target::Time(d) => (
            ProgressBar::new(d.as_millis() as u64),
            "{bar:40.cyan/blue} {elapsed} of {duration}  {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}

struct Report {
    socket: String,
    request: String,
    concurrency: u64,
    tally: Tally,
    elapsed: Duration,
    /// The user stopped the run early: the figures cover what was answered
    /// before.
    interrupted: bool,
}

impl Report {
    fn completed(&self) -> u64 {
        self.tally.ok + self.tally.errors.values().sum::<u64>()
    }

    fn per_sec(&self) -> f64 {
        self.completed() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Latency figures in milliseconds: name and value.
    fn latencies(&self) -> Vec<(&'static str, f64)> {
        let h = &self.tally.latencies;
        if h.is_empty() {
            return Vec::new();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        vec![
            ("min", ms(h.min())),
            ("mean", h.mean() / 1e6),
            ("p50", ms(h.value_at_quantile(0.5))),
            ("p90", ms(h.value_at_quantile(0.9))),
            ("p99", ms(h.value_at_quantile(0.99))),
            ("p99.9", ms(h.value_at_quantile(0.999))),
            ("max", ms(h.max())),
        ]
    }

    fn text(&self) -> String {
        let errors: u64 = self.tally.errors.values().sum();
        let mut out = format!(
            "{} on {}, {} in flight\n",
            self.request, self.socket, self.concurrency
        );
        out.push_str(&format!(
            "requests    {} ({} ok, {errors} errors) in {:.3} s\n",
            self.completed(),
            self.tally.ok,
            self.elapsed.as_secs_f64()
        ));
        if self.interrupted {
            out.push_str("interrupted: these figures cover the requests answered before\n");
        }
        out.push_str(&format!("throughput  {:.0} requests/s\n", self.per_sec()));
        let lat = self.latencies();
        if !lat.is_empty() {
            let figures: Vec<String> = lat
                .iter()
                .filter(|(name, _)| !matches!(*name, "min" | "mean"))
                .map(|(name, v)| format!("{name} {v:.3}"))
                .collect();
            out.push_str(&format!("latency ms  {}\n", figures.join("  ")));
        }
        for (kind, n) in &self.tally.errors {
            out.push_str(&format!("errors      {kind}: {n}\n"));
        }
        out
    }

    fn json(&self) -> Value {
        let latency: serde_json::Map<String, Value> = self
            .latencies()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        json!({
            "socket": self.socket,
            "request": self.request,
            "concurrency": self.concurrency,
            "requests": self.completed(),
            "ok": self.tally.ok,
            "errors": self.tally.errors,
            "elapsed_secs": self.elapsed.as_secs_f64(),
            "requests_per_sec": self.per_sec(),
            "latency_ms": latency,
            "interrupted": self.interrupted,
        })
    }
}
