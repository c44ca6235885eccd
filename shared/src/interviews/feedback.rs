//! AI feedback on a finished interview: the transcript from Hume, the interviewee's name and the
//! job into the model, the feedback stored on the interview. Nothing is stored when any step
//! fails or the deadline passes.

use std::time::Duration;

use super::Interview;
use crate::ai::Model;
use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing};
use crate::hume::{self, HumeClient, HumeError};
use crate::store::{Condition, Table, Update};
use crate::{job_infos, users};

/// The whole feedback (Hume's pages and the model) must end before the HTTP API's 30 s
/// integration timeout.
pub const FEEDBACK_TIMEOUT: Duration = Duration::from_secs(27);

/// A Hume failure as the client may read it (the cause goes to the log).
pub(super) fn hume_failed(error: HumeError) -> DomainError {
    tracing::error!(%error, "Hume request failed");
    DomainError::Upstream { code: "HUME_ERROR", message: error.public_message() }
}

fn ai_failed(message: String) -> DomainError {
    DomainError::Upstream { code: "AI_ERROR", message }
}

/// Generates and stores feedback for `interview`, whose call is `chat_id`, within
/// `FEEDBACK_TIMEOUT`; nothing is stored when the deadline passes.
pub async fn generate(
    table: &dyn Table,
    hume: &HumeClient,
    model: &dyn Model,
    user_id: &str,
    interview: &Interview,
    chat_id: &str,
) -> DomainResult<Interview> {
    let work = generate_within(table, hume, model, user_id, interview, chat_id);
    match tokio::time::timeout(FEEDBACK_TIMEOUT, work).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!("interview feedback ran past its deadline");
            Err(ai_failed("The AI model took too long to answer; try again".into()))
        }
    }
}

async fn generate_within(
    table: &dyn Table,
    hume: &HumeClient,
    model: &dyn Model,
    user_id: &str,
    interview: &Interview,
    chat_id: &str,
) -> DomainResult<Interview> {
    let job = job_infos::get_owned(table, user_id, interview.job_info_id).await?;
    let profile = users::require_profile(table, user_id).await?;
    let events = hume.chat_events(chat_id).await.map_err(hume_failed)?;
    let transcript = hume::transcript(&events);
    if transcript.is_empty() {
        return Err(DomainError::conflict(
            "TRANSCRIPT_EMPTY",
            "The interview's transcript has no messages to review",
        ));
    }
    let request = super::prompts::feedback_request(&profile.name, &job, &transcript);
    let generated = match model.generate(request).await {
        Ok(generated) => generated,
        Err(error) => {
            tracing::error!(%error, "interview feedback generation failed");
            return Err(ai_failed(error.public_message()));
        }
    };
    let text = generated.text.trim();
    if text.is_empty() {
        return Err(ai_failed("Failed to generate feedback".into()));
    }
    store_feedback(table, user_id, interview, text).await
}

/// Stores generated feedback on the interview (which must still exist).
async fn store_feedback(
    table: &dyn Table,
    user_id: &str,
    interview: &Interview,
    feedback: &str,
) -> DomainResult<Interview> {
    let update = Update::new()
        .set("feedback", feedback)
        .set("updatedAt", clock::rfc3339(clock::now()))
        .add("version", 1);
    match table.update(&super::key(user_id, interview.id), update, Some(Condition::Exists)).await {
        Ok(item) => Ok(crate::store::from_item(item)?),
        Err(error) if error.is_condition_failed() => Err(DomainError::NotFound(Missing::Interview)),
        Err(other) => Err(other.into()),
    }
}
