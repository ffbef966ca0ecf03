//! Many clients with many requests in flight on one server: every answer
//! correct and matched to its own request.

mod common;

use common::Harness;
use serde_json::json;
use tokio::task::JoinSet;

const CLIENTS: i64 = 8;
const REQUESTS_PER_CLIENT: i64 = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_with_two_thousand_requests_in_flight_each() {
    let h = Harness::start_with(
        |b| b.max_in_flight(CLIENTS as usize * REQUESTS_PER_CLIENT as usize),
        |s, _| s,
    )
    .await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(
            janus_runtime::Client::builder()
                .reply_dir(&h.allowed)
                .max_pending(REQUESTS_PER_CLIENT as usize)
                .connect(&h.server_path)
                .await
                .unwrap(),
        );
    }
    let mut calls = JoinSet::new();
    for (c, client) in clients.iter().enumerate() {
        for i in 0..REQUESTS_PER_CLIENT {
            let client = client.clone();
            // Distinct arguments per request, so a mixed-up answer shows.
            let a = (c as i64) * 1_000_000 + i;
            let b = i * 7;
            calls.spawn(async move {
                let got = client.call("test", "add", json!({"a": a, "b": b})).await;
                (a, b, got)
            });
        }
    }
    let mut ok = 0;
    while let Some(joined) = calls.join_next().await {
        let (a, b, got) = joined.unwrap();
        let got = got.unwrap_or_else(|e| panic!("call add({a}, {b}) failed: {e}"));
        assert_eq!(got, json!({"sum": a + b}));
        ok += 1;
    }
    assert_eq!(ok, CLIENTS * REQUESTS_PER_CLIENT);
    for client in &clients {
        let s = client.stats();
        assert_eq!(s.answered, REQUESTS_PER_CLIENT as u64, "{s:?}");
        assert_eq!(
            (s.pending, s.late_replies, s.uncorrelated, s.malformed),
            (0, 0, 0, 0),
            "{s:?}"
        );
    }
    h.settled().await;
    let stats = h.handle.stats();
    assert_eq!(
        stats.answered,
        (CLIENTS * REQUESTS_PER_CLIENT) as u64,
        "{stats:?}"
    );
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert_eq!(stats.dropped.total(), 0, "{stats:?}");
}
