//! Sliding-window rate limits kept in the table's counters (`Table::counters`: the table itself in
//! DynamoDB), so every Lambda instance counts against the same numbers. A window of `W` is two
//! fixed windows: the current one's count and the previous one's, weighted by how much of it still
//! overlaps the sliding window (`prev × (1 − elapsed/W) + curr`), so a client cannot get twice the
//! limit by straddling a boundary as fixed buckets allow.
//!
//! A hit is one conditional `UpdateItem` on the current window's item (`ADD count 1` only while
//! the count is below what the previous window leaves), so concurrent instances never let one
//! request too many through. The previous window's count is read once per instance per window
//! (it no longer changes), in parallel with that first request's update, which is then bounded
//! by the whole limit and taken back (`ADD count -1`) if the sliding window refuses the request:
//! one round trip where a new instance or client would otherwise wait for two. The take-back only
//! ever errs strict: another request in that instant may see one count too many, never too few.
//! A denial is remembered in-process until it can end, so a client that keeps knocking costs no
//! table call. Items expire with the table's TTL two windows later.
//!
//! The same item carries a client's shield hits and, after too many, the time it is blocked
//! until: see `Limiter::record_shield_hit`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::store::{Condition, EXPIRES_AT, Key, StoreResult, Table, Update};

const COUNT: &str = "count";
const SHIELD_HITS: &str = "shieldHits";
const BLOCKED_UNTIL: &str = "blockedUntil";

/// Entries an instance keeps per cache before it drops the stale ones.
const CACHE_SOFT_LIMIT: usize = 10_000;

/// A limit: at most `limit` requests in any `window`, named in the RateLimit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    /// The policy's name in `RateLimit-Policy` / `RateLimit` (`"ip"`, `"user"`).
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl SlidingWindow {
    fn window_ms(self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX).max(1)
    }
}

/// Whose requests a window counts: a partition and a sort-key prefix, one item per fixed window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub pk: String,
    /// Prefix of the window items' sort keys, e.g. `RATE#ip#`.
    pub prefix: String,
}

impl Subject {
    fn key(&self, window_start_ms: i64) -> Key {
        Key::new(self.pk.clone(), format!("{}{window_start_ms}", self.prefix))
    }
}

/// How a counted request stands against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Allowed {
        remaining: u32,
        /// Seconds until the current fixed window ends (the `t` of the `RateLimit` header).
        reset_seconds: u64,
    },
    /// Over the limit; one more request fits in `retry_after_seconds`.
    Limited { retry_after_seconds: u64 },
    /// Shield hits blocked this client until then.
    Blocked { retry_after_seconds: u64 },
}

/// What an instance remembers of the previous window of a subject (it no longer changes).
#[derive(Debug, Clone, Copy)]
struct Previous {
    start_ms: i64,
    count: i64,
    shield_hits: i64,
    blocked_until_ms: i64,
}

/// Denials still running, by subject and rule: refused without a table call until then (ms).
type Denials = HashMap<(Subject, &'static str), (i64, Standing)>;

/// The limiter: stateless but for two in-process caches; build one per process.
#[derive(Debug, Default)]
pub struct Limiter {
    previous: Mutex<HashMap<Subject, Previous>>,
    denied_until: Mutex<Denials>,
}

fn number(item: Option<&crate::store::Item>, name: &str) -> i64 {
    item.and_then(|item| item.get(name)).and_then(Value::as_i64).unwrap_or(0)
}

fn seconds_ceil(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000).max(1)
}

/// The most the window starting at `start` may hold at `now_ms`: the limit less the share of the
/// previous window's `previous_count` that still overlaps the sliding window.
fn room_left(rule: SlidingWindow, previous_count: i64, start: i64, now_ms: i64) -> i64 {
    let window = rule.window_ms();
    let carried = previous_count as f64 * (1.0 - (now_ms - start) as f64 / window as f64);
    (f64::from(rule.limit) - carried).floor() as i64
}

impl Limiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request of `subject` against `rule` at `now_ms`, unless it would pass the limit.
    pub async fn hit(
        &self,
        table: &dyn Table,
        rule: SlidingWindow,
        subject: &Subject,
        now_ms: i64,
    ) -> StoreResult<Standing> {
        let table = table.counters();
        if let Some(standing) = self.cached_denial(subject, rule.name, now_ms) {
            return Ok(standing);
        }
        let window = rule.window_ms();
        let start = now_ms - now_ms.rem_euclid(window);
        let key = subject.key(start);
        let update = Update::new().add(COUNT, 1).set(EXPIRES_AT, expiry_seconds(start, window));
        let (previous, outcome, counted_blind) = match self.cached_previous(subject, start - window) {
            Some(previous) => {
                if previous.blocked_until_ms > now_ms {
                    return Ok(self.deny(subject, rule.name, previous.blocked_until_ms, now_ms, true));
                }
                let room = room_left(rule, previous.count, start, now_ms);
                let outcome = if room > 0 {
                    table.update(&key, update, Some(Condition::Below(COUNT.into(), room))).await
                } else {
                    Err(crate::store::StoreError::ConditionFailed { write: None })
                };
                (previous, outcome, false)
            }
            // The previous window is not known here yet (a new instance, or this client's first
            // request of the window): read it while counting the request against the whole
            // limit, one round trip instead of two, and take the count back below if the sliding
            // window refuses the request after all.
            None => {
                let whole_limit = Some(Condition::Below(COUNT.into(), i64::from(rule.limit)));
                let (previous, outcome) = tokio::join!(
                    self.load_previous(table, subject, start - window),
                    table.update(&key, update, whole_limit)
                );
                (previous?, outcome, true)
            }
        };
        let room = room_left(rule, previous.count, start, now_ms);
        match outcome {
            Ok(item) => {
                let blocked_until = number(Some(&item), BLOCKED_UNTIL).max(previous.blocked_until_ms);
                let count = number(Some(&item), COUNT);
                let refused = blocked_until > now_ms || count > room;
                if refused && counted_blind {
                    table.update(&key, Update::new().add(COUNT, -1), None).await?;
                }
                if blocked_until > now_ms {
                    return Ok(self.deny(subject, rule.name, blocked_until, now_ms, true));
                }
                if count > room {
                    let until = next_room(rule.limit, previous.count, room.max(0), start, window, now_ms);
                    return Ok(self.deny(subject, rule.name, until, now_ms, false));
                }
                let remaining = u32::try_from(room - count).unwrap_or(0);
                Ok(Standing::Allowed { remaining, reset_seconds: seconds_ceil(start + window - now_ms) })
            }
            Err(error) if error.is_condition_failed() => {
                let until = next_room(rule.limit, previous.count, room.max(0), start, window, now_ms);
                Ok(self.deny(subject, rule.name, until, now_ms, false))
            }
            Err(other) => Err(other),
        }
    }

    /// Where `subject` stands against `rule` without counting anything (for reports).
    pub async fn peek(
        &self,
        table: &dyn Table,
        rule: SlidingWindow,
        subject: &Subject,
        now_ms: i64,
    ) -> StoreResult<Standing> {
        let table = table.counters();
        if let Some(standing) = self.cached_denial(subject, rule.name, now_ms) {
            return Ok(standing);
        }
        let window = rule.window_ms();
        let start = now_ms - now_ms.rem_euclid(window);
        let previous = self.previous(table, subject, start - window).await?;
        let current = table.get(&subject.key(start)).await?;
        let blocked_until = number(current.as_ref(), BLOCKED_UNTIL).max(previous.blocked_until_ms);
        if blocked_until > now_ms {
            return Ok(Standing::Blocked { retry_after_seconds: seconds_ceil(blocked_until - now_ms) });
        }
        let room = room_left(rule, previous.count, start, now_ms);
        let count = number(current.as_ref(), COUNT);
        if count >= room {
            let until = next_room(rule.limit, previous.count, room.max(0), start, window, now_ms);
            return Ok(Standing::Limited { retry_after_seconds: seconds_ceil(until - now_ms) });
        }
        let remaining = u32::try_from(room - count).unwrap_or(0);
        Ok(Standing::Allowed { remaining, reset_seconds: seconds_ceil(start + window - now_ms) })
    }

    /// Records an attack pattern from `subject` (its `rule` windows). After `threshold` hits
    /// within two windows, the client is blocked for `block`: the block is written on every window
    /// item it covers, so whichever instance counts the client's next request reads it in the
    /// item it updates anyway. Returns the block's end when this hit started one.
    pub async fn record_shield_hit(
        &self,
        table: &dyn Table,
        rule: SlidingWindow,
        subject: &Subject,
        now_ms: i64,
        threshold: i64,
        block: Duration,
    ) -> StoreResult<Option<i64>> {
        let table = table.counters();
        let window = rule.window_ms();
        let start = now_ms - now_ms.rem_euclid(window);
        let previous = self.previous(table, subject, start - window).await?;
        let update = Update::new().add(SHIELD_HITS, 1).set(EXPIRES_AT, expiry_seconds(start, window));
        let item = table.update(&subject.key(start), update, None).await?;
        let hits = number(Some(&item), SHIELD_HITS) + previous.shield_hits;
        if hits < threshold || number(Some(&item), BLOCKED_UNTIL) > now_ms {
            return Ok(None);
        }
        let until = now_ms + i64::try_from(block.as_millis()).unwrap_or(i64::MAX);
        let mut window_start = start;
        while window_start < until {
            let mark =
                Update::new().set(BLOCKED_UNTIL, until).set(EXPIRES_AT, expiry_seconds(window_start, window));
            table.update(&subject.key(window_start), mark, None).await?;
            window_start += window;
        }
        self.deny(subject, rule.name, until, now_ms, true);
        Ok(Some(until))
    }

    async fn previous(&self, table: &dyn Table, subject: &Subject, start_ms: i64) -> StoreResult<Previous> {
        match self.cached_previous(subject, start_ms) {
            Some(previous) => Ok(previous),
            None => self.load_previous(table, subject, start_ms).await,
        }
    }

    fn cached_previous(&self, subject: &Subject, start_ms: i64) -> Option<Previous> {
        self.lock_previous().get(subject).filter(|previous| previous.start_ms == start_ms).copied()
    }

    /// Reads the window that started at `start_ms` and remembers it: it no longer changes.
    async fn load_previous(
        &self,
        table: &dyn Table,
        subject: &Subject,
        start_ms: i64,
    ) -> StoreResult<Previous> {
        let item = table.get(&subject.key(start_ms)).await?;
        let previous = Previous {
            start_ms,
            count: number(item.as_ref(), COUNT),
            shield_hits: number(item.as_ref(), SHIELD_HITS),
            blocked_until_ms: number(item.as_ref(), BLOCKED_UNTIL),
        };
        let mut cache = self.lock_previous();
        if cache.len() >= CACHE_SOFT_LIMIT {
            cache.retain(|_, kept| kept.start_ms >= start_ms);
        }
        cache.insert(subject.clone(), previous);
        Ok(previous)
    }

    fn cached_denial(&self, subject: &Subject, rule: &'static str, now_ms: i64) -> Option<Standing> {
        let cache = self.lock_denied();
        if cache.is_empty() {
            return None;
        }
        let (until, standing) = cache.get(&(subject.clone(), rule))?;
        if *until <= now_ms {
            return None;
        }
        let retry_after_seconds = seconds_ceil(until - now_ms);
        Some(match standing {
            Standing::Blocked { .. } => Standing::Blocked { retry_after_seconds },
            _ => Standing::Limited { retry_after_seconds },
        })
    }

    fn deny(
        &self,
        subject: &Subject,
        rule: &'static str,
        until_ms: i64,
        now_ms: i64,
        blocked: bool,
    ) -> Standing {
        let retry_after_seconds = seconds_ceil(until_ms - now_ms);
        let standing = if blocked {
            Standing::Blocked { retry_after_seconds }
        } else {
            Standing::Limited { retry_after_seconds }
        };
        let mut cache = self.lock_denied();
        if cache.len() >= CACHE_SOFT_LIMIT {
            cache.retain(|_, (until, _)| *until > now_ms);
        }
        cache.insert((subject.clone(), rule), (until_ms, standing));
        standing
    }

    fn lock_previous(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, Previous>> {
        // A panic while holding the lock cannot leave the cache inconsistent (single inserts).
        self.previous.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_denied(&self) -> std::sync::MutexGuard<'_, Denials> {
        self.denied_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A window item lives until it stops being the previous window (TTL in seconds).
fn expiry_seconds(start_ms: i64, window_ms: i64) -> i64 {
    (start_ms + 2 * window_ms).div_euclid(1000) + 1
}

/// When one more request fits again (ms), for a window starting at `start` holding `count`
/// (at least the room the previous window `previous` left) at `now`.
fn next_room(limit: u32, previous: i64, count: i64, start: i64, window: i64, now: i64) -> i64 {
    let limit = f64::from(limit);
    let (previous, count, window_f) = (previous as f64, count as f64, window as f64);
    // Within this window the previous one's share decays: previous × (1 − t/W) + count < limit.
    if count < limit && previous > 0.0 {
        let fraction = 1.0 - (limit - 1.0 - count).max(0.0) / previous;
        let at = start + (fraction * window_f).ceil() as i64;
        if at < start + window {
            return at.max(now + 1);
        }
    }
    // In the next window this one's count decays the same way: count × (1 − t/W) < limit.
    let next = start + window;
    if count <= limit - 1.0 {
        return next.max(now + 1);
    }
    let fraction = 1.0 - (limit - 1.0) / count;
    (next + (fraction * window_f).ceil() as i64).max(now + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_returns_as_the_previous_window_decays() {
        // 100 per 60 s; the previous window held 100, this one 0: half-way through, 50 fit.
        let at = next_room(100, 100, 50, 0, 60_000, 30_000);
        assert!((30_000..=31_000).contains(&at), "{at}");
        // A full current window: wait into the next one until this one's share decays below 100.
        let at = next_room(100, 0, 100, 0, 60_000, 10_000);
        assert!((60_000..=61_000).contains(&at), "{at}");
        let at = next_room(100, 0, 200, 0, 60_000, 10_000);
        assert!((90_000..=91_000).contains(&at), "{at}");
    }

    #[test]
    fn windows_expire_after_serving_as_the_previous_one() {
        assert_eq!(expiry_seconds(60_000, 60_000), 181);
    }
}
