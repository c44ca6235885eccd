//! Applying a verified event at most once per delivery id: a dedupe item per `svix-id` (kept for
//! `DEDUPE_TTL`), Clerk's `updated_at` order for upserts, the tombstone against late deliveries
//! after `user.deleted`.

use time::OffsetDateTime;

use super::DEDUPE_TTL;
use super::events::Event;
use crate::clock;
use crate::store::{
    Condition, EXPIRES_AT, Guard, Item, Key, PK, SK, StoreResult, Table, Transaction, TransactionError, Write,
};
use crate::users;

const DELIVERY_PREFIX: &str = "WEBHOOK#";
const DELIVERY_SORT: &str = "WEBHOOK";

/// What a verified delivery did. Every outcome is answered 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change was made.
    Applied,
    /// This `svix-id` was applied before (a retry or replay): nothing changed.
    Duplicate,
    /// The stored profile is newer than this update: nothing changed.
    Stale,
    /// The user was deleted; a late create/update does not bring them back.
    Deleted,
    /// An event type this backend does not act on.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Deleted => "deleted",
            Self::Ignored => "ignored",
        }
    }
}

/// The dedupe item of delivery `id`, in its own partition.
pub fn delivery_key(id: &str) -> Key {
    Key::new(format!("{DELIVERY_PREFIX}{id}"), DELIVERY_SORT)
}

fn delivery_item(id: &str, event: &Event, outcome: Outcome, now: OffsetDateTime) -> Item {
    let key = delivery_key(id);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("type".into(), event.kind().into());
    if let Some(user_id) = event.user_id() {
        item.insert("userId".into(), user_id.into());
    }
    item.insert("outcome".into(), outcome.as_str().into());
    item.insert("receivedAt".into(), clock::rfc3339(now).into());
    item.insert(EXPIRES_AT.into(), clock::epoch_seconds(now + DEDUPE_TTL).into());
    item
}

/// Applies delivery `id` carrying `event`, at most once per id.
pub async fn apply(table: &dyn Table, id: &str, event: &Event, now: OffsetDateTime) -> StoreResult<Outcome> {
    match event {
        Event::Other { .. } => Ok(Outcome::Ignored),
        Event::Upsert { profile, clerk_updated_at, .. } => {
            // One transaction: record the id, require no tombstone, write unless newer is stored.
            // The guard that fails tells which case it is.
            let transaction = Transaction::new()
                .guarded(
                    Guard::Absent,
                    Write::Put {
                        item: delivery_item(id, event, Outcome::Applied, now),
                        condition: Some(Condition::NotExists),
                    },
                )
                .guarded(Guard::AccountAlive, users::not_deleted(&profile.id))
                .guarded(Guard::NotNewer, users::upsert_profile_write(profile, *clerk_updated_at)?);
            match transaction.commit(table).await {
                Ok(()) => Ok(Outcome::Applied),
                Err(TransactionError::Refused(Guard::Absent)) => Ok(Outcome::Duplicate),
                Err(TransactionError::Refused(Guard::AccountAlive)) => {
                    record(table, id, event, Outcome::Deleted, now).await
                }
                Err(TransactionError::Refused(_)) => record(table, id, event, Outcome::Stale, now).await,
                Err(TransactionError::Store(error)) => Err(error),
            }
        }
        Event::Delete { user_id } => {
            if table.get(&delivery_key(id)).await?.is_some() {
                return Ok(Outcome::Duplicate);
            }
            // Recorded only after the sweep completed, so a retry after a failure finishes it.
            let deleted = users::delete_user(table, user_id, now).await?;
            tracing::info!(user_id, deleted, "user deleted with all their data");
            record(table, id, event, Outcome::Applied, now).await
        }
    }
}

/// Remembers delivery `id` with the outcome it had; a concurrent copy that got there first makes
/// this one a duplicate.
async fn record(
    table: &dyn Table,
    id: &str,
    event: &Event,
    outcome: Outcome,
    now: OffsetDateTime,
) -> StoreResult<Outcome> {
    match table.put(delivery_item(id, event, outcome, now), Some(Condition::NotExists)).await {
        Ok(()) => Ok(outcome),
        Err(error) if error.is_condition_failed() => Ok(Outcome::Duplicate),
        Err(other) => Err(other),
    }
}
