//! Job infos: the job a user practises for. The types, their validation and the domain
//! operations; storage is in `store`, the HTTP routes in `routes`.

mod routes;
pub mod store;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use routes::routes;
pub use store::{attach_guard, key};

use crate::ai::brief::JobBrief;
use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing, Versions, present};
use crate::store::{
    Condition, Cursor, Guard, Record, Table, Transaction, TransactionError, Update, Write, cascade,
};
use crate::users::{self, Usage};

/// Documented maximum lengths (characters). The original had none; these keep items and prompts
/// bounded while fitting any real job posting.
pub const MAX_NAME: usize = 200;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ExperienceLevel {
    Junior,
    MidLevel,
    Senior,
}

impl ExperienceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Junior => "junior",
            Self::MidLevel => "mid-level",
            Self::Senior => "senior",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: Uuid,
    pub user_id: String,
    pub name: String,
    pub title: Option<String>,
    pub experience_level: ExperienceLevel,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl JobInfo {
    /// The job as an AI request describes it.
    pub fn brief(&self) -> JobBrief {
        JobBrief {
            title: self.title.clone(),
            experience_level: self.experience_level.as_str().to_owned(),
            description: self.description.clone(),
        }
    }
}

#[cfg(test)]
impl JobInfo {
    /// A job for unit tests: mid-level, with this title and description.
    pub(crate) fn example(title: Option<&str>, description: &str) -> Self {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        Self {
            id: Uuid::now_v7(),
            user_id: "user_a".into(),
            name: "n".into(),
            title: title.map(str::to_owned),
            experience_level: ExperienceLevel::MidLevel,
            description: description.into(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewJobInfo {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub experience_level: ExperienceLevel,
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobInfoChanges {
    /// Absent: unchanged (`null` is refused).
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// Absent: unchanged; `null` or `""`: cleared.
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub experience_level: Option<ExperienceLevel>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
}

fn invalid(message: String) -> DomainError {
    DomainError::invalid("INVALID_JOB_INFO", message)
}

/// A required text: trimmed, non-empty, at most `max` characters.
fn required_text(field: &str, value: &str, max: usize) -> DomainResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    bounded(field, value, max)
}

fn bounded(field: &str, value: &str, max: usize) -> DomainResult<String> {
    if value.chars().count() > max {
        return Err(invalid(format!("{field} must be at most {max} characters")));
    }
    Ok(value.to_owned())
}

/// An optional title: blank means none (the original client sends "" as null).
fn optional_title(title: Option<&str>) -> DomainResult<Option<String>> {
    match title.map(str::trim) {
        None | Some("") => Ok(None),
        Some(title) => bounded("title", title, MAX_TITLE).map(Some),
    }
}

/// The caller's job info, or `None` when they have none with this id (whoever else might).
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Option<JobInfo>> {
    match table.get(&key(user_id, id)).await? {
        Some(item) => Ok(store::visible(Record::Item(item))?),
        None => Ok(None),
    }
}

/// The caller's job `id` (as `find` has it) and their usage counters, read in one round trip:
/// for the routes that check the plan's allowance before the job, as the original does.
pub async fn find_with_usage(
    table: &dyn Table,
    user_id: &str,
    id: Uuid,
) -> DomainResult<(Option<JobInfo>, Usage)> {
    let mut items = table.get_many(&[key(user_id, id), users::usage_key(user_id)]).await?.into_iter();
    let job = match items.next().flatten() {
        Some(item) => store::visible(Record::Item(item))?,
        None => None,
    };
    let usage = items.next().flatten().map(crate::store::from_item).transpose()?.unwrap_or_default();
    Ok((job, usage))
}

/// Like `find`, but a missing job is `Missing::JobInfo`.
pub async fn get_owned(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<JobInfo> {
    find(table, user_id, id).await?.ok_or(DomainError::NotFound(Missing::JobInfo))
}

pub async fn create(table: &dyn Table, user_id: &str, new: NewJobInfo) -> DomainResult<JobInfo> {
    let now = clock::now();
    let job = JobInfo {
        id: Uuid::now_v7(),
        user_id: user_id.to_owned(),
        name: required_text("name", &new.name, MAX_NAME)?,
        title: optional_title(new.title.as_deref())?,
        experience_level: new.experience_level,
        description: required_text("description", &new.description, MAX_DESCRIPTION)?,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    insert(table, &job).await?;
    Ok(job)
}

/// Stores a new job info (its id must be new).
pub async fn insert(table: &dyn Table, job: &JobInfo) -> DomainResult<()> {
    // A session token outlives Clerk's `user.deleted` by up to a minute: it must not re-create
    // data in the partition the webhook swept. (Children need their job, so they follow.)
    let transaction = Transaction::new()
        .guarded(
            Guard::Absent,
            Write::Put { item: store::to_item(job)?, condition: Some(Condition::NotExists) },
        )
        .guarded(Guard::AccountAlive, users::not_deleted(&job.user_id));
    match transaction.commit(table).await {
        Ok(()) => Ok(()),
        Err(TransactionError::Refused(Guard::AccountAlive)) => Err(DomainError::AccountDeleted),
        Err(other) => Err(other.into_store().into()),
    }
}

/// Applies `changes`; `expected_version` is the version the caller read (`If-Match`), if any.
pub async fn update(
    table: &dyn Table,
    user_id: &str,
    id: Uuid,
    changes: JobInfoChanges,
    expected_version: Option<&Versions>,
) -> DomainResult<JobInfo> {
    let mut update = Update::new();
    if let Some(name) = &changes.name {
        update = update.set("name", required_text("name", name, MAX_NAME)?);
    }
    if let Some(title) = &changes.title {
        update = update.set("title", optional_title(title.as_deref())?);
    }
    if let Some(level) = changes.experience_level {
        update = update.set("experienceLevel", level.as_str());
    }
    if let Some(description) = &changes.description {
        update = update.set("description", required_text("description", description, MAX_DESCRIPTION)?);
    }
    if update.set.is_empty() {
        return Err(invalid("Send at least one of name, title, experienceLevel, description".into()));
    }
    let now = clock::now();
    let update = update
        .set("updatedAt", clock::rfc3339(now))
        .set(crate::store::Index::ByUpdated.attribute(), store::updated_key(id, now))
        .add("version", 1);
    let mut guard = vec![store::attachable()];
    if let Some(versions) = expected_version {
        guard.push(versions.condition("version"));
    }
    match table.update(&key(user_id, id), update, Some(Condition::All(guard))).await {
        Ok(item) => Ok(crate::store::from_item(item)?),
        // Tell "gone" from "changed since you read it".
        Err(error) if error.is_condition_failed() => match find(table, user_id, id).await? {
            None => Err(DomainError::NotFound(Missing::JobInfo)),
            Some(_) => Err(DomainError::StaleVersion),
        },
        Err(other) => Err(other.into()),
    }
}

/// Deletes the job info and everything attached to it. Marks it first (so nothing new attaches),
/// removes the children, then the job: a delete that failed halfway is finished by repeating it.
pub async fn delete(
    table: &dyn Table,
    user_id: &str,
    id: Uuid,
    expected_version: Option<&Versions>,
) -> DomainResult<()> {
    let key = key(user_id, id);
    let item = table.get(&key).await?.ok_or(DomainError::NotFound(Missing::JobInfo))?;
    if !item.contains_key(store::DELETING) {
        let current = item.get("version").and_then(serde_json::Value::as_u64);
        if expected_version.is_some_and(|expected| !current.is_some_and(|now| expected.contains(now))) {
            return Err(DomainError::StaleVersion);
        }
        let mut guard = vec![Condition::Exists];
        if let Some(version) = current {
            guard.push(Condition::equals("version", version));
        }
        let mark = Update::new().set(store::DELETING, true);
        match table.update(&key, mark, Some(Condition::All(guard))).await {
            Ok(_) => {}
            Err(error) if error.is_condition_failed() => return Err(DomainError::StaleVersion),
            Err(other) => return Err(other.into()),
        }
    }
    cascade::delete_matching(table, store::children(user_id, id)).await?;
    table.delete(&key, None).await?;
    Ok(())
}

/// One page of the caller's job infos, newest `updatedAt` first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<store::Listed>, Option<Cursor>)> {
    let page = crate::store::list_records(table, &store::newest_first(user_id, limit, cursor)).await?;
    let mut jobs = Vec::with_capacity(page.records.len());
    for record in page.records {
        if let Some(job) = store::Listed::of(record)? {
            jobs.push(job);
        }
    }
    Ok((jobs, page.cursor))
}
