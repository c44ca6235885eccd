//! `GET /api/me`: the caller's profile, plan features and quotas.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::Me;
use crate::AppState;
use crate::auth::Session;
use crate::error::ApiResult;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// 404 until the webhook created the profile: the onboarding page polls on exactly that.
async fn me(State(state): State<AppState>, session: Session) -> ApiResult<Json<Me>> {
    Ok(Json(super::me(state.table.as_ref(), &session).await?))
}
