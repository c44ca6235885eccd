//! Where a user's items live: the partition everything a user owns shares, and the keys of the
//! profile, the usage counters and the tombstone `user.deleted` leaves.

use crate::store::{Condition, Key, Write};

/// The partition key of everything `user_id` owns. Built only from a verified id, so no request
/// can address another user's partition.
pub fn partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

const PROFILE: &str = "PROFILE";
const USAGE: &str = "USAGE";
const TOMBSTONE: &str = "TOMBSTONE";

pub fn profile_key(user_id: &str) -> Key {
    Key::new(partition(user_id), PROFILE)
}

pub fn usage_key(user_id: &str) -> Key {
    Key::new(partition(user_id), USAGE)
}

/// The marker `user.deleted` leaves in the (otherwise emptied) partition.
pub fn tombstone_key(user_id: &str) -> Key {
    Key::new(partition(user_id), TOMBSTONE)
}

/// A transaction write that fails unless the user is alive (no tombstone).
pub fn not_deleted(user_id: &str) -> Write {
    Write::Check { key: tombstone_key(user_id), condition: Condition::NotExists }
}
