//! How analyses are stored: `USER#<userId> / RESUME#<id>`, attached to their job (`children`), so
//! the job lists them and its delete cascades to them. The file itself is never stored.

use uuid::Uuid;

use super::ResumeAnalysis;
use crate::children::ChildKind;
use crate::store::{Item, Key, StoreError};

pub const KIND: ChildKind = ChildKind("RESUME");

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

pub fn to_item(user_id: &str, record: &ResumeAnalysis) -> Result<Item, StoreError> {
    KIND.item(user_id, record.job_info_id, record.id, record)
}
