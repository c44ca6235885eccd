//! How questions are stored: `USER#<userId> / QUESTION#<id>`, attached to their job (`children`),
//! so the feedback route finds one by its id alone and the job lists them in creation order.
//! A question also carries the counters of its graded attempts (`attempts`, `bestRating`, written
//! by `attempts::record`), and each stored question is counted in its job's progress item.

use uuid::Uuid;

use serde_json::Value;

use super::{Difficulty, Practice, Question, QuestionView};
use crate::children::ChildKind;
use crate::job_infos::store::{progress_key, progress_update};
use crate::store::{Item, Key, StoreError, Write};

pub const KIND: ChildKind = ChildKind("QUESTION");

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

/// The item attribute holding what a complete answer covers: beside the question, not in it, so
/// the question's JSON never gives them away.
pub const KEY_POINTS: &str = "keyPoints";
/// How many graded attempts the question has; absent (0) until the first.
pub const ATTEMPTS: &str = "attempts";
/// The best rating among them; absent until a rated attempt.
pub const BEST_RATING: &str = "bestRating";
/// The progress counter of stored questions.
pub const QUESTIONS: &str = "questions";

/// The name of a progress counter: `counter` for the whole job, `<difficulty>#<counter>` for the
/// questions of one difficulty.
pub fn progress_counter(difficulty: Option<Difficulty>, counter: &str) -> String {
    match difficulty {
        Some(difficulty) => format!("{}#{counter}", difficulty.as_str()),
        None => counter.to_owned(),
    }
}

pub fn to_item(user_id: &str, question: &Question, key_points: &[String]) -> Result<Item, StoreError> {
    let mut item = KIND.item(user_id, question.job_info_id, question.id, question)?;
    if !key_points.is_empty() {
        item.insert(KEY_POINTS.into(), key_points.into());
    }
    Ok(item)
}

/// A stored question with its practice counters (absent: none yet). Only graded attempts write
/// them, never as `null`: DynamoDB compares no number with NULL, which would defeat the
/// conditions that keep `bestRating` exact.
pub fn view(item: Item) -> Result<QuestionView, StoreError> {
    let practice = Practice {
        attempts: item.get(ATTEMPTS).and_then(Value::as_u64).unwrap_or(0),
        best_rating: item.get(BEST_RATING).and_then(Value::as_u64).and_then(|best| u8::try_from(best).ok()),
    };
    Ok(QuestionView { question: crate::store::from_item(item)?, practice })
}

/// The key points stored with a question (none when its model gave none).
pub fn key_points(item: &Item) -> Vec<String> {
    item.get(KEY_POINTS)
        .and_then(serde_json::Value::as_array)
        .map(|points| points.iter().filter_map(|point| point.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The write that counts `question` in its job's progress (in the transaction that stores it).
pub fn count_in_progress(user_id: &str, question: &Question) -> Write {
    let update = progress_update(question.job_info_id)
        .add(QUESTIONS, 1)
        .add(&progress_counter(Some(question.difficulty), QUESTIONS), 1);
    Write::Update { key: progress_key(user_id, question.job_info_id), update, condition: None }
}
