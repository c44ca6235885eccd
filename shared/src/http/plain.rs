//! Plain-text errors for the routes the original web client calls directly (the AI routes):
//! it shows `await res.text()` and switches on `PLAN_LIMIT` and `RATE_LIMIT`, so these answer the
//! original's status codes and exact strings (`docs/original.md`) instead of problem+json. Also
//! the small readers those routes share (a JSON body whose every flaw is the route's one 400, an
//! id from a body).

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ai::SharedModel;
use crate::auth::{Session, Verifier};
use crate::domain::{DomainError, Missing};
use crate::error::ApiError;
use crate::store::StoreError;

/// The original's strings.
pub const NOT_LOGGED_IN: &str = "You are not logged in";
pub const PLAN_LIMIT: &str = "PLAN_LIMIT";
pub const NO_PERMISSION: &str = "You do not have permission to do this";
pub const RATE_LIMIT: &str = "RATE_LIMIT";

/// A plain-text error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    /// `Retry-After` seconds, on a 429.
    pub retry_after_seconds: Option<u64>,
}

impl PlainError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into(), retry_after_seconds: None }
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT)
        }
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
            let request_id = crate::request_id::current();
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

/// The one mapping of domain failures to the original's plain-text answers: anything of the
/// caller's that is missing is "not yours" (403), as the original checked ownership.
impl From<DomainError> for PlainError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::NotFound(Missing::JobInfo | Missing::Question | Missing::Interview) => {
                Self::forbidden()
            }
            DomainError::PlanLimit => Self::plan_limit(),
            DomainError::RateLimited { retry_after_seconds } => Self::rate_limited(retry_after_seconds),
            DomainError::AccountDeleted => Self::unauthorized(),
            other => ApiError::from(other).into(),
        }
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
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
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

/// The body as JSON, any flaw being the route's one 400 string (a too-large body stays a 413).
pub fn json_body<T: DeserializeOwned>(
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

/// An id from a body that names nothing of the caller's is the original's 403, whatever its shape.
pub fn owned_id(raw: &str) -> Result<Uuid, PlainError> {
    Uuid::parse_str(raw).map_err(|_| PlainError::forbidden())
}

/// The configured model, or the 503 that says how to configure one (every plain-text AI route).
pub fn model_or_unavailable(model: Option<&SharedModel>) -> Result<SharedModel, PlainError> {
    model
        .cloned()
        .ok_or_else(|| PlainError::new(StatusCode::SERVICE_UNAVAILABLE, crate::ai::not_configured_message()))
}
