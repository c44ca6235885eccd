//! How questions are stored: `USER#<userId> / QUESTION#<id>`, attached to their job (`children`),
//! so the feedback route finds one by its id alone and the job lists them in creation order.

use uuid::Uuid;

use super::Question;
use crate::children::ChildKind;
use crate::store::{Item, Key, StoreError};

pub const KIND: ChildKind = ChildKind("QUESTION");

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

/// The item attribute holding what a complete answer covers: beside the question, not in it, so
/// the question's JSON never gives them away.
const KEY_POINTS: &str = "keyPoints";

pub fn to_item(user_id: &str, question: &Question, key_points: &[String]) -> Result<Item, StoreError> {
    let mut item = KIND.item(user_id, question.job_info_id, question.id, question)?;
    if !key_points.is_empty() {
        item.insert(KEY_POINTS.into(), key_points.into());
    }
    Ok(item)
}

/// The key points stored with a question (none when its model gave none).
pub fn key_points(item: &Item) -> Vec<String> {
    item.get(KEY_POINTS)
        .and_then(serde_json::Value::as_array)
        .map(|points| points.iter().filter_map(|point| point.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
