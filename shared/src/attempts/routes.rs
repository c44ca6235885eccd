//! The practice-history reads (served by the job-infos function):
//! `GET /api/questions/{questionId}/attempts` and `GET /api/job-infos/{jobInfoId}/progress`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::{Attempt, Progress};
use crate::AppState;
use crate::auth::Session;
use crate::error::ApiResult;
use crate::http::{self, PageParams, QueryParams};
use crate::{questions, users};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/questions/{questionId}/attempts", get(list_route))
        .route("/api/job-infos/{jobInfoId}/progress", get(progress_route))
}

/// The caller's attempts at their question, newest first (404 for anyone else's question).
async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<Attempt>>> {
    let table = state.table.as_ref();
    let question_id = http::parse_id("questionId", &raw_id)?;
    let (limit, cursor) = params.resolve(&users::partition(&session.user_id))?;
    questions::get_owned(table, &session.user_id, question_id).await?;
    let (items, next) = super::list(table, &session.user_id, question_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

async fn progress_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
) -> ApiResult<Json<Progress>> {
    let job_id = http::parse_id("jobInfoId", &raw_id)?;
    Ok(Json(super::progress::get(state.table.as_ref(), &session.user_id, job_id).await?))
}
