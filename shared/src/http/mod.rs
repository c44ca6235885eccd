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

use crate::domain::Versions;
use crate::error::ApiError;
use crate::store::Cursor;

/// The JSON body limit of routes whose bodies hold no long text (ids, a duration).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// What a JSON body may add around its text fields: names, quotes, ids, whitespace.
pub const JSON_OVERHEAD: usize = 4 * 1024;

/// The body limit of a route whose text fields hold at most `chars` characters in all (the
/// documented limits are in characters): 4 bytes each, UTF-8's longest, plus the JSON around
/// them, so every valid body fits whatever its script, and the limit stays bounded.
pub const fn json_limit(chars: usize) -> usize {
    chars * 4 + JSON_OVERHEAD
}

/// The body limit a route set with `body_limit`, for the 413's message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `method_router` accepting bodies of at most `limit` bytes instead of `JSON_BODY_LIMIT`.
pub fn body_limit<S: Clone + Send + Sync + 'static>(
    method_router: axum::routing::MethodRouter<S>,
    limit: usize,
) -> axum::routing::MethodRouter<S> {
    method_router
        .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(limit))
        .layer::<_, std::convert::Infallible>(axum::Extension(BodyLimit(limit)))
}

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
        let limit = request.extensions().get::<BodyLimit>().map_or(JSON_BODY_LIMIT, |limit| limit.0);
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection, limit)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
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
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
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

/// Parses a path segment as a resource id: a UUID in its hyphenated form, the only one this API
/// issues (and the one OpenAPI's `uuid` format means), naming the parameter when it is not one.
pub fn parse_id(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    Some(raw)
        .filter(|raw| raw.len() == 36)
        .and_then(|raw| Uuid::parse_str(raw).ok())
        .ok_or_else(|| ApiError::bad_request("INVALID_ID", format!("{name} must be a UUID, got {raw:?}")))
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

/// One entity-tag of an `If-Match`/`If-None-Match` list (RFC 9110 8.8.3): `"opaque"`, or
/// `W/"opaque"` when weak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// The entity-tags of one field line: `*`, or a comma-separated list of tags (commas inside
/// quotes belong to the tag). `None` when the line is neither.
fn entity_tags(line: &str) -> Option<Option<Vec<EntityTag<'_>>>> {
    if line.trim() == "*" {
        return Some(None);
    }
    let mut tags = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(Some(tags));
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let body = quoted.strip_prefix('"')?;
        let end = body.find('"')?;
        let opaque = &body[..end];
        // etagc: %x21 / %x23-7E / obs-text; the header is visible ASCII already (to_str).
        if !opaque.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)) {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
        rest = &body[end + 1..];
        let after = rest.trim_start_matches([' ', '\t']);
        if !after.is_empty() && !after.starts_with(',') {
            return None;
        }
        rest = after;
    }
}

/// Every line of a conditional header as one list: `Ok(None)` for `*`, `Err` when a line does
/// not parse (or `*` is mixed with tags).
fn condition_tags(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<Vec<EntityTag<'_>>>, ()> {
    let mut all = Vec::new();
    let mut any = false;
    let mut lines = 0;
    for value in headers.get_all(name) {
        lines += 1;
        match entity_tags(value.to_str().map_err(|_| ())?).ok_or(())? {
            None => any = true,
            Some(tags) => all.extend(tags),
        }
    }
    match (any, lines) {
        (true, 1) => Ok(None),
        (true, _) => Err(()),
        (false, _) => Ok(Some(all)),
    }
}

/// The version an ETag of this API names (`"7"`).
fn version_of(opaque: &str) -> Option<u64> {
    if opaque.is_empty() || !opaque.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    opaque.parse().ok()
}

/// Whether `If-None-Match` names the current version (or `*`), i.e. the client's copy is fresh.
/// Weak comparison, as RFC 9110 asks for this header; a line that does not parse matches nothing.
pub fn if_none_match(headers: &HeaderMap, version: u64) -> bool {
    match condition_tags(headers, header::IF_NONE_MATCH) {
        Ok(None) => true,
        Ok(Some(tags)) => tags.iter().any(|tag| version_of(tag.opaque) == Some(version)),
        Err(()) => false,
    }
}

/// The most entity-tags an `If-Match` may list (a write's guard holds one value per tag).
pub const MAX_IF_MATCH_TAGS: usize = 100;

/// What `If-Match` requires of a write, if the header is present (RFC 9110 13.1.1): `*` means
/// any current version; a list means one of its tags, compared strongly, so a weak tag or one
/// this API never issued matches nothing (412 when the resource exists, never a 400). An empty
/// field is no condition; only a field that is not an entity-tag list is a 400.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    // Absent, or present with an empty list (only whitespace): no precondition.
    let blank = |value: &HeaderValue| value.as_bytes().iter().all(|b| *b == b' ' || *b == b'\t');
    if headers.get_all(header::IF_MATCH).iter().all(blank) {
        return Ok(None);
    }
    let invalid = || {
        ApiError::bad_request(
            "INVALID_IF_MATCH",
            "If-Match must be * or a list of entity-tags, e.g. \"3\" (the ETag this API returned)",
        )
    };
    match condition_tags(headers, header::IF_MATCH).map_err(|()| invalid())? {
        None => Ok(Some(IfMatch::Any)),
        Some(tags) if tags.is_empty() => Err(invalid()),
        Some(tags) if tags.len() > MAX_IF_MATCH_TAGS => Err(ApiError::bad_request(
            "INVALID_IF_MATCH",
            format!("If-Match may list at most {MAX_IF_MATCH_TAGS} entity-tags"),
        )),
        Some(tags) => Ok(Some(IfMatch::Versions(Versions::new(
            tags.iter().filter(|tag| !tag.weak).filter_map(|tag| version_of(tag.opaque)).collect(),
        )))),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    /// The strong tags of ours it named (possibly none).
    Versions(Versions),
}

impl IfMatch {
    pub fn versions(self) -> Option<Versions> {
        match self {
            Self::Any => None,
            Self::Versions(versions) => Some(versions),
        }
    }
}

/// The versions a write must find (`If-Match` listing some); `*` or no header require none.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<Versions>, ApiError> {
    Ok(if_match(headers)?.and_then(IfMatch::versions))
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

/// An item that writes its own JSON into a page's answer (`Listing::into_json`).
pub trait WriteJson {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl<T: WriteJson> Listing<T> {
    /// The page as `application/json`, the bytes `Json(listing)` would write, each item writing
    /// itself: items that already are JSON text (copied from a stored item's validated text) go
    /// in as they are, where a `RawValue` would check every byte of them once more.
    pub fn into_json(self) -> Result<Response, ApiError> {
        let mut body = Vec::with_capacity(LISTING_ITEM_BYTES * self.items.len() + 64);
        body.extend_from_slice(b"{\"items\":[");
        for (at, item) in self.items.iter().enumerate() {
            if at > 0 {
                body.push(b',');
            }
            item.write_json(&mut body).map_err(ApiError::internal)?;
        }
        body.extend_from_slice(b"],\"nextCursor\":");
        serde_json::to_writer(&mut body, &self.next_cursor).map_err(ApiError::internal)?;
        body.push(b'}');
        Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
    }
}

/// What a listed item takes in an answer, about: enough that a page of job infos is written
/// without the buffer growing.
const LISTING_ITEM_BYTES: usize = 512;

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

    #[derive(serde::Serialize)]
    struct Row {
        name: &'static str,
        n: u32,
    }

    impl WriteJson for Row {
        fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }

    #[tokio::test]
    async fn a_listing_writes_itself_as_json_writes_it() {
        let cursor =
            Cursor([("pk".to_owned(), "USER#u".to_owned()), ("sk".to_owned(), "JOB#\"1".to_owned())].into());
        for (rows, next) in
            [(vec![], None), (vec![("a\"b", 1)], None), (vec![("a", 1), ("<b>", 2)], Some(cursor))]
        {
            let rows = || rows.iter().map(|&(name, n)| Row { name, n }).collect::<Vec<_>>();
            let expected = serde_json::to_vec(&Listing::new(rows(), next.clone())).unwrap();
            let response = Listing::new(rows(), next.clone()).into_json().unwrap();
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body.as_ref(), expected.as_slice());
        }
    }

    fn with(name: header::HeaderName, lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(name.clone(), HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn versions(list: &[u64]) -> Option<IfMatch> {
        Some(IfMatch::Versions(Versions::new(list.to_vec())))
    }

    #[test]
    fn etag_matching() {
        let headers = with(header::IF_NONE_MATCH, &["\"2\", W/\"3\""]);
        assert!(if_none_match(&headers, 3));
        assert!(!if_none_match(&headers, 4));
        assert!(if_none_match(&with(header::IF_NONE_MATCH, &["*"]), 9));
        assert!(!if_none_match(&with(header::IF_NONE_MATCH, &["nonsense"]), 9));
    }

    #[test]
    fn if_match_follows_rfc_9110() {
        let parse = |lines: &[&str]| if_match(&with(header::IF_MATCH, lines));
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(parse(&["\"7\""]).unwrap(), versions(&[7]));
        assert_eq!(parse(&["*"]).unwrap(), Some(IfMatch::Any));
        // A list, over one or several lines, commas inside quotes belonging to the tag.
        assert_eq!(parse(&["\"7\", \"9\""]).unwrap(), versions(&[7, 9]));
        assert_eq!(parse(&["\"7\"", "\"9\",\"a,b\""]).unwrap(), versions(&[7, 9]));
        // Well-formed but not ours, or weak (never matches a strong comparison): matches nothing.
        assert_eq!(parse(&["\"some-other-etag\""]).unwrap(), versions(&[]));
        assert_eq!(parse(&["W/\"7\""]).unwrap(), versions(&[]));
        assert_eq!(parse(&["W/\"7\", \"8\""]).unwrap(), versions(&[8]));
        assert_eq!(parse(&["\"\""]).unwrap(), versions(&[]));
        assert_eq!(parse(&["\"-1\"", "\"99999999999999999999999\""]).unwrap(), versions(&[]));
        // Not an entity-tag list: 400.
        assert_eq!(parse(&[""]).unwrap(), None, "an empty list is no condition");
        for bad in ["nonsense", "7", "\"7", "\"7\" \"8\"", "\"a b\"", "W/7", ","] {
            assert!(parse(&[bad]).is_err(), "{bad:?}");
        }
        assert!(parse(&["*", "\"7\""]).is_err());
        let many = vec!["\"1\""; MAX_IF_MATCH_TAGS + 1].join(",");
        assert!(parse(&[&many]).is_err());
    }
}
