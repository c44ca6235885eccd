//! Lifetime usage counters (deleting a job info refunds nothing), and the one way a counted thing
//! is written: in the same transaction as its counter, which may only move below the plan's
//! limit. So a quota is checked and consumed atomically, never counted then inserted.

use serde::{Deserialize, Serialize};

use super::store::usage_key;
use crate::clock;
use crate::domain::{DomainError, DomainResult};
use crate::store::{self, Condition, Guard, SharedTable, StoreResult, Table, Transaction, Update, Write};

/// The counters as `/api/me` reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub questions_generated: u64,
    pub interviews_started: u64,
    pub resume_analyses: u64,
}

impl Usage {
    /// Whether no `counter` unit is left under `limit` (`None`: unlimited, never spent).
    pub fn spent(&self, counter: Counter, limit: Option<u64>) -> bool {
        limit.is_some_and(|limit| self.of(counter) >= limit)
    }

    pub fn of(&self, counter: Counter) -> u64 {
        match counter {
            Counter::QuestionsGenerated => self.questions_generated,
            Counter::InterviewsStarted => self.interviews_started,
            Counter::ResumeAnalyses => self.resume_analyses,
        }
    }
}

/// One counter of the usage item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    QuestionsGenerated,
    InterviewsStarted,
    ResumeAnalyses,
}

impl Counter {
    /// The attribute on the usage item.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::QuestionsGenerated => QUESTIONS_GENERATED,
            Self::InterviewsStarted => INTERVIEWS_STARTED,
            Self::ResumeAnalyses => RESUME_ANALYSES,
        }
    }
}

/// Counter attribute names on the usage item.
pub const QUESTIONS_GENERATED: &str = "questionsGenerated";
pub const INTERVIEWS_STARTED: &str = "interviewsStarted";
pub const RESUME_ANALYSES: &str = "resumeAnalyses";

pub async fn get_usage(table: &dyn Table, user_id: &str) -> StoreResult<Usage> {
    Ok(table.get(&usage_key(user_id)).await?.map(store::from_item).transpose()?.unwrap_or_default())
}

/// Whether `user_id` has no `counter` unit left under `limit` (`None`: unlimited, never spent),
/// read without taking one.
pub async fn spent(
    table: &dyn Table,
    user_id: &str,
    counter: Counter,
    limit: Option<u64>,
) -> StoreResult<bool> {
    match limit {
        None => Ok(false),
        Some(_) => Ok(get_usage(table, user_id).await?.spent(counter, limit)),
    }
}

/// Adds to `transaction` the write that counts one more `counter` for `user_id`, guarded by
/// `Guard::Quota` when there is a `limit` (`None`: unlimited, counted all the same).
pub fn count(transaction: Transaction, user_id: &str, counter: Counter, limit: Option<u64>) -> Transaction {
    let update = Update::new().add(counter.attribute(), 1).set("updatedAt", clock::rfc3339(clock::now()));
    let below_limit = limit
        .map(|limit| Condition::Below(counter.attribute().into(), i64::try_from(limit).unwrap_or(i64::MAX)));
    let write = Write::Update { key: usage_key(user_id), update, condition: below_limit };
    match limit {
        Some(_) => transaction.guarded(Guard::Quota, write),
        None => transaction.write(write),
    }
}

/// One unit of a quota, taken before the work it pays for starts (a model call, say), so parallel
/// requests at the limit are refused before any of them spends; given back if the work fails.
/// Dropping an uncommitted reservation gives it back.
pub struct Reservation {
    table: SharedTable,
    user_id: String,
    counter: Counter,
    committed: bool,
}

impl Reservation {
    /// The work it paid for is done: the unit stays counted.
    pub fn commit(mut self) {
        self.committed = true;
    }

    /// The work failed: gives the unit back now.
    pub async fn release(mut self) {
        self.committed = true;
        let update =
            Update::new().add(self.counter.attribute(), -1).set("updatedAt", clock::rfc3339(clock::now()));
        if let Err(error) = self.table.update(&usage_key(&self.user_id), update, None).await {
            tracing::error!(%error, user_id = self.user_id, "a reserved quota unit was not given back");
        }
    }
}

/// Gives back a unit reserved beside work that was then refused (nothing when none was).
pub async fn give_back(reservation: DomainResult<Reservation>) {
    if let Ok(reservation) = reservation {
        reservation.release().await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(user_id = self.user_id, "no runtime to give a reserved quota unit back");
            return;
        };
        let (table, user_id, counter) = (self.table.clone(), std::mem::take(&mut self.user_id), self.counter);
        runtime.spawn(async move {
            let update = Update::new().add(counter.attribute(), -1).set("updatedAt", clock::rfc3339(clock::now()));
            if let Err(error) = table.update(&usage_key(&user_id), update, None).await {
                tracing::error!(%error, user_id, counter = counter.attribute(), "a reserved quota unit was not given back");
            }
        });
    }
}

/// Takes one `counter` unit of `user_id`'s quota: `PlanLimit` when `limit` is reached (`None`:
/// unlimited, counted all the same).
pub async fn reserve(
    table: &SharedTable,
    user_id: &str,
    counter: Counter,
    limit: Option<u64>,
) -> DomainResult<Reservation> {
    let update = Update::new().add(counter.attribute(), 1).set("updatedAt", clock::rfc3339(clock::now()));
    let below_limit = limit
        .map(|limit| Condition::Below(counter.attribute().into(), i64::try_from(limit).unwrap_or(i64::MAX)));
    match table.update(&usage_key(user_id), update, below_limit).await {
        Ok(_) => {
            Ok(Reservation { table: table.clone(), user_id: user_id.to_owned(), counter, committed: false })
        }
        Err(error) if error.is_condition_failed() => Err(DomainError::PlanLimit),
        Err(other) => Err(other.into()),
    }
}
