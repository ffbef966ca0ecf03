//! Settings shared by clients and servers.

use std::time::Duration;

/// The timeout profiles of the protocol: request, handler and connection
/// timeouts that fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeoutProfile {
    /// 30 s requests, 30 s handlers, 10 s connections.
    #[default]
    Standard,
    /// 5 s requests, 5 s handlers, 3 s connections.
    Aggressive,
    /// 120 s requests, 120 s handlers, 30 s connections.
    Relaxed,
}

impl TimeoutProfile {
    /// How long a client waits for an answer.
    pub fn request(self) -> Duration {
        match self {
            TimeoutProfile::Standard => Duration::from_secs(30),
            TimeoutProfile::Aggressive => Duration::from_secs(5),
            TimeoutProfile::Relaxed => Duration::from_secs(120),
        }
    }

    /// How long a server lets a handler run.
    pub fn handler(self) -> Duration {
        self.request()
    }

    /// How long establishing a connection may take (stream transport).
    pub fn connection(self) -> Duration {
        match self {
            TimeoutProfile::Standard => Duration::from_secs(10),
            TimeoutProfile::Aggressive => Duration::from_secs(3),
            TimeoutProfile::Relaxed => Duration::from_secs(30),
        }
    }
}

/// Clamps a timeout into the protocol's range (0.1 s ..= 300 s).
pub(crate) fn clamp_timeout(t: Duration) -> Duration {
    t.clamp(
        Duration::from_secs_f64(crate::wire::MIN_TIMEOUT_SECS),
        Duration::from_secs_f64(crate::wire::MAX_TIMEOUT_SECS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_match_the_protocol() {
        let secs = |p: TimeoutProfile| {
            (
                p.request().as_secs(),
                p.handler().as_secs(),
                p.connection().as_secs(),
            )
        };
        assert_eq!(secs(TimeoutProfile::Standard), (30, 30, 10));
        assert_eq!(secs(TimeoutProfile::Aggressive), (5, 5, 3));
        assert_eq!(secs(TimeoutProfile::Relaxed), (120, 120, 30));
    }

    #[test]
    fn clamps_into_protocol_range() {
        assert_eq!(clamp_timeout(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(
            clamp_timeout(Duration::from_secs(1000)),
            Duration::from_secs(300)
        );
        assert_eq!(
            clamp_timeout(Duration::from_secs(7)),
            Duration::from_secs(7)
        );
    }
}
