//! `POST /api/ai/questions/generate-feedback` (the generate-feedback function), which the
//! original web client calls unchanged: the original's checks and plain-text strings (401, 400,
//! 403 not owned), then the graded feedback as an AI SDK data stream while the model writes it.
//! Once the reply is complete the attempt is recorded (one transaction, after the stream's last
//! text) and the stream ends with its id as a data part, `2:[{"attemptId":"…"}]`. A failed or cut
//! reply ends with its error part and records nothing. The generation holds one of the user's
//! few generation slots until the stream ends.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::Attempt;
use crate::AppState;
use crate::domain::DomainError;
use crate::http::data_stream::{self, StreamPart};
use crate::http::plain::{self, PlainError, PlainSession};
use crate::protect::gate::CountGate;
use crate::protect::lease;
use crate::questions::{self, FEEDBACK_ERROR, ForGrading, MAX_ANSWER, prompts};
use crate::store::SharedTable;

pub fn feedback_routes() -> Router<AppState> {
    // The answer at its longest; the question id is in the overhead.
    let limit = crate::http::json_limit(MAX_ANSWER);
    Router::new()
        .route("/api/ai/questions/generate-feedback", crate::http::body_limit(post(generate_feedback), limit))
}

/// The candidate's answer as `prompt`, and the question. Unknown fields are ignored, as the
/// original's schema strips them.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateFeedback {
    prompt: String,
    question_id: String,
}

async fn generate_feedback(
    State(state): State<AppState>,
    PlainSession(session): PlainSession,
    gate: CountGate,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PlainError> {
    let body: GenerateFeedback = plain::json_body(body, FEEDBACK_ERROR)?;
    let answer = body.prompt.trim();
    if answer.is_empty() || answer.chars().count() > MAX_ANSWER || body.question_id.is_empty() {
        return Err(PlainError::bad_request(FEEDBACK_ERROR));
    }
    let model = plain::model_or_unavailable(state.model.as_ref())?;
    let question_id = plain::owned_id(&body.question_id)?;
    // The question is read while the request's windows are counted; the generation slot is
    // taken once the count allowed the request and the question is theirs to grade, so a refused
    // question answers first, as before, and takes nothing.
    let grading = gate
        .read_beside(questions::get_for_grading(state.table.as_ref(), &session.user_id, question_id))
        .await??;
    let lease =
        lease::for_generation(&state.table, &session.user_id, state.protection.modes.rate_limit).await?;
    let request = prompts::feedback_request(&grading.question.text, &grading.key_points, answer);
    let (table, user_id, answer, model_name) =
        (state.table.clone(), session.user_id, answer.to_owned(), model.name());
    let parts = data_stream::model_reply_then(model.stream(request), move |outcome| async move {
        match outcome {
            Ok(reply) => {
                let graded = Graded { answer, feedback: reply.text, model: model_name };
                store(table, user_id, grading, graded).await
            }
            // What the client saw was not whole feedback: there is nothing to keep.
            Err(_) => Vec::new(),
        }
    });
    Ok(data_stream::response(lease::hold_while(parts, lease)))
}

/// What an attempt needs besides its question.
struct Graded {
    answer: String,
    feedback: String,
    model: String,
}

/// Records the attempt and names it in a data part. The client already has its feedback, which
/// stays what it is if recording fails: that is logged and the stream just carries no id.
async fn store(table: SharedTable, user_id: String, grading: ForGrading, graded: Graded) -> Vec<StreamPart> {
    let ForGrading { question, practice, .. } = grading;
    let attempt = Attempt::new(&question, graded.answer, graded.feedback, graded.model);
    if attempt.rating.is_none() {
        tracing::warn!(attempt_id = %attempt.id, question_id = %question.id, "feedback without a readable rating; stored with rating null");
    }
    match super::record(table.as_ref(), &user_id, &question, practice, &attempt).await {
        Ok(()) => {
            tracing::info!(attempt_id = %attempt.id, question_id = %question.id, rating = ?attempt.rating, "attempt stored");
            vec![StreamPart::Data(json!([{ "attemptId": attempt.id }]))]
        }
        Err(DomainError::Storage(error)) => {
            tracing::error!(%error, question_id = %question.id, "storing an attempt failed");
            Vec::new()
        }
        Err(other) => {
            tracing::warn!(error = %other, question_id = %question.id, "attempt not stored");
            Vec::new()
        }
    }
}
