//! Resume analysis: an uploaded resume reviewed against a job by the model, streamed to the
//! client as it is written, and, once complete and valid, stored for the job. The file's type is
//! decided in `sniff`, a DOCX's text extracted in `docx` (a PDF's in `pdf`, for models that read
//! text only), the reply's schema and validation are
//! in `analysis`, the prompt in `prompts`, storage in `store`, the routes in `routes`.

pub mod analysis;
pub mod docx;
pub mod pdf;
pub mod prompts;
pub(crate) mod routes;
pub mod sniff;
pub mod store;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use analysis::{Analysis, CATEGORIES, analysis_schema, parse_analysis};
pub use routes::{
    EMPTY_FILE, FILE_FIELD, INVALID_REQUEST, JOB_FIELD, LEGACY_DOC, MAX_BODY, MAX_FILE, PATH, TOO_LARGE,
    UNSUPPORTED_TYPE, analyze_routes, routes,
};
pub use sniff::{FileKind, sniff};
pub use store::key;

use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing};
use crate::job_infos::{self, JobInfo};
use crate::store::{Condition, Cursor, Guard, Table, Transaction, TransactionError, Write};
use crate::users::{self, Counter};

/// A stored analysis: what the model produced for one upload, without the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Stores `record` and counts it in the user's usage (for `/api/me`; the feature has no limit)
/// in one transaction, which fails if the job is gone or being deleted.
pub async fn insert(table: &dyn Table, user_id: &str, record: &ResumeAnalysis) -> DomainResult<()> {
    let item = store::to_item(user_id, record)?;
    let transaction = Transaction::new()
        .guarded(Guard::Absent, Write::Put { item, condition: Some(Condition::NotExists) })
        .guarded(Guard::Parent, job_infos::attach_guard(user_id, record.job_info_id));
    let transaction = users::usage::count(transaction, user_id, Counter::ResumeAnalyses, None);
    match transaction.commit(table).await {
        Ok(()) => Ok(()),
        Err(TransactionError::Refused(Guard::Parent)) => Err(DomainError::NotFound(Missing::JobInfo)),
        Err(other) => Err(other.into_store().into()),
    }
}

/// One page of a job's analyses, newest first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<ResumeAnalysis>, Option<Cursor>)> {
    store::KIND.page(table, user_id, job_id, true, limit, cursor).await
}

/// What is known of an analysis before the model has written it.
#[derive(Debug)]
pub struct PendingAnalysis {
    pub user_id: String,
    pub job: JobInfo,
    pub model: String,
    pub file_name: Option<String>,
    pub mime_type: &'static str,
    pub size: u64,
}

impl PendingAnalysis {
    /// Validates the finished reply and stores it; anything wrong is logged (the client already
    /// has the text, and a text stream has no way to add an error).
    pub async fn finish(self, table: &dyn Table, text: String) {
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
            created_at: clock::now(),
        };
        match insert(table, &self.user_id, &record).await {
            Ok(()) => {
                tracing::info!(analysis_id = %record.id, job_info_id = %record.job_info_id, "resume analysis stored")
            }
            Err(DomainError::NotFound(_)) => {
                tracing::warn!(job_info_id = %record.job_info_id, "job deleted during the analysis; not stored")
            }
            Err(error) => tracing::error!(%error, "storing a resume analysis failed"),
        }
    }
}
