//! How interviews are stored: `USER#<userId> / INTERVIEW#<id>`, attached to their job
//! (`children`). Unset optional fields are left out of the item (not `null`), so a guard on
//! `humeChatId` being absent sees exactly the interviews not yet started.

use uuid::Uuid;

use super::Interview;
use crate::children::ChildKind;
use crate::store::{Item, Key, StoreError};

pub const KIND: ChildKind = ChildKind("INTERVIEW");
pub const HUME_CHAT_ID: &str = "humeChatId";

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

/// Who holds Hume chat `chat_id`: one interview of one user, for ever (a chat id is never
/// attached twice). Its own partition, since any user might try to attach it; it holds only the
/// interview's id.
pub fn chat_claim_key(chat_id: &str) -> Key {
    Key::new(format!("HUMECHAT#{chat_id}"), "CLAIM")
}

pub fn to_item(user_id: &str, interview: &Interview) -> Result<Item, StoreError> {
    let mut item = KIND.item(user_id, interview.job_info_id, interview.id, interview)?;
    item.retain(|_, value| !value.is_null());
    Ok(item)
}
