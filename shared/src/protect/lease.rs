//! At most `slots` AI generations in flight per user, across every instance: each running
//! generation holds one lease item `USER#<u> / INFLIGHT#<n>`, taken with a create-if-absent and
//! given back when the generation ends. A lease expires on its own (`expiresAt`) a little after
//! the longest a generation may run, so an instance that dies mid-generation cannot hold a slot
//! for ever (the port treats an expired item as absent).

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::Mode;
use crate::clock;
use crate::domain::{DomainError, DomainResult};
use crate::store::{Condition, EXPIRES_AT, Item, Key, PK, SK, SharedTable, StoreResult};
use crate::users;

/// The AI generations a user may have running at once.
pub const GENERATION_SLOTS: u32 = 2;
/// Longer than any generation may run (the functions time out at 90 s).
pub const LEASE_LIFETIME: Duration = Duration::from_secs(120);

const LEASE_ID: &str = "leaseId";
/// What a refused caller is told to wait: generations take seconds.
const RETRY_AFTER_SECONDS: u64 = 5;

fn key(user_id: &str, slot: u32) -> Key {
    Key::new(users::partition(user_id), format!("INFLIGHT#{slot}"))
}

/// A held slot, given back by `release` or, failing that (a client gone mid-stream), when dropped.
/// With rate limits off no slot is taken and the lease holds nothing.
pub struct Lease {
    table: SharedTable,
    key: Key,
    id: String,
}

impl Lease {
    fn nothing(table: &SharedTable) -> Self {
        Self { table: Arc::clone(table), key: Key::new("", ""), id: String::new() }
    }
}

impl Lease {
    /// Gives the slot back now (only our own lease: one that expired and was taken by another
    /// generation stays).
    pub async fn release(mut self) {
        let id = std::mem::take(&mut self.id);
        if id.is_empty() {
            return;
        }
        if let Err(error) = self.table.delete(&self.key, Some(Condition::equals(LEASE_ID, id))).await
            && !error.is_condition_failed()
        {
            tracing::warn!(%error, "an AI generation's lease was not given back; it expires on its own");
        }
    }
}

/// `stream`, holding `lease` until it ends (then giving it back before the stream closes) or is
/// dropped.
pub fn hold_while<S>(stream: S, lease: Lease) -> impl Stream<Item = S::Item> + Send + 'static
where
    S: Stream + Send + 'static,
    S::Item: Send,
{
    async_stream::stream! {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            yield item;
        }
        lease.release().await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime to give a lease back; it expires on its own");
            return;
        };
        let (table, key, id) = (self.table.clone(), self.key.clone(), std::mem::take(&mut self.id));
        // Only our own lease: one that expired and was taken by another generation stays.
        runtime.spawn(async move {
            if let Err(error) = table.delete(&key, Some(Condition::equals(LEASE_ID, id))).await
                && !error.is_condition_failed()
            {
                tracing::warn!(%error, "an AI generation's lease was not given back; it expires on its own");
            }
        });
    }
}

/// Takes one of the user's `slots`; `None` when all are held.
pub async fn acquire(table: &SharedTable, user_id: &str, slots: u32) -> StoreResult<Option<Lease>> {
    let expires_at = clock::unix_seconds() + i64::try_from(LEASE_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    for slot in 0..slots {
        let key = key(user_id, slot);
        let id = Uuid::now_v7().to_string();
        let mut item = Item::new();
        item.insert(PK.into(), key.pk.clone().into());
        item.insert(SK.into(), key.sk.clone().into());
        item.insert(LEASE_ID.into(), id.clone().into());
        item.insert(EXPIRES_AT.into(), expires_at.into());
        match table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => return Ok(Some(Lease { table: Arc::clone(table), key, id })),
            Err(error) if error.is_condition_failed() => continue,
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

/// One of the user's generation slots, or `RateLimited` while all are held; the rule follows
/// the rate limits' `mode` (off: nothing is taken; dry-run: a refusal is only logged).
pub async fn for_generation(table: &SharedTable, user_id: &str, mode: Mode) -> DomainResult<Lease> {
    if mode == Mode::Off {
        return Ok(Lease::nothing(table));
    }
    match acquire(table, user_id, GENERATION_SLOTS).await? {
        Some(lease) => Ok(lease),
        None if mode == Mode::DryRun => {
            tracing::warn!(user_id, "more AI generations in flight than allowed (dry run)");
            Ok(Lease::nothing(table))
        }
        None => Err(DomainError::RateLimited { retry_after_seconds: RETRY_AFTER_SECONDS }),
    }
}

/// How many of the user's slots are free (for reports).
pub async fn free(table: &SharedTable, user_id: &str, slots: u32) -> StoreResult<u32> {
    let mut free = 0;
    for slot in 0..slots {
        if table.get(&key(user_id, slot)).await?.is_none() {
            free += 1;
        }
    }
    Ok(free)
}
