//! Job infos: the job a user practises for. Keys, item mapping, validation, and the router of
//! `POST/GET /api/job-infos` and `GET/PATCH/DELETE /api/job-infos/{jobInfoId}` (plus the
//! question reads from `questions`, served by the same function).
//!
//! A job info is `USER#<userId> / JOBINFO#<id>`; its `updatedKey` orders the dashboard list by
//! `updatedAt`, and its children (questions, interviews, analyses) carry a `parentKey` under
//! `children_prefix(id)` so one index query finds them all for the cascade.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, JsonBody, PageParams, QueryParams};
use crate::store::{
    self, Condition, Cursor, Index, Item, Key, Query, StoreError, Table, Update, Write, cascade,
};
use crate::users;

/// Documented maximum lengths (characters). The original had none; these keep items and prompts
/// bounded while fitting any real job posting.
pub const MAX_NAME: usize = 200;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 20_000;
/// Page size bounds of the list.
pub use crate::http::{DEFAULT_PAGE, MAX_PAGE};

const KIND: &str = "JOBINFO#";
/// Set while a delete cascades, so nothing new is attached and reads treat the job as gone.
const DELETING: &str = "deleting";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

pub fn key(user_id: &str, id: Uuid) -> Key {
    Key::new(users::partition(user_id), format!("{KIND}{id}"))
}

/// Sorts job infos by `updatedAt` (zero-padded milliseconds, so text order is time order).
fn updated_key(id: Uuid, updated_at: OffsetDateTime) -> String {
    let millis = updated_at.unix_timestamp_nanos() / 1_000_000;
    format!("{KIND}{millis:015}#{id}")
}

/// The `parentKey` prefix shared by every child of job `id`.
pub fn children_prefix(id: Uuid) -> String {
    format!("{KIND}{id}#")
}

/// The `parentKey` of a child, e.g. `child_key(job, "QUESTION", question)`.
pub fn child_key(job_id: Uuid, kind: &str, child_id: Uuid) -> String {
    format!("{}{kind}#{child_id}", children_prefix(job_id))
}

/// A kind of item attached to a job info (questions, interviews, resume analyses): its own sort
/// key `<KIND>#<id>` in the user's partition (so its id alone finds it) and a `parentKey` under
/// its job (so the job's cascade and its lists find it through the `byParent` index).
#[derive(Debug, Clone, Copy)]
pub struct ChildKind(pub &'static str);

impl ChildKind {
    pub fn key(self, user_id: &str, id: Uuid) -> Key {
        Key::new(users::partition(user_id), format!("{}#{id}", self.0))
    }

    /// `value` as an item of this kind, attached to job `job_id`.
    pub fn item<T: Serialize>(
        self,
        user_id: &str,
        job_id: Uuid,
        id: Uuid,
        value: &T,
    ) -> Result<Item, StoreError> {
        let mut item = store::to_item(&self.key(user_id, id), value)?;
        item.insert(Index::ByParent.attribute().into(), child_key(job_id, self.0, id).into());
        Ok(item)
    }

    /// The items of this kind attached to job `job_id`, oldest first.
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
    ) -> ApiResult<(Vec<T>, Option<Cursor>)> {
        let mut query = self.of_job(user_id, job_id).limit(limit).after(cursor);
        if newest_first {
            query = query.descending();
        }
        let page = table.query(&query).await?;
        let items = page.items.into_iter().map(store::from_item).collect::<Result<_, _>>()?;
        Ok((items, page.cursor))
    }
}

/// What a route listing a job's children needs: the job id from the path (the caller's job, else
/// 404) and the requested page.
pub async fn child_page_request(
    table: &dyn Table,
    user_id: &str,
    raw_job_id: &str,
    page: &PageParams,
) -> ApiResult<(Uuid, usize, Option<Cursor>)> {
    let job_id = http::parse_id("jobInfoId", raw_job_id)?;
    let (limit, cursor) = page.resolve(&users::partition(user_id))?;
    get_owned(table, user_id, job_id).await?;
    Ok((job_id, limit, cursor))
}

/// A condition that holds while the job exists and is not being deleted: guard every write
/// that attaches a child to it with a `Write::Check` on this.
pub fn attachable() -> Condition {
    Condition::All(vec![Condition::Exists, Condition::AttributeAbsent(DELETING.into())])
}

fn to_item(job: &JobInfo) -> Result<Item, StoreError> {
    let mut item = store::to_item(&key(&job.user_id, job.id), job)?;
    item.insert(Index::ByUpdated.attribute().into(), updated_key(job.id, job.updated_at).into());
    Ok(item)
}

fn visible(item: Item) -> Result<Option<JobInfo>, StoreError> {
    if item.contains_key(DELETING) { Ok(None) } else { store::from_item(item).map(Some) }
}

/// The caller's job info, or `None` when they have none with this id (whoever else might).
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> ApiResult<Option<JobInfo>> {
    match table.get(&key(user_id, id)).await? {
        Some(item) => Ok(visible(item)?),
        None => Ok(None),
    }
}

/// Like `find`, but a missing job is the route's 404.
pub async fn get_owned(table: &dyn Table, user_id: &str, id: Uuid) -> ApiResult<JobInfo> {
    find(table, user_id, id).await?.ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::not_found("JOB_INFO_NOT_FOUND", "No job info of yours has this id")
}

/// Deserializes a present field as `Some(value)`, so `null` can be told from absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewJobInfo {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub experience_level: ExperienceLevel,
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobInfoChanges {
    #[serde(default)]
    pub name: Option<String>,
    /// Absent: unchanged; `null` or `""`: cleared.
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default)]
    pub experience_level: Option<ExperienceLevel>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A required text: trimmed, non-empty, at most `max` characters.
fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request("INVALID_JOB_INFO", format!("{field} is required")));
    }
    bounded(field, value, max)
}

fn bounded(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.chars().count() > max {
        return Err(ApiError::bad_request(
            "INVALID_JOB_INFO",
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An optional title: blank means none (the original client sends "" as null).
fn optional_title(title: Option<&str>) -> ApiResult<Option<String>> {
    match title.map(str::trim) {
        None | Some("") => Ok(None),
        Some(title) => bounded("title", title, MAX_TITLE).map(Some),
    }
}

pub async fn create(table: &dyn Table, user_id: &str, new: NewJobInfo) -> ApiResult<JobInfo> {
    let now = now();
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
pub async fn insert(table: &dyn Table, job: &JobInfo) -> ApiResult<()> {
    // A session token outlives Clerk's `user.deleted` by up to a minute: it must not re-create
    // data in the partition the webhook swept. (Children need their job, so they follow.)
    let writes = vec![
        Write::Put { item: to_item(job)?, condition: Some(Condition::NotExists) },
        users::not_deleted(&job.user_id),
    ];
    match table.transact(writes).await {
        Err(StoreError::ConditionFailed { write: Some(1) }) => {
            Err(ApiError::Unauthorized("This account has been deleted".into()))
        }
        other => Ok(other?),
    }
}

pub async fn update(
    table: &dyn Table,
    user_id: &str,
    id: Uuid,
    changes: JobInfoChanges,
    expected: Option<IfMatch>,
) -> ApiResult<JobInfo> {
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
        return Err(ApiError::bad_request(
            "INVALID_JOB_INFO",
            "Send at least one of name, title, experienceLevel, description",
        ));
    }
    let now = now();
    let update = update
        .set("updatedAt", rfc3339(now))
        .set(Index::ByUpdated.attribute(), updated_key(id, now))
        .add("version", 1);
    let mut guard = vec![attachable()];
    if let Some(version) = expected.and_then(IfMatch::version) {
        guard.push(Condition::equals("version", version));
    }
    match table.update(&key(user_id, id), update, Some(Condition::All(guard))).await {
        Ok(item) => Ok(store::from_item(item)?),
        // Tell "gone" from "changed since you read it".
        Err(StoreError::ConditionFailed { .. }) => match find(table, user_id, id).await? {
            None => Err(not_found()),
            Some(_) => Err(ApiError::PreconditionFailed),
        },
        Err(other) => Err(other.into()),
    }
}

/// Deletes the job info and everything attached to it. Marks it first (so nothing new attaches),
/// removes the children, then the job: a delete that failed halfway is finished by repeating it.
pub async fn delete(table: &dyn Table, user_id: &str, id: Uuid, expected: Option<IfMatch>) -> ApiResult<()> {
    let key = key(user_id, id);
    let item = table.get(&key).await?.ok_or_else(not_found)?;
    if !item.contains_key(DELETING) {
        let current = item.get("version").and_then(serde_json::Value::as_u64);
        if let Some(version) = expected.and_then(IfMatch::version)
            && current != Some(version)
        {
            return Err(ApiError::PreconditionFailed);
        }
        let mut guard = vec![Condition::Exists];
        if let Some(version) = current {
            guard.push(Condition::equals("version", version));
        }
        let mark = Update::new().set(DELETING, true);
        match table.update(&key, mark, Some(Condition::All(guard))).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => return Err(ApiError::PreconditionFailed),
            Err(other) => return Err(other.into()),
        }
    }
    let children = Query::new(users::partition(user_id), children_prefix(id)).index(Index::ByParent);
    cascade::delete_matching(table, children).await?;
    table.delete(&key, None).await?;
    Ok(())
}

/// One page of the caller's job infos, newest `updatedAt` first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    limit: usize,
    cursor: Option<Cursor>,
) -> ApiResult<(Vec<JobInfo>, Option<Cursor>)> {
    let query = Query::new(users::partition(user_id), KIND)
        .index(Index::ByUpdated)
        .descending()
        .limit(limit)
        .after(cursor);
    let page = table.query(&query).await?;
    let mut jobs = Vec::with_capacity(page.items.len());
    for item in page.items {
        if let Some(job) = visible(item)? {
            jobs.push(job);
        }
    }
    Ok((jobs, page.cursor))
}

pub(crate) fn now() -> OffsetDateTime {
    // Millisecond precision: what the sort key and clients see agree exactly.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

// ---- HTTP ----

/// The job-infos function's routes, with the question reads (DESIGN §3 puts them here).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/job-infos", get(list_route).post(create_route))
        .route("/api/job-infos/{jobInfoId}", get(get_route).patch(update_route).delete(delete_route))
        .merge(crate::questions::read_router())
        .merge(crate::resumes::read_router())
}

async fn create_route(
    State(state): State<AppState>,
    session: Session,
    JsonBody(new): JsonBody<NewJobInfo>,
) -> ApiResult<Response> {
    let job = create(state.table.as_ref(), &session.user_id, new).await?;
    let location = format!("/api/job-infos/{}", job.id);
    let mut response = http::tagged(StatusCode::CREATED, job.version, job);
    if let Ok(location) = location.parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<JobInfo>>> {
    let (limit, cursor) = params.resolve(&users::partition(&session.user_id))?;
    let (items, next) = list(state.table.as_ref(), &session.user_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("jobInfoId", &raw_id)?;
    let job = get_owned(state.table.as_ref(), &session.user_id, id).await?;
    Ok(http::conditional_get(&headers, job.version, job))
}

async fn update_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    JsonBody(changes): JsonBody<JobInfoChanges>,
) -> ApiResult<Response> {
    let id = http::parse_id("jobInfoId", &raw_id)?;
    let expected = http::if_match(&headers)?;
    let job = update(state.table.as_ref(), &session.user_id, id, changes, expected).await?;
    Ok(http::tagged(StatusCode::OK, job.version, job))
}

async fn delete_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = http::parse_id("jobInfoId", &raw_id)?;
    let expected = http::if_match(&headers)?;
    delete(state.table.as_ref(), &session.user_id, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
