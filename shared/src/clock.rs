//! Time, from one place. Domain code stamps items with `now()` (millisecond precision, so what
//! a sort key holds and what a client reads agree exactly); code that must be tested across time
//! (token expiry, the JWKS cache, Hume tokens, rate limits) takes an injected [`Clock`] instead.

use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time. Injected where tests need to move it without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        // A clock before 1970 is a broken host; 0 then makes every token look expired (fail closed).
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The system clock as the shared handle clients take.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Now, truncated to the millisecond.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

/// Seconds since the Unix epoch now (TTL attributes are in seconds).
pub fn unix_seconds() -> i64 {
    SystemClock.now()
}

/// `at` as RFC 3339, the form every stored and served timestamp takes.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Seconds since the Unix epoch of `at`, as stored in a TTL attribute.
pub fn epoch_seconds(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_millisecond_precision() {
        assert_eq!(now().nanosecond() % 1_000_000, 0);
        let at = time::macros::datetime!(2026-01-02 03:04:05.678 UTC);
        assert_eq!(rfc3339(at), "2026-01-02T03:04:05.678Z");
        assert_eq!(SystemClock.now(), SystemClock.now_ms() / 1000);
    }
}
