//! Plain-text errors for the routes the original web client calls directly (the AI routes):
//! it shows `await res.text()` and switches on `PLAN_LIMIT`, so these answer the original's
//! status codes and exact strings (original-app §6.1, §6.2) instead of problem+json.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{Session, Verifier};
use crate::error::ApiError;
use crate::store::StoreError;

/// The original's strings.
pub const NOT_LOGGED_IN: &str = "You are not logged in";
pub const PLAN_LIMIT: &str = "PLAN_LIMIT";
pub const NO_PERMISSION: &str = "You do not have permission to do this";

/// A plain-text error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
}

impl PlainError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into() }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, NOT_LOGGED_IN)
    }

    pub fn bad_request(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn plan_limit() -> Self {
        Self::new(StatusCode::FORBIDDEN, PLAN_LIMIT)
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, NO_PERMISSION)
    }
}

/// Errors shared with the JSON routes (storage, keys) keep their status and public message; a
/// 5xx never shows its cause (`ApiError` logs it) but names the request id.
impl From<ApiError> for PlainError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            let request_id = crate::http::current_request_id();
            tracing::error!(%error, request_id = request_id.as_deref().unwrap_or("-"), "request failed");
            let mut message = error.public_message();
            if let Some(id) = request_id {
                message.push_str(&format!(" (request id {id})"));
            }
            return Self::new(status, message);
        }
        Self::new(status, error.public_message())
    }
}

impl From<StoreError> for PlainError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PlainError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message.into_owned()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(super::data_stream::CONTENT_TYPE));
        response
    }
}

/// The verified caller, for plain-text routes: no or a bad token is the original's
/// `401 You are not logged in`; an outage of Clerk's keys stays a 503.
#[derive(Debug, Clone)]
pub struct PlainSession(pub Session);

impl<S> FromRequestParts<S> for PlainSession
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = PlainError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PlainError> {
        match Session::from_request_parts(parts, state).await {
            Ok(session) => Ok(Self(session)),
            Err(ApiError::Unauthorized(_)) => Err(PlainError::unauthorized()),
            Err(other) => Err(other.into()),
        }
    }
}
