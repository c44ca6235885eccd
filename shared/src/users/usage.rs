//! Lifetime usage counters (deleting a job info refunds nothing), and the one way a counted thing
//! is written: in the same transaction as its counter, which may only move below the plan's
//! limit. So a quota is checked and consumed atomically, never counted then inserted.

use serde::{Deserialize, Serialize};

use super::store::usage_key;
use crate::clock;
use crate::store::{self, Condition, Guard, StoreResult, Table, Transaction, Update, Write};

/// The counters as `/api/me` reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub questions_generated: u64,
    pub interviews_started: u64,
    pub resume_analyses: u64,
}

impl Usage {
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
