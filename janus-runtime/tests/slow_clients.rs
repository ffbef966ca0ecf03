//! A client that stops reading its answers delays nobody else.

mod common;

use std::time::Duration;

use common::{Harness, now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_delay_others() {
    let h = Harness::start_with(|b| b.shutdown_grace(Duration::from_millis(100)), |s, _| s).await;
    // A sends many requests with a long timeout and never reads: its queue
    // fills and the server has answers waiting for room until A's deadline.
    let stuck = h.peer("stuck.sock");
    for i in 0..50 {
        let r = json!({"id": format!("a{i}"), "request": "ping", "reply_to": stuck.path_str(), "timestamp": now(), "timeout": 120});
        stuck.send(r.to_string().as_bytes()).await;
    }
    // B also lets its queue fill before reading, so its answers wait too.
    let slow = h.peer("slow.sock");
    for i in 0..30 {
        let r = json!({"id": format!("b{i}"), "request": "ping", "reply_to": slow.path_str(), "timestamp": now(), "timeout": 5});
        slow.send(r.to_string().as_bytes()).await;
    }
    // Wait until both queues are full (11 answers each, the kernel's
    // net.unix.max_dgram_qlen + 1) and the rest of the answers wait for room.
    for _ in 0..2000 {
        let s = h.handle.stats();
        if s.received >= 80 && s.answered >= 22 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // All of B's answers arrive well before A's deadline.
    let mut ids = Vec::new();
    for _ in 0..30 {
        let answer = slow
            .recv_within(Duration::from_secs(5))
            .await
            .expect("B's answer was held up");
        ids.push(answer["request_id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    let mut expected: Vec<String> = (0..30).map(|i| format!("b{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    // A regular client is unaffected too.
    let client = h.client().await;
    assert_eq!(
        client
            .request("ping")
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap()["pong"],
        true
    );
    // Shutdown does not wait for A's deadline.
    tokio::time::timeout(Duration::from_secs(10), h.handle.shutdown())
        .await
        .expect("shutdown was held up");
    assert!(h.handle.stats().dropped.receiver_queue_full > 0);
}
