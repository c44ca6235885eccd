//! The question reads (served by the job-infos function): `GET /api/job-infos/{jobInfoId}/questions`
//! and `GET /api/questions/{questionId}`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use super::QuestionView;
use crate::AppState;
use crate::auth::Session;
use crate::children;
use crate::error::ApiResult;
use crate::http::{self, PageParams, QueryParams};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/job-infos/{jobInfoId}/questions", get(list_route))
        .route("/api/questions/{questionId}", get(get_route))
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<QuestionView>>> {
    let table = state.table.as_ref();
    let (job_id, limit, cursor) = children::page_request(table, &session.user_id, &raw_id, &params).await?;
    let (items, next) = super::list_viewed(table, &session.user_id, job_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("questionId", &raw_id)?;
    let view = super::get_viewed(state.table.as_ref(), &session.user_id, id).await?;
    Ok(http::conditional_get(&headers, view.question.version, view))
}
