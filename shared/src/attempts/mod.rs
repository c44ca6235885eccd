//! Practice history: every graded answer is kept as an attempt (the answer, the feedback, its
//! rating, the model), listed per question, and counted in the question (`attempts`,
//! `bestRating`) and in the job's progress (`progress`) in the same write. The feedback route
//! that grades an answer and records it is `grade`; keys and the recording transaction are in
//! `store`; the read routes in `routes`.

pub(crate) mod grade;
pub mod progress;
mod routes;
pub mod store;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use grade::feedback_routes;
pub use progress::Progress;
pub use routes::routes;
pub use store::Step;

use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing};
use crate::questions::{Practice, Question};
use crate::store::{Cursor, Guard, Table, TransactionError};

/// The longest feedback stored (characters). A reply is capped in tokens already; this keeps the
/// item (with an answer of up to `questions::MAX_ANSWER` characters) well below DynamoDB's 400 KB.
pub const MAX_FEEDBACK: usize = 50_000;
/// Ratings are out of 10.
pub const MAX_RATING: u8 = 10;

/// One graded answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: Uuid,
    pub question_id: Uuid,
    pub job_info_id: Uuid,
    /// The answer as graded (trimmed).
    pub answer: String,
    /// The feedback as streamed (Markdown).
    pub feedback: String,
    /// From the feedback's `Rating: n/10`; `null` when the reply had none that could be read.
    pub rating: Option<u8>,
    /// The model that graded it.
    pub model: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Attempt {
    /// A new attempt at `question`, created now, its rating read from `feedback`.
    pub fn new(question: &Question, answer: String, feedback: String, model: String) -> Self {
        Self {
            id: Uuid::now_v7(),
            question_id: question.id,
            job_info_id: question.job_info_id,
            rating: parse_rating(&feedback),
            answer,
            feedback,
            model,
            created_at: clock::now(),
        }
    }
}

/// The rating of feedback in the original's shape (`## Feedback (Rating: 7/10)`): the first
/// `Rating:` followed by a whole number from 0 to 10 and `/10`, Markdown emphasis and spaces
/// allowed around them. Anything else (no rating, `7.5/10`, `11/10`, `7/100`) is `None`: a rating
/// the grader did not state exactly is not one we can rank.
pub fn parse_rating(feedback: &str) -> Option<u8> {
    const LABEL: &str = "rating:";
    let start = feedback.to_ascii_lowercase().find(LABEL)? + LABEL.len();
    let rest = feedback.get(start..)?;
    let skip = |text: &str| -> usize { text.len() - text.trim_start_matches([' ', '\t', '*', '_']).len() };
    let rest = &rest[skip(rest)..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 2 {
        return None;
    }
    let rating: u8 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    let rest = &rest[skip(rest)..];
    let rest = rest.strip_prefix('/')?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix("10")?;
    if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') || rating > MAX_RATING {
        return None;
    }
    Some(rating)
}

/// Records `attempt` of the caller's `question`, whose counters were `seen` before grading: the
/// attempt, the question's counters and the job's progress in one transaction, while the job
/// accepts children. Nothing is written when it fails.
pub async fn record(
    table: &dyn Table,
    user_id: &str,
    question: &Question,
    seen: Practice,
    attempt: &Attempt,
) -> DomainResult<()> {
    let chars = attempt.feedback.chars().count();
    if chars > MAX_FEEDBACK {
        return Err(DomainError::invalid(
            "FEEDBACK_TOO_LONG",
            format!("Feedback of {chars} characters is longer than the {MAX_FEEDBACK} stored"),
        ));
    }
    let mut step = Step::start(seen, attempt.rating);
    loop {
        match store::record(user_id, question, attempt, step)?.commit(table).await {
            Ok(()) => return Ok(()),
            // The question's counters moved on since they were read (another attempt was first,
            // or rated higher): the next step applies.
            Err(TransactionError::Refused(Guard::Unchanged)) => match step.next(attempt.rating) {
                Some(next) => step = next,
                None => return Err(DomainError::NotFound(Missing::Question)),
            },
            Err(TransactionError::Refused(Guard::Parent)) => {
                return Err(DomainError::NotFound(Missing::JobInfo));
            }
            Err(other) => return Err(other.into_store().into()),
        }
    }
}

/// One page of the caller's attempts at question `question_id`, newest first. The caller checks
/// the question is theirs; the cursor must be one this list issued.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    question_id: Uuid,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<Attempt>, Option<Cursor>)> {
    if cursor
        .as_ref()
        .is_some_and(|cursor| !store::cursor_fits(cursor, &store::of_question_prefix(question_id)))
    {
        return Err(DomainError::invalid(
            "INVALID_CURSOR",
            "cursor is not one this list returned; start again without it",
        ));
    }
    let query = store::of_question(user_id, question_id).limit(limit).after(cursor);
    let page = crate::store::list_records(table, &query).await?;
    let attempts = page.records.into_iter().map(crate::store::Record::decode).collect::<Result<_, _>>()?;
    Ok((attempts, page.cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_read_from_the_originals_heading_only_when_exact() {
        let cases = [
            ("## Feedback (Rating: 7/10)\nGood.", Some(7)),
            ("## Feedback (Rating: 10/10)", Some(10)),
            ("## Feedback (rating: **0** / 10)", Some(0)),
            ("Rating:8/10 then Rating: 2/10", Some(8)),
            ("## Feedback (Rating: 7.5/10)", None),
            ("## Feedback (Rating: 11/10)", None),
            ("## Feedback (Rating: 7/100)", None),
            ("## Feedback (Rating: seven/10)", None),
            ("## Feedback\nNo grade given.", None),
            ("Rating: 123/10", None),
            ("", None),
        ];
        for (feedback, rating) in cases {
            assert_eq!(parse_rating(feedback), rating, "{feedback:?}");
        }
    }
}
