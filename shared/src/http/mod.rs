//! HTTP plumbing shared by every router: body extractors that turn every client mistake into a
//! clear `ApiError`, path ids, paging, ETags, and the common layers. The AI routes' stream
//! encoders are in `data_stream`, their plain-text errors in `plain`.

pub mod data_stream;
pub mod plain;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::store::Cursor;

/// The largest JSON body any JSON route accepts.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// problem+json answers for unknown routes and methods (before the layers that must also see
/// those requests are added).
pub fn with_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(|| async { ApiError::not_found("ROUTE_NOT_FOUND", "No such route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

/// Request ids, access lines (as this process writes them) and the JSON body limit: what every
/// router (each Lambda's and the local host's merged one) gets, outermost.
pub fn with_common_layers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    with_layers(router, crate::telemetry::AccessLog::process())
}

/// The common layers with access lines written by `access_log` (tests read them from memory).
pub fn with_layers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    access_log: crate::telemetry::AccessLog,
) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        // Inside the request id (which the line quotes), outside everything else.
        .layer(middleware::from_fn_with_state(access_log, crate::telemetry::access_log))
        .layer(middleware::from_fn(crate::request_id::layer))
}

/// A JSON body whose every rejection is a clear 4xx problem.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("Send the body as JSON with Content-Type: application/json".into())
        }
        JsonRejection::JsonSyntaxError(error) => ApiError::bad_request(
            "MALFORMED_JSON",
            format!("The body is not valid JSON: {}", error.body_text_cause()),
        ),
        JsonRejection::JsonDataError(error) => ApiError::bad_request(
            "INVALID_BODY",
            format!("The body does not match what this route expects: {}", error.body_text_cause()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit: JSON_BODY_LIMIT }
        }
        other => ApiError::bad_request("UNREADABLE_BODY", other.body_text()),
    }
}

/// What serde says, without axum's prefix (it already says "Failed to deserialize...").
trait CauseText {
    fn body_text_cause(&self) -> String;
}

impl<E: std::error::Error> CauseText for E {
    fn body_text_cause(&self) -> String {
        let mut source: &dyn std::error::Error = self;
        while let Some(next) = source.source() {
            source = next;
        }
        source.to_string()
    }
}

/// Query parameters whose rejection is a clear 400.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::bad_request(
                    "INVALID_QUERY",
                    format!("Invalid query parameters: {}", rejection.body_text_cause()),
                )
            })
    }
}

/// Parses a path segment as a resource id (a UUID), naming the parameter when it is not one.
pub fn parse_id(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::bad_request("INVALID_ID", format!("{name} must be a UUID, got {raw:?}")))
}

/// Page size bounds of every list.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// `?limit=1..100&cursor=…` of a list route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, and the cursor, which must be one a list of `partition` returned (so it
    /// can never move a query into another user's data).
    pub fn resolve(&self, partition: &str) -> Result<(usize, Option<Cursor>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(
                "INVALID_QUERY",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(Cursor::decode(text, partition).ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_CURSOR",
                    "cursor is not one this list returned; start again without it",
                )
            })?),
        };
        Ok((limit, cursor))
    }
}

/// The strong ETag of a resource version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Whether `If-None-Match` names the current version (or `*`), i.e. the client's copy is fresh.
pub fn if_none_match(headers: &HeaderMap, version: u64) -> bool {
    let current = format!("\"{version}\"");
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|value| {
        value
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == current)
    })
}

/// The version `If-Match` requires, if the header is present. `*` means "any existing version".
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(Some(IfMatch::Any));
    }
    text.trim_matches('"').parse().map(|version| Some(IfMatch::Version(version))).map_err(|_| {
        ApiError::bad_request("INVALID_IF_MATCH", "If-Match must be an ETag this API returned, e.g. \"3\"")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(u64),
}

impl IfMatch {
    pub fn version(self) -> Option<u64> {
        match self {
            Self::Any => None,
            Self::Version(version) => Some(version),
        }
    }
}

/// The version a write must find (`If-Match` naming one); `*` or no header require none.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    Ok(if_match(headers)?.and_then(IfMatch::version))
}

/// One page of a list: its items and the cursor of the next page (absent on the last page).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Listing<T> {
    pub fn new(items: Vec<T>, next: Option<crate::store::Cursor>) -> Self {
        Self { items, next_cursor: next.map(|cursor| cursor.encode()) }
    }
}

/// A versioned resource as JSON with its ETag.
pub fn tagged<T: serde::Serialize>(status: StatusCode, version: u64, resource: T) -> Response {
    (status, [(header::ETAG, etag(version))], axum::Json(resource)).into_response()
}

/// `201 Created` with the new resource, its ETag and its `Location`.
pub fn created<T: serde::Serialize>(location: &str, version: u64, resource: T) -> Response {
    let mut response = tagged(StatusCode::CREATED, version, resource);
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A GET of a versioned resource: 304 when `If-None-Match` names its version, else 200 + ETag.
pub fn conditional_get<T: serde::Serialize>(headers: &HeaderMap, version: u64, resource: T) -> Response {
    if if_none_match(headers, version) {
        return not_modified(version);
    }
    tagged(StatusCode::OK, version, resource)
}

/// `304 Not Modified` with the ETag.
pub fn not_modified(version: u64) -> Response {
    (StatusCode::NOT_MODIFIED, [(header::ETAG, etag(version))]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"2\", W/\"3\""));
        assert!(if_none_match(&headers, 3));
        assert!(!if_none_match(&headers, 4));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"7\""));
        assert_eq!(if_match(&headers).unwrap(), Some(IfMatch::Version(7)));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("nonsense"));
        assert!(if_match(&headers).is_err());
    }
}
