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

pub fn to_item(user_id: &str, question: &Question) -> Result<Item, StoreError> {
    KIND.item(user_id, question.job_info_id, question.id, question)
}
