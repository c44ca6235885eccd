//! Users: the partition every user's data lives in, the profile Clerk's webhook maintains, the
//! lifetime usage counters, and `GET /api/me`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::plans::Quota;
use crate::store::{self, Key, StoreResult, Table};

/// The partition key of everything `user_id` owns. Built only from a verified id, so no request
/// can address another user's partition.
pub fn partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

const PROFILE: &str = "PROFILE";
const USAGE: &str = "USAGE";

pub fn profile_key(user_id: &str) -> Key {
    Key::new(partition(user_id), PROFILE)
}

pub fn usage_key(user_id: &str) -> Key {
    Key::new(partition(user_id), USAGE)
}

/// The profile, as Clerk's webhook stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub email: String,
    pub image_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

pub async fn get_profile(table: &dyn Table, user_id: &str) -> StoreResult<Option<Profile>> {
    table.get(&profile_key(user_id)).await?.map(store::from_item).transpose()
}

pub async fn put_profile(table: &dyn Table, profile: &Profile) -> StoreResult<()> {
    table.put(store::to_item(&profile_key(&profile.id), profile)?, None).await
}

/// Lifetime usage counters (deleting a job info refunds nothing). Each is consumed in the same
/// transaction as the thing it counts, guarded by `Condition::Below(<counter>, limit)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub questions_generated: u64,
    pub interviews_started: u64,
    pub resume_analyses: u64,
}

/// Counter attribute names on the usage item.
pub const QUESTIONS_GENERATED: &str = "questionsGenerated";
pub const INTERVIEWS_STARTED: &str = "interviewsStarted";
pub const RESUME_ANALYSES: &str = "resumeAnalyses";

pub async fn get_usage(table: &dyn Table, user_id: &str) -> StoreResult<Usage> {
    Ok(table.get(&usage_key(user_id)).await?.map(store::from_item).transpose()?.unwrap_or_default())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user: Profile,
    pub features: Vec<String>,
    pub usage: MeUsage,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeUsage {
    pub questions: Quota,
    pub interviews: Quota,
    pub resume_analyses: Quota,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The caller's profile, plan features and quotas. 404 until the webhook created the profile:
/// the onboarding page polls on exactly that.
async fn me(State(state): State<AppState>, session: Session) -> ApiResult<Json<Me>> {
    let table = state.table.as_ref();
    let (profile, usage) =
        tokio::try_join!(get_profile(table, &session.user_id), get_usage(table, &session.user_id))?;
    let user = profile.ok_or_else(|| {
        ApiError::not_found("USER_NOT_FOUND", "Your account is still being created; try again shortly")
    })?;
    let features = &session.features;
    Ok(Json(Me {
        user,
        features: features.iter().map(str::to_owned).collect(),
        usage: MeUsage {
            questions: Quota::new(usage.questions_generated, features.question_limit()),
            interviews: Quota::new(usage.interviews_started, features.interview_limit()),
            resume_analyses: Quota::new(usage.resume_analyses, features.resume_analysis_limit()),
        },
    }))
}
