//! `POST/GET /api/job-infos` and `GET/PATCH/DELETE /api/job-infos/{jobInfoId}`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

use super::store::Listed;
use super::{JobInfoChanges, NewJobInfo};
use crate::AppState;
use crate::auth::Session;
use crate::error::ApiResult;
use crate::http::{self, JsonBody, PageParams, QueryParams};
use crate::users;

/// A job info's body: its name, title and description at their longest.
const BODY_LIMIT: usize = http::json_limit(super::MAX_NAME + super::MAX_TITLE + super::MAX_DESCRIPTION);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/job-infos", http::body_limit(get(list_route).post(create_route), BODY_LIMIT))
        .route(
            "/api/job-infos/{jobInfoId}",
            http::body_limit(get(get_route).patch(update_route).delete(delete_route), BODY_LIMIT),
        )
}

async fn create_route(
    State(state): State<AppState>,
    session: Session,
    JsonBody(new): JsonBody<NewJobInfo>,
) -> ApiResult<Response> {
    let job = super::create(state.table.as_ref(), &session.user_id, new).await?;
    Ok(http::created(&format!("/api/job-infos/{}", job.id), job.version, job))
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Response> {
    let (limit, cursor) = params.resolve(&users::partition(&session.user_id))?;
    let (items, next) = super::list(state.table.as_ref(), &session.user_id, limit, cursor).await?;
    http::Listing::<Listed>::new(items, next).into_json()
}

impl http::WriteJson for Listed {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        Listed::write_json(self, out)
    }
}

async fn get_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = http::parse_id("jobInfoId", &raw_id)?;
    let job = super::get_owned(state.table.as_ref(), &session.user_id, id).await?;
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
    let expected = http::expected_version(&headers)?;
    let job = super::update(state.table.as_ref(), &session.user_id, id, changes, expected.as_ref()).await?;
    Ok(http::tagged(StatusCode::OK, job.version, job))
}

async fn delete_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = http::parse_id("jobInfoId", &raw_id)?;
    let expected = http::expected_version(&headers)?;
    super::delete(state.table.as_ref(), &session.user_id, id, expected.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
