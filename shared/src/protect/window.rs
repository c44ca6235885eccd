//! Sliding-window rate limits kept in the table's counters (`Table::counters`: the table itself in
//! DynamoDB), so every Lambda instance counts against the same numbers. A window of `W` is two
//! fixed windows: the current one's count and the previous one's, weighted by how much of it still
//! overlaps the sliding window (`prev × (1 − elapsed/W) + curr`), so a client cannot get twice the
//! limit by straddling a boundary as fixed buckets allow.
//!
//! One item per client and rule holds every fixed window's count as its own attribute
//! (`count#<window start>`), so a count is one conditional `UpdateItem` whose answer also carries
//! the previous window's count: `ADD` to the current window's attribute only while it is below
//! what the previous window leaves, and only while the client is not blocked. Concurrent instances
//! never let one request too many through. An instance that does not know the previous window's
//! count yet (a new instance, or this client's first request of the window) bounds that update by
//! the whole limit instead and takes the count back (`ADD -1`) if the sliding window refuses the
//! request; it only ever errs strict: another request in that instant may see one count too many,
//! never too few. The previous window's count no longer changes, so the instance keeps it for the
//! rest of the window. A denial is remembered in-process until it can end, so a client that keeps
//! knocking costs no table call.
//!
//! Each update removes the window before the previous one; an item that expired (its TTL is two
//! windows after its last count) but that DynamoDB has not deleted yet may still hold older
//! windows, which the answer shows and one more update removes.
//!
//! The same item carries a client's shield hits (`shieldHits#<window start>`) and, after too many,
//! the time it is blocked until: see `Limiter::record_shield_hit`. Neither a count nor a hit is
//! written while the block runs, so neither can shorten the TTL that covers it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::store::{Condition, EXPIRES_AT, Item, Key, StoreResult, Table, Update};

const COUNT: &str = "count#";
const SHIELD_HITS: &str = "shieldHits#";
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

    /// The start (ms) of the fixed window `now_ms` falls in.
    fn start_at(self, now_ms: i64) -> i64 {
        now_ms - now_ms.rem_euclid(self.window_ms())
    }
}

/// Whose requests a window counts: the key of their one item for this rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub pk: String,
    /// The item's sort key, e.g. `RATE#ip`.
    pub sk: String,
}

impl Subject {
    /// `pk`'s item for `rule` (`RATE#<rule>`, beside the token buckets' `RATE#<bucket>`).
    pub fn new(pk: String, rule: SlidingWindow) -> Self {
        Self { pk, sk: format!("RATE#{}", rule.name) }
    }

    fn key(&self) -> Key {
        Key::new(self.pk.clone(), self.sk.clone())
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

/// The attribute of a fixed window's count or shield hits.
fn attribute(kind: &str, start_ms: i64) -> String {
    format!("{kind}{start_ms}")
}

/// What a subject's item says at a window starting at `start` (ms).
#[derive(Debug, Clone, Copy, Default)]
struct Windows {
    count: i64,
    previous_count: i64,
    shield_hits: i64,
    previous_shield_hits: i64,
    blocked_until_ms: i64,
}

impl Windows {
    fn read(item: Option<&Item>, start: i64, window: i64) -> Self {
        let number = |name: &str| item.and_then(|item| item.get(name)).and_then(Value::as_i64).unwrap_or(0);
        Self {
            count: number(&attribute(COUNT, start)),
            previous_count: number(&attribute(COUNT, start - window)),
            shield_hits: number(&attribute(SHIELD_HITS, start)),
            previous_shield_hits: number(&attribute(SHIELD_HITS, start - window)),
            blocked_until_ms: number(BLOCKED_UNTIL),
        }
    }

    /// When one more request fits again (ms), for windows full at `now_ms` (the count at least
    /// the room left in the window starting at `start`).
    fn room_again_at(&self, rule: SlidingWindow, start: i64, now_ms: i64) -> i64 {
        let room = room_left(rule, self.previous_count, start, now_ms).max(0);
        let count = self.count.max(room);
        next_room(rule.limit, self.previous_count, count, start, rule.window_ms(), now_ms)
    }
}

/// The windows an item still holds from before the previous one: they count for nothing now.
fn stale_windows(item: &Item, start: i64, window: i64) -> Vec<String> {
    item.keys()
        .filter(|name| {
            let started = name.strip_prefix(COUNT).or_else(|| name.strip_prefix(SHIELD_HITS));
            started.and_then(|ms| ms.parse::<i64>().ok()).is_some_and(|ms| ms < start - window)
        })
        .cloned()
        .collect()
}

/// Denials still running, by subject and rule: refused without a table call until then (ms).
type Denials = HashMap<(Subject, &'static str), (i64, Standing)>;

/// The limiter: stateless but for two in-process caches; build one per process.
#[derive(Debug, Default)]
pub struct Limiter {
    /// Each subject's previous window, by its start: its count (which no longer changes).
    previous: Mutex<HashMap<Subject, (i64, i64)>>,
    denied_until: Mutex<Denials>,
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

/// Neither a count nor a shield hit is written while a block runs (`blockedUntil` absent or past).
fn not_blocked(now_ms: i64) -> Condition {
    Condition::Below(BLOCKED_UNTIL.into(), now_ms.saturating_add(1))
}

/// Advances the item to the window starting at `start`: keeps it two windows more and drops the
/// window that stops being the previous one.
fn advanced(update: Update, start: i64, window: i64) -> Update {
    update
        .set(EXPIRES_AT, expiry_seconds(start, window))
        .remove(&attribute(COUNT, start - 2 * window))
        .remove(&attribute(SHIELD_HITS, start - 2 * window))
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
        let start = rule.start_at(now_ms);
        let count = attribute(COUNT, start);
        // Bounded by what the previous window leaves when this instance knows it, else by the
        // whole limit, the sliding window then checked on the answer.
        let known_previous = self.cached_previous(subject, start - window);
        let bound = match known_previous {
            Some(previous_count) => room_left(rule, previous_count, start, now_ms),
            None => i64::from(rule.limit),
        };
        let counted = if bound > 0 {
            let update = advanced(Update::new().add(&count, 1), start, window);
            let condition = Condition::All(vec![Condition::Below(count.clone(), bound), not_blocked(now_ms)]);
            match table.update(&subject.key(), update, Some(condition)).await {
                Ok(item) => Some(item),
                Err(error) if error.is_condition_failed() => None,
                Err(other) => return Err(other),
            }
        } else {
            None
        };
        let Some(item) = counted else {
            // Over the limit or blocked: which one, and until when, is in the item.
            let item = table.get(&subject.key()).await?;
            let windows = Windows::read(item.as_ref(), start, window);
            self.remember_previous(subject, start - window, windows.previous_count);
            return Ok(self.refusal(rule, subject, windows, start, now_ms));
        };
        let windows = Windows::read(Some(&item), start, window);
        self.remember_previous(subject, start - window, windows.previous_count);
        self.remove_stale(table, subject, &item, start, window).await;
        let room = room_left(rule, windows.previous_count, start, now_ms);
        if windows.count > room {
            // Counted against the whole limit only: the sliding window refuses it, take it back.
            self.take_back(table, rule, subject, now_ms).await?;
            let left = Windows { count: windows.count - 1, ..windows };
            return Ok(self.refusal(rule, subject, left, start, now_ms));
        }
        let remaining = u32::try_from(room - windows.count).unwrap_or(0);
        Ok(Standing::Allowed { remaining, reset_seconds: seconds_ceil(start + window - now_ms) })
    }

    /// Takes back the count `hit` took for a request at `now_ms` that is refused after all.
    pub async fn take_back(
        &self,
        table: &dyn Table,
        rule: SlidingWindow,
        subject: &Subject,
        now_ms: i64,
    ) -> StoreResult<()> {
        let table = table.counters();
        let take_back = Update::new().add(&attribute(COUNT, rule.start_at(now_ms)), -1);
        match table.update(&subject.key(), take_back, Some(Condition::Exists)).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_condition_failed() => Ok(()),
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
        let start = rule.start_at(now_ms);
        let item = table.get(&subject.key()).await?;
        let windows = Windows::read(item.as_ref(), start, window);
        if windows.blocked_until_ms > now_ms {
            return Ok(Standing::Blocked {
                retry_after_seconds: seconds_ceil(windows.blocked_until_ms - now_ms),
            });
        }
        let room = room_left(rule, windows.previous_count, start, now_ms);
        if windows.count >= room {
            let until = windows.room_again_at(rule, start, now_ms);
            return Ok(Standing::Limited { retry_after_seconds: seconds_ceil(until - now_ms) });
        }
        let remaining = u32::try_from(room - windows.count).unwrap_or(0);
        Ok(Standing::Allowed { remaining, reset_seconds: seconds_ceil(start + window - now_ms) })
    }

    /// Records an attack pattern from `subject` (its `rule` windows). After `threshold` hits
    /// within this window and the previous one, the client is blocked for `block`: its item holds
    /// the block, so whichever instance counts the client's next request meets it in the update
    /// it sends anyway. Returns the block's end when this hit started one.
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
        let start = rule.start_at(now_ms);
        let update = advanced(Update::new().add(&attribute(SHIELD_HITS, start), 1), start, window);
        let item = match table.update(&subject.key(), update, Some(not_blocked(now_ms))).await {
            Ok(item) => item,
            // Blocked already: this hit changes nothing.
            Err(error) if error.is_condition_failed() => return Ok(None),
            Err(other) => return Err(other),
        };
        self.remove_stale(table, subject, &item, start, window).await;
        let windows = Windows::read(Some(&item), start, window);
        if windows.shield_hits + windows.previous_shield_hits < threshold {
            return Ok(None);
        }
        let until = now_ms.saturating_add(i64::try_from(block.as_millis()).unwrap_or(i64::MAX));
        // The TTL covers the block as well as the windows.
        let expires = expiry_seconds(start, window).max(until.div_euclid(1000) + 1);
        let mark = Update::new().set(BLOCKED_UNTIL, until).set(EXPIRES_AT, expires);
        table.update(&subject.key(), mark, None).await?;
        self.deny(subject, rule.name, until, now_ms, true);
        Ok(Some(until))
    }

    /// The denial for a request refused at `now_ms` by `windows` (the count at least the room
    /// left), remembered until it can end.
    fn refusal(
        &self,
        rule: SlidingWindow,
        subject: &Subject,
        windows: Windows,
        start: i64,
        now_ms: i64,
    ) -> Standing {
        if windows.blocked_until_ms > now_ms {
            return self.deny(subject, rule.name, windows.blocked_until_ms, now_ms, true);
        }
        let until = windows.room_again_at(rule, start, now_ms);
        self.deny(subject, rule.name, until, now_ms, false)
    }

    /// Removes the windows an answer shows from before the previous one (an expired item that
    /// DynamoDB has not deleted yet, counted again). Housekeeping: a failure is only logged.
    async fn remove_stale(&self, table: &dyn Table, subject: &Subject, item: &Item, start: i64, window: i64) {
        let stale = stale_windows(item, start, window);
        if stale.is_empty() {
            return;
        }
        let update = stale.iter().fold(Update::new(), |update, name| update.remove(name));
        match table.update(&subject.key(), update, Some(Condition::Exists)).await {
            Ok(_) => {}
            Err(error) if error.is_condition_failed() => {}
            Err(error) => tracing::warn!(%error, "removing a client's past windows failed"),
        }
    }

    fn cached_previous(&self, subject: &Subject, start_ms: i64) -> Option<i64> {
        let cache = self.lock_previous();
        cache.get(subject).filter(|(start, _)| *start == start_ms).map(|(_, count)| *count)
    }

    fn remember_previous(&self, subject: &Subject, start_ms: i64, count: i64) {
        let mut cache = self.lock_previous();
        if cache.len() >= CACHE_SOFT_LIMIT {
            cache.retain(|_, (start, _)| *start >= start_ms);
        }
        cache.insert(subject.clone(), (start_ms, count));
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

    fn lock_previous(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, (i64, i64)>> {
        // A panic while holding the lock cannot leave the cache inconsistent (single inserts).
        self.previous.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_denied(&self) -> std::sync::MutexGuard<'_, Denials> {
        self.denied_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A client's item lives two windows past its last count: until that window stops being the
/// previous one (TTL in seconds).
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
