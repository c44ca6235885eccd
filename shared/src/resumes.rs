//! Resume analysis: `POST /api/ai/resumes/analyze` (the analyze-resume function) and the stored
//! analyses of a job, `GET /api/job-infos/{jobInfoId}/resume-analyses` (the job-infos function).
//!
//! The upload is `multipart/form-data` with `resumeFile` and `jobInfoId`, read as a stream and
//! cut off at `MAX_BODY`, the most a Lambda request can carry (see `MAX_BODY`). Checks come in
//! the original's order and words (original-app §6.3): 401, missing field 400 `Invalid request`,
//! too large 413, type 400 `Please upload a PDF, Word document, or text file`, 503 without a
//! model, job not owned 403, no `unlimited_resume_analysis` 403 `PLAN_LIMIT`. The type is decided
//! from the bytes (`sniff`), never from the client's claim, and a claim the bytes contradict is
//! refused; a legacy `.doc` (OLE2), which neither we nor Gemini can read, is a 415.
//!
//! PDF and text go to Gemini inline; a DOCX's text is extracted here and sent as text. The reply
//! is Gemini structured output (`analysis_schema`, the original's schema), streamed to the client
//! as a plain text stream of the JSON as it is generated (the original client parses partial
//! JSON). Once complete it is parsed and validated (`parse_analysis`); a valid analysis is stored
//! as `USER#<userId> / RESUME#<id>` with `parentKey = JOBINFO#<job>#RESUME#<id>`, so the job's
//! delete cascades to it. The file itself is never stored. An invalid or cut-off reply is logged
//! and not stored.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;
use crate::ai::{AiError, ModelEvent, ModelStream, Part, prompts};
use crate::auth::Session;
use crate::error::ApiResult;
use crate::http::plain::{PlainError, PlainSession};
use crate::http::{self, PageParams, QueryParams, data_stream};
use crate::job_infos::{self, JobInfo};
use crate::plans::UNLIMITED_RESUME_ANALYSIS;
use crate::store::{self, Condition, Cursor, Item, Key, StoreError, Table, Update, Write};
use crate::users;

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
/// The most XML read out of a DOCX's `word/document.xml` (a ZIP can inflate a small upload
/// into gigabytes); a real resume's is well below 1 MB.
const MAX_DOCX_XML: u64 = 16 * 1024 * 1024;
/// The most text a DOCX may yield (characters): far beyond any resume, bounded for the prompt.
pub const MAX_DOCX_TEXT: usize = 200_000;
/// The longest analysis JSON accepted from the model (characters).
pub const MAX_ANALYSIS_TEXT: usize = 200_000;
/// The longest file name stored (characters).
const MAX_FILE_NAME: usize = 255;

/// The original's 400 bodies.
pub const INVALID_REQUEST: &str = "Invalid request";
pub const UNSUPPORTED_TYPE: &str = "Please upload a PDF, Word document, or text file";
/// The original said "File size exceeds 10MB limit"; our limit is Lambda's.
pub const TOO_LARGE: &str = "File size exceeds 4.5MB limit";
pub const LEGACY_DOC: &str = "Legacy .doc files cannot be read; save it as .docx or PDF";
pub const EMPTY_FILE: &str = "The uploaded file is empty";

const KIND: job_infos::ChildKind = job_infos::ChildKind("RESUME");

// ---- file types ----

/// What an uploaded file is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    /// Office Open XML (a ZIP holding `word/document.xml`).
    Docx,
    /// Legacy Word (an OLE2 compound file).
    Doc,
    /// UTF-8 text.
    Text,
}

pub const PDF_MIME: &str = "application/pdf";
pub const DOC_MIME: &str = "application/msword";
pub const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const TEXT_MIME: &str = "text/plain";

const OLE2_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const DOCX_BODY: &str = "word/document.xml";

impl FileKind {
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Pdf => PDF_MIME,
            Self::Docx => DOCX_MIME,
            Self::Doc => DOC_MIME,
            Self::Text => TEXT_MIME,
        }
    }

    /// How an error message names it.
    fn label(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Docx => "a Word (.docx) document",
            Self::Doc => "a legacy Word (.doc) document",
            Self::Text => "a text file",
        }
    }

    /// The type a client declared, if it is one the original accepts (parameters such as
    /// `charset` and letter case do not matter).
    pub fn from_declared(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            PDF_MIME => Some(Self::Pdf),
            DOCX_MIME => Some(Self::Docx),
            DOC_MIME => Some(Self::Doc),
            TEXT_MIME => Some(Self::Text),
            _ => None,
        }
    }

    fn is_word(self) -> bool {
        matches!(self, Self::Doc | Self::Docx)
    }
}

/// The file's type from its first bytes (and, for a ZIP, its directory); `None` when it is none
/// of the four.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if bytes.starts_with(OLE2_MAGIC) {
        Some(FileKind::Doc)
    } else if bytes.starts_with(ZIP_MAGIC) {
        let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        archive.index_for_name(DOCX_BODY).map(|_| FileKind::Docx)
    } else if !bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        Some(FileKind::Text)
    } else {
        None
    }
}

/// Decides the upload's type (check 3): the declared type must be one the original accepts, the
/// content one we recognise, and the two must agree. Both Word types count as "a Word document",
/// so a DOCX saved with a `.doc` name is read; a real `.doc` is a 415 whatever it was called.
pub fn check_type(declared: Option<&str>, bytes: &[u8]) -> Result<FileKind, PlainError> {
    let unsupported = || PlainError::bad_request(UNSUPPORTED_TYPE);
    let declared = declared.and_then(FileKind::from_declared).ok_or_else(unsupported)?;
    let actual = sniff(bytes).ok_or_else(unsupported)?;
    if declared != actual && !(declared.is_word() && actual.is_word()) {
        return Err(PlainError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The file's content does not match its type: it was sent as {} but is {}",
                declared.label(),
                actual.label()
            ),
        ));
    }
    if actual == FileKind::Doc {
        return Err(PlainError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, LEGACY_DOC));
    }
    Ok(actual)
}

/// Why a DOCX gave no text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocxError {
    #[error("the Word document could not be read ({0})")]
    Unreadable(String),
    #[error("the Word document holds too much text")]
    TooLong,
    #[error("the Word document holds no text")]
    Empty,
}

impl DocxError {
    fn into_plain(self) -> PlainError {
        let message = match self {
            Self::Unreadable(_) => "This Word document could not be read; save it again as .docx or PDF",
            Self::TooLong => "This Word document holds too much text to be a resume",
            Self::Empty => "This Word document contains no text",
        };
        PlainError::new(StatusCode::BAD_REQUEST, message)
    }
}

/// The text of a DOCX's body: paragraphs become lines, tabs and breaks are kept.
pub fn docx_text(bytes: &[u8]) -> Result<String, DocxError> {
    use std::io::Read as _;
    let unreadable = |error: &dyn std::fmt::Display| DocxError::Unreadable(error.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let file = archive.by_name(DOCX_BODY).map_err(|e| unreadable(&e))?;
    let mut xml = Vec::new();
    file.take(MAX_DOCX_XML + 1).read_to_end(&mut xml).map_err(|e| unreadable(&e))?;
    if xml.len() as u64 > MAX_DOCX_XML {
        return Err(DocxError::TooLong);
    }
    let xml = std::str::from_utf8(&xml).map_err(|e| unreadable(&e))?;
    let text = xml_text(xml)?;
    if text.trim().is_empty() {
        return Err(DocxError::Empty);
    }
    if text.chars().count() > MAX_DOCX_TEXT {
        return Err(DocxError::TooLong);
    }
    Ok(text)
}

/// WordprocessingML to text: the content of `<w:t>` runs (entities resolved), `<w:tab/>` as a
/// tab, `<w:br/>`/`<w:cr/>` as a line break, and a line break after each `</w:p>`.
fn xml_text(xml: &str) -> Result<String, DocxError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut text = String::new();
    let mut in_run_text = false;
    loop {
        let event = reader.read_event().map_err(|e| DocxError::Unreadable(e.to_string()))?;
        match event {
            Event::Start(start) if start.local_name().as_ref() == "t" => in_run_text = true,
            Event::End(end) => match end.local_name().as_ref() {
                "t" => in_run_text = false,
                "p" => text.push('\n'),
                _ => {}
            },
            Event::Empty(empty) => match empty.local_name().as_ref() {
                "tab" => text.push('\t'),
                "br" | "cr" => text.push('\n'),
                _ => {}
            },
            Event::Text(content) if in_run_text => text.push_str(&content.xml10_content()),
            Event::CData(content) if in_run_text => text.push_str(&content),
            Event::GeneralRef(reference) if in_run_text => {
                match reference.resolve_char_ref().map_err(|e| DocxError::Unreadable(e.to_string()))? {
                    Some(ch) => text.push(ch),
                    None => {
                        text.push_str(quick_xml::escape::resolve_predefined_entity(&reference).ok_or_else(
                            || DocxError::Unreadable(format!("unknown entity &{};", &*reference)),
                        )?)
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if text.len() > MAX_DOCX_TEXT * 4 {
            return Err(DocxError::TooLong);
        }
    }
    Ok(text)
}

// ---- the analysis ----

/// The original's analysis schema (original-app §8.4): an overall score and five categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    pub overall_score: f64,
    pub ats: Category,
    pub job_match: Category,
    pub writing_and_formatting: Category,
    pub keyword_coverage: Category,
    pub other: Category,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Category {
    pub score: f64,
    pub summary: String,
    pub feedback: Vec<Feedback>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    #[serde(rename = "type")]
    pub kind: FeedbackKind,
    pub name: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackKind {
    Strength,
    MinorImprovement,
    MajorImprovement,
}

/// The category keys, in the original's order.
pub const CATEGORIES: [&str; 5] = ["ats", "jobMatch", "writingAndFormatting", "keywordCoverage", "other"];

/// The response schema Gemini is given (its OpenAPI subset): the original's zod schema as
/// `@ai-sdk/google` converts it, every field required, keys in the original's order.
pub fn analysis_schema() -> Value {
    let score = |description: &str| json!({"type": "NUMBER", "description": description, "minimum": 0, "maximum": 10});
    let feedback = json!({
        "type": "OBJECT",
        "properties": {
            "type": {"type": "STRING", "enum": ["strength", "minor-improvement", "major-improvement"]},
            "name": {"type": "STRING", "description": "Name of the feedback"},
            "message": {"type": "STRING", "description": "Description of the feedback"},
        },
        "required": ["type", "name", "message"],
        "propertyOrdering": ["type", "name", "message"],
    });
    let category = |description: &str| {
        json!({
            "type": "OBJECT",
            "description": description,
            "properties": {
                "score": score("Score of the category from 1-10"),
                "summary": {"type": "STRING", "description": "Short summary of the category"},
                "feedback": {
                    "type": "ARRAY",
                    "description": "Specific feedback on positives and negatives",
                    "items": feedback,
                },
            },
            "required": ["score", "summary", "feedback"],
            "propertyOrdering": ["score", "summary", "feedback"],
        })
    };
    let mut order = vec!["overallScore"];
    order.extend(CATEGORIES);
    json!({
        "type": "OBJECT",
        "properties": {
            "overallScore": score("Overall score of the resume"),
            "ats": category("Analysis of how well the resume matches ATS requirements"),
            "jobMatch": category("Analysis of how well the resume matches the job requirements"),
            "writingAndFormatting": category(
                "Analysis of the writing quality and formatting of the resume (taking into account the job requirements)"
            ),
            "keywordCoverage": category(
                "Analysis of the keyword coverage of the resume (taking into account the job requirements)"
            ),
            "other": category("Any other relevant analysis not covered by the above categories"),
        },
        "required": order,
        "propertyOrdering": order,
    })
}

/// Why a finished reply is not an analysis.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidAnalysis {
    #[error("the reply is too long ({0} characters)")]
    TooLong(usize),
    #[error("the reply does not match the schema: {0}")]
    Schema(String),
    #[error("{field} is {score}, outside 0 to 10")]
    Score { field: String, score: f64 },
}

/// Parses and validates a finished reply: the schema exactly (all fields, no others, known
/// feedback types) and every score within 0..=10.
pub fn parse_analysis(text: &str) -> Result<Analysis, InvalidAnalysis> {
    let chars = text.chars().count();
    if chars > MAX_ANALYSIS_TEXT {
        return Err(InvalidAnalysis::TooLong(chars));
    }
    let analysis: Analysis =
        serde_json::from_str(text).map_err(|error| InvalidAnalysis::Schema(error.to_string()))?;
    let scores = [
        ("overallScore", analysis.overall_score),
        ("ats.score", analysis.ats.score),
        ("jobMatch.score", analysis.job_match.score),
        ("writingAndFormatting.score", analysis.writing_and_formatting.score),
        ("keywordCoverage.score", analysis.keyword_coverage.score),
        ("other.score", analysis.other.score),
    ];
    for (field, score) in scores {
        if !(0.0..=10.0).contains(&score) {
            return Err(InvalidAnalysis::Score { field: field.into(), score });
        }
    }
    Ok(analysis)
}

// ---- storage ----

/// A stored analysis: what the model produced for one upload, without the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeAnalysis {
    pub id: Uuid,
    pub job_info_id: Uuid,
    pub analysis: Analysis,
    /// The model that produced it, e.g. `gemini-2.5-flash`.
    pub model: String,
    /// The uploaded file's name, as the client sent it.
    pub file_name: Option<String>,
    /// The file's type as sniffed from its content.
    pub mime_type: String,
    /// The file's size in bytes.
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub fn key(user_id: &str, id: Uuid) -> Key {
    KIND.key(user_id, id)
}

fn to_item(user_id: &str, record: &ResumeAnalysis) -> Result<Item, StoreError> {
    KIND.item(user_id, record.job_info_id, record.id, record)
}

/// Why an analysis was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the job info is gone")]
    JobGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `record` and counts it in the user's usage (for `/api/me`; the feature has no limit)
/// in one transaction, which fails if the job is gone or being deleted.
pub async fn insert(table: &dyn Table, user_id: &str, record: &ResumeAnalysis) -> Result<(), SaveError> {
    let usage =
        Update::new().add(users::RESUME_ANALYSES, 1).set("updatedAt", job_infos::rfc3339(job_infos::now()));
    let writes = vec![
        Write::Put { item: to_item(user_id, record)?, condition: Some(Condition::NotExists) },
        Write::Update { key: users::usage_key(user_id), update: usage, condition: None },
        Write::Check { key: job_infos::key(user_id, record.job_info_id), condition: job_infos::attachable() },
    ];
    match table.transact(writes).await {
        Ok(()) => Ok(()),
        // Only the job check can fail: the id is new and the counter has no limit.
        Err(StoreError::ConditionFailed { .. }) => Err(SaveError::JobGone),
        Err(other) => Err(other.into()),
    }
}

/// One page of a job's analyses, newest first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> ApiResult<(Vec<ResumeAnalysis>, Option<Cursor>)> {
    KIND.page(table, user_id, job_id, true, limit, cursor).await
}

// ---- HTTP: the listing (JSON, job-infos function) ----

/// The read route; the job-infos function serves it.
pub fn read_router() -> Router<AppState> {
    Router::new().route("/api/job-infos/{jobInfoId}/resume-analyses", get(list_route))
}

async fn list_route(
    State(state): State<AppState>,
    session: Session,
    Path(raw_id): Path<String>,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<http::Listing<ResumeAnalysis>>> {
    let table = state.table.as_ref();
    let (job_id, limit, cursor) =
        job_infos::child_page_request(table, &session.user_id, &raw_id, &params).await?;
    let (items, next) = list(table, &session.user_id, job_id, limit, cursor).await?;
    Ok(Json(http::Listing::new(items, next)))
}

// ---- HTTP: the analysis (multipart in, text stream out) ----

/// `POST /api/ai/resumes/analyze` (the analyze-resume function), with its own body limit.
pub fn analyze_router() -> Router<AppState> {
    Router::new().route(PATH, post(analyze_route).layer(DefaultBodyLimit::max(MAX_BODY)))
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
    let kind = check_type(upload.content_type.as_deref(), &upload.bytes)?;
    let model = crate::questions::model(&state)?;
    let table = state.table.clone();
    let user_id = session.user_id;
    // An id that is not a UUID names nothing of the caller's: the same 403.
    let job_id = Uuid::parse_str(&job_id).map_err(|_| PlainError::forbidden())?;
    let job = job_infos::find(table.as_ref(), &user_id, job_id).await?.ok_or_else(PlainError::forbidden)?;
    if !session.features.has(UNLIMITED_RESUME_ANALYSIS) {
        return Err(PlainError::plan_limit());
    }
    let size = upload.bytes.len() as u64;
    let resume = match kind {
        FileKind::Docx => Part::Text(docx_text(&upload.bytes).map_err(DocxError::into_plain)?),
        other => Part::File { mime_type: other.mime_type().into(), data: upload.bytes },
    };
    let request = prompts::resume_request(&job, resume);
    let record = Pending {
        user_id,
        job,
        model: model.name(),
        file_name: upload.file_name,
        mime_type: kind.mime_type(),
        size,
    };
    // Wait for the first piece, so a model that fails outright is a plain-text error status
    // rather than a 200 whose body breaks.
    let mut events = model.stream(request);
    let first = events.next().await;
    if let Some(Err(error)) = first {
        tracing::warn!(%error, "resume analysis failed before any text");
        return Err(failed_before_text(&error));
    }
    let events: ModelStream = Box::pin(futures::stream::iter(first).chain(events));
    let chunks = reply_then(events, move |text| record.finish(table, text));
    Ok(data_stream::text_response(chunks))
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

/// What is known of an analysis before the model has written it.
struct Pending {
    user_id: String,
    job: JobInfo,
    model: String,
    file_name: Option<String>,
    mime_type: &'static str,
    size: u64,
}

impl Pending {
    /// Validates the finished reply and stores it; anything wrong is logged (the client already
    /// has the text, and a text stream has no way to add an error).
    async fn finish(self, table: store::SharedTable, text: String) {
        let analysis = match parse_analysis(&text) {
            Ok(analysis) => analysis,
            Err(error) => {
                tracing::warn!(%error, job_info_id = %self.job.id, "resume analysis invalid; not stored");
                return;
            }
        };
        let record = ResumeAnalysis {
            id: Uuid::now_v7(),
            job_info_id: self.job.id,
            analysis,
            model: self.model,
            file_name: self.file_name,
            mime_type: self.mime_type.into(),
            size: self.size,
            created_at: job_infos::now(),
        };
        match insert(table.as_ref(), &self.user_id, &record).await {
            Ok(()) => {
                tracing::info!(analysis_id = %record.id, job_info_id = %record.job_info_id, "resume analysis stored")
            }
            Err(SaveError::JobGone) => {
                tracing::warn!(job_info_id = %record.job_info_id, "job deleted during the analysis; not stored")
            }
            Err(SaveError::Store(error)) => tracing::error!(%error, "storing a resume analysis failed"),
        }
    }
}

/// The reply's text as it arrives; once the reply is complete, `then` runs on the whole text
/// before the body ends (so a Lambda is not frozen before it stored). A failed or cut reply ends
/// the body with an error (the client sees an incomplete response) and `then` never runs.
fn reply_then<F, Fut>(
    mut events: ModelStream,
    then: F,
) -> impl Stream<Item = Result<String, AiError>> + Send + 'static
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    async_stream::stream! {
        let mut text = String::new();
        let mut complete = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(ModelEvent::Text(piece)) => {
                    text.push_str(&piece);
                    yield Ok(piece);
                }
                Ok(ModelEvent::StepFinish { continued, .. }) => complete = !continued,
                Err(error) => {
                    tracing::warn!(%error, "resume analysis failed; not stored");
                    yield Err(error);
                    return;
                }
            }
        }
        if !complete {
            let error = AiError::Interrupted("the model stream ended early".into());
            tracing::warn!(%error, "resume analysis failed; not stored");
            yield Err(error);
            return;
        }
        then(text).await;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn docx(document_xml: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("[Content_Types].xml", options).unwrap();
        writer.write_all(b"<Types/>").unwrap();
        writer.start_file(DOCX_BODY, options).unwrap();
        writer.write_all(document_xml.as_bytes()).unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn the_body_cap_is_what_a_lambda_event_can_carry() {
        assert_eq!(MAX_BODY, 4_706_304);
        assert!(TOO_LARGE.contains(&format!("{}MB", MAX_FILE as f64 / 1_000_000.0)));
    }

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.4\n..."), Some(FileKind::Pdf));
        assert_eq!(sniff(b"Jane Doe\nRust engineer\n"), Some(FileKind::Text));
        assert_eq!(sniff("Zoë – naïve résumé".as_bytes()), Some(FileKind::Text));
        assert_eq!(sniff(&[OLE2_MAGIC, b"rest"].concat()), Some(FileKind::Doc));
        assert_eq!(sniff(&docx("<w:document/>")), Some(FileKind::Docx));
        // A ZIP that is not a Word document, binary junk, NULs, invalid UTF-8, nothing.
        let mut other_zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        other_zip.start_file("a.txt", zip::write::SimpleFileOptions::default()).unwrap();
        let other_zip = other_zip.finish().unwrap().into_inner();
        for junk in [&other_zip[..], b"\x89PNG\r\n\x1a\n", b"text\0with nul", &[0xff, 0xfe, 0x41], b""] {
            assert_eq!(sniff(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn declared_and_actual_types_must_agree() {
        let pdf = b"%PDF-1.4\n";
        assert_eq!(check_type(Some("application/pdf"), pdf), Ok(FileKind::Pdf));
        assert_eq!(check_type(Some("text/plain; charset=UTF-8"), b"hello"), Ok(FileKind::Text));
        let lie = check_type(Some("application/pdf"), b"just text").unwrap_err();
        assert_eq!(lie.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            lie.message,
            "The file's content does not match its type: it was sent as a PDF but is a text file"
        );
        for (declared, bytes) in
            [(Some("image/png"), &pdf[..]), (None, &pdf[..]), (Some("text/plain"), b"\x00\x01")]
        {
            assert_eq!(check_type(declared, bytes).unwrap_err().message, UNSUPPORTED_TYPE);
        }
        // The Word types are one family; a real .doc is a 415 either way.
        assert_eq!(check_type(Some(DOC_MIME), &docx("<w:document/>")), Ok(FileKind::Docx));
        let legacy = check_type(Some(DOCX_MIME), &[OLE2_MAGIC, b"x"].concat()).unwrap_err();
        assert_eq!(
            (legacy.status, legacy.message.as_ref()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, LEGACY_DOC)
        );
    }

    #[test]
    fn docx_text_keeps_paragraphs_tabs_and_entities() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>Jane Doe</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Rust &amp; AWS </w:t></w:r><w:r><w:tab/><w:t>&#233;t&#xE9;</w:t><w:br/><w:t>line</w:t></w:r></w:p>
<w:p><w:r><w:instrText>PAGE</w:instrText></w:r></w:p>
</w:body></w:document>"#;
        assert_eq!(docx_text(&docx(xml)).unwrap(), "Jane Doe\nRust & AWS \tété\nline\n\n");
        assert_eq!(docx_text(&docx("<w:document><w:p/></w:document>")), Err(DocxError::Empty));
        assert!(matches!(docx_text(&docx("<w:document><w:p><w:t>a</w:x>")), Err(DocxError::Unreadable(_))));
        assert!(matches!(docx_text(b"PK\x03\x04 not really"), Err(DocxError::Unreadable(_))));
    }

    fn category(score: Value) -> Value {
        json!({"score": score, "summary": "ok", "feedback": [
            {"type": "strength", "name": "Clear", "message": "Well structured"},
            {"type": "major-improvement", "name": "Metrics", "message": "Quantify results"}]})
    }

    fn analysis(overall: Value, ats: Value) -> Value {
        json!({"overallScore": overall, "ats": category(ats), "jobMatch": category(json!(7)),
            "writingAndFormatting": category(json!(6.5)), "keywordCoverage": category(json!(0)),
            "other": category(json!(10))})
    }

    #[test]
    fn analyses_are_validated_against_the_schema() {
        let valid = parse_analysis(&analysis(json!(7.5), json!(8)).to_string()).unwrap();
        assert_eq!(valid.overall_score, 7.5);
        assert_eq!(valid.ats.feedback[1].kind, FeedbackKind::MajorImprovement);
        assert!(matches!(
            parse_analysis(&analysis(json!(11), json!(8)).to_string()),
            Err(InvalidAnalysis::Score { field, .. }) if field == "overallScore"
        ));
        assert!(matches!(
            parse_analysis(&analysis(json!(5), json!(-1)).to_string()),
            Err(InvalidAnalysis::Score { field, .. }) if field == "ats.score"
        ));
        let mut unknown_type = analysis(json!(5), json!(5));
        unknown_type["other"]["feedback"][0]["type"] = json!("neutral");
        let mut missing = analysis(json!(5), json!(5));
        missing.as_object_mut().unwrap().remove("keywordCoverage");
        let mut extra = analysis(json!(5), json!(5));
        extra["verdict"] = json!("hire");
        let cut = analysis(json!(5), json!(5)).to_string();
        for bad in [
            unknown_type.to_string(),
            missing.to_string(),
            extra.to_string(),
            cut[..cut.len() / 2].to_owned(),
        ] {
            assert!(matches!(parse_analysis(&bad), Err(InvalidAnalysis::Schema(_))), "{bad}");
        }
    }

    #[test]
    fn the_schema_is_the_originals() {
        let schema = analysis_schema();
        let order: Vec<&str> =
            schema["propertyOrdering"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(
            order,
            ["overallScore", "ats", "jobMatch", "writingAndFormatting", "keywordCoverage", "other"]
        );
        assert_eq!(schema["required"], schema["propertyOrdering"]);
        for key in CATEGORIES {
            let category = &schema["properties"][key];
            assert_eq!(category["type"], "OBJECT");
            assert_eq!(category["required"], json!(["score", "summary", "feedback"]));
            let item = &category["properties"]["feedback"]["items"];
            assert_eq!(
                item["properties"]["type"]["enum"],
                json!(["strength", "minor-improvement", "major-improvement"])
            );
            assert_eq!(item["required"], json!(["type", "name", "message"]));
        }
        // A valid analysis round-trips through the types in the schema's key order.
        let valid = parse_analysis(&analysis(json!(7), json!(8)).to_string()).unwrap();
        let keys: Vec<String> =
            serde_json::to_value(&valid).unwrap().as_object().unwrap().keys().cloned().collect();
        let mut sorted_order: Vec<&str> = order.clone();
        sorted_order.sort_unstable();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        assert_eq!(sorted_keys, sorted_order);
    }
}
