//! Practice questions: the type, reading them, and storing a generated one against the plan's
//! quota. Storage is in `store`, the read routes in `routes`, the streamed route the original
//! client calls to generate one (`generate-question`) in `generate`, the prompts (a question's and
//! its feedback's) in `prompts`. Grading an answer records an attempt, so its route lives with the
//! attempts (`attempts::grade`).

pub(crate) mod generate;
pub mod prompts;
mod routes;
pub mod store;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use generate::{QUESTION_ERROR, question_routes};
pub use routes::routes;
pub use store::key;

use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing};
use crate::job_infos;
use crate::store::{Condition, Cursor, Guard, Table, Transaction, TransactionError, Write};

/// The previous questions a generation prompt carries (the most recent ones): enough to avoid
/// repeats, bounded so the prompt stays small for unlimited plans.
pub const MAX_HISTORY: usize = 50;
/// The longest question text stored (characters); a reply beyond it is not a question.
pub const MAX_QUESTION_TEXT: usize = 50_000;
/// The longest answer the feedback route grades (characters).
pub const MAX_ANSWER: usize = 20_000;
/// The original's 400 body of the feedback route.
pub const FEEDBACK_ERROR: &str = "Error generating your feedback";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Easy => "easy",
            Self::Medium => "medium",
            Self::Hard => "hard",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: Uuid,
    pub job_info_id: Uuid,
    /// Markdown, as the model wrote it.
    pub text: String,
    pub difficulty: Difficulty,
    /// The model that wrote it (`darasa-offline-1` for the offline engine); absent on questions
    /// stored before models were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Question {
    /// A new question of job `job_info_id`, created now.
    pub fn new(job_info_id: Uuid, text: String, difficulty: Difficulty) -> Self {
        let now = clock::now();
        Self {
            id: Uuid::now_v7(),
            job_info_id,
            text,
            difficulty,
            model: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// What the graded answers to a question have made of it: kept on the question's item by
/// `attempts::record`, in the same write as each attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Practice {
    /// How many graded answers it has.
    pub attempts: u64,
    /// The best rating (0-10) among them; `null` until one was rated.
    pub best_rating: Option<u8>,
}

/// A question as the read routes show it: the question and its practice counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionView {
    #[serde(flatten)]
    pub question: Question,
    #[serde(flatten)]
    pub practice: Practice,
}

/// The caller's question (with its counters), or `None` when they have none with this id or its
/// job is gone (a question outliving a half-finished cascade is not shown).
pub async fn find_viewed(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Option<QuestionView>> {
    let Some(item) = table.get(&key(user_id, id)).await? else {
        return Ok(None);
    };
    let view = store::view(item)?;
    Ok(job_infos::find(table, user_id, view.question.job_info_id).await?.map(|_| view))
}

/// The caller's question, or `None` (see `find_viewed`).
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Option<Question>> {
    Ok(find_viewed(table, user_id, id).await?.map(|view| view.question))
}

/// Like `find`, but a missing question is `Missing::Question`.
pub async fn get_owned(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Question> {
    find(table, user_id, id).await?.ok_or(DomainError::NotFound(Missing::Question))
}

/// Like `find_viewed`, but a missing question is `Missing::Question`.
pub async fn get_viewed(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<QuestionView> {
    find_viewed(table, user_id, id).await?.ok_or(DomainError::NotFound(Missing::Question))
}

/// What grading an answer needs of the caller's question.
#[derive(Debug, Clone)]
pub struct ForGrading {
    pub question: Question,
    /// What a complete answer covers (stored beside the question when the model gave them;
    /// never shown before an answer is graded).
    pub key_points: Vec<String>,
    /// Its counters as they were read (recording an attempt starts from them).
    pub practice: Practice,
}

/// The caller's question with what grading an answer to it needs.
pub async fn get_for_grading(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<ForGrading> {
    let item = table.get(&key(user_id, id)).await?.ok_or(DomainError::NotFound(Missing::Question))?;
    let key_points = store::key_points(&item);
    let QuestionView { question, practice } = store::view(item)?;
    job_infos::get_owned(table, user_id, question.job_info_id)
        .await
        .map_err(|_| DomainError::NotFound(Missing::Question))?;
    Ok(ForGrading { question, key_points, practice })
}

/// One page of a job's questions, oldest first.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<Question>, Option<Cursor>)> {
    store::KIND.page(table, user_id, job_id, false, limit, cursor).await
}

/// Like `list`, with each question's counters.
pub async fn list_viewed(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<QuestionView>, Option<Cursor>)> {
    let query = store::KIND.of_job(user_id, job_id).limit(limit).after(cursor);
    let page = crate::store::list_page(table, &query).await?;
    let views = page.items.into_iter().map(store::view).collect::<Result<_, _>>()?;
    Ok((views, page.cursor))
}

/// The job's `max` most recent questions, oldest first.
pub async fn recent(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    max: usize,
) -> DomainResult<Vec<Question>> {
    let query = store::KIND.of_job(user_id, job_id).descending().limit(max);
    let page = table.query(&query).await?;
    let mut questions: Vec<Question> =
        page.items.into_iter().map(crate::store::from_item).collect::<Result<_, _>>()?;
    questions.reverse();
    Ok(questions)
}

/// Stores `question` with the key points an answer should cover, its quota unit reserved
/// already, while its job still accepts it, and counts it in the job's progress.
pub async fn insert(
    table: &dyn Table,
    user_id: &str,
    question: &Question,
    key_points: &[String],
) -> DomainResult<()> {
    let item = store::to_item(user_id, question, key_points)?;
    let transaction = Transaction::new()
        .guarded(Guard::Absent, Write::Put { item, condition: Some(Condition::NotExists) })
        .guarded(Guard::Parent, job_infos::attach_guard(user_id, question.job_info_id))
        .write(store::count_in_progress(user_id, question));
    match transaction.commit(table).await {
        Ok(()) => Ok(()),
        Err(TransactionError::Refused(Guard::Parent)) => Err(DomainError::NotFound(Missing::JobInfo)),
        Err(other) => Err(other.into_store().into()),
    }
}
