//! A client that stops reading its answers delays nobody else.

mod common;

use std::time::Duration;

use common::{Harness, now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_delay_others() {
    let h = Harness::start_with(|b| b.shutdown_grace(Duration::from_millis(100)), |s, _| s).await;
    // A datagram socket's queue holds `net.unix.max_dgram_qlen` datagrams
    // (plus one: the kernel checks before queueing), whatever this machine's
    // setting is.
    let qlen: u64 = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .expect("net.unix.max_dgram_qlen is readable")
        .trim()
        .parse()
        .expect("net.unix.max_dgram_qlen is a number");
    let fits = qlen + 1;
    // A sends more requests than its queue holds, with a long timeout, and
    // never reads: its queue fills and the server has answers waiting for
    // room until A's deadline.
    let stuck = h.peer("stuck.sock");
    let a_count = fits + 40;
    for i in 0..a_count {
        let r = json!({"id": format!("a{i}"), "request": "ping", "reply_to": stuck.path_str(), "timestamp": now(), "timeout": 120});
        stuck.send(r.to_string().as_bytes()).await;
    }
    // B also lets its queue fill before reading, so its answers wait too.
    let slow = h.peer("slow.sock");
    let b_count = fits + 20;
    for i in 0..b_count {
        let r = json!({"id": format!("b{i}"), "request": "ping", "reply_to": slow.path_str(), "timestamp": now(), "timeout": 5});
        slow.send(r.to_string().as_bytes()).await;
    }
    // Wait until both queues are full and the rest of the answers wait for
    // room: the server has received everything and delivered exactly what fits.
    let mut filled = false;
    for _ in 0..5000 {
        let s = h.handle.stats();
        assert!(
            s.answered <= 2 * fits,
            "more answers delivered than fit: {s:?}"
        );
        if s.received >= a_count + b_count && s.answered == 2 * fits {
            filled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(filled, "the queues never filled: {:?}", h.handle.stats());
    // All of B's answers arrive well before A's deadline.
    let mut ids = Vec::new();
    for _ in 0..b_count {
        let answer = slow
            .recv_within(Duration::from_secs(5))
            .await
            .expect("B's answer was held up");
        ids.push(answer["request_id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    let mut expected: Vec<String> = (0..b_count).map(|i| format!("b{i}")).collect();
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
