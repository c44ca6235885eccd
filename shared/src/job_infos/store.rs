//! How job infos are stored. A job info is `USER#<userId> / JOBINFO#<id>`; its `updatedKey`
//! (index `byUpdated`) orders the dashboard list by `updatedAt`; everything attached to it carries
//! a `parentKey` under `children_prefix(id)` (index `byParent`), so one query finds a job's
//! children for its lists and its cascade. While a delete cascades, the job carries `deleting`.

use time::OffsetDateTime;
use uuid::Uuid;

use super::JobInfo;
use crate::clock;
use crate::store::{
    self, Condition, Copied, Cursor, Index, Item, Key, Query, Record, StoreError, Update, Write,
};
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

/// A job info of a listed page, as the answer writes it out (`write_json`).
#[derive(Debug)]
pub enum Listed {
    /// The API's fields copied out of the item's stored JSON (the embedded store's records), as
    /// a JSON object. It was written by serializing a `JobInfo` (`to_item`), so each field
    /// already reads as the answer writes it: nothing is decoded into a `JobInfo` and encoded
    /// again (most of a warm list request's own work).
    Text(String),
    /// Decoded (DynamoDB's records, whose attributes arrive decoded).
    Job(JobInfo),
}

impl Listed {
    /// Its JSON, appended to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Self::Text(object) => {
                out.extend_from_slice(object.as_bytes());
                Ok(())
            }
            Self::Job(job) => serde_json::to_writer(out, job),
        }
    }

    /// The job a page's record holds, unless it is being deleted. A stored text missing a field
    /// is refused here, before any of the answer is written.
    pub fn of(record: Record) -> Result<Option<Self>, StoreError> {
        if record.has(DELETING) {
            return Ok(None);
        }
        match record {
            Record::Json(json) => json
                .copy_object(&API_FIELDS)
                .map(|fields| Some(Self::Text(fields)))
                .ok_or_else(|| StoreError::Mapping("a stored job info lacks one of its fields".into())),
            record => record.decode().map(|job| Some(Self::Job(job))),
        }
    }
}

/// `JobInfo`'s fields, in its order and with its names, as the store holds them (it serializes a
/// `JobInfo`). Storage attributes (keys, `updatedKey`, `deleting`) are not fields, so they are left
/// out. A field added to `JobInfo` must be added here: the tests below compare the bytes of both.
const API_FIELDS: [Copied; 9] = [
    Copied::required("id"),
    Copied::required("userId"),
    Copied::required("name"),
    // `None` is written as `null`; an item stored without it reads as `None`, as `JobInfo` does.
    Copied::or_null("title"),
    Copied::required("experienceLevel"),
    Copied::required("description"),
    Copied::required("createdAt"),
    Copied::required("updatedAt"),
    Copied::required("version"),
];

/// One page of a user's job infos, newest `updatedAt` first.
pub fn newest_first(user_id: &str, limit: usize, cursor: Option<Cursor>) -> Query {
    Query::new(users::partition(user_id), KIND)
        .index(Index::ByUpdated)
        .descending()
        .limit(limit)
        .after(cursor)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The item as the embedded store hands it out.
    fn json_record(item: &Item) -> Record {
        Record::Json(store::Indexed::read(&serde_json::to_string(item).unwrap()).unwrap().into_owned())
    }

    /// What the answer holds for `record`.
    fn listed(record: Record) -> Option<Value> {
        Listed::of(record).unwrap().map(|listed| serde_json::from_slice(&written(&listed)).unwrap())
    }

    fn written(listed: &Listed) -> Vec<u8> {
        let mut out = Vec::new();
        listed.write_json(&mut out).unwrap();
        out
    }

    #[test]
    fn a_listed_job_reads_as_the_job_itself_whichever_store_holds_it() {
        let quoted = "He said \"ship it\"\nthen left: <b>€</b> \\ done";
        for job in [JobInfo::example(Some("Staff \"Rust\" engineer"), quoted), JobInfo::example(None, "Go")] {
            let item = to_item(&job).unwrap();
            let expected = serde_json::to_value(&job).unwrap();
            assert_eq!(listed(json_record(&item)), Some(expected.clone()), "copied from the text");
            assert_eq!(listed(Record::Item(item.clone())), Some(expected.clone()), "decoded");
            let copied =
                String::from_utf8(written(&Listed::of(json_record(&item)).unwrap().unwrap())).unwrap();
            assert_eq!(copied, serde_json::to_string(&job).unwrap(), "the same bytes, in the same order");
            assert!(!copied.contains("updatedKey") && !copied.contains("\"pk\""), "no storage attributes");
        }
    }

    #[test]
    fn a_job_being_deleted_is_not_listed_and_a_damaged_one_is_refused_before_the_answer() {
        let job = JobInfo::example(None, "Rust");
        let mut item = to_item(&job).unwrap();
        item.insert(DELETING.into(), Value::Bool(true));
        assert_eq!(listed(json_record(&item)), None);
        assert_eq!(listed(Record::Item(item)), None);

        let mut untitled = to_item(&job).unwrap();
        untitled.remove("title");
        let expected = serde_json::to_value(&job).unwrap();
        assert_eq!(
            listed(json_record(&untitled)),
            Some(expected),
            "stored without a title: null, as decoded"
        );

        let mut damaged = to_item(&job).unwrap();
        damaged.remove("version");
        assert!(matches!(Listed::of(json_record(&damaged)), Err(StoreError::Mapping(_))));
    }
}
