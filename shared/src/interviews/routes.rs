//! The interviews function's routes: `POST/GET /api/job-infos/{jobInfoId}/interviews`,
//! `GET/PATCH/DELETE /api/interviews/{interviewId}`, `.../transcript`, `.../feedback`, and
//! `POST /api/hume/access-token`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Interview, InterviewChanges, feedback};
use crate::AppState;
use crate::ai::{self, SharedModel};
use crate::auth::Session;
use crate::children;
use crate::domain::{DomainError, Missing};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, JsonBody, PageParams, QueryParams};
use crate::hume::{self, HumeClient};
use crate::protect::gate::CountGate;
use crate::protect::{Decision, HUME_TOKEN_BUCKET, INTERVIEW_BUCKET, TokenBucket, lease};

pub fn routes() -> Router<AppState> {
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

async fn create_route(
    State(state): State<AppState>,
    session: Session,
    gate: CountGate,
    Path(raw_id): Path<String>,
) -> ApiResult<Response> {
    let job_id = http::parse_id("jobInfoId", &raw_id)?;
    let bucket = TokenBucket { mode: state.protection.modes.rate_limit, ..INTERVIEW_BUCKET };
    let interview = super::create(state.table.as_ref(), &session, job_id, bucket, &gate).await?;
    Ok(http::created(&format!("/api/interviews/{}", interview.id), interview.version, interview))
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
    let (job_id, limit, cursor) = children::page_request(table, &session.user_id, &raw_id, &page).await?;
    let all = params.status == Some(ListStatus::All);
    let (items, next) = super::list(table, &session.user_id, job_id, all, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let interview = super::get_owned(state.table.as_ref(), &session.user_id, id).await?;
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
    let expected = http::expected_version(&headers)?;
    // A chat id is only accepted once Hume confirms it: without Hume, none can be.
    let hume = match &changes.hume_chat_id {
        Some(_) => Some(hume_client(&state)?),
        None => state.hume.as_deref(),
    };
    let interview =
        super::update(state.table.as_ref(), hume, &session, id, changes, expected.as_ref()).await?;
    Ok(http::tagged(StatusCode::OK, interview.version, interview))
}

async fn delete_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = http::parse_id("interviewId", &raw_id)?;
    let expected = http::expected_version(&headers)?;
    super::delete(state.table.as_ref(), &session.user_id, id, expected.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct TranscriptBody {
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
    let interview = super::get_owned(state.table.as_ref(), &session.user_id, id).await?;
    let chat_id = interview.hume_chat_id.ok_or(DomainError::NotFound(Missing::Transcript))?;
    let hume = hume_client(&state)?;
    let events = hume.chat_events(&chat_id).await.map_err(feedback::hume_failed)?;
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
    let interview = super::get_owned(table, &session.user_id, id).await?;
    let Some(chat_id) = interview.hume_chat_id.clone() else {
        return Err(ApiError::conflict("INTERVIEW_NOT_STARTED", "Interview has not been completed yet"));
    };
    if interview.feedback.is_some() && !params.regenerate {
        return Ok(http::tagged(StatusCode::OK, interview.version, interview));
    }
    let model = model(&state)?;
    let hume = hume_client(&state)?;
    let lease =
        lease::for_generation(&state.table, &session.user_id, state.protection.modes.rate_limit).await?;
    let generated =
        feedback::generate(table, hume, model.as_ref(), &session.user_id, &interview, &chat_id).await;
    lease.release().await;
    let interview = generated?;
    Ok(http::tagged(StatusCode::OK, interview.version, interview))
}

async fn access_token_route(
    State(state): State<AppState>,
    session: Session,
    gate: CountGate,
) -> ApiResult<Response> {
    let hume = hume_client(&state)?;
    let table = state.table.as_ref();
    // The plan's allowance is read while the request's windows are counted; the bucket's token is
    // taken only once the count allowed the request.
    if !super::may_start(table, &session.user_id, &session.features).await? {
        return Err(ApiError::PlanLimit);
    }
    gate.pass().await?;
    // Each token opens a paid voice session: no faster than interviews may start.
    let bucket = TokenBucket { mode: state.protection.modes.rate_limit, ..HUME_TOKEN_BUCKET };
    if let Decision::Denied { retry_after_seconds } =
        bucket.take(table, &session.user_id, state.protection.clock.now_ms()).await?
    {
        return Err(ApiError::RateLimited { retry_after_seconds });
    }
    let token = hume.access_token().await.map_err(feedback::hume_failed)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(token)).into_response())
}
