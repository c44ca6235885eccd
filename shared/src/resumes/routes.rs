//! The resume routes: `POST /api/ai/resumes/analyze` (the analyze-resume function: multipart in,
//! a plain text stream of the analysis JSON out) and `GET /api/job-infos/{jobInfoId}/resume-analyses`
//! (the job-infos function).
//!
//! The upload is `multipart/form-data` with `resumeFile` and `jobInfoId`, read as a stream and
//! cut off at `MAX_BODY`, the most a Lambda request can carry. Checks come in the original's
//! order and words: 401, missing field 400 `Invalid request`, too large 413, type 400 `Please
//! upload a PDF, Word document, or text file`, 503 without a model, job not owned 403, no
//! `unlimited_resume_analysis` 403 `PLAN_LIMIT`. PDF and text go to the model inline; a DOCX's
//! text is extracted and sent as text.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;

use super::sniff::{self, FileKind, TypeError};
use super::{PendingAnalysis, ResumeAnalysis, docx, pdf, prompts};
use crate::AppState;
use crate::ai::{AiError, ModelStream, Part};
use crate::auth::Session;
use crate::children;
use crate::error::ApiResult;
use crate::http::plain::{self, PlainError, PlainSession};
use crate::http::{self, PageParams, QueryParams, data_stream};
use crate::job_infos;
use crate::plans::UNLIMITED_RESUME_ANALYSIS;
use crate::protect::gate::CountGate;
use crate::protect::lease;

pub const PATH: &str = "/api/ai/resumes/analyze";
/// The form fields the original client sends.
pub const FILE_FIELD: &str = "resumeFile";
pub const JOB_FIELD: &str = "jobInfoId";

/// Lambda's synchronous invocation payload limit (6 MB), which also bounds a function URL
/// request in RESPONSE_STREAM mode: the limit is on the event JSON, not on the body.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// Room kept in the event for everything but the body (headers, cookies, request context).
pub const EVENT_OVERHEAD: usize = 16 * 1024;
/// The largest multipart body accepted (4,706,304 bytes): API Gateway and function URLs pass a
/// binary body base64-encoded, 4 bytes per 3, so this is what fits in the event beside the
/// overhead. Larger requests never reach a Lambda; here they get 413 before any work.
pub const MAX_BODY: usize = (LAMBDA_PAYLOAD_LIMIT - EVENT_OVERHEAD) / 4 * 3;
/// The largest resume file: `MAX_BODY` less room for the multipart framing and `jobInfoId`.
pub const MAX_FILE: usize = 4_500_000;
// Base64 of the largest body, plus the overhead, still fits the payload; and the largest file
// leaves room for the form around it.
const _: () = assert!(MAX_BODY.div_ceil(3) * 4 + EVENT_OVERHEAD <= LAMBDA_PAYLOAD_LIMIT);
const _: () = assert!(MAX_FILE + 8 * 1024 <= MAX_BODY);
/// The longest `jobInfoId` field read (a UUID is 36 characters).
const MAX_ID_FIELD: usize = 256;
/// The longest file name stored (characters).
const MAX_FILE_NAME: usize = 255;

/// The original's 400 bodies.
pub const INVALID_REQUEST: &str = "Invalid request";
pub const UNSUPPORTED_TYPE: &str = "Please upload a PDF, Word document, or text file";
/// The original said "File size exceeds 10MB limit"; our limit is Lambda's.
pub const TOO_LARGE: &str = "File size exceeds 4.5MB limit";
pub const LEGACY_DOC: &str = "Legacy .doc files cannot be read; save it as .docx or PDF";
pub const EMPTY_FILE: &str = "The uploaded file is empty";

/// The read route; the job-infos function serves it.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/job-infos/{jobInfoId}/resume-analyses", get(list_route))
}

/// `POST /api/ai/resumes/analyze` (the analyze-resume function), with its own body limit.
pub fn analyze_routes() -> Router<AppState> {
    Router::new().route(PATH, post(analyze_route).layer(DefaultBodyLimit::max(MAX_BODY)))
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<ResumeAnalysis>>> {
    let table = state.table.as_ref();
    let (job_id, limit, cursor) = children::page_request(table, &session.user_id, &raw_id, &params).await?;
    let (items, next) = super::list(table, &session.user_id, job_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

/// What the model is given: the file itself when it reads files (PDF, text), else its text; a
/// DOCX's text always (no model reads Word files). Also the text, when known, for the brief.
async fn resume_part(
    kind: FileKind,
    bytes: Vec<u8>,
    reads_files: bool,
) -> Result<(Part, Option<String>), PlainError> {
    let text = match kind {
        FileKind::Docx => {
            docx::docx_text(&bytes).map_err(|error| PlainError::bad_request(error.public_message()))?
        }
        FileKind::Text => String::from_utf8_lossy(&bytes).into_owned(),
        FileKind::Pdf if reads_files => {
            return Ok((Part::File { mime_type: kind.mime_type().into(), data: bytes }, None));
        }
        FileKind::Pdf => {
            // Parsing is CPU work on untrusted input: off the async threads.
            let extracted = tokio::task::spawn_blocking(move || pdf::pdf_text(&bytes))
                .await
                .map_err(|_| PlainError::bad_request(pdf::PdfError::Empty.public_message()))?;
            extracted.map_err(|error| PlainError::bad_request(error.public_message()))?
        }
        FileKind::Doc => return Err(type_refused(TypeError::LegacyDoc)),
    };
    let part = match kind {
        FileKind::Text if reads_files => {
            Part::File { mime_type: kind.mime_type().into(), data: text.clone().into_bytes() }
        }
        _ => Part::Text(text.clone()),
    };
    Ok((part, Some(text)))
}

/// A refused type: the original's 400, or 415 for a legacy `.doc`.
fn type_refused(error: TypeError) -> PlainError {
    let status = match error {
        TypeError::LegacyDoc => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        TypeError::Unsupported | TypeError::Mismatch { .. } => StatusCode::BAD_REQUEST,
    };
    PlainError::new(status, error.to_string())
}

fn too_large() -> PlainError {
    PlainError::new(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE)
}

/// A broken or truncated body is the original's 400; a body past the limit stays a 413.
fn multipart_error(error: MultipartError) -> PlainError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        tracing::info!(error = %error.body_text(), "unreadable multipart body");
        PlainError::bad_request(INVALID_REQUEST)
    }
}

/// The uploaded file as received.
#[derive(Debug)]
struct Upload {
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// Reads the form: the file (at most `MAX_FILE` bytes), the job id, and nothing else kept (other
/// fields are drained; the body limit bounds them). A repeated field is a 400.
async fn read_form(mut form: Multipart) -> Result<(Option<Upload>, Option<String>), PlainError> {
    let mut upload = None;
    let mut job_id = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            FILE_FIELD => {
                if upload.is_some() {
                    return Err(PlainError::bad_request(INVALID_REQUEST));
                }
                let file_name = field
                    .file_name()
                    .map(|name| name.chars().take(MAX_FILE_NAME).collect::<String>())
                    .filter(|name| !name.is_empty());
                let content_type = field.content_type().map(str::to_owned);
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > MAX_FILE {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                upload = Some(Upload { file_name, content_type, bytes });
            }
            JOB_FIELD => {
                if job_id.is_some() {
                    return Err(PlainError::bad_request(INVALID_REQUEST));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > MAX_ID_FIELD {
                        return Err(PlainError::bad_request(INVALID_REQUEST));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(bytes).map_err(|_| PlainError::bad_request(INVALID_REQUEST))?;
                job_id = Some(text.trim().to_owned());
            }
            _ => while field.chunk().await.map_err(multipart_error)?.is_some() {},
        }
    }
    Ok((upload, job_id))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

async fn analyze_route(
    State(state): State<AppState>,
    PlainSession(session): PlainSession,
    gate: CountGate,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, PlainError> {
    // Before reading anything: what Lambda could never have delivered.
    if declared_length(&headers).is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let form = form.map_err(|_| PlainError::bad_request(INVALID_REQUEST))?;
    let (upload, job_id) = read_form(form).await?;
    let (Some(upload), Some(job_id)) = (upload, job_id.filter(|id| !id.is_empty())) else {
        return Err(PlainError::bad_request(INVALID_REQUEST));
    };
    if upload.bytes.is_empty() {
        return Err(PlainError::bad_request(EMPTY_FILE));
    }
    let kind = sniff::check_type(upload.content_type.as_deref(), &upload.bytes).map_err(type_refused)?;
    let model = plain::model_or_unavailable(state.model.as_ref())?;
    let table = state.table.clone();
    let user_id = session.user_id;
    let job = job_infos::get_owned(table.as_ref(), &user_id, plain::owned_id(&job_id)?).await?;
    if !session.features.has(UNLIMITED_RESUME_ANALYSIS) {
        return Err(PlainError::plan_limit());
    }
    // Up to here the request was read while its windows were counted; nothing is parsed,
    // taken or spent before the count allows it.
    gate.pass().await?;
    let size = upload.bytes.len() as u64;
    let (resume, text) = resume_part(kind, upload.bytes, model.reads_files()).await?;
    let request = prompts::resume_request(&job, resume, kind.format(), text);
    let record = PendingAnalysis {
        user_id,
        job,
        model: model.name(),
        file_name: upload.file_name,
        mime_type: kind.mime_type(),
        size,
    };
    let lease = lease::for_generation(&table, &record.user_id, state.protection.modes.rate_limit).await?;
    // Wait for the first piece, so a model that fails outright is a plain-text error status
    // rather than a 200 whose body breaks.
    let mut events = model.stream(request);
    let first = events.next().await;
    if let Some(Err(error)) = first {
        tracing::warn!(%error, "resume analysis failed before any text");
        lease.release().await;
        return Err(failed_before_text(&error));
    }
    let events: ModelStream = Box::pin(futures::stream::iter(first).chain(events));
    let chunks =
        data_stream::model_text_then(
            events,
            move |text| async move { record.finish(table.as_ref(), text).await },
        );
    Ok(data_stream::text_response(lease::hold_while(chunks, lease)))
}

/// The status of a model failure before anything was streamed; the body is its public message.
fn failed_before_text(error: &AiError) -> PlainError {
    let status = match error {
        AiError::Busy { .. } | AiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    PlainError::new(status, error.public_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_cap_is_what_a_lambda_event_can_carry() {
        assert_eq!(MAX_BODY, 4_706_304);
        assert!(TOO_LARGE.contains(&format!("{}MB", MAX_FILE as f64 / 1_000_000.0)));
    }

    #[test]
    fn refused_types_keep_the_originals_words() {
        assert_eq!(type_refused(TypeError::Unsupported).message, UNSUPPORTED_TYPE);
        let legacy = type_refused(TypeError::LegacyDoc);
        assert_eq!(
            (legacy.status, legacy.message.as_ref()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, LEGACY_DOC)
        );
    }
}
