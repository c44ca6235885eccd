//! Practice questions: keys, item mapping, the quota-counted insert, and three routers:
//! the reads (`GET /api/job-infos/{jobInfoId}/questions`, `GET /api/questions/{questionId}`, in
//! the job-infos function) and the two streamed AI routes the original client calls unchanged
//! (`POST /api/ai/questions/generate-question`, `.../generate-feedback`).
//!
//! A question is `USER#<userId> / QUESTION#<id>` with `parentKey = JOBINFO#<job>#QUESTION#<id>`:
//! its own sort key finds it by id alone (the feedback route gets only `questionId`), the parent
//! key lists it under its job in creation order (UUIDv7) and lets the job's delete cascade to it.
//!
//! The AI routes check in the original's order and answer its plain-text strings: 401, 400,
//! 403 `PLAN_LIMIT`, 403 not owned. A generated question is stored only after the model finished
//! it, in one transaction with the usage counter (guarded by the plan's limit) and a check that
//! its job still exists: a lost race ends the stream with `3:"PLAN_LIMIT"` and stores nothing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::ai::{self, SharedModel, prompts};
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::http::data_stream::{self, StreamPart};
use crate::http::plain::{self, PlainError, PlainSession};
use crate::http::{self, PageParams, QueryParams};
use crate::job_infos::{self, JobInfo};
use crate::store::{self, Condition, Cursor, Item, Key, SharedTable, StoreError, Table, Update, Write};
use crate::users;

/// The previous questions a generation prompt carries (the most recent ones): enough to avoid
/// repeats, bounded so the prompt stays small for unlimited plans.
pub const MAX_HISTORY: usize = 50;
/// The longest answer the feedback route grades (characters).
pub const MAX_ANSWER: usize = 20_000;
/// The longest question text stored (characters); a reply beyond it is not a question.
pub const MAX_QUESTION_TEXT: usize = 50_000;

/// The original's 400 bodies.
pub const QUESTION_ERROR: &str = "Error generating your question";
pub const FEEDBACK_ERROR: &str = "Error generating your feedback";

const KIND: job_infos::ChildKind = job_infos::ChildKind("QUESTION");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Easy => "easy",
            Self::Medium => "medium",
            Self::Hard => "hard",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: Uuid,
    pub job_info_id: Uuid,
    /// Markdown, as the model wrote it.
    pub text: String,
    pub difficulty: Difficulty,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Question {
    /// A new question of job `job_info_id`, created now.
    pub fn new(job_info_id: Uuid, text: String, difficulty: Difficulty) -> Self {
        let now = job_infos::now();
        Self {
            id: Uuid::now_v7(),
            job_info_id,
            text,
            difficulty,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

fn to_item(user_id: &str, question: &Question) -> Result<Item, StoreError> {
    KIND.item(user_id, question.job_info_id, question.id, question)
}

/// The caller's question, or `None` when they have none with this id or its job is gone (a
/// question outliving a half-finished cascade is not shown).
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> ApiResult<Option<Question>> {
    let Some(item) = table.get(&key(user_id, id)).await? else {
        return Ok(None);
    };
    let question: Question = store::from_item(item)?;
    Ok(job_infos::find(table, user_id, question.job_info_id).await?.map(|_| question))
}

/// One page of a job's questions, oldest first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> ApiResult<(Vec<Question>, Option<Cursor>)> {
    KIND.page(table, user_id, job_id, false, limit, cursor).await
}

/// The job's `max` most recent questions, oldest first.
pub async fn recent(table: &dyn Table, user_id: &str, job_id: Uuid, max: usize) -> ApiResult<Vec<Question>> {
    let query = KIND.of_job(user_id, job_id).descending().limit(max);
    let page = table.query(&query).await?;
    let mut questions: Vec<Question> =
        page.items.into_iter().map(store::from_item).collect::<Result<_, _>>()?;
    questions.reverse();
    Ok(questions)
}

/// Why a generated question was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the question quota is used up")]
    PlanLimit,
    #[error("the job info is gone")]
    JobGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `question` and counts it against the user's lifetime quota in one transaction: the
/// counter may only move below `limit` (`None`: unlimited), and the job must still exist and not
/// be being deleted. Either all of it happens or nothing does.
pub async fn insert_counted(
    table: &dyn Table,
    user_id: &str,
    question: &Question,
    limit: Option<u64>,
) -> Result<(), SaveError> {
    let usage = Update::new()
        .add(users::QUESTIONS_GENERATED, 1)
        .set("updatedAt", job_infos::rfc3339(job_infos::now()));
    let below_limit = limit.map(|limit| {
        Condition::Below(users::QUESTIONS_GENERATED.into(), i64::try_from(limit).unwrap_or(i64::MAX))
    });
    let writes = vec![
        Write::Put { item: to_item(user_id, question)?, condition: Some(Condition::NotExists) },
        Write::Update { key: users::usage_key(user_id), update: usage, condition: below_limit },
        Write::Check {
            key: job_infos::key(user_id, question.job_info_id),
            condition: job_infos::attachable(),
        },
    ];
    match table.transact(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { write: Some(1) }) => Err(SaveError::PlanLimit),
        Err(StoreError::ConditionFailed { write: Some(2) }) => Err(SaveError::JobGone),
        // The backend did not say which: look.
        Err(StoreError::ConditionFailed { write: None }) => {
            let used = users::get_usage(table, user_id).await?.questions_generated;
            if limit.is_some_and(|limit| used >= limit) {
                Err(SaveError::PlanLimit)
            } else {
                Err(SaveError::JobGone)
            }
        }
        Err(other) => Err(other.into()),
    }
}

// ---- HTTP: reads (JSON) ----

/// The read routes; the job-infos function serves them.
pub fn read_router() -> Router<AppState> {
    Router::new()
        .route("/api/job-infos/{jobInfoId}/questions", get(list_route))
        .route("/api/questions/{questionId}", get(get_route))
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<Question>>> {
    let table = state.table.as_ref();
    let (job_id, limit, cursor) =
        job_infos::child_page_request(table, &session.user_id, &raw_id, &params).await?;
    let (items, next) = list(table, &session.user_id, job_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("questionId", &raw_id)?;
    let question = find(state.table.as_ref(), &session.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("QUESTION_NOT_FOUND", "No question of yours has this id"))?;
    Ok(http::conditional_get(&headers, question.version, question))
}

// ---- HTTP: the AI routes (plain-text errors, data-stream replies) ----

/// `POST /api/ai/questions/generate-question` (the generate-question function).
pub fn generate_question_router() -> Router<AppState> {
    Router::new().route("/api/ai/questions/generate-question", post(generate_question_route))
}

/// `POST /api/ai/questions/generate-feedback` (the generate-feedback function).
pub fn generate_feedback_router() -> Router<AppState> {
    Router::new().route("/api/ai/questions/generate-feedback", post(generate_feedback_route))
}

/// What `useCompletion` sends: the difficulty as `prompt`, and the job. Unknown fields are
/// ignored, as the original's schema strips them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateQuestion {
    prompt: Difficulty,
    job_info_id: String,
}

/// The candidate's answer as `prompt`, and the question.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateFeedback {
    prompt: String,
    question_id: String,
}

/// The body as JSON, any flaw being the route's one 400 string (a too-large body stays a 413).
fn plain_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    error: &'static str,
) -> Result<T, PlainError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PlainError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large")
        } else {
            PlainError::bad_request(error)
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|_| PlainError::bad_request(error))
}

/// The configured model, or the 503 that says how to configure one (every plain-text AI route).
pub(crate) fn model(state: &AppState) -> Result<SharedModel, PlainError> {
    state
        .model
        .clone()
        .ok_or_else(|| PlainError::new(StatusCode::SERVICE_UNAVAILABLE, ai::not_configured_message()))
}

/// An id from a body that names nothing of the caller's is the original's 403, whatever its shape.
fn owned_id(raw: &str) -> Result<Uuid, PlainError> {
    Uuid::parse_str(raw).map_err(|_| PlainError::forbidden())
}

async fn generate_question_route(
    State(state): State<AppState>,
    PlainSession(session): PlainSession,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PlainError> {
    let body: GenerateQuestion = plain_json(body, QUESTION_ERROR)?;
    if body.job_info_id.is_empty() {
        return Err(PlainError::bad_request(QUESTION_ERROR));
    }
    let model = model(&state)?;
    let table = state.table.clone();
    let user_id = session.user_id;
    let limit = session.features.question_limit();
    let used = users::get_usage(table.as_ref(), &user_id).await?.questions_generated;
    if limit.is_some_and(|limit| used >= limit) {
        return Err(PlainError::plan_limit());
    }
    let job = job_infos::find(table.as_ref(), &user_id, owned_id(&body.job_info_id)?)
        .await?
        .ok_or_else(PlainError::forbidden)?;
    let previous = recent(table.as_ref(), &user_id, job.id, MAX_HISTORY).await?;
    let request = prompts::question_request(&job, &previous, body.prompt);
    let difficulty = body.prompt;
    let parts = data_stream::model_reply_then(model.stream(request), move |text| {
        store_generated(table, user_id, job, text, difficulty, limit)
    });
    Ok(data_stream::response(parts))
}

/// Stores a finished question and says so with its id (`2:`), or why not (`3:`).
async fn store_generated(
    table: SharedTable,
    user_id: String,
    job: JobInfo,
    text: String,
    difficulty: Difficulty,
    limit: Option<u64>,
) -> Vec<StreamPart> {
    if text.chars().count() > MAX_QUESTION_TEXT {
        tracing::warn!(chars = text.chars().count(), "generated question too long to store");
        return vec![StreamPart::Error("The AI model's answer was too long; try again".into())];
    }
    let question = Question::new(job.id, text, difficulty);
    match insert_counted(table.as_ref(), &user_id, &question, limit).await {
        Ok(()) => {
            tracing::info!(question_id = %question.id, job_info_id = %job.id, "question stored");
            vec![StreamPart::Data(json!([{ "questionId": question.id }]))]
        }
        Err(SaveError::PlanLimit) => vec![StreamPart::Error(plain::PLAN_LIMIT.into())],
        Err(SaveError::JobGone) => vec![StreamPart::Error(plain::NO_PERMISSION.into())],
        Err(SaveError::Store(error)) => {
            tracing::error!(%error, "storing a generated question failed");
            vec![StreamPart::Error("Your question could not be saved; try again".into())]
        }
    }
}

async fn generate_feedback_route(
    State(state): State<AppState>,
    PlainSession(session): PlainSession,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PlainError> {
    let body: GenerateFeedback = plain_json(body, FEEDBACK_ERROR)?;
    let answer = body.prompt.trim();
    if answer.is_empty() || answer.chars().count() > MAX_ANSWER || body.question_id.is_empty() {
        return Err(PlainError::bad_request(FEEDBACK_ERROR));
    }
    let model = model(&state)?;
    let question = find(state.table.as_ref(), &session.user_id, owned_id(&body.question_id)?)
        .await?
        .ok_or_else(PlainError::forbidden)?;
    let request = prompts::feedback_request(&question.text, answer);
    Ok(data_stream::response(data_stream::model_reply(model.stream(request))))
}
