//! How attempts are stored, and the one transaction that records one.
//!
//! An attempt is `USER#<userId> / ATTEMPT#<questionId>#<attemptId>`: the question id leads the
//! sort key, so `begins_with(sk, "ATTEMPT#<questionId>#")` lists one question's attempts in
//! creation order (attempt ids are UUIDv7) on the table itself, and the route that lists them
//! needs only the question id it is given. It is attached to its job like every child
//! (`parentKey = JOBINFO#<jobId>#ATTEMPT#<questionId>#<attemptId>`), so the job's cascade finds it.
//!
//! Recording an attempt is one `TransactWriteItems`: put the attempt, update the question's
//! counters (`attempts`, `bestRating`), add to the job's progress item, and check that the job
//! still accepts children. Which update of the question applies is a [`Step`]; its condition is
//! what keeps `bestRating` and `answered` exact under concurrent attempts.

use time::OffsetDateTime;
use uuid::Uuid;

use super::Attempt;
use crate::children::ChildKind;
use crate::job_infos::{self, store::progress_key, store::progress_update};
use crate::questions::store::{self as questions_store, ATTEMPTS, BEST_RATING, progress_counter};
use crate::questions::{Difficulty, Practice, Question};
use crate::store::{
    Condition, Cursor, Guard, Item, Key, PK, Query, SK, StoreError, Transaction, Update, Write,
};
use crate::users;

pub const KIND: ChildKind = ChildKind("ATTEMPT");

/// Progress counters an attempt adds to (besides `attempts`): questions with at least one attempt,
/// and per day the rated attempts and the sum of their ratings.
pub const ANSWERED: &str = "answered";
pub const RATED: &str = "rated";
pub const SUM: &str = "sum";
/// The prefix of the per-day counters: `day#<YYYY-MM-DD>#<counter>` (UTC days).
pub const DAY: &str = "day#";

/// `<questionId>#<attemptId>`: what follows `ATTEMPT#` in an attempt's sort key.
fn suffix(question_id: Uuid, id: Uuid) -> String {
    format!("{question_id}#{id}")
}

pub fn key(user_id: &str, question_id: Uuid, id: Uuid) -> Key {
    KIND.key_at(user_id, &suffix(question_id, id))
}

/// The sort-key prefix of one question's attempts.
pub fn of_question_prefix(question_id: Uuid) -> String {
    format!("{}#{question_id}#", KIND.0)
}

/// One question's attempts, newest first.
pub fn of_question(user_id: &str, question_id: Uuid) -> Query {
    Query::new(users::partition(user_id), of_question_prefix(question_id)).descending()
}

/// Whether `cursor` was issued by a list of the attempts under `prefix`: exactly a table key
/// (no index attribute, which DynamoDB would refuse as a start key) inside that prefix, so a
/// cursor of another list is a clear 400 rather than a store error.
pub fn cursor_fits(cursor: &Cursor, prefix: &str) -> bool {
    cursor.0.len() == 2
        && cursor.0.contains_key(PK)
        && cursor.0.get(SK).is_some_and(|sk| sk.starts_with(prefix))
}

pub fn to_item(user_id: &str, attempt: &Attempt) -> Result<Item, StoreError> {
    KIND.item_at(user_id, attempt.job_info_id, &suffix(attempt.question_id, attempt.id), attempt)
}

/// How an attempt changes its question's counters, from the most it may change to the least.
/// The question's `attempts` and `bestRating` only ever grow, so a step whose condition failed
/// can never hold again for this attempt: recording moves on to the next and ends after at most
/// three tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The question had no attempt: this one makes it answered. Guarded by `attempts < 1`, so of
    /// racing first attempts exactly one counts the question in `answered`.
    First,
    /// A rated attempt above the best so far: sets `bestRating`, guarded by the best still being
    /// below it, so the stored best is always the maximum, whatever the order of commits.
    Better,
    /// Anything else: counted only.
    Counted,
}

impl Step {
    /// Where recording starts, from the question's counters as read before grading. Skipping a
    /// step is safe because the counters only grow: one that was already ≥ 1 (or ≥ the rating)
    /// still is.
    pub fn start(seen: Practice, rating: Option<u8>) -> Self {
        if seen.attempts == 0 {
            Self::First
        } else if rating.is_some_and(|rating| seen.best_rating.is_none_or(|best| best < rating)) {
            Self::Better
        } else {
            Self::Counted
        }
    }

    /// The step to try when this one's condition failed (`None`: the question is gone).
    pub fn next(self, rating: Option<u8>) -> Option<Self> {
        match self {
            Self::First if rating.is_some() => Some(Self::Better),
            Self::First | Self::Better => Some(Self::Counted),
            Self::Counted => None,
        }
    }
}

/// The transaction that records `attempt` of `question` at `step`. The question's update is
/// labelled `Guard::Unchanged` (its counters as the step expects them), the job's check
/// `Guard::Parent`.
pub fn record(
    user_id: &str,
    question: &Question,
    attempt: &Attempt,
    step: Step,
) -> Result<Transaction, StoreError> {
    let item = to_item(user_id, attempt)?;
    Ok(Transaction::new()
        .guarded(Guard::Absent, Write::Put { item, condition: Some(Condition::NotExists) })
        .guarded(Guard::Unchanged, question_write(user_id, question.id, attempt.rating, step))
        .write(progress_write(user_id, question.job_info_id, question.difficulty, attempt, step))
        .guarded(Guard::Parent, job_infos::attach_guard(user_id, question.job_info_id)))
}

/// The question's counters at `step`. Every step requires the question to exist: an update of
/// an absent item would create one.
fn question_write(user_id: &str, question_id: Uuid, rating: Option<u8>, step: Step) -> Write {
    let mut update = Update::new().add(ATTEMPTS, 1).add("version", 1);
    let mut condition = vec![Condition::Exists];
    match (step, rating) {
        (Step::First, _) => condition.push(Condition::Below(ATTEMPTS.into(), 1)),
        // Below counts an absent best as 0, which a 0 does not beat: for 0, only "no best yet".
        (Step::Better, Some(0)) => condition.push(Condition::AttributeAbsent(BEST_RATING.into())),
        (Step::Better, Some(rating)) => condition.push(Condition::Below(BEST_RATING.into(), rating.into())),
        (Step::Better, None) | (Step::Counted, _) => {}
    }
    if let (Step::First | Step::Better, Some(rating)) = (step, rating) {
        update = update.set(BEST_RATING, rating);
    }
    Write::Update {
        key: questions_store::key(user_id, question_id),
        update,
        condition: Some(Condition::All(condition)),
    }
}

/// The job's progress counters for one more attempt: in total, for the question's difficulty,
/// and for the day; a rating is counted in a histogram (`rating#<n>`), from which the average and
/// the best follow with nothing but `ADD`s.
fn progress_write(
    user_id: &str,
    job_id: Uuid,
    difficulty: Difficulty,
    attempt: &Attempt,
    step: Step,
) -> Write {
    let day = day_of(attempt.created_at);
    let mut update = progress_update(job_id).add(&day_counter(&day, ATTEMPTS), 1);
    for scope in [None, Some(difficulty)] {
        update = update.add(&progress_counter(scope, ATTEMPTS), 1);
        if let Some(rating) = attempt.rating {
            update = update.add(&progress_counter(scope, &rating_counter(rating)), 1);
        }
        if step == Step::First {
            update = update.add(&progress_counter(scope, ANSWERED), 1);
        }
    }
    if let Some(rating) = attempt.rating {
        update = update.add(&day_counter(&day, RATED), 1).add(&day_counter(&day, SUM), rating.into());
    }
    Write::Update { key: progress_key(user_id, job_id), update, condition: None }
}

/// The histogram counter of `rating`.
pub fn rating_counter(rating: u8) -> String {
    format!("rating#{rating}")
}

/// The per-day counter `counter` of `day` (`YYYY-MM-DD`).
pub fn day_counter(day: &str, counter: &str) -> String {
    format!("{DAY}{day}#{counter}")
}

/// The UTC day of `at`, as `YYYY-MM-DD` (text order is time order).
pub fn day_of(at: OffsetDateTime) -> String {
    let date = at.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(attempts: u64, best_rating: Option<u8>) -> Practice {
        Practice { attempts, best_rating }
    }

    #[test]
    fn steps_start_where_the_read_counters_allow_and_only_move_down() {
        assert_eq!(Step::start(question(0, None), Some(5)), Step::First);
        assert_eq!(Step::start(question(2, Some(4)), Some(5)), Step::Better);
        assert_eq!(Step::start(question(2, None), Some(0)), Step::Better);
        assert_eq!(Step::start(question(2, Some(5)), Some(5)), Step::Counted);
        assert_eq!(Step::start(question(2, Some(5)), None), Step::Counted);
        assert_eq!(Step::First.next(Some(3)), Some(Step::Better));
        assert_eq!(Step::First.next(None), Some(Step::Counted));
        assert_eq!(Step::Better.next(Some(3)), Some(Step::Counted));
        assert_eq!(Step::Counted.next(Some(3)), None);
    }

    #[test]
    fn attempts_of_a_question_share_a_prefix_no_other_question_has() {
        let (question, other) = (Uuid::now_v7(), Uuid::now_v7());
        let key = key("u", question, Uuid::now_v7());
        assert!(key.sk.starts_with(&of_question_prefix(question)));
        assert!(!key.sk.starts_with(&of_question_prefix(other)));
        assert_eq!(day_of(time::macros::datetime!(2026-12-01 23:59:59 -02:00)), "2026-12-02");
    }
}
