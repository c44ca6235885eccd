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
use crate::store::{
    self, Condition, EXPIRES_AT, Item, Key, PK, Query, SK, StoreResult, Table, Update, Write,
};

/// The partition key of everything `user_id` owns. Built only from a verified id, so no request
/// can address another user's partition.
pub fn partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

const PROFILE: &str = "PROFILE";
const USAGE: &str = "USAGE";
const TOMBSTONE: &str = "TOMBSTONE";

/// Profile attribute holding Clerk's `updated_at` (Unix ms) of the data stored: deliveries are
/// applied only in that order, whatever order Svix delivers them in.
pub const CLERK_UPDATED_AT: &str = "clerkUpdatedAt";
/// Profile attribute counting applied webhook upserts (starts at 1).
pub const PROFILE_VERSION: &str = "version";

/// How long a deleted user's tombstone keeps late `user.created`/`user.updated` deliveries from
/// bringing them back. Svix's last automatic retry comes about 28 hours after the first attempt;
/// 30 days also covers an operator replaying old messages from the dashboard by hand.
/// Clerk never reuses a user id, so the tombstone never blocks a real new user.
pub const TOMBSTONE_TTL: time::Duration = time::Duration::days(30);

pub fn profile_key(user_id: &str) -> Key {
    Key::new(partition(user_id), PROFILE)
}

pub fn usage_key(user_id: &str) -> Key {
    Key::new(partition(user_id), USAGE)
}

/// The marker `user.deleted` leaves in the (otherwise emptied) partition.
pub fn tombstone_key(user_id: &str) -> Key {
    Key::new(partition(user_id), TOMBSTONE)
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

/// The write that stores `profile` as Clerk had it at `clerk_updated_at` (Unix ms). It applies
/// unless the stored profile is newer (an equal time re-applies the same data harmlessly), and
/// adds 1 to `version`, so how often a profile was written can be told.
pub fn upsert_profile_write(profile: &Profile, clerk_updated_at: i64) -> StoreResult<Write> {
    let key = profile_key(&profile.id);
    let mut update = Update::new();
    for (attribute, value) in store::to_item(&key, profile)? {
        if attribute != PK && attribute != SK {
            update = update.set(&attribute, value);
        }
    }
    let update = update.set(CLERK_UPDATED_AT, clerk_updated_at).add(PROFILE_VERSION, 1);
    let newer_or_equal = Condition::Below(CLERK_UPDATED_AT.into(), clerk_updated_at.saturating_add(1));
    Ok(Write::Update { key, update, condition: Some(newer_or_equal) })
}

/// A transaction write that fails unless the user is alive (no tombstone).
pub fn not_deleted(user_id: &str) -> Write {
    Write::Check { key: tombstone_key(user_id), condition: Condition::NotExists }
}

/// Whether `user.deleted` removed this user (within the tombstone's lifetime).
pub async fn is_deleted(table: &dyn Table, user_id: &str) -> StoreResult<bool> {
    Ok(table.get(&tombstone_key(user_id)).await?.is_some())
}

/// Removes everything the user owns (profile, usage, job infos and their children, rate-limit
/// buckets: the whole partition) and leaves a tombstone. The tombstone is written first, so no
/// profile write can land once the sweep has started, and the sweep spares it. Deletes are
/// idempotent: a call that failed halfway is finished by calling again. Returns how many items
/// were deleted.
pub async fn delete_user(table: &dyn Table, user_id: &str, now: OffsetDateTime) -> StoreResult<usize> {
    let tombstone = tombstone_key(user_id);
    let mut item = Item::new();
    item.insert(PK.into(), tombstone.pk.clone().into());
    item.insert(SK.into(), tombstone.sk.clone().into());
    item.insert("userId".into(), user_id.into());
    item.insert("deletedAt".into(), rfc3339(now).into());
    item.insert(EXPIRES_AT.into(), store::epoch_seconds(now + TOMBSTONE_TTL).into());
    table.put(item, None).await?;
    store::cascade::delete_matching_except(table, Query::new(partition(user_id), ""), &[tombstone]).await
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
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
