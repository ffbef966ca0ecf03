//! No reflection loops: a server never answers an answer, never sends to its
//! own socket (however its path is spelled), and two servers pointed at each
//! other by one datagram go quiet after it. Every check is on the servers'
//! counters, never on time.

mod common;

use common::{Harness, Peer, TestService, now};
use janus_runtime::{Server, ServerHandle, ServerStats};
use serde_json::{Value, json};

/// A second server, in the first one's allowed directory.
fn second_server(h: &Harness) -> (ServerHandle, String) {
    let path = h.allowed.join("other.sock");
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let handle = Server::builder()
        .allowed_dirs([h.allowed.to_str().unwrap()])
        .bind(&path)
        .unwrap()
        .channel(TestService::new("test", tx))
        .spawn();
    (handle, path.to_str().unwrap().to_owned())
}

/// Waits (bounded) until `handle`'s counters satisfy `done`.
async fn counters(handle: &ServerHandle, done: impl Fn(&ServerStats) -> bool) -> ServerStats {
    for _ in 0..2000 {
        let s = handle.stats();
        if done(&s) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("counters never got there: {:?}", handle.stats());
}

/// Every datagram received is accounted for and nothing is running.
fn settled(s: &ServerStats, received: u64) -> bool {
    s.received == received
        && s.in_flight == 0
        && s.held_answers == 0
        && s.answered + s.dropped.total() + s.notifications == s.received
}

/// A ping from a fresh bound peer is answered (the server is alive and
/// its counters move by exactly this request).
async fn ping(handle_dir: &Harness, server: &str) {
    let peer = Peer::bound(
        &handle_dir
            .allowed
            .join(format!("ping-{}.sock", common::uuid_like())),
        std::path::Path::new(server),
    );
    let got = peer
        .request(
            json!({"id": "p", "request": "ping", "reply_to": peer.path_str(), "timestamp": now()}),
        )
        .await
        .expect("ping answered");
    assert_eq!(got["result"]["pong"], true, "{got}");
}

#[tokio::test]
async fn two_servers_pointed_at_each_other_are_idle_after_one_datagram() {
    let h = Harness::start().await;
    let (other, other_path) = second_server(&h);
    let server = h.server_path.to_str().unwrap().to_owned();
    let anonymous = h.anonymous();

    // A request whose answer goes to the other server, and a malformed one
    // whose error goes there too: each is answered once, and the other server
    // drops what it gets (it is not a request).
    for datagram in [
        json!({"id": "r1", "request": "ping", "reply_to": other_path, "timestamp": now()}),
        json!({"id": 7, "request": "ping", "reply_to": other_path, "timestamp": now()}),
    ] {
        anonymous.send(datagram.to_string().as_bytes()).await;
    }
    let first = counters(&h.handle, |s| settled(s, 2)).await;
    let second = counters(&other, |s| settled(s, 2)).await;
    assert_eq!((first.answered, first.errors), (2, 1), "{first:?}");
    assert_eq!(first.dropped.total(), 0, "{first:?}");
    assert_eq!(second.answered, 0, "{second:?}");
    assert_eq!(second.dropped.not_a_request, 2, "{second:?}");

    // Both still serve, and nothing else reached either of them.
    ping(&h, &server).await;
    ping(&h, &other_path).await;
    let first = counters(&h.handle, |s| settled(s, 3)).await;
    let second = counters(&other, |s| settled(s, 3)).await;
    assert_eq!(first.answered, 3, "{first:?}");
    assert_eq!(second.answered, 1, "{second:?}");
    other.shutdown().await;
}

#[tokio::test]
async fn a_reply_to_naming_the_servers_own_socket_gets_no_answer() {
    let h = Harness::start().await;
    let own = h.server_path.to_str().unwrap().to_owned();
    // The same socket, spelled otherwise: only its identity (device, inode) tells.
    let respelled = format!("{}/./server.sock", h.allowed.display());
    let anonymous = h.anonymous();
    let datagrams: Vec<Value> = vec![
        json!({"id": "r1", "request": "ping", "reply_to": own, "timestamp": now()}),
        json!({"id": "r2", "request": "ping", "reply_to": respelled, "timestamp": now()}),
        // Malformed, with its error to go to the server itself.
        json!({"id": 7, "request": "ping", "reply_to": own, "timestamp": now()}),
    ];
    for (i, datagram) in datagrams.iter().enumerate() {
        anonymous.send(datagram.to_string().as_bytes()).await;
        let s = counters(&h.handle, |s| settled(s, i as u64 + 1)).await;
        assert_eq!(s.answered, 0, "{datagram}: {s:?}");
        assert_eq!(s.dropped.own_socket, i as u64 + 1, "{datagram}: {s:?}");
    }
    h.assert_alive().await;
    let s = counters(&h.handle, |s| settled(s, 4)).await;
    assert_eq!(s.answered, 1, "{s:?}");
}

#[tokio::test]
async fn answers_and_things_that_are_not_requests_are_never_answered() {
    let h = Harness::start().await;
    let peer = h.peer("talker.sock");
    let answer = br#"{"id":"8a6e0804-2bd0-4672-b79d-d97027f9071a","request_id":"r1","success":true,"result":{"pong":true},"timestamp":"2025-08-06T12:34:56.789Z"}"#;
    let datagrams: [&[u8]; 5] = [
        answer,
        br#"{"commandId":"r1","channelId":"c","success":true,"result":null,"timestamp":1722249001.234}"#,
        br#"{"type":"response","payload":"e30="}"#,
        br#"{"payload":"e30="}"#,
        br#"{}"#,
    ];
    for (i, datagram) in datagrams.iter().enumerate() {
        peer.send(datagram).await;
        let s = counters(&h.handle, |s| settled(s, i as u64 + 1)).await;
        assert_eq!(
            s.answered,
            0,
            "{}: {s:?}",
            String::from_utf8_lossy(datagram)
        );
        assert_eq!(s.dropped.not_a_request, i as u64 + 1, "{s:?}");
    }
    assert!(peer.try_recv().is_none());
    h.assert_alive().await;
}

#[tokio::test]
async fn error_answers_to_malformed_input_are_rate_limited_per_sender() {
    let h = Harness::start().await;
    let flooder = std::sync::Arc::new(h.peer("flooder.sock"));
    // The flooder reads everything it is sent, so no answer waits for room.
    let reader = {
        let flooder = flooder.clone();
        tokio::spawn(async move {
            let mut got = 0u64;
            while flooder
                .recv_within(std::time::Duration::from_secs(2))
                .await
                .is_some()
            {
                got += 1;
            }
            got
        })
    };
    const SENT: u64 = 200;
    for _ in 0..SENT {
        flooder.send(b"{oops").await;
    }
    let s = counters(&h.handle, |s| settled(s, SENT)).await;
    // The burst is answered (and at most a few more, refilled while the
    // flood lasts); the rest is dropped and counted.
    assert!((32..=40).contains(&s.answered), "{s:?}");
    assert_eq!(s.answered + s.dropped.rate_limited, SENT, "{s:?}");
    // Another sender is not affected, nor are requests.
    let other = h.peer("other.sock");
    other.send(b"{oops").await;
    assert_eq!(other.recv().await["error"]["code"], -32700);
    h.assert_alive().await;
    assert_eq!(reader.await.unwrap(), s.answered);
}
