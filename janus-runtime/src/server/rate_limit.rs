//! Per-sender rate limits for error answers to malformed input.
//!
//! Each sender has a token bucket: [`BURST`] error answers at once, then
//! [`PER_SECOND`]; beyond that, malformed input is dropped (counted as
//! `rate_limited`) instead of answered. The table is bounded: at
//! [`MAX_SENDERS`] entries, buckets that have refilled are forgotten (at
//! most once a second), and senders that still find no room share one
//! overflow bucket, so that a flood of new addresses costs no memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Error answers a sender may get at once.
pub(crate) const BURST: f64 = 32.0;
/// Error answers a sender may get per second, over time.
pub(crate) const PER_SECOND: f64 = 16.0;
/// Senders tracked one by one.
pub(crate) const MAX_SENDERS: usize = 4096;
/// How often a full table is pruned, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// Who a sender is, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SenderKey {
    /// A sender bound to a path.
    Path(Box<[u8]>),
    /// An anonymous sender, by user id.
    Uid(u32),
    /// An anonymous sender with no credentials.
    Unknown,
}

impl SenderKey {
    /// The key of a sender with this bound path (if any) and uid (if known).
    pub fn new(path: Option<&Path>, uid: Option<u32>) -> SenderKey {
        use std::os::unix::ffi::OsStrExt;
        match (path, uid) {
            (Some(p), _) => SenderKey::Path(p.as_os_str().as_bytes().into()),
            (None, Some(uid)) => SenderKey::Uid(uid),
            (None, None) => SenderKey::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Bucket {
        Bucket {
            tokens: BURST,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * PER_SECOND).min(BURST);
        self.at = now;
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full_at(&self, now: Instant) -> bool {
        let mut b = *self;
        b.refill(now);
        b.tokens >= BURST
    }
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<SenderKey, Bucket>,
    overflow: Bucket,
    pruned_at: Instant,
}

/// The rate limiter of one endpoint.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    table: Mutex<Table>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                overflow: Bucket::full(now),
                pruned_at: now,
            }),
        }
    }

    /// Whether `sender` may be sent one more error answer now (and counts it).
    pub fn allow(&self, sender: SenderKey, now: Instant) -> bool {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let table = &mut *table;
        if let Some(bucket) = table.buckets.get_mut(&sender) {
            return bucket.take(now);
        }
        if table.buckets.len() >= MAX_SENDERS
            && now.saturating_duration_since(table.pruned_at) >= PRUNE_EVERY
        {
            table.pruned_at = now;
            // A bucket that has refilled is the same as no bucket.
            table.buckets.retain(|_, b| !b.is_full_at(now));
        }
        if table.buckets.len() >= MAX_SENDERS {
            return table.overflow.take(now);
        }
        let mut bucket = Bucket::full(now);
        let allowed = bucket.take(now);
        table.buckets.insert(sender, bucket);
        allowed
    }

    #[cfg(test)]
    fn senders(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .buckets
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_gets_its_burst_then_its_rate() {
        let limiter = RateLimiter::new();
        let t0 = Instant::now();
        let key = || SenderKey::new(Some(Path::new("/tmp/a.sock")), Some(1));
        let allowed = (0..100).filter(|_| limiter.allow(key(), t0)).count();
        assert_eq!(allowed, BURST as usize);
        // Another sender is not affected.
        assert!(limiter.allow(SenderKey::Uid(7), t0));
        // Half a second later: PER_SECOND / 2 more.
        let later = t0 + Duration::from_millis(500);
        let allowed = (0..100).filter(|_| limiter.allow(key(), later)).count();
        assert_eq!(allowed, (PER_SECOND / 2.0) as usize);
    }

    #[test]
    fn the_table_is_bounded_and_new_senders_share_the_overflow() {
        let limiter = RateLimiter::new();
        let t0 = Instant::now();
        for i in 0..MAX_SENDERS as u32 + 500 {
            limiter.allow(SenderKey::Uid(i), t0);
        }
        assert_eq!(limiter.senders(), MAX_SENDERS);
        // Past the table, senders share the overflow bucket's burst.
        let fresh = (0..100)
            .filter(|i| limiter.allow(SenderKey::Uid(1_000_000 + i), t0))
            .count();
        assert_eq!(fresh, 0, "the 500 extra senders used the overflow burst");
        // Once buckets have refilled, a full table is pruned.
        let later = t0 + Duration::from_secs(10);
        assert!(limiter.allow(SenderKey::Uid(2_000_000), later));
        assert_eq!(limiter.senders(), 1);
    }
}
