//! `POST /api/ai/questions/generate-question`, the streamed AI route the original web client
//! calls unchanged (its sibling `generate-feedback` records an attempt, so it lives in
//! `attempts::grade`). It checks in the original's order and answers its plain-text strings (401,
//! 400, 403 `PLAN_LIMIT`, 403 not owned), then streams an AI SDK data stream. A generated question
//! is stored only after the model finished it, in one transaction with the usage counter and a
//! check that its job still exists. The quota unit is reserved before the model is called (and
//! given back when the generation fails), and each generation holds one of the user's few
//! generation slots.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::{Difficulty, MAX_HISTORY, MAX_QUESTION_TEXT, Question, prompts};
use crate::AppState;
use crate::domain::{DomainError, Missing};
use crate::http::data_stream::{self, StreamPart};
use crate::http::plain::{self, PlainError, PlainSession};
use crate::job_infos::{self, JobInfo};
use crate::protect::gate::CountGate;
use crate::protect::lease;
use crate::store::SharedTable;
use crate::users::usage::Reservation;
use crate::users::{self, Counter};

/// The original's 400 body.
pub const QUESTION_ERROR: &str = "Error generating your question";

/// `POST /api/ai/questions/generate-question` (the generate-question function).
pub fn question_routes() -> Router<AppState> {
    Router::new().route("/api/ai/questions/generate-question", post(generate_question))
}

/// What `useCompletion` sends: the difficulty as `prompt`, and the job. Unknown fields are
/// ignored, as the original's schema strips them.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateQuestion {
    prompt: Difficulty,
    job_info_id: String,
}

async fn generate_question(
    State(state): State<AppState>,
    PlainSession(session): PlainSession,
    gate: CountGate,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PlainError> {
    let body: GenerateQuestion = plain::json_body(body, QUESTION_ERROR)?;
    if body.job_info_id.is_empty() {
        return Err(PlainError::bad_request(QUESTION_ERROR));
    }
    let model = plain::model_or_unavailable(state.model.as_ref())?;
    let table = state.table.clone();
    let user_id = session.user_id;
    // The job and the plan's allowance are read while the request's windows are counted. Once
    // the count allows the request, and only for a question that will be generated, the
    // generation slot and the quota unit are taken, beside the read of the job's latest questions
    // (one round trip for the three). The quota unit is taken before the model is called, so
    // parallel requests at the limit are refused before any of them spends.
    let limit = session.features.question_limit();
    let job = gate.read_beside(job_to_ask_about(&table, &user_id, &body.job_info_id, limit));
    let job = job.await??;
    let (lease, reservation, previous) = tokio::join!(
        lease::for_generation(&table, &user_id, state.protection.modes.rate_limit),
        users::usage::reserve(&table, &user_id, Counter::QuestionsGenerated, limit),
        super::recent(table.as_ref(), &user_id, job.id, MAX_HISTORY),
    );
    let lease = match lease {
        Ok(lease) => lease,
        Err(error) => {
            users::usage::give_back(reservation).await;
            return Err(error.into());
        }
    };
    let reservation = match reservation {
        Ok(reservation) => reservation,
        Err(error) => {
            lease.release().await;
            return Err(error.into());
        }
    };
    let previous = match previous {
        Ok(previous) => previous,
        Err(error) => {
            tokio::join!(reservation.release(), lease.release());
            return Err(error.into());
        }
    };
    let request = prompts::question_request(&job, &previous, body.prompt);
    let difficulty = body.prompt;
    let model_name = model.name();
    let parts = data_stream::model_reply_then(model.stream(request), move |outcome| async move {
        match outcome {
            Ok(reply) => {
                let question =
                    Question { model: Some(model_name), ..Question::new(job.id, reply.text, difficulty) };
                store_generated(table, user_id, question, reply.key_points, reservation).await
            }
            Err(_) => {
                reservation.release().await;
                Vec::new()
            }
        }
    });
    Ok(data_stream::response(lease::hold_while(parts, lease)))
}

/// The caller's job, or the first refusal in the original's order: a spent quota (as read:
/// taking the unit decides), then a job that is not theirs (403). One round trip: the job and
/// the allowance in one read.
async fn job_to_ask_about(
    table: &SharedTable,
    user_id: &str,
    raw_job_id: &str,
    limit: Option<u64>,
) -> Result<JobInfo, PlainError> {
    let job_id = match plain::owned_id(raw_job_id) {
        Ok(job_id) => job_id,
        Err(not_an_id) => {
            let spent =
                users::usage::spent(table.as_ref(), user_id, Counter::QuestionsGenerated, limit).await?;
            return Err(if spent { PlainError::plan_limit() } else { not_an_id });
        }
    };
    let (job, usage) = job_infos::find_with_usage(table.as_ref(), user_id, job_id).await?;
    if usage.spent(Counter::QuestionsGenerated, limit) {
        return Err(PlainError::plan_limit());
    }
    Ok(job.ok_or(DomainError::NotFound(Missing::JobInfo))?)
}

/// Stores a finished question and says so with its id (`2:`), or why not (`3:`).
async fn store_generated(
    table: SharedTable,
    user_id: String,
    question: Question,
    key_points: Vec<String>,
    reservation: Reservation,
) -> Vec<StreamPart> {
    let chars = question.text.chars().count();
    if chars > MAX_QUESTION_TEXT {
        tracing::warn!(chars, "generated question too long to store");
        reservation.release().await;
        return vec![StreamPart::Error("The AI model's answer was too long; try again".into())];
    }
    match super::insert(table.as_ref(), &user_id, &question, &key_points).await {
        Ok(()) => {
            reservation.commit();
            tracing::info!(question_id = %question.id, job_info_id = %question.job_info_id, "question stored");
            vec![StreamPart::Data(json!([{ "questionId": question.id }]))]
        }
        Err(DomainError::Storage(error)) => {
            tracing::error!(%error, "storing a generated question failed");
            reservation.release().await;
            vec![StreamPart::Error("Your question could not be saved; try again".into())]
        }
        Err(other) => {
            reservation.release().await;
            vec![StreamPart::Error(PlainError::from(other).message.into_owned())]
        }
    }
}
