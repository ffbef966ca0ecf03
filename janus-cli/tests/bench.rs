//! `janus bench` as a process against `janus serve`: small runs with
//! `--json`, errors counted by code, a timed run, and no server at all.
//! Figures are printed, never compared with wall-clock expectations.

mod common;

use common::{Serve, janus_run, manifest, temp_dir};
use serde_json::Value;

fn bench(extra: &[&str]) -> Value {
    let serve = Serve::start(&manifest("user-management.json"), &["--quiet"]);
    let mut args = vec!["bench".to_owned(), serve.sock()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = janus_run(&args).expect_code(0);
    // Piped: no progress bar.
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let (status, ..) = serve.interrupt();
    assert!(status.success());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn a_small_run_reports_counts_and_percentiles_as_json() {
    let report = bench(&["-n", "300", "-c", "4", "--json"]);
    assert_eq!(report["requests"], 300);
    assert_eq!(report["ok"], 300);
    assert_eq!(report["errors"], serde_json::json!({}));
    assert_eq!(report["concurrency"], 4);
    assert_eq!(report["request"], "ping");
    assert!(report["requests_per_sec"].as_f64().unwrap() > 0.0);
    let lat = &report["latency_ms"];
    let figures: Vec<f64> = ["min", "p50", "p90", "p99", "p99.9", "max"]
        .iter()
        .map(|k| lat[k].as_f64().unwrap_or_else(|| panic!("{k} in {lat}")))
        .collect();
    assert!(
        figures.windows(2).all(|w| w[0] <= w[1]),
        "percentiles in order: {lat}"
    );
    println!("{report}");
}

#[test]
fn error_responses_are_counted_by_code() {
    let report = bench(&[
        "-n",
        "50",
        "-c",
        "2",
        "--json",
        "--request",
        "create-user",
        "--args",
        r#"{"username": "jo", "email": "a@b.cc"}"#,
    ]);
    assert_eq!(report["requests"], 50);
    assert_eq!(report["ok"], 0);
    assert_eq!(report["errors"]["-32602 Invalid params"], 50);
    assert!(
        report["latency_ms"]["p50"].as_f64().is_some(),
        "answered errors are timed"
    );
}

#[test]
fn a_timed_run_and_the_text_report() {
    let serve = Serve::start(&manifest("user-management.json"), &["--quiet"]);
    let sock = serve.sock();
    let out = janus_run(&[
        "bench",
        &sock,
        "-d",
        "0.3",
        "-c",
        "2",
        "--request",
        "create-user",
        "--args",
        r#"{"username": "john", "email": "j@example.com"}"#,
    ])
    .expect_code(0);
    serve.interrupt();
    let text = out.stdout;
    assert!(
        text.starts_with(&format!("create-user on {sock}, 2 in flight\n")),
        "{text}"
    );
    assert!(text.contains("\nrequests    "), "{text}");
    assert!(text.contains(" ok, 0 errors) in "), "{text}");
    assert!(text.contains("\nthroughput  "), "{text}");
    assert!(text.contains("\nlatency ms  p50 "), "{text}");
    assert!(text.contains(" p99.9 ") && text.contains(" max "), "{text}");
    println!("{text}");
}

#[test]
fn no_server_stops_at_once_with_exit_4() {
    let dir = temp_dir();
    let nobody = dir.path().join("nobody.sock");
    let out = janus_run(&[
        "bench".as_ref(),
        nobody.as_os_str(),
        "-n".as_ref(),
        "1000".as_ref(),
    ])
    .expect_code(4);
    assert!(
        out.stderr.contains("no server is receiving"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    // -n and -d exclude each other.
    janus_run(&[
        "bench".as_ref(),
        nobody.as_os_str(),
        "-n".as_ref(),
        "1".as_ref(),
        "-d".as_ref(),
        "1".as_ref(),
    ])
    .expect_code(2);
}
