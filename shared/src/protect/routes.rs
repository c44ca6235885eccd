//! `GET /api/arcjet`: what the protection layer decided for this very request, and where the
//! caller stands against every limit (named after the service the original used, whose client
//! code asked the same question). Reading it counts as a request of the caller's IP like any
//! other; it spends nothing of the per-user limits.

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;

use super::layer::{LimitReport, Report};
use super::window::{Standing, Subject};
use super::{HUME_TOKEN_BUCKET, INTERVIEW_BUCKET, Mode, TokenBucket, USER_WINDOW, lease};
use crate::AppState;
use crate::auth::Session;
use crate::error::ApiResult;
use crate::users;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/arcjet", get(report))
}

/// A limit of the caller's, as the report shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct Limit {
    name: &'static str,
    /// `sliding-window`, `token-bucket` or `concurrency`.
    kind: &'static str,
    max: u32,
    /// The window or refill interval, in seconds (absent for concurrency).
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
    remaining: u32,
    /// Seconds until more is available (0: nothing to wait for).
    reset: u64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArcjetReport {
    decision: Report,
    user_id: String,
    limits: Vec<Limit>,
}

async fn report(
    State(state): State<AppState>,
    session: Session,
    report: Option<Extension<Report>>,
) -> ApiResult<Json<ArcjetReport>> {
    let protection = &state.protection;
    let table = state.table.as_ref();
    let now_ms = protection.clock.now_ms();
    let decision = report.map(|Extension(report)| report).unwrap_or_default();
    let mut limits: Vec<Limit> = decision.limits.iter().map(window_limit).collect();
    if protection.modes.rate_limit != Mode::Off {
        let subject = Subject::new(users::partition(&session.user_id), USER_WINDOW);
        let standing = protection.limiter().peek(table, USER_WINDOW, &subject, now_ms).await?;
        let (remaining, reset) = match standing {
            Standing::Allowed { remaining, reset_seconds } => (remaining, reset_seconds),
            Standing::Limited { retry_after_seconds } | Standing::Blocked { retry_after_seconds } => {
                (0, retry_after_seconds)
            }
        };
        limits.push(Limit {
            name: USER_WINDOW.name,
            kind: "sliding-window",
            max: USER_WINDOW.limit,
            interval: Some(USER_WINDOW.window.as_secs()),
            remaining,
            reset,
        });
        for (name, bucket) in [("interviews", INTERVIEW_BUCKET), ("hume-tokens", HUME_TOKEN_BUCKET)] {
            limits.push(bucket_limit(name, bucket, bucket.peek(table, &session.user_id, now_ms).await?));
        }
    }
    let free = lease::free(&state.table, &session.user_id, lease::GENERATION_SLOTS).await?;
    limits.push(Limit {
        name: "generations-in-flight",
        kind: "concurrency",
        max: lease::GENERATION_SLOTS,
        interval: None,
        remaining: free,
        reset: 0,
    });
    Ok(Json(ArcjetReport { decision, user_id: session.user_id, limits }))
}

fn window_limit(limit: &LimitReport) -> Limit {
    Limit {
        name: limit.name,
        kind: "sliding-window",
        max: limit.max,
        interval: Some(limit.window),
        remaining: limit.remaining,
        reset: limit.reset,
    }
}

fn bucket_limit(name: &'static str, bucket: TokenBucket, (remaining, reset): (u32, u64)) -> Limit {
    Limit {
        name,
        kind: "token-bucket",
        max: bucket.capacity,
        interval: Some(bucket.interval.as_secs() / u64::from(bucket.refill.max(1))),
        remaining,
        reset,
    }
}
