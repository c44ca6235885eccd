//! `ApiError`: every way a request can fail, mapped to an HTTP status in one place.
//! JSON routes answer `application/problem+json` (RFC 9457) with a stable `code` a client can
//! switch on; a 5xx never carries its cause (that goes to the log) but does carry the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or fails validation.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no valid session token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the plan does not allow this (`PLAN_LIMIT`, as the original client expects).
    #[error("You have reached your plan limit")]
    PlanLimit,
    /// 403: refused by a protection rule (an attack pattern, an automated client).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: nothing of the caller's has this id.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405: the route exists but not with this method.
    #[error("This route does not accept that method")]
    MethodNotAllowed,
    /// 409: the resource is not in a state that allows this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 412: `If-Match` named a version that is no longer current.
    #[error("The resource changed since you read it; fetch it again and retry")]
    PreconditionFailed,
    /// 413: the body is larger than the route accepts.
    #[error("The request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not in a format the route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: too many requests (`RATE_LIMIT`).
    #[error("Too many requests; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// 502: a service we depend on (Hume, the model) failed; the message says which, never its words.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// 503: a dependency is not configured or not reachable right now.
    #[error("{message}")]
    Unavailable { message: String },
    /// 500: a bug or an unexpected failure; the cause is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::PlanLimit | Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::BadGateway { code, .. } => code,
            Self::Unauthorized(_) => "UNAUTHENTICATED",
            Self::PlanLimit => "PLAN_LIMIT",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PreconditionFailed => "PRECONDITION_FAILED",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::RateLimited { .. } => "RATE_LIMIT",
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// What the client is told. Internal causes are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => {
                "Something went wrong on our side; quote the request id if it persists".into()
            }
            other => other.to_string(),
        }
    }
}

/// The one mapping of domain failures to HTTP.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { code, message } => Self::BadRequest { code, message },
            DomainError::NotFound(missing) => Self::not_found(missing.code(), missing.message()),
            DomainError::StaleVersion => Self::PreconditionFailed,
            DomainError::PlanLimit => Self::PlanLimit,
            DomainError::RateLimited { retry_after_seconds } => Self::RateLimited { retry_after_seconds },
            DomainError::AccountDeleted => Self::Unauthorized(error.to_string()),
            DomainError::Conflict { code, message } => Self::Conflict { code, message },
            DomainError::Upstream { code, message } => Self::BadGateway { code, message },
            DomainError::Storage(error) => error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => Self::bad_request(
                "INVALID_CURSOR",
                "cursor is not one this list returned; start again without it",
            ),
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "store unavailable");
                Self::Unavailable { message: "Storage is unavailable right now; retry shortly".into() }
            }
            StoreError::Conflict => {
                Self::conflict("CONCURRENT_UPDATE", "Another request changed this at the same time; retry")
            }
            other => Self::internal(other),
        }
    }
}

/// The problem+json body.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = crate::request_id::current();
        if status.is_server_error() {
            tracing::error!(error = %self, request_id = request_id.as_deref().unwrap_or("-"), "request failed");
        }
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.public_message(),
            code: self.code(),
            request_id: if status.is_server_error() { request_id } else { None },
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Self::RateLimited { retry_after_seconds } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
