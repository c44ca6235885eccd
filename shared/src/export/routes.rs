//! `GET /api/me/export` (the me function): the caller's data as a JSON attachment, streamed.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::auth::Session;
use crate::error::ApiResult;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/me/export", get(export_route))
}

async fn export_route(State(state): State<AppState>, session: Session) -> ApiResult<Response> {
    let export = super::begin(state.table.clone(), &session.user_id).await?;
    let mut response = (StatusCode::OK, Body::from_stream(export.chunks())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"darasa-export.json\""),
    );
    // Personal data: no shared cache may keep a copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
