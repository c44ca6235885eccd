//! Clerk webhooks: `POST /api/webhooks/clerk`, delivered by Svix. Public (no session token):
//! a delivery is trusted only when its Svix signature over the exact body bytes verifies.
//!
//! What an operator can rely on:
//! - verification with the `svix` crate over the raw body, 5-minute timestamp tolerance, up to
//!   two secrets so Clerk's signing secret can be rotated without dropping deliveries;
//! - idempotence: each `svix-id` is applied at most once (a dedupe item, kept for
//!   [`DEDUPE_TTL`]), so Svix's retries and replays change nothing;
//! - order safety: an update older (by Clerk's `updated_at`) than the stored profile is not
//!   applied, and after `user.deleted` a tombstone keeps late creates/updates from bringing the
//!   user back (see [`users::TOMBSTONE_TTL`]);
//! - 400 with nothing written for anything unverifiable or malformed, 200 for every verified
//!   delivery that needs no (further) change, 5xx only when storage fails, so Svix retries exactly
//!   then.
//!
//! Responses are text, as the original's were (`200 Webhook received`); Svix only looks at the
//! status. The `x-webhook-outcome` header says what happened (`applied`, `duplicate`, `stale`,
//! `deleted`, `ignored`) for logs and tests.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;
use svix::webhooks::{Webhook, WebhookError};
use time::OffsetDateTime;

use crate::AppState;
use crate::config::{ConfigError, Vars};
use crate::error::ApiError;
use crate::store::{self, Condition, EXPIRES_AT, Item, Key, PK, SK, StoreError, StoreResult, Table, Write};
use crate::users::{self, Profile};

/// The route Clerk's webhook endpoint points at.
pub const ROUTE: &str = "/api/webhooks/clerk";

/// The variable holding the signing secret(s) (`whsec_…`, space-separated during a rotation);
/// in AWS `CLERK_WEBHOOK_SIGNING_SECRET_SECRET_ARN` names a Secrets Manager secret instead.
pub const SECRET_VARIABLE: &str = "CLERK_WEBHOOK_SIGNING_SECRET";

/// The current secret and, while Clerk's endpoint secret is being rotated, the previous one.
pub const MAX_SECRETS: usize = 2;

/// The largest delivery accepted. Clerk's user payloads are a few KiB, but metadata and linked
/// accounts can grow them; a body refused here would be retried and refused forever, so this is
/// generous (Lambda itself allows 6 MB).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How long an applied delivery id is remembered. Svix's automatic retries end about 28 hours
/// after the first attempt and an endpoint that keeps failing is disabled after 5 days; 7 days
/// covers both, and the dashboard's manual replays within that week, with margin. A replay older
/// than that is still harmless: the `updated_at` order and the tombstone guard the data.
pub const DEDUPE_TTL: time::Duration = time::Duration::days(7);

/// The longest a delivery is worked on before answering 503. Svix gives up on an attempt after
/// 15 s; answering earlier with a 5xx makes it retry, and an unfinished delete is completed then
/// (the delivery id is recorded only once everything is done).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Longest `svix-id` accepted (Svix ids are about 30 characters).
const MAX_DELIVERY_ID: usize = 256;
/// Longest Clerk user id accepted (Clerk's are about 32 characters).
const MAX_USER_ID: usize = 256;

const DELIVERY_PREFIX: &str = "WEBHOOK#";
const DELIVERY_SORT: &str = "WEBHOOK";

/// Verifies Svix signatures with the configured secret(s). Built once per instance.
pub struct WebhookVerifier {
    secrets: Vec<Webhook>,
}

impl std::fmt::Debug for WebhookVerifier {
    // Never print a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier").field("secrets", &self.secrets.len()).finish()
    }
}

impl WebhookVerifier {
    /// From the variable's value: one or two space-separated `whsec_…` secrets.
    pub fn from_secrets(value: &str) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        if parts.is_empty() {
            return Err(missing());
        }
        if parts.len() > MAX_SECRETS {
            return Err(ConfigError::Malformed {
                name: SECRET_VARIABLE,
                reason: format!(
                    "it holds {} secrets; give at most {MAX_SECRETS}, space-separated (the current one and, \
                     during a rotation, the previous one)",
                    parts.len()
                ),
            });
        }
        let secrets = parts
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                Webhook::new(secret).map_err(|_| ConfigError::Malformed {
                    name: SECRET_VARIABLE,
                    reason: format!(
                        "secret {} is not a Clerk signing secret (whsec_ followed by base64)",
                        index + 1
                    ),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { secrets })
    }

    /// From `CLERK_WEBHOOK_SIGNING_SECRET` (or `…_SECRET_ARN`); `None` when neither is set.
    pub async fn from_vars(vars: &Vars<'_>) -> Result<Option<Self>, ConfigError> {
        match crate::secrets::resolve(vars, SECRET_VARIABLE).await? {
            Some(value) => Self::from_secrets(&value).map(Some),
            None => Ok(None),
        }
    }

    /// The webhook function's start-up: the secret is required.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Self::from_vars(&Vars(&lookup)).await?.ok_or_else(missing)
    }

    /// Checks the Svix headers and signature over the exact body bytes and returns the
    /// delivery id (`svix-id`). Any configured secret may have signed it.
    pub fn verify(&self, body: &[u8], headers: &HeaderMap) -> Result<String, Rejection> {
        let mut first_error = None;
        for secret in &self.secrets {
            match secret.verify(body, headers) {
                Ok(()) => return delivery_id(headers),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(Rejection::Invalid(
            first_error.map_or("no signing secret configured", |error| reason(&error)).into(),
        ))
    }
}

fn missing() -> ConfigError {
    ConfigError::Missing(
        SECRET_VARIABLE,
        "set it to your Clerk webhook endpoint's signing secret (whsec_...), or set \
         CLERK_WEBHOOK_SIGNING_SECRET_SECRET_ARN to a Secrets Manager secret holding it",
    )
}

/// What a client is told about a failed verification: fixed phrases, never key material.
fn reason(error: &WebhookError) -> &'static str {
    match error {
        WebhookError::MissingHeader("id") => "missing svix-id header",
        WebhookError::MissingHeader("timestamp") => "missing svix-timestamp header",
        WebhookError::MissingHeader(_) => "missing svix-signature header",
        WebhookError::InvalidHeader(_) | WebhookError::InvalidTimestamp => "malformed svix headers",
        WebhookError::TimestampTooOldError => "timestamp too old",
        WebhookError::FutureTimestampError => "timestamp too far in the future",
        WebhookError::InvalidSignature => "no valid signature",
        WebhookError::InvalidPayload => "body is not UTF-8",
        WebhookError::InvalidSecret(_) | WebhookError::EmptySecret => "signing secret unusable",
    }
}

/// The delivery id svix verified (it reads `svix-id`, else `webhook-id`).
fn delivery_id(headers: &HeaderMap) -> Result<String, Rejection> {
    let id = headers
        .get("svix-id")
        .or_else(|| headers.get("webhook-id"))
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if id.is_empty() || id.len() > MAX_DELIVERY_ID {
        return Err(Rejection::Invalid("malformed svix-id header".into()));
    }
    Ok(id.to_owned())
}

/// Why a delivery is refused with 400 (nothing written). Svix retries it, but a retry carries
/// the same bytes, so it is refused again: these are sender or configuration errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("Invalid webhook: {0}")]
    Invalid(String),
    /// The original's answer when the primary email is missing.
    #[error("No primary email found")]
    NoPrimaryEmail,
    /// The original's answer to a `user.deleted` without `data.id`.
    #[error("No user ID found")]
    NoUserId,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::warn!(reason = %self, "webhook delivery rejected");
        (StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}

/// A verified delivery, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `user.created` / `user.updated`: store the profile unless a newer one is stored.
    Upsert { kind: String, profile: Profile, clerk_updated_at: i64 },
    /// `user.deleted`: remove everything the user owns.
    Delete { user_id: String },
    /// Any other event type: answered 200 and ignored, as the original did.
    Other { kind: String },
}

impl Event {
    pub fn kind(&self) -> &str {
        match self {
            Self::Upsert { kind, .. } | Self::Other { kind } => kind,
            Self::Delete { .. } => "user.deleted",
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Upsert { profile, .. } => Some(&profile.id),
            Self::Delete { user_id } => Some(user_id),
            Self::Other { .. } => None,
        }
    }
}

/// Clerk's event envelope (`{"type", "object": "event", "data", "timestamp", "instance_id", …}`).
/// Unknown fields are tolerated: Clerk adds fields over time.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Option<String>,
    data: serde_json::Map<String, Value>,
}

/// The part of Clerk's `UserJSON` the profile needs.
#[derive(Debug, Deserialize)]
struct ClerkUser {
    id: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    /// The deprecated predecessor of `image_url`, used only when that is absent.
    #[serde(default)]
    profile_image_url: Option<String>,
    #[serde(default)]
    primary_email_address_id: Option<String>,
    #[serde(default)]
    email_addresses: Option<Vec<ClerkEmail>>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Deserialize)]
struct ClerkEmail {
    id: String,
    email_address: String,
}

/// `user.deleted`'s `DeletedObjectJSON`.
#[derive(Debug, Deserialize)]
struct DeletedObject {
    #[serde(default)]
    id: Option<String>,
}

/// Parses a verified body into the event it carries.
pub fn parse_event(body: &[u8]) -> Result<Event, Rejection> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|error| Rejection::Invalid(format!("the body is not a Clerk event ({error})")))?;
    if envelope.object.as_deref().is_some_and(|object| object != "event") {
        return Err(Rejection::Invalid("the body is not a Clerk event (object is not \"event\")".into()));
    }
    let data = Value::Object(envelope.data);
    match envelope.kind.as_str() {
        "user.created" | "user.updated" => {
            let user: ClerkUser = serde_json::from_value(data)
                .map_err(|error| Rejection::Invalid(format!("data is not a Clerk user ({error})")))?;
            let clerk_updated_at = user.updated_at;
            let profile = profile_from(user)?;
            Ok(Event::Upsert { kind: envelope.kind, profile, clerk_updated_at })
        }
        "user.deleted" => {
            let deleted: DeletedObject = serde_json::from_value(data)
                .map_err(|error| Rejection::Invalid(format!("data is not a deleted object ({error})")))?;
            let user_id = deleted.id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
            let user_id = user_id.ok_or(Rejection::NoUserId)?;
            check_user_id(&user_id)?;
            Ok(Event::Delete { user_id })
        }
        _ => Ok(Event::Other { kind: envelope.kind }),
    }
}

fn check_user_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_USER_ID || id.chars().any(char::is_control) {
        return Err(Rejection::Invalid("data.id is not a Clerk user id".into()));
    }
    Ok(())
}

/// The profile the original stored, minus its artefacts: the primary email (required), a name
/// without literal "null"/"undefined", Clerk's millisecond timestamps.
fn profile_from(user: ClerkUser) -> Result<Profile, Rejection> {
    check_user_id(&user.id)?;
    let email = user
        .primary_email_address_id
        .as_deref()
        .and_then(|primary| user.email_addresses.iter().flatten().find(|address| address.id == primary))
        .map(|address| address.email_address.trim().to_owned())
        .filter(|email| !email.is_empty())
        .ok_or(Rejection::NoPrimaryEmail)?;
    let name =
        display_name(user.first_name.as_deref(), user.last_name.as_deref(), user.username.as_deref(), &email);
    let image_url = user.image_url.or(user.profile_image_url).unwrap_or_default();
    Ok(Profile {
        id: user.id,
        name,
        email,
        image_url,
        created_at: from_millis(user.created_at, "created_at")?,
        updated_at: from_millis(user.updated_at, "updated_at")?,
    })
}

/// "First Last" from what is actually set; else the username; else the email's local part.
/// The original interpolated `${first_name} ${last_name}`, storing "John null" and the like.
pub fn display_name(first: Option<&str>, last: Option<&str>, username: Option<&str>, email: &str) -> String {
    let name = [first, last].into_iter().filter_map(meaningful).collect::<Vec<_>>().join(" ");
    if !name.is_empty() {
        return name;
    }
    if let Some(username) = meaningful(username) {
        return username.to_owned();
    }
    match email.split_once('@') {
        Some((local, _)) if !local.is_empty() => local.to_owned(),
        _ => email.to_owned(),
    }
}

/// A name part, unless it is blank or a serialised absence ("null", "undefined").
fn meaningful(part: Option<&str>) -> Option<&str> {
    let part = part?.trim();
    let artefact =
        part.is_empty() || part.eq_ignore_ascii_case("null") || part.eq_ignore_ascii_case("undefined");
    (!artefact).then_some(part)
}

fn from_millis(millis: i64, field: &str) -> Result<OffsetDateTime, Rejection> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|_| Rejection::Invalid(format!("data.{field} is not a millisecond timestamp")))
}

/// What a verified delivery did. Every outcome is answered 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change was made.
    Applied,
    /// This `svix-id` was applied before (a retry or replay): nothing changed.
    Duplicate,
    /// The stored profile is newer than this update: nothing changed.
    Stale,
    /// The user was deleted; a late create/update does not bring them back.
    Deleted,
    /// An event type this backend does not act on.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Deleted => "deleted",
            Self::Ignored => "ignored",
        }
    }
}

/// The dedupe item of delivery `id`, in its own partition.
pub fn delivery_key(id: &str) -> Key {
    Key::new(format!("{DELIVERY_PREFIX}{id}"), DELIVERY_SORT)
}

fn delivery_item(id: &str, event: &Event, outcome: Outcome, now: OffsetDateTime) -> Item {
    let key = delivery_key(id);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("type".into(), event.kind().into());
    if let Some(user_id) = event.user_id() {
        item.insert("userId".into(), user_id.into());
    }
    item.insert("outcome".into(), outcome.as_str().into());
    item.insert(
        "receivedAt".into(),
        now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default().into(),
    );
    item.insert(EXPIRES_AT.into(), store::epoch_seconds(now + DEDUPE_TTL).into());
    item
}

/// Applies delivery `id` carrying `event`, at most once per id.
pub async fn apply(table: &dyn Table, id: &str, event: &Event, now: OffsetDateTime) -> StoreResult<Outcome> {
    match event {
        Event::Other { .. } => Ok(Outcome::Ignored),
        Event::Upsert { profile, clerk_updated_at, .. } => {
            // One transaction: record the id, require no tombstone, write unless newer is stored.
            // The first failed condition tells which case it is.
            let writes = vec![
                Write::Put {
                    item: delivery_item(id, event, Outcome::Applied, now),
                    condition: Some(Condition::NotExists),
                },
                users::not_deleted(&profile.id),
                users::upsert_profile_write(profile, *clerk_updated_at)?,
            ];
            match table.transact(writes).await {
                Ok(()) => Ok(Outcome::Applied),
                Err(StoreError::ConditionFailed { write: Some(0) }) => Ok(Outcome::Duplicate),
                Err(StoreError::ConditionFailed { write: Some(1) }) => {
                    record(table, id, event, Outcome::Deleted, now).await
                }
                Err(StoreError::ConditionFailed { write: Some(2) }) => {
                    record(table, id, event, Outcome::Stale, now).await
                }
                Err(StoreError::ConditionFailed { write: _ }) => {
                    // The backend did not say which write failed: look.
                    if table.get(&delivery_key(id)).await?.is_some() {
                        Ok(Outcome::Duplicate)
                    } else if users::is_deleted(table, &profile.id).await? {
                        record(table, id, event, Outcome::Deleted, now).await
                    } else {
                        record(table, id, event, Outcome::Stale, now).await
                    }
                }
                Err(other) => Err(other),
            }
        }
        Event::Delete { user_id } => {
            if table.get(&delivery_key(id)).await?.is_some() {
                return Ok(Outcome::Duplicate);
            }
            // Recorded only after the sweep completed, so a retry after a failure finishes it.
            let deleted = users::delete_user(table, user_id, now).await?;
            tracing::info!(user_id, deleted, "user deleted with all their data");
            record(table, id, event, Outcome::Applied, now).await
        }
    }
}

/// Remembers delivery `id` with the outcome it had; a concurrent copy that got there first makes
/// this one a duplicate.
async fn record(
    table: &dyn Table,
    id: &str,
    event: &Event,
    outcome: Outcome,
    now: OffsetDateTime,
) -> StoreResult<Outcome> {
    match table.put(delivery_item(id, event, outcome, now), Some(Condition::NotExists)).await {
        Ok(()) => Ok(outcome),
        Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Duplicate),
        Err(other) => Err(other),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(ROUTE, post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)))
}

/// Verify, parse, apply; the body is taken as raw bytes so the signature covers exactly what
/// Svix signed (lambda_http has already decoded a base64-encoded body).
async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(verifier) = state.webhooks.as_deref() else {
        return ApiError::Unavailable {
            message: format!("Clerk webhooks are not configured: set {SECRET_VARIABLE}"),
        }
        .into_response();
    };
    let id = match verifier.verify(&body, &headers) {
        Ok(id) => id,
        Err(rejection) => return rejection.into_response(),
    };
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(rejection) => {
            tracing::warn!(delivery = %id, "verified delivery is not a usable Clerk event");
            return rejection.into_response();
        }
    };
    let now = OffsetDateTime::now_utc();
    match tokio::time::timeout(DEADLINE, apply(state.table.as_ref(), &id, &event, now)).await {
        Ok(Ok(outcome)) => {
            tracing::info!(
                delivery = %id,
                kind = event.kind(),
                user_id = event.user_id().unwrap_or("-"),
                outcome = outcome.as_str(),
                "webhook delivery handled"
            );
            received(outcome)
        }
        Ok(Err(error)) => storage_failure(&id, error),
        Err(_) => {
            tracing::error!(delivery = %id, "webhook delivery ran past its deadline; Svix will retry");
            ApiError::Unavailable {
                message: "Storage is slow right now; the delivery will be retried".into(),
            }
            .into_response()
        }
    }
}

fn received(outcome: Outcome) -> Response {
    let mut response = (StatusCode::OK, "Webhook received").into_response();
    response.headers_mut().insert("x-webhook-outcome", HeaderValue::from_static(outcome.as_str()));
    response
}

/// Storage failed: a 5xx, so Svix retries (a 409 or other 4xx would be just as retried but
/// would blame the sender).
fn storage_failure(id: &str, error: StoreError) -> Response {
    tracing::error!(delivery = %id, %error, "webhook delivery not applied; Svix will retry");
    let error = match error {
        StoreError::Mapping(_) => ApiError::internal(error),
        _ => ApiError::Unavailable {
            message: "Storage is unavailable right now; the delivery will be retried".into(),
        },
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn user(data: Value) -> Vec<u8> {
        serde_json::json!({"type": "user.created", "object": "event", "data": data}).to_string().into_bytes()
    }

    fn clerk_user(first: Value, last: Value, username: Value) -> Value {
        serde_json::json!({
            "id": "user_1", "first_name": first, "last_name": last, "username": username,
            "image_url": "https://img.clerk.com/x", "primary_email_address_id": "idn_2",
            "email_addresses": [
                {"id": "idn_1", "email_address": "old@example.com"},
                {"id": "idn_2", "email_address": "ada.l@example.com"}
            ],
            "created_at": 1_654_012_591_514_i64, "updated_at": 1_654_012_591_835_i64
        })
    }

    #[test]
    fn names_never_carry_null_artefacts() {
        let name = |first: Value, last: Value, username: Value| match parse_event(&user(clerk_user(
            first, last, username,
        ))) {
            Ok(Event::Upsert { profile, .. }) => profile.name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name("Ada".into(), "Lovelace".into(), Value::Null), "Ada Lovelace");
        assert_eq!(name("Ada".into(), Value::Null, Value::Null), "Ada");
        assert_eq!(name(Value::Null, " Lovelace ".into(), Value::Null), "Lovelace");
        assert_eq!(name("null".into(), "undefined".into(), "ada_l".into()), "ada_l");
        assert_eq!(name(Value::Null, Value::Null, Value::Null), "ada.l");
        assert_eq!(name("".into(), "  ".into(), "null".into()), "ada.l");
    }

    #[test]
    fn the_primary_email_and_millisecond_times_are_used() {
        let Ok(Event::Upsert { profile, clerk_updated_at, kind }) =
            parse_event(&user(clerk_user("A".into(), "B".into(), Value::Null)))
        else {
            panic!("not an upsert");
        };
        assert_eq!(kind, "user.created");
        assert_eq!(profile.email, "ada.l@example.com");
        assert_eq!(clerk_updated_at, 1_654_012_591_835);
        assert_eq!(profile.updated_at.unix_timestamp_nanos(), 1_654_012_591_835_000_000);
        assert_eq!(profile.created_at.unix_timestamp(), 1_654_012_591);

        let mut data = clerk_user("A".into(), "B".into(), Value::Null);
        data["primary_email_address_id"] = "idn_9".into();
        assert_eq!(parse_event(&user(data.clone())), Err(Rejection::NoPrimaryEmail));
        data["primary_email_address_id"] = Value::Null;
        assert_eq!(parse_event(&user(data)), Err(Rejection::NoPrimaryEmail));
    }

    #[test]
    fn bodies_that_are_not_the_envelope_are_rejected() {
        for body in [
            &b"not json"[..],
            br#"{"data": {}}"#,
            br#"{"type": "user.created"}"#,
            br#"{"type": "user.created", "data": []}"#,
            br#"{"type": "user.created", "object": "user", "data": {}}"#,
            br#"{"type": "user.created", "object": "event", "data": {"id": "user_1"}}"#,
            br#"{"type": 5, "object": "event", "data": {}}"#,
        ] {
            assert!(
                matches!(parse_event(body), Err(Rejection::Invalid(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let deleted = br#"{"type": "user.deleted", "object": "event", "data": {"deleted": true}}"#;
        assert_eq!(parse_event(deleted), Err(Rejection::NoUserId));
        let other = br#"{"type": "session.created", "object": "event", "data": {"anything": 1}}"#;
        assert_eq!(parse_event(other), Ok(Event::Other { kind: "session.created".into() }));
    }

    #[test]
    fn secrets_are_checked_at_start_up() {
        assert_eq!(WebhookVerifier::from_secrets(SECRET).unwrap().secrets.len(), 1);
        let two = format!("{SECRET} whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        assert_eq!(WebhookVerifier::from_secrets(&two).unwrap().secrets.len(), 2);
        let three = format!("{two} {SECRET}");
        let error = WebhookVerifier::from_secrets(&three).unwrap_err().to_string();
        assert!(error.starts_with("CLERK_WEBHOOK_SIGNING_SECRET is malformed"), "{error}");
        let error = WebhookVerifier::from_secrets("whsec_***").unwrap_err().to_string();
        assert!(error.contains("secret 1 is not a Clerk signing secret"), "{error}");
        assert!(!error.contains("***"), "the secret is never echoed: {error}");
        let error = WebhookVerifier::from_secrets("  ").unwrap_err().to_string();
        assert!(error.starts_with("CLERK_WEBHOOK_SIGNING_SECRET is not set"), "{error}");
        assert!(!format!("{:?}", WebhookVerifier::from_secrets(SECRET).unwrap()).contains("MfKQ"));
    }

    #[tokio::test]
    async fn a_missing_secret_names_the_variable() {
        let none = |_: &str| None;
        assert!(WebhookVerifier::from_vars(&Vars(&none)).await.unwrap().is_none());
        let error = missing().to_string();
        assert!(error.starts_with("CLERK_WEBHOOK_SIGNING_SECRET is not set"), "{error}");
    }
}
