//! Users: the profile Clerk's webhook maintains, the lifetime usage counters, removing a user with
//! everything they own, and what `GET /api/me` reports. Keys are in `store`, counters in `usage`.

mod routes;
pub mod store;
pub mod usage;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use routes::routes;
pub use store::{not_deleted, partition, profile_key, tombstone_key, usage_key};
pub use usage::{Counter, INTERVIEWS_STARTED, QUESTIONS_GENERATED, RESUME_ANALYSES, Usage, get_usage};

use crate::auth::Session;
use crate::clock;
use crate::domain::{DomainError, DomainResult, Missing};
use crate::plans::Quota;
use crate::store::{Condition, EXPIRES_AT, Item, PK, Query, SK, StoreResult, Table, Update, Write};

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

/// The profile, as Clerk's webhook stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The user's profile and usage items as stored, read in one round trip (`Table::get_many`).
pub async fn profile_and_usage(
    table: &dyn Table,
    user_id: &str,
) -> StoreResult<(Option<Item>, Option<Item>)> {
    let mut items = table.get_many(&[profile_key(user_id), usage_key(user_id)]).await?.into_iter();
    Ok((items.next().flatten(), items.next().flatten()))
}

pub async fn get_profile(table: &dyn Table, user_id: &str) -> StoreResult<Option<Profile>> {
    table.get(&profile_key(user_id)).await?.map(crate::store::from_item).transpose()
}

/// The caller's profile; `Missing::User` until the webhook created it.
pub async fn require_profile(table: &dyn Table, user_id: &str) -> DomainResult<Profile> {
    get_profile(table, user_id).await?.ok_or(DomainError::NotFound(Missing::User))
}

pub async fn put_profile(table: &dyn Table, profile: &Profile) -> StoreResult<()> {
    table.put(crate::store::to_item(&profile_key(&profile.id), profile)?, None).await
}

/// The write that stores `profile` as Clerk had it at `clerk_updated_at` (Unix ms). It applies
/// unless the stored profile is newer (an equal time re-applies the same data harmlessly), and
/// adds 1 to `version`, so how often a profile was written can be told.
pub fn upsert_profile_write(profile: &Profile, clerk_updated_at: i64) -> StoreResult<Write> {
    let key = profile_key(&profile.id);
    let mut update = Update::new();
    for (attribute, value) in crate::store::to_item(&key, profile)? {
        if attribute != PK && attribute != SK {
            update = update.set(&attribute, value);
        }
    }
    let update = update.set(CLERK_UPDATED_AT, clerk_updated_at).add(PROFILE_VERSION, 1);
    let newer_or_equal = Condition::Below(CLERK_UPDATED_AT.into(), clerk_updated_at.saturating_add(1));
    Ok(Write::Update { key, update, condition: Some(newer_or_equal) })
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
    item.insert("deletedAt".into(), clock::rfc3339(now).into());
    item.insert(EXPIRES_AT.into(), clock::epoch_seconds(now + TOMBSTONE_TTL).into());
    table.put(item, None).await?;
    crate::store::cascade::delete_matching_except(table, Query::new(partition(user_id), ""), &[tombstone])
        .await
}

/// What `GET /api/me` answers.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user: Profile,
    pub features: Vec<String>,
    pub usage: MeUsage,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MeUsage {
    pub questions: Quota,
    pub interviews: Quota,
    pub resume_analyses: Quota,
}

/// The caller's profile, plan features and quotas.
pub async fn me(table: &dyn Table, session: &Session) -> DomainResult<Me> {
    let (profile, usage) = profile_and_usage(table, &session.user_id).await?;
    let user: Profile = crate::store::from_item(profile.ok_or(DomainError::NotFound(Missing::User))?)?;
    let usage: Usage = usage.map(crate::store::from_item).transpose()?.unwrap_or_default();
    let features = &session.features;
    Ok(Me {
        user,
        features: features.iter().map(str::to_owned).collect(),
        usage: MeUsage {
            questions: Quota::new(usage.questions_generated, features.question_limit()),
            interviews: Quota::new(usage.interviews_started, features.interview_limit()),
            resume_analyses: Quota::new(usage.resume_analyses, features.resume_analysis_limit()),
        },
    })
}
