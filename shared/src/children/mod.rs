//! Items attached to a job info: questions, interviews, resume analyses, practice attempts and the
//! job's progress counters. Each kind is one `ChildKind`: its own sort key `<KIND>#<id>` in the
//! user's partition (so its id alone finds it, as the AI routes need) and a `parentKey` under its
//! job (so the job's lists and its cascade find it through the `byParent` index). Writes that
//! attach a child check, in the same transaction, that the job still accepts children
//! (`job_infos::attach_guard`).

mod routes;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use routes::page_request;

use crate::domain::DomainResult;
use crate::job_infos::store::children_prefix;
use crate::store::{self, Cursor, Index, Item, Key, Query, StoreError, Table};
use crate::users;

/// A kind of item attached to a job info, by its sort-key prefix (`QUESTION`, `INTERVIEW`, ...).
#[derive(Debug, Clone, Copy)]
pub struct ChildKind(pub &'static str);

impl ChildKind {
    pub fn key(self, user_id: &str, id: Uuid) -> Key {
        self.key_at(user_id, &id.to_string())
    }

    /// The key of the child whose sort key continues with `suffix` (`<KIND>#<suffix>`): a kind
    /// listed by something other than its job puts that first, e.g. an attempt's
    /// `<questionId>#<attemptId>`.
    pub fn key_at(self, user_id: &str, suffix: &str) -> Key {
        Key::new(users::partition(user_id), format!("{}#{suffix}", self.0))
    }

    /// The `parentKey` of the child `suffix` of job `job_id`, for a write that creates or keeps
    /// the child attached by updating it.
    pub fn parent_key_at(self, job_id: Uuid, suffix: &str) -> String {
        format!("{}{}#{suffix}", children_prefix(job_id), self.0)
    }

    /// `value` as an item of this kind, attached to job `job_id`.
    pub fn item<T: Serialize>(
        self,
        user_id: &str,
        job_id: Uuid,
        id: Uuid,
        value: &T,
    ) -> Result<Item, StoreError> {
        self.item_at(user_id, job_id, &id.to_string(), value)
    }

    /// Like `item`, keyed by `suffix` (see `key_at`).
    pub fn item_at<T: Serialize>(
        self,
        user_id: &str,
        job_id: Uuid,
        suffix: &str,
        value: &T,
    ) -> Result<Item, StoreError> {
        let mut item = store::to_item(&self.key_at(user_id, suffix), value)?;
        item.insert(Index::ByParent.attribute().into(), self.parent_key_at(job_id, suffix).into());
        Ok(item)
    }

    /// The items of this kind attached to job `job_id`, oldest first (ids are UUIDv7).
    pub fn of_job(self, user_id: &str, job_id: Uuid) -> Query {
        Query::new(users::partition(user_id), format!("{}{}#", children_prefix(job_id), self.0))
            .index(Index::ByParent)
    }

    /// One page of this kind's items under job `job_id`, decoded.
    pub async fn page<T: DeserializeOwned>(
        self,
        table: &dyn Table,
        user_id: &str,
        job_id: Uuid,
        newest_first: bool,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> DomainResult<(Vec<T>, Option<Cursor>)> {
        let mut query = self.of_job(user_id, job_id).limit(limit).after(cursor);
        if newest_first {
            query = query.descending();
        }
        let page = store::list_records(table, &query).await?;
        let items = page.records.into_iter().map(store::Record::decode).collect::<Result<_, _>>()?;
        Ok((items, page.cursor))
    }
}
