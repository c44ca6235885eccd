//! `DomainError`: every way a domain operation (create a job info, start an interview, store a
//! question...) can fail, in the domain's terms. Domain code never speaks HTTP: the JSON routes'
//! `ApiError` and the AI routes' plain-text `PlainError` each convert from this in one place.

use serde::{Deserialize, Deserializer};

use crate::store::{Condition, StoreError};

/// Deserializes a present field as `Some(value)`: with `#[serde(default)]`, an absent field is
/// `None` and a `null` one is refused unless `T` takes it (`Option<String>` for "clear it").
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The versions a conditional write accepts (`If-Match`): it happens only while the resource is
/// at one of them. Empty (the client named only tags this API never issued, or weak ones, which
/// never match for a write) means it cannot happen: the resource exists, so a stale version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions(Vec<u64>);

impl Versions {
    pub fn new(mut versions: Vec<u64>) -> Self {
        versions.sort_unstable();
        versions.dedup();
        Self(versions)
    }

    pub fn one(version: u64) -> Self {
        Self(vec![version])
    }

    pub fn contains(&self, version: u64) -> bool {
        self.0.contains(&version)
    }

    /// The guard that holds while `attribute` is one of these versions.
    pub fn condition(&self, attribute: &str) -> Condition {
        Condition::OneOf(attribute.to_owned(), self.0.iter().map(|&v| v.into()).collect())
    }
}

/// What a caller has none of (or may not see: another user's id is the same "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    JobInfo,
    Question,
    Interview,
    /// The interview has no voice chat yet, so no transcript.
    Transcript,
    /// The profile Clerk's webhook creates has not arrived yet.
    User,
}

impl Missing {
    /// The stable code a client switches on.
    pub fn code(self) -> &'static str {
        match self {
            Self::JobInfo => "JOB_INFO_NOT_FOUND",
            Self::Question => "QUESTION_NOT_FOUND",
            Self::Interview => "INTERVIEW_NOT_FOUND",
            Self::Transcript => "TRANSCRIPT_NOT_FOUND",
            Self::User => "USER_NOT_FOUND",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::JobInfo => "No job info of yours has this id",
            Self::Question => "No question of yours has this id",
            Self::Interview => "No interview of yours has this id",
            Self::Transcript => "This interview has no Hume chat yet, so no transcript",
            Self::User => "Your account is still being created; try again shortly",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input breaks a rule of the resource (a blank name, a malformed duration).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{}", .0.message())]
    NotFound(Missing),
    /// The caller's copy is not the current version (`If-Match`).
    #[error("The resource changed since you read it; fetch it again and retry")]
    StaleVersion,
    /// The plan does not allow one more.
    #[error("You have reached your plan limit")]
    PlanLimit,
    /// A rate limit holds; the next try may succeed after this many seconds.
    #[error("Too many requests; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// `user.deleted` arrived while the caller's session token is still valid.
    #[error("This account has been deleted")]
    AccountDeleted,
    /// The resource is not in a state that allows this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A service we depend on (Hume, the model) failed; the message is safe to show.
    #[error("{message}")]
    Upstream { code: &'static str, message: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl DomainError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    /// Two requests changed the same thing at once; the client may retry.
    pub fn concurrent_update(what: &str) -> Self {
        Self::conflict("CONCURRENT_UPDATE", format!("Another request changed this {what}; retry"))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
