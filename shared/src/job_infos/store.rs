//! How job infos are stored. A job info is `USER#<userId> / JOBINFO#<id>`; its `updatedKey`
//! (index `byUpdated`) orders the dashboard list by `updatedAt`; everything attached to it carries
//! a `parentKey` under `children_prefix(id)` (index `byParent`), so one query finds a job's
//! children for its lists and its cascade. While a delete cascades, the job carries `deleting`.

use time::OffsetDateTime;
use uuid::Uuid;

use super::JobInfo;
use crate::clock;
use crate::store::{self, Condition, Cursor, Index, Item, Key, Query, Record, StoreError, Update, Write};
use crate::users;

/// The sort-key prefix of job infos.
pub const KIND: &str = "JOBINFO#";
/// Set while a delete cascades, so nothing new is attached and reads treat the job as gone.
pub const DELETING: &str = "deleting";

pub fn key(user_id: &str, id: Uuid) -> Key {
    Key::new(users::partition(user_id), format!("{KIND}{id}"))
}

/// Sorts job infos by `updatedAt` (zero-padded milliseconds, so text order is time order).
pub fn updated_key(id: Uuid, updated_at: OffsetDateTime) -> String {
    let millis = updated_at.unix_timestamp_nanos() / 1_000_000;
    format!("{KIND}{millis:015}#{id}")
}

/// The `parentKey` prefix shared by everything attached to job `id`.
pub fn children_prefix(id: Uuid) -> String {
    format!("{KIND}{id}#")
}

/// Everything attached to job `id`, for its cascade.
pub fn children(user_id: &str, id: Uuid) -> Query {
    Query::new(users::partition(user_id), children_prefix(id)).index(Index::ByParent)
}

/// The job's progress counters: one item per job, `PROGRESS#<jobId>`, attached under the job as
/// its children are (`parentKey = JOBINFO#<jobId>#PROGRESS#<jobId>`, so its cascade removes it).
/// Questions count themselves in it when stored, attempts when graded (`attempts::progress`
/// reads it), each with `ADD` in the transaction that stores them: no request ever scans a job's
/// attempts to report progress.
pub const PROGRESS: &str = "PROGRESS#";

pub fn progress_key(user_id: &str, id: Uuid) -> Key {
    Key::new(users::partition(user_id), format!("{PROGRESS}{id}"))
}

/// The start of every write to job `id`'s progress item: it (re)attaches the item to the job, as
/// whichever write comes first creates it. Add the counters to it.
pub fn progress_update(id: Uuid) -> Update {
    Update::new()
        .set(Index::ByParent.attribute(), format!("{}{PROGRESS}{id}", children_prefix(id)))
        .set("jobInfoId", id.to_string())
        .set("updatedAt", clock::rfc3339(clock::now()))
}

/// A condition that holds while the job exists and is not being deleted.
pub fn attachable() -> Condition {
    Condition::All(vec![Condition::Exists, Condition::AttributeAbsent(DELETING.into())])
}

/// The transaction write that fails unless job `id` still accepts children.
pub fn attach_guard(user_id: &str, id: Uuid) -> Write {
    Write::Check { key: key(user_id, id), condition: attachable() }
}

pub fn to_item(job: &JobInfo) -> Result<Item, StoreError> {
    let mut item = store::to_item(&key(&job.user_id, job.id), job)?;
    item.insert(Index::ByUpdated.attribute().into(), updated_key(job.id, job.updated_at).into());
    Ok(item)
}

/// The job a stored item holds, unless it is being deleted.
pub fn visible(record: Record) -> Result<Option<JobInfo>, StoreError> {
    if record.has(DELETING) { Ok(None) } else { record.decode().map(Some) }
}

/// One page of a user's job infos, newest `updatedAt` first.
pub fn newest_first(user_id: &str, limit: usize, cursor: Option<Cursor>) -> Query {
    Query::new(users::partition(user_id), KIND)
        .index(Index::ByUpdated)
        .descending()
        .limit(limit)
        .after(cursor)
}
