//! Token buckets kept in the table, so every Lambda instance sees the same state (the interview
//! bucket: 12 tokens, +4 a day, one per interview created, as the original's).
//!
//! A bucket is the item `USER#<u> / RATE#<rule>` with `tokens` and `refilledAt` (epoch ms). A take
//! reads it, refills it for the time passed, and writes it back guarded by the `version` it read
//! (or by its absence): concurrent takes never spend the same token; a loser re-reads and retries.

use std::time::Duration;

use serde_json::Value;

use super::Mode;
use crate::store::{Condition, Item, Key, PK, SK, StoreError, StoreResult, Table};
use crate::users;

/// A token bucket: `capacity` tokens, `refill` more every `interval`, never above `capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// The item's sort key is `RATE#<name>`.
    pub name: &'static str,
    pub capacity: u32,
    pub refill: u32,
    pub interval: Duration,
    pub mode: Mode,
}

/// The original's `tokenBucket({capacity: 12, refillRate: 4, interval: "1d"})` on interview creation.
pub const INTERVIEW_BUCKET: TokenBucket = TokenBucket {
    name: "interview-bucket",
    capacity: 12,
    refill: 4,
    interval: Duration::from_secs(24 * 60 * 60),
    mode: Mode::Live,
};

/// Hume access tokens for the browser, at the interview bucket's pace: a client cannot fetch
/// tokens (each lets it open a paid voice session) faster than it may start interviews.
pub const HUME_TOKEN_BUCKET: TokenBucket = TokenBucket { name: "hume-token-bucket", ..INTERVIEW_BUCKET };

/// How often a take re-reads after losing a race. Every loss means another take succeeded, so
/// this bounds the concurrency one user can produce, not the wait.
const MAX_ATTEMPTS: u32 = 40;

const TOKENS: &str = "tokens";
const REFILLED_AT: &str = "refilledAt";
const VERSION: &str = "version";

/// The outcome of a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        remaining: u32,
    },
    /// No token left; the next arrives in `retry_after` (whole seconds, at least 1).
    Denied {
        retry_after_seconds: u64,
    },
}

impl TokenBucket {
    /// The item key of this bucket for `user_id`.
    pub fn key(&self, user_id: &str) -> Key {
        Key::new(users::partition(user_id), format!("RATE#{}", self.name))
    }

    /// Milliseconds per token.
    fn period_ms(&self) -> i64 {
        let interval = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        (interval / i64::from(self.refill.max(1))).max(1)
    }

    /// The bucket at `now_ms` given its stored state: tokens after refilling, and the time the
    /// refill is accounted up to (kept behind `now` by the unfinished part of a period, so
    /// partial periods are not lost).
    fn refilled(&self, tokens: i64, refilled_at: i64, now_ms: i64) -> (i64, i64) {
        let capacity = i64::from(self.capacity);
        if tokens >= capacity {
            return (capacity, now_ms);
        }
        // Another instance's clock ahead of ours: nothing to add yet.
        if refilled_at >= now_ms {
            return (tokens, refilled_at);
        }
        let period = self.period_ms();
        let periods = (now_ms - refilled_at) / period;
        let tokens = tokens.saturating_add(periods);
        if tokens >= capacity { (capacity, now_ms) } else { (tokens, refilled_at + periods * period) }
    }

    /// The tokens `user_id` has at `now_ms` and, when the bucket is not full, the seconds until
    /// the next one arrives; nothing is taken.
    pub async fn peek(&self, table: &dyn Table, user_id: &str, now_ms: i64) -> StoreResult<(u32, u64)> {
        let stored = table.get(&self.key(user_id)).await?;
        let number = |name: &str| stored.as_ref().and_then(|item| item.get(name)).and_then(Value::as_i64);
        let (tokens, refilled_at) = match &stored {
            Some(_) => {
                self.refilled(number(TOKENS).unwrap_or(0), number(REFILLED_AT).unwrap_or(now_ms), now_ms)
            }
            None => (i64::from(self.capacity), now_ms),
        };
        let next = if tokens >= i64::from(self.capacity) {
            0
        } else {
            u64::try_from((refilled_at + self.period_ms() - now_ms).max(1)).unwrap_or(1).div_ceil(1000)
        };
        Ok((u32::try_from(tokens.max(0)).unwrap_or(0), next))
    }

    /// Takes one token for `user_id` at `now_ms` (epoch ms).
    pub async fn take(&self, table: &dyn Table, user_id: &str, now_ms: i64) -> StoreResult<Decision> {
        if self.mode == Mode::Off {
            return Ok(Decision::Allowed { remaining: self.capacity });
        }
        let key = self.key(user_id);
        for attempt in 0..MAX_ATTEMPTS {
            let stored = table.get(&key).await?;
            let number = |item: &Item, name: &str| item.get(name).and_then(Value::as_i64);
            let (tokens, refilled_at, version) = match &stored {
                Some(item) => (
                    number(item, TOKENS).unwrap_or(0),
                    number(item, REFILLED_AT).unwrap_or(now_ms),
                    number(item, VERSION),
                ),
                None => (i64::from(self.capacity), now_ms, None),
            };
            let (tokens, refilled_at) = self.refilled(tokens, refilled_at, now_ms);
            if tokens < 1 {
                let wait_ms = (refilled_at + self.period_ms() - now_ms).max(1);
                let retry_after_seconds = u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000).max(1);
                if self.mode == Mode::DryRun {
                    tracing::warn!(rule = self.name, user_id, "token bucket would deny (dry run)");
                    return Ok(Decision::Allowed { remaining: 0 });
                }
                return Ok(Decision::Denied { retry_after_seconds });
            }
            let mut item = Item::new();
            item.insert(PK.into(), key.pk.clone().into());
            item.insert(SK.into(), key.sk.clone().into());
            item.insert(TOKENS.into(), (tokens - 1).into());
            item.insert(REFILLED_AT.into(), refilled_at.into());
            item.insert(VERSION.into(), (version.unwrap_or(0) + 1).into());
            let guard = match version {
                Some(version) => Condition::equals(VERSION, version),
                None => Condition::NotExists,
            };
            match table.put(item, Some(guard)).await {
                Ok(()) => {
                    let remaining = u32::try_from(tokens - 1).unwrap_or(0);
                    return Ok(Decision::Allowed { remaining });
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    // Someone else took a token meanwhile: re-read, after a short jittered pause
                    // so a crowd of losers does not collide again in lockstep.
                    let pause = rand::random::<u64>() % (5 + u64::from(attempt.min(10)) * 5);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn refills_four_a_day_up_to_the_capacity() {
        let bucket = INTERVIEW_BUCKET;
        assert_eq!(bucket.period_ms(), DAY_MS / 4);
        // Empty at t=0: a quarter day later one token, the remainder kept.
        assert_eq!(bucket.refilled(0, 0, DAY_MS / 4 + 10), (1, DAY_MS / 4));
        assert_eq!(bucket.refilled(0, 0, DAY_MS / 4 - 1), (0, 0));
        // Never above the capacity; a full bucket's clock moves to now.
        assert_eq!(bucket.refilled(10, 0, 10 * DAY_MS), (12, 10 * DAY_MS));
        assert_eq!(bucket.refilled(12, 0, 5), (12, 5));
        assert_eq!(bucket.refilled(3, 50, 10), (3, 50), "a clock behind adds nothing");
    }

    #[cfg(feature = "local")]
    #[tokio::test]
    async fn modes_spend_deny_or_skip() {
        let path = std::env::temp_dir().join(format!("darasa-protect-{}.redb", uuid::Uuid::now_v7()));
        let table = crate::store::embedded::EmbeddedTable::open(&path).unwrap();
        let live = TokenBucket {
            name: "t",
            capacity: 2,
            refill: 1,
            interval: Duration::from_secs(60),
            mode: Mode::Live,
        };
        assert_eq!(live.take(&table, "u", 0).await.unwrap(), Decision::Allowed { remaining: 1 });
        assert_eq!(live.take(&table, "u", 10).await.unwrap(), Decision::Allowed { remaining: 0 });
        assert_eq!(
            live.take(&table, "u", 20_500).await.unwrap(),
            Decision::Denied { retry_after_seconds: 40 }
        );
        assert_eq!(live.take(&table, "u", 60_000).await.unwrap(), Decision::Allowed { remaining: 0 });
        let dry = TokenBucket { mode: Mode::DryRun, ..live };
        assert_eq!(dry.take(&table, "u", 60_001).await.unwrap(), Decision::Allowed { remaining: 0 });
        let off = TokenBucket { mode: Mode::Off, name: "off", ..live };
        for _ in 0..5 {
            assert_eq!(off.take(&table, "u", 0).await.unwrap(), Decision::Allowed { remaining: 2 });
        }
        assert!(table.get(&off.key("u")).await.unwrap().is_none(), "off never touches the table");
        let _ = std::fs::remove_file(&path);
    }
}
