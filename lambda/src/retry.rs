//! Timing knobs of the client: retries, backoff and the launch rate limit.
//!
//! Every delay lives here so tests can shrink them to milliseconds.

use std::time::Duration;

use rand::Rng;

/// When and how long to wait before retrying a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries per call, including the first; `1` disables retries.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles on each later one.
    pub base_delay: Duration,
    /// Ceiling of the computed backoff.
    pub max_delay: Duration,
    /// Ceiling of a server-sent `Retry-After`, so a bogus value cannot stall
    /// the CLI for hours.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The exponential backoff ceiling before retry number `retry` (1-based).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The pause before retry number `retry` (1-based): a random point in the
    /// upper half of the backoff ceiling ("equal jitter"), so many clients
    /// backing off together spread out yet each still waits a real while. A
    /// `Retry-After` from the server is a lower bound.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let half = ceiling / 2;
        let jittered = half + rand::thread_rng().gen_range(Duration::ZERO..=ceiling - half);
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// Everything configurable about a [`LambdaClient`](crate::LambdaClient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Retry behaviour for every endpoint.
    pub retry: RetryPolicy,
    /// Minimum spacing between two launch requests. Lambda allows one launch
    /// every 12 seconds; the client waits rather than earn a 429.
    pub launch_interval: Duration,
    /// Deadline for one whole request, response body included.
    pub request_timeout: Duration,
    /// Deadline for establishing the TCP/TLS connection.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            launch_interval: Duration::from_secs(12),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientOptions {
    /// Options with every delay scaled down to a few milliseconds, for tests
    /// against a local fake.
    pub fn fast_for_tests() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(40),
                max_retry_after: Duration::from_secs(2),
            },
            launch_interval: Duration::from_millis(20),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

/// Parses a `Retry-After` header given in seconds. The HTTP-date form is
/// ignored (Lambda does not use it) and the computed backoff applies instead.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy();
        let ceilings: Vec<_> = (1..=6).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_ceiling() {
        let p = policy();
        for retry in 1..=5 {
            let ceiling = p.backoff_ceiling(retry);
            for _ in 0..200 {
                let d = p.delay(retry, None);
                assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} vs {ceiling:?}");
            }
        }
    }

    #[test]
    fn retry_after_is_a_capped_lower_bound() {
        let p = policy();
        assert!(p.delay(1, Some(Duration::from_secs(2))) == Duration::from_secs(2));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        assert!(p.delay(4, Some(Duration::ZERO)) >= Duration::from_millis(400));
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
