//! Voice interviews: keys, item mapping, the quota-counted start, and the router of the
//! `interviews` function (`POST/GET /api/job-infos/{jobInfoId}/interviews`,
//! `GET/PATCH/DELETE /api/interviews/{interviewId}`, `.../transcript`, `.../feedback`,
//! `POST /api/hume/access-token`).
//!
//! An interview is `USER#<userId> / INTERVIEW#<id>` with `parentKey = JOBINFO#<job>#INTERVIEW#<id>`.
//! Creating one does not count toward `1_interview`: setting its `humeChatId` (the call connected)
//! does, in one transaction with the usage counter guarded by the plan's limit, as the original
//! counts only interviews with a Hume chat. Creation also spends a token of the per-user
//! interview bucket (`protect`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::ai::{self, ModelRequest, SharedModel, Turn};
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, IfMatch, JsonBody, PageParams, QueryParams};
use crate::hume::{self, HumeClient, HumeError};
use crate::job_infos::{self, JobInfo};
use crate::plans::Features;
use crate::protect::{self, Decision};
use crate::store::{self, Condition, Cursor, Item, Key, StoreError, Table, Update, Write};
use crate::users;

const KIND: job_infos::ChildKind = job_infos::ChildKind("INTERVIEW");
const HUME_CHAT_ID: &str = "humeChatId";
/// A new interview's duration, as the original inserts it.
pub const ZERO_DURATION: &str = "00:00:00";
/// The longest Hume chat id accepted (Hume's are UUIDs).
pub const MAX_CHAT_ID: usize = 128;
/// The feedback call must end before the HTTP API's 30 s integration timeout.
pub const FEEDBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(27);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interview {
    pub id: Uuid,
    pub job_info_id: Uuid,
    /// `HH:MM:SS`, as the client's call timer shows it.
    pub duration: String,
    /// Set once, when the call connected; `null` until then.
    #[serde(default)]
    pub hume_chat_id: Option<String>,
    /// The AI feedback (markdown), once generated.
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

/// The item: unset optional fields are left out (not `null`), so `AttributeAbsent` sees them absent.
fn to_item(user_id: &str, interview: &Interview) -> Result<Item, StoreError> {
    let mut item = KIND.item(user_id, interview.job_info_id, interview.id, interview)?;
    item.retain(|_, value| !value.is_null());
    Ok(item)
}

fn not_found() -> ApiError {
    ApiError::not_found("INTERVIEW_NOT_FOUND", "No interview of yours has this id")
}

/// The caller's interview, or `None` when they have none with this id or its job is gone.
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> ApiResult<Option<Interview>> {
    let Some(item) = table.get(&key(user_id, id)).await? else {
        return Ok(None);
    };
    let interview: Interview = store::from_item(item)?;
    Ok(job_infos::find(table, user_id, interview.job_info_id).await?.map(|_| interview))
}

pub async fn get_owned(table: &dyn Table, user_id: &str, id: Uuid) -> ApiResult<Interview> {
    find(table, user_id, id).await?.ok_or_else(not_found)
}

/// Whether the plan lets the user start another interview (the original's `canCreateInterview`).
pub async fn may_start(table: &dyn Table, user_id: &str, features: &Features) -> ApiResult<bool> {
    match features.interview_limit() {
        None => Ok(true),
        Some(limit) => Ok(users::get_usage(table, user_id).await?.interviews_started < limit),
    }
}

/// Creates an interview for job `job_id`, in the original's order: plan, then the rate bucket,
/// then ownership (a job not the caller's is 404 here).
pub async fn create(table: &dyn Table, session: &Session, job_id: Uuid) -> ApiResult<Interview> {
    let user_id = session.user_id.as_str();
    if !may_start(table, user_id, &session.features).await? {
        return Err(ApiError::PlanLimit);
    }
    if let Decision::Denied { retry_after_seconds } =
        protect::INTERVIEW_BUCKET.take(table, user_id, protect::now_ms()).await?
    {
        return Err(ApiError::RateLimited { retry_after_seconds });
    }
    job_infos::get_owned(table, user_id, job_id).await?;
    let now = job_infos::now();
    let interview = Interview {
        id: Uuid::now_v7(),
        job_info_id: job_id,
        duration: ZERO_DURATION.into(),
        hume_chat_id: None,
        feedback: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let writes = vec![
        Write::Put { item: to_item(user_id, &interview)?, condition: Some(Condition::NotExists) },
        Write::Check { key: job_infos::key(user_id, job_id), condition: job_infos::attachable() },
    ];
    match table.transact(writes).await {
        Ok(()) => Ok(interview),
        Err(StoreError::ConditionFailed { .. }) => Err(job_not_found()),
        Err(other) => Err(other.into()),
    }
}

/// Stores an interview as it is (its id must be new), without the plan, bucket or job checks of
/// `create`: for seeding and imports.
pub async fn insert(table: &dyn Table, user_id: &str, interview: &Interview) -> ApiResult<()> {
    table.put(to_item(user_id, interview)?, Some(Condition::NotExists)).await?;
    Ok(())
}

fn job_not_found() -> ApiError {
    ApiError::not_found("JOB_INFO_NOT_FOUND", "No job info of yours has this id")
}

/// One page of a job's interviews, newest first; only started ones unless `all`. Filtering may
/// leave a page shorter than `limit` while `next` says more may follow.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    all: bool,
    limit: usize,
    cursor: Option<Cursor>,
) -> ApiResult<(Vec<Interview>, Option<Cursor>)> {
    let (mut interviews, next): (Vec<Interview>, _) =
        KIND.page(table, user_id, job_id, true, limit, cursor).await?;
    interviews.retain(|interview| all || interview.hume_chat_id.is_some());
    Ok((interviews, next))
}

/// `PATCH` changes.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterviewChanges {
    #[serde(default)]
    pub hume_chat_id: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
}

/// `HH:MM:SS`: two-digit hours, minutes and seconds below 60.
pub fn valid_duration(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
        && parts[1] < "60"
        && parts[2] < "60"
}

/// A chat id as Hume issues them: 1..=128 of ASCII letters, digits, `-`, `_` (it becomes a URL
/// path segment).
pub fn valid_chat_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CHAT_ID
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request("INVALID_INTERVIEW", message)
}

/// Applies `changes`. Setting `humeChatId` the first time counts the interview toward the plan in
/// the same transaction; the same id again is a no-op, a different one is 409.
pub async fn update(
    table: &dyn Table,
    session: &Session,
    id: Uuid,
    changes: InterviewChanges,
    expected: Option<IfMatch>,
) -> ApiResult<Interview> {
    let user_id = session.user_id.as_str();
    if changes.hume_chat_id.is_none() && changes.duration.is_none() {
        return Err(invalid("Send humeChatId and/or duration"));
    }
    if let Some(duration) = &changes.duration
        && !valid_duration(duration)
    {
        return Err(invalid("duration must be HH:MM:SS, e.g. 00:12:34"));
    }
    if let Some(chat_id) = &changes.hume_chat_id
        && !valid_chat_id(chat_id)
    {
        return Err(invalid("humeChatId must be Hume's chat id (letters, digits, - and _; at most 128)"));
    }
    let current = get_owned(table, user_id, id).await?;
    let expected_version = expected.and_then(IfMatch::version);
    if expected_version.is_some_and(|version| version != current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let new_chat = match (&changes.hume_chat_id, &current.hume_chat_id) {
        (Some(wanted), Some(set)) if wanted != set => return Err(chat_already_set()),
        (Some(wanted), None) => Some(wanted.clone()),
        _ => None,
    };
    let mut update = Update::new().set("updatedAt", job_infos::rfc3339(job_infos::now())).add("version", 1);
    if let Some(duration) = &changes.duration {
        update = update.set("duration", duration.as_str());
    } else if new_chat.is_none() {
        // The same chat id again and nothing else: nothing to write.
        return Ok(current);
    }
    let mut guard = vec![Condition::Exists];
    if let Some(version) = expected_version {
        guard.push(Condition::equals("version", version));
    }
    let key = key(user_id, id);
    let Some(chat_id) = new_chat else {
        return match table.update(&key, update, Some(Condition::All(guard))).await {
            Ok(item) => Ok(store::from_item(item)?),
            Err(StoreError::ConditionFailed { .. }) => Err(explain_failed_update(table, user_id, id).await),
            Err(other) => Err(other.into()),
        };
    };
    guard.push(Condition::AttributeAbsent(HUME_CHAT_ID.into()));
    let update = update.set(HUME_CHAT_ID, chat_id.as_str());
    let limit = session.features.interview_limit();
    let usage = Update::new()
        .add(users::INTERVIEWS_STARTED, 1)
        .set("updatedAt", job_infos::rfc3339(job_infos::now()));
    let below_limit = limit.map(|limit| {
        Condition::Below(users::INTERVIEWS_STARTED.into(), i64::try_from(limit).unwrap_or(i64::MAX))
    });
    let writes = vec![
        Write::Update { key: key.clone(), update, condition: Some(Condition::All(guard)) },
        Write::Update { key: users::usage_key(user_id), update: usage, condition: below_limit },
        // A job being deleted takes its interviews with it: do not count a start on one.
        Write::Check {
            key: job_infos::key(user_id, current.job_info_id),
            condition: job_infos::attachable(),
        },
    ];
    match table.transact(writes).await {
        Ok(()) => get_owned(table, user_id, id).await,
        Err(StoreError::ConditionFailed { write: Some(1) }) => Err(ApiError::PlanLimit),
        Err(StoreError::ConditionFailed { write: Some(2) }) => Err(not_found()),
        Err(StoreError::ConditionFailed { write }) => {
            // The interview changed under us (or the backend did not say which write failed): look.
            let now = find(table, user_id, id).await?;
            match now {
                None => Err(not_found()),
                Some(now) if now.hume_chat_id.as_deref() == Some(chat_id.as_str()) => {
                    // A concurrent request set the same id: this one's outcome is the same.
                    if changes.duration.is_some() {
                        Err(ApiError::conflict(
                            "CONCURRENT_UPDATE",
                            "Another request changed this interview; retry",
                        ))
                    } else {
                        Ok(now)
                    }
                }
                Some(now) if now.hume_chat_id.is_some() => Err(chat_already_set()),
                Some(now) if expected_version.is_some_and(|version| version != now.version) => {
                    Err(ApiError::PreconditionFailed)
                }
                Some(_) if write.is_none() => Err(ApiError::PlanLimit),
                Some(_) => Err(ApiError::conflict(
                    "CONCURRENT_UPDATE",
                    "Another request changed this interview; retry",
                )),
            }
        }
        Err(other) => Err(other.into()),
    }
}

fn chat_already_set() -> ApiError {
    ApiError::conflict("HUME_CHAT_ALREADY_SET", "This interview already has a different humeChatId")
}

/// Tells "gone" from "changed since you read it" after a guarded write failed.
async fn explain_failed_update(table: &dyn Table, user_id: &str, id: Uuid) -> ApiError {
    match find(table, user_id, id).await {
        Ok(None) => not_found(),
        Ok(Some(_)) => ApiError::PreconditionFailed,
        Err(error) => error,
    }
}

/// Deletes one interview (its quota count stays: usage is a lifetime count).
pub async fn delete(table: &dyn Table, user_id: &str, id: Uuid, expected: Option<IfMatch>) -> ApiResult<()> {
    let mut guard = vec![Condition::Exists];
    if let Some(version) = expected.and_then(IfMatch::version) {
        guard.push(Condition::equals("version", version));
    }
    match table.delete(&key(user_id, id), Some(Condition::All(guard))).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(explain_failed_update(table, user_id, id).await),
        Err(other) => Err(other.into()),
    }
}

/// Stores generated feedback on the interview (which must still exist).
async fn store_feedback(table: &dyn Table, user_id: &str, id: Uuid, feedback: &str) -> ApiResult<Interview> {
    let update = Update::new()
        .set("feedback", feedback)
        .set("updatedAt", job_infos::rfc3339(job_infos::now()))
        .add("version", 1);
    match table.update(&key(user_id, id), update, Some(Condition::Exists)).await {
        Ok(item) => Ok(store::from_item(item)?),
        Err(StoreError::ConditionFailed { .. }) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

// ---- prompt ----

/// The feedback request (original-app §8.3, our wording): the interviewee, the job and the
/// transcript format in the system instruction; the transcript JSON as the user's message.
pub fn feedback_request(
    user_name: &str,
    job: &JobInfo,
    transcript: &[hume::TranscriptMessage],
) -> ModelRequest {
    let transcript = serde_json::to_string(transcript).unwrap_or_else(|_| "[]".into());
    ModelRequest {
        system: feedback_system(user_name, job),
        turns: vec![Turn::user(transcript)],
        output: None,
    }
}

fn feedback_system(user_name: &str, job: &JobInfo) -> String {
    let job_lines = ai::prompts::job_lines(job, str::to_owned);
    let name = user_name.trim();
    let name = if name.is_empty() { "the candidate" } else { name };
    format!(
        "You are an experienced interview coach. {name} has just finished a mock voice interview \
         for the job below, and you review how it went.\n\
         \n\
         {job_lines}\
         \n\
         The user's message is the interview transcript as a JSON array, in order. Each entry has \
         `speaker` (\"interviewer\", the AI interviewer, or \"interviewee\", {name}), `text` (what \
         was said) and, for some interviewee entries, `emotionFeatures`: scores from 0 to 1 of \
         the emotions detected in the interviewee's voice while saying it.\n\
         \n\
         Write feedback in Markdown. Start with an overall rating out of 10 on its own line, then \
         one section per category, each heading carrying its rating, e.g. \
         \"## Communication Clarity: 8/10\":\n\
         1. Communication Clarity\n\
         2. Confidence and Emotional State (use the emotion scores as cues)\n\
         3. Response Quality\n\
         4. Pacing and Timing\n\
         5. Engagement and Interaction\n\
         6. Role Fit & Alignment (against the job and its experience level)\n\
         7. Overall Strengths & Areas for Improvement\n\
         \n\
         Rules:\n\
         - Point to specific moments of the interview to support each judgement.\n\
         - Never quote the raw emotion scores; describe what they suggest.\n\
         - No level-1 heading, and do not repeat the job description.\n\
         - Speak to {name} directly as \"you\".\n\
         \n\
         Stop when the last category is done."
    )
}

// ---- HTTP ----

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/job-infos/{jobInfoId}/interviews", get(list_route).post(create_route))
        .route("/api/interviews/{interviewId}", get(get_route).patch(update_route).delete(delete_route))
        .route("/api/interviews/{interviewId}/transcript", get(transcript_route))
        .route("/api/interviews/{interviewId}/feedback", post(feedback_route))
        .route("/api/hume/access-token", post(access_token_route))
}

fn hume_client(state: &AppState) -> ApiResult<&HumeClient> {
    state.hume.as_deref().ok_or_else(|| ApiError::Unavailable {
        message: format!(
            "Voice interviews are not configured on this server: set {} and {} (in AWS, their \
             _SECRET_ARN variants) to enable them",
            hume::API_KEY_VARIABLE,
            hume::SECRET_KEY_VARIABLE
        ),
    })
}

fn model(state: &AppState) -> ApiResult<SharedModel> {
    state.model.clone().ok_or_else(|| ApiError::Unavailable { message: ai::not_configured_message() })
}

fn hume_failed(error: HumeError) -> ApiError {
    tracing::error!(%error, "Hume request failed");
    ApiError::BadGateway { code: "HUME_ERROR", message: error.public_message() }
}

async fn create_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
) -> ApiResult<Response> {
    let job_id = http::parse_id("jobInfoId", &raw_id)?;
    let interview = create(state.table.as_ref(), &session, job_id).await?;
    let location = format!("/api/interviews/{}", interview.id);
    let mut response = http::tagged(StatusCode::CREATED, interview.version, interview);
    if let Ok(location) = location.parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `?status=started|all&limit=&cursor=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<ListStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ListStatus {
    Started,
    All,
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<http::Listing<Interview>>> {
    let page = PageParams { limit: params.limit, cursor: params.cursor };
    let table = state.table.as_ref();
    let (job_id, limit, cursor) =
        job_infos::child_page_request(table, &session.user_id, &raw_id, &page).await?;
    let all = params.status == Some(ListStatus::All);
    let (items, next) = list(table, &session.user_id, job_id, all, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let interview = get_owned(state.table.as_ref(), &session.user_id, id).await?;
    Ok(http::conditional_get(&headers, interview.version, interview))
}

async fn update_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    JsonBody(changes): JsonBody<InterviewChanges>,
) -> ApiResult<Response> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let expected = http::if_match(&headers)?;
    let interview = update(state.table.as_ref(), &session, id, changes, expected).await?;
    Ok(http::tagged(StatusCode::OK, interview.version, interview))
}

async fn delete_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let expected = http::if_match(&headers)?;
    delete(state.table.as_ref(), &session.user_id, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TranscriptBody {
    interview_id: Uuid,
    hume_chat_id: String,
    /// The original's condensed bubbles: `{isUser, content: [..]}`.
    messages: Vec<hume::Condensed>,
}

async fn transcript_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<TranscriptBody>> {
    let id = http::parse_id("interviewId", &raw_id)?;
    // Ownership first: an id that is not the caller's is 404 whatever the configuration.
    let interview = get_owned(state.table.as_ref(), &session.user_id, id).await?;
    let chat_id = interview.hume_chat_id.ok_or_else(|| {
        ApiError::not_found("TRANSCRIPT_NOT_FOUND", "This interview has no Hume chat yet, so no transcript")
    })?;
    let hume = hume_client(&state)?;
    let events = hume.chat_events(&chat_id).await.map_err(hume_failed)?;
    Ok(Json(TranscriptBody { interview_id: id, hume_chat_id: chat_id, messages: hume::condense(&events) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackParams {
    #[serde(default)]
    regenerate: bool,
}

async fn feedback_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<FeedbackParams>,
) -> ApiResult<Response> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let table = state.table.as_ref();
    let user_id = session.user_id.as_str();
    let interview = get_owned(table, user_id, id).await?;
    let Some(chat_id) = interview.hume_chat_id.clone() else {
        return Err(ApiError::conflict("INTERVIEW_NOT_STARTED", "Interview has not been completed yet"));
    };
    if interview.feedback.is_some() && !params.regenerate {
        return Ok(http::tagged(StatusCode::OK, interview.version, interview));
    }
    let model = model(&state)?;
    let hume = hume_client(&state)?;
    let job = job_infos::get_owned(table, user_id, interview.job_info_id).await?;
    let profile = users::get_profile(table, user_id).await?.ok_or_else(|| {
        ApiError::not_found("USER_NOT_FOUND", "Your account is still being created; try again shortly")
    })?;
    let events = hume.chat_events(&chat_id).await.map_err(hume_failed)?;
    let transcript = hume::transcript(&events);
    if transcript.is_empty() {
        return Err(ApiError::conflict(
            "TRANSCRIPT_EMPTY",
            "The interview's transcript has no messages to review",
        ));
    }
    let request = feedback_request(&profile.name, &job, &transcript);
    let generated = match tokio::time::timeout(FEEDBACK_TIMEOUT, model.generate(request)).await {
        Ok(Ok(generated)) => generated,
        Ok(Err(error)) => {
            tracing::error!(%error, "interview feedback generation failed");
            return Err(ApiError::BadGateway { code: "AI_ERROR", message: error.public_message() });
        }
        Err(_) => {
            tracing::error!("interview feedback generation timed out");
            return Err(ApiError::BadGateway {
                code: "AI_ERROR",
                message: "The AI model took too long to answer; try again".into(),
            });
        }
    };
    let text = generated.text.trim();
    if text.is_empty() {
        return Err(ApiError::BadGateway { code: "AI_ERROR", message: "Failed to generate feedback".into() });
    }
    let interview = store_feedback(table, user_id, id, text).await?;
    Ok(http::tagged(StatusCode::OK, interview.version, interview))
}

async fn access_token_route(State(state): State<AppState>, session: Session) -> ApiResult<Response> {
    let hume = hume_client(&state)?;
    if !may_start(state.table.as_ref(), &session.user_id, &session.features).await? {
        return Err(ApiError::PlanLimit);
    }
    let token = hume.access_token().await.map_err(hume_failed)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(token)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_infos::ExperienceLevel;

    #[test]
    fn durations_and_chat_ids() {
        for ok in ["00:00:00", "01:59:59", "99:00:07"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["0:00:00", "00:60:00", "00:00:60", "00:00", "aa:bb:cc", "00:00:00:00", "", "+1:00:00"] {
            assert!(!valid_duration(bad), "{bad}");
        }
        assert!(valid_chat_id("470a49f6-1dec-4afe-8b61-035d3b2d63b0"));
        for bad in ["", "a/b", "a b", "..", &"x".repeat(129)] {
            assert!(!valid_chat_id(bad), "{bad}");
        }
    }

    #[test]
    fn prompt_never_prints_null_for_a_missing_title() {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut job = JobInfo {
            id: Uuid::now_v7(),
            user_id: "u".into(),
            name: "n".into(),
            title: None,
            experience_level: ExperienceLevel::Junior,
            description: "Kotlin apps".into(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let transcript =
            [hume::TranscriptMessage { speaker: "interviewee", text: "Hi".into(), emotion_features: None }];
        let request = feedback_request("Amina", &job, &transcript);
        assert!(!request.system.contains("null"));
        assert!(!request.system.contains("Job title"));
        assert!(request.system.contains("Amina") && request.system.contains("Experience level: junior"));
        assert!(request.system.contains("```\nKotlin apps\n```"));
        assert_eq!(request.turns, [Turn::user(r#"[{"speaker":"interviewee","text":"Hi"}]"#)]);
        job.title = Some("Android Engineer".into());
        assert!(feedback_request("Amina", &job, &transcript).system.contains("Job title: Android Engineer"));
    }
}
