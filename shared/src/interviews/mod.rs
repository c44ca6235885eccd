//! Voice interviews: the type and its domain operations. Creating one spends a token of the
//! per-user interview bucket but does not count toward `1_interview`: setting its `humeChatId`
//! (the call connected) does, in one transaction with the usage counter guarded by the plan's
//! limit, as the original counts only interviews with a Hume chat. Storage is in `store`, the AI
//! feedback in `feedback` (prompt in `prompts`), the routes in `routes`.

mod feedback;
pub mod prompts;
pub(crate) mod routes;
pub mod store;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use feedback::FEEDBACK_TIMEOUT;
pub use routes::routes;
pub use store::key;

use crate::auth::Session;
use crate::clock::{self, Clock};
use crate::domain::{DomainError, DomainResult, Missing, Versions, present};
use crate::hume::HumeClient;
use crate::job_infos;
use crate::plans::Features;
use crate::protect::gate::CountGate;
use crate::protect::{Decision, TokenBucket};
use crate::store::{Condition, Cursor, Guard, Table, Transaction, TransactionError, Update, Write};
use crate::users::{self, Counter};

/// A new interview's duration, as the original inserts it.
pub const ZERO_DURATION: &str = "00:00:00";
/// The longest Hume chat id accepted (Hume's are UUIDs).
pub const MAX_CHAT_ID: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Interview {
    pub id: Uuid,
    pub job_info_id: Uuid,
    /// `HH:MM:SS`, as the client's call timer shows it.
    pub duration: String,
    /// Set once, when the call connected; `null` until then.
    #[serde(default)]
    pub hume_chat_id: Option<String>,
    /// The AI feedback (markdown), once generated.
    #[serde(default)]
    pub feedback: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The caller's interview, or `None` when they have none with this id or its job is gone.
pub async fn find(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Option<Interview>> {
    let Some(item) = table.get(&key(user_id, id)).await? else {
        return Ok(None);
    };
    let interview: Interview = crate::store::from_item(item)?;
    Ok(job_infos::find(table, user_id, interview.job_info_id).await?.map(|_| interview))
}

pub async fn get_owned(table: &dyn Table, user_id: &str, id: Uuid) -> DomainResult<Interview> {
    find(table, user_id, id).await?.ok_or(DomainError::NotFound(Missing::Interview))
}

/// Whether the plan lets the user start another interview (the original's `canCreateInterview`).
pub async fn may_start(table: &dyn Table, user_id: &str, features: &Features) -> DomainResult<bool> {
    let limit = features.interview_limit();
    Ok(!users::usage::spent(table, user_id, Counter::InterviewsStarted, limit).await?)
}

/// Creates an interview for job `job_id`, in the original's order: plan, then the rate bucket
/// (`bucket`: the interview bucket, in the protection's rate-limit mode), then ownership. The
/// plan's allowance and the job are read at once, while the request's windows are counted; the
/// bucket's token is taken only once the count allowed the request (`gate`).
pub async fn create(
    table: &dyn Table,
    session: &Session,
    job_id: Uuid,
    bucket: TokenBucket,
    gate: &CountGate,
) -> DomainResult<Interview> {
    let user_id = session.user_id.as_str();
    let (job, usage) = job_infos::find_with_usage(table, user_id, job_id).await?;
    if usage.spent(Counter::InterviewsStarted, session.features.interview_limit()) {
        return Err(DomainError::PlanLimit);
    }
    gate.pass().await?;
    if let Decision::Denied { retry_after_seconds } =
        bucket.take(table, user_id, clock::SystemClock.now_ms()).await?
    {
        return Err(DomainError::RateLimited { retry_after_seconds });
    }
    job.ok_or(DomainError::NotFound(Missing::JobInfo))?;
    let now = clock::now();
    let interview = Interview {
        id: Uuid::now_v7(),
        job_info_id: job_id,
        duration: ZERO_DURATION.into(),
        hume_chat_id: None,
        feedback: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let transaction = Transaction::new()
        .guarded(
            Guard::Absent,
            Write::Put { item: store::to_item(user_id, &interview)?, condition: Some(Condition::NotExists) },
        )
        .guarded(Guard::Parent, job_infos::attach_guard(user_id, job_id));
    match transaction.commit(table).await {
        Ok(()) => Ok(interview),
        Err(TransactionError::Refused(Guard::Parent)) => Err(DomainError::NotFound(Missing::JobInfo)),
        Err(other) => Err(other.into_store().into()),
    }
}

/// Stores an interview as it is (its id must be new), without the plan, bucket or job checks of
/// `create`: for seeding and imports.
pub async fn insert(table: &dyn Table, user_id: &str, interview: &Interview) -> DomainResult<()> {
    table.put(store::to_item(user_id, interview)?, Some(Condition::NotExists)).await?;
    Ok(())
}

/// One page of a job's interviews, newest first; only started ones unless `all`. Filtering may
/// leave a page shorter than `limit` while `next` says more may follow.
pub async fn list(
    table: &dyn Table,
    user_id: &str,
    job_id: Uuid,
    all: bool,
    limit: usize,
    cursor: Option<Cursor>,
) -> DomainResult<(Vec<Interview>, Option<Cursor>)> {
    let (mut interviews, next): (Vec<Interview>, _) =
        store::KIND.page(table, user_id, job_id, true, limit, cursor).await?;
    interviews.retain(|interview| all || interview.hume_chat_id.is_some());
    Ok((interviews, next))
}

/// `PATCH` changes.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterviewChanges {
    /// Absent: unchanged (`null` is refused, as it could not clear a chat id anyway).
    #[serde(default, deserialize_with = "present")]
    pub hume_chat_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub duration: Option<String>,
}

/// `HH:MM:SS`: two-digit hours, minutes and seconds below 60.
pub fn valid_duration(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
        && parts[1] < "60"
        && parts[2] < "60"
}

/// A chat id as Hume issues them: 1..=128 of ASCII letters, digits, `-`, `_` (it becomes a URL
/// path segment).
pub fn valid_chat_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CHAT_ID
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid(message: &str) -> DomainError {
    DomainError::invalid("INVALID_INTERVIEW", message)
}

fn chat_already_set() -> DomainError {
    DomainError::conflict("HUME_CHAT_ALREADY_SET", "This interview already has a different humeChatId")
}

/// Hume's and our clocks may disagree by this much when a chat's start is compared with the
/// interview's creation.
const CLOCK_TOLERANCE_MS: i64 = 60_000;

fn chat_taken() -> DomainError {
    DomainError::conflict("HUME_CHAT_TAKEN", "This Hume chat belongs to another interview")
}

/// Checks with Hume that chat `chat_id` exists and started after `interview` was created: a chat
/// id is only accepted for the call this interview began.
async fn check_chat(hume: &HumeClient, interview: &Interview, chat_id: &str) -> DomainResult<()> {
    let started = hume.chat_started_at(chat_id).await.map_err(feedback::hume_failed)?;
    let Some(started_ms) = started else {
        return Err(invalid("humeChatId names no chat Hume knows"));
    };
    let created_ms =
        i64::try_from(interview.created_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if started_ms + CLOCK_TOLERANCE_MS < created_ms {
        return Err(DomainError::conflict(
            "HUME_CHAT_NOT_THIS_INTERVIEW",
            "This Hume chat started before the interview was created",
        ));
    }
    Ok(())
}

/// Applies `changes`. Setting `humeChatId` the first time, once Hume confirms the chat began after
/// the interview was created, claims the chat for this interview and counts the interview
/// toward the plan, all in one transaction; the same id again is a no-op, a different one or one
/// another interview holds is a conflict. `hume` must be given when `changes` set a chat id.
pub async fn update(
    table: &dyn Table,
    hume: Option<&HumeClient>,
    session: &Session,
    id: Uuid,
    changes: InterviewChanges,
    expected_version: Option<&Versions>,
) -> DomainResult<Interview> {
    let user_id = session.user_id.as_str();
    if changes.hume_chat_id.is_none() && changes.duration.is_none() {
        return Err(invalid("Send humeChatId and/or duration"));
    }
    if let Some(duration) = &changes.duration
        && !valid_duration(duration)
    {
        return Err(invalid("duration must be HH:MM:SS, e.g. 00:12:34"));
    }
    if let Some(chat_id) = &changes.hume_chat_id
        && !valid_chat_id(chat_id)
    {
        return Err(invalid("humeChatId must be Hume's chat id (letters, digits, - and _; at most 128)"));
    }
    let current = get_owned(table, user_id, id).await?;
    if expected_version.is_some_and(|versions| !versions.contains(current.version)) {
        return Err(DomainError::StaleVersion);
    }
    let new_chat = match (&changes.hume_chat_id, &current.hume_chat_id) {
        (Some(wanted), Some(set)) if wanted != set => return Err(chat_already_set()),
        (Some(wanted), None) => Some(wanted.clone()),
        _ => None,
    };
    let mut update = Update::new().set("updatedAt", clock::rfc3339(clock::now())).add("version", 1);
    if let Some(duration) = &changes.duration {
        update = update.set("duration", duration.as_str());
    } else if new_chat.is_none() {
        // The same chat id again and nothing else: nothing to write.
        return Ok(current);
    }
    let mut guard = vec![Condition::Exists];
    if let Some(versions) = expected_version {
        guard.push(versions.condition("version"));
    }
    let key = key(user_id, id);
    let Some(chat_id) = new_chat else {
        return match table.update(&key, update, Some(Condition::All(guard))).await {
            Ok(item) => Ok(crate::store::from_item(item)?),
            Err(error) if error.is_condition_failed() => Err(explain_failed_update(table, user_id, id).await),
            Err(other) => Err(other.into()),
        };
    };
    if table.get(&store::chat_claim_key(&chat_id)).await?.is_some() {
        return Err(chat_taken());
    }
    let Some(hume) = hume else {
        return Err(DomainError::Upstream {
            code: "HUME_ERROR",
            message: "Voice interviews are not configured".into(),
        });
    };
    check_chat(hume, &current, &chat_id).await?;
    guard.push(Condition::AttributeAbsent(store::HUME_CHAT_ID.into()));
    let update = update.set(store::HUME_CHAT_ID, chat_id.as_str());
    let mut claim = crate::store::Item::new();
    let claim_key = store::chat_claim_key(&chat_id);
    claim.insert(crate::store::PK.into(), claim_key.pk.into());
    claim.insert(crate::store::SK.into(), claim_key.sk.into());
    claim.insert("interviewId".into(), id.to_string().into());
    claim.insert("claimedAt".into(), clock::rfc3339(clock::now()).into());
    let transaction = Transaction::new()
        .guarded(Guard::Unchanged, Write::Update { key, update, condition: Some(Condition::All(guard)) })
        .guarded(Guard::Absent, Write::Put { item: claim, condition: Some(Condition::NotExists) });
    let limit = session.features.interview_limit();
    let transaction = users::usage::count(transaction, user_id, Counter::InterviewsStarted, limit)
        // A job being deleted takes its interviews with it: do not count a start on one.
        .guarded(Guard::Parent, job_infos::attach_guard(user_id, current.job_info_id));
    match transaction.commit(table).await {
        Ok(()) => get_owned(table, user_id, id).await,
        Err(TransactionError::Refused(Guard::Quota)) => Err(DomainError::PlanLimit),
        Err(TransactionError::Refused(Guard::Parent)) => Err(DomainError::NotFound(Missing::Interview)),
        Err(TransactionError::Refused(Guard::Absent)) => Err(chat_taken()),
        Err(TransactionError::Refused(_)) => {
            // The interview changed under us: look.
            match find(table, user_id, id).await? {
                None => Err(DomainError::NotFound(Missing::Interview)),
                Some(now) if now.hume_chat_id.as_deref() == Some(chat_id.as_str()) => {
                    // A concurrent request set the same id: this one's outcome is the same.
                    if changes.duration.is_some() {
                        Err(DomainError::concurrent_update("interview"))
                    } else {
                        Ok(now)
                    }
                }
                Some(now) if now.hume_chat_id.is_some() => Err(chat_already_set()),
                Some(now) if expected_version.is_some_and(|versions| !versions.contains(now.version)) => {
                    Err(DomainError::StaleVersion)
                }
                Some(_) => Err(DomainError::concurrent_update("interview")),
            }
        }
        Err(TransactionError::Store(error)) => Err(error.into()),
    }
}

/// Tells "gone" from "changed since you read it" after a guarded write failed.
async fn explain_failed_update(table: &dyn Table, user_id: &str, id: Uuid) -> DomainError {
    match find(table, user_id, id).await {
        Ok(None) => DomainError::NotFound(Missing::Interview),
        Ok(Some(_)) => DomainError::StaleVersion,
        Err(error) => error,
    }
}

/// Deletes one interview (its quota count stays: usage is a lifetime count).
pub async fn delete(
    table: &dyn Table,
    user_id: &str,
    id: Uuid,
    expected_version: Option<&Versions>,
) -> DomainResult<()> {
    let mut guard = vec![Condition::Exists];
    if let Some(versions) = expected_version {
        guard.push(versions.condition("version"));
    }
    match table.delete(&key(user_id, id), Some(Condition::All(guard))).await {
        Ok(()) => Ok(()),
        Err(error) if error.is_condition_failed() => Err(explain_failed_update(table, user_id, id).await),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_chat_ids() {
        for ok in ["00:00:00", "01:59:59", "99:00:07"] {
            assert!(valid_duration(ok), "{ok}");
        }
        for bad in ["0:00:00", "00:60:00", "00:00:60", "00:00", "aa:bb:cc", "00:00:00:00", "", "+1:00:00"] {
            assert!(!valid_duration(bad), "{bad}");
        }
        assert!(valid_chat_id("470a49f6-1dec-4afe-8b61-035d3b2d63b0"));
        for bad in ["", "a/b", "a b", "..", &"x".repeat(129)] {
            assert!(!valid_chat_id(bad), "{bad}");
        }
    }
}
