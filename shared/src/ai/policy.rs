//! How long and how often an HTTP model adapter may try: the timeouts, retry and continuation
//! bounds every provider shares, and the waits derived from them.

use std::time::Duration;

use rand::Rng as _;
use tokio::time::Instant;

/// Timeouts, retries and continuation bounds.
#[derive(Debug, Clone)]
pub struct Policy {
    /// To establish the connection.
    pub connect_timeout: Duration,
    /// From sending a streamed request to the first byte of its reply body (thinking happens
    /// here). A whole (non-streamed) reply is bounded by `total_timeout` alone.
    pub first_byte_timeout: Duration,
    /// Between two pieces of a streamed reply.
    pub idle_timeout: Duration,
    /// For the whole reply: every retry, wait and continuation included.
    pub total_timeout: Duration,
    /// Calls per step, the first included (so `max_attempts - 1` retries).
    pub max_attempts: u32,
    /// First backoff; doubled per retry, jittered.
    pub backoff: Duration,
    /// A server asking to wait longer than this is not waited for.
    pub max_retry_delay: Duration,
    /// Model calls per reply, continuations included.
    pub max_steps: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            // Below the functions' 90 s Lambda timeout, so a slow reply ends with an error part.
            total_timeout: Duration::from_secs(80),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(10),
            max_steps: 10,
        }
    }
}

impl Policy {
    /// The HTTP client an adapter keeps for its lifetime, so connections are reused.
    pub(crate) fn client(&self) -> reqwest::Client {
        // No overall client timeout: a streamed reply may legitimately take a minute; our own
        // first-byte, idle and total deadlines bound it instead.
        crate::http_client::builder().connect_timeout(self.connect_timeout).build().unwrap_or_default()
    }
}

/// A phase's wait, cut to what is left before the deadline (and then named after it).
pub(crate) fn bounded_wait(
    wait: Duration,
    what: &'static str,
    deadline: Instant,
) -> (Duration, &'static str) {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if wait < remaining { (wait, what) } else { (remaining, "total") }
}

/// The pause before retry `attempt + 1` when the server named none: doubling from `base`,
/// jittered down to half so clients that failed together do not retry together.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << (attempt.saturating_sub(1)).min(10));
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(2);
    Duration::from_millis(rand::thread_rng().gen_range(millis / 2..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let ceiling = 100 * 2u64.pow(attempt - 1);
            let delay = backoff(base, attempt).as_millis() as u64;
            assert!((ceiling / 2..=ceiling).contains(&delay), "attempt {attempt}: {delay} ms");
        }
        assert!(backoff(Duration::ZERO, 1) <= Duration::from_millis(2));
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_is_named_total() {
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(bounded_wait(Duration::from_secs(1), "idle", deadline), (Duration::from_secs(1), "idle"));
        let (wait, what) = bounded_wait(Duration::from_secs(60), "first byte", deadline);
        assert!(wait <= Duration::from_secs(10));
        assert_eq!(what, "total");
    }
}
