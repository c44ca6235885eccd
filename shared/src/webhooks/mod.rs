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
//!
//! Signatures are checked in `verify`, events parsed in `events`, applied in `apply`; the route
//! is in `routes`.

mod apply;
mod events;
mod routes;
mod verify;

use std::time::Duration;

pub use apply::{Outcome, apply, delivery_key};
pub use events::{Event, display_name, parse_event};
pub use routes::routes;
pub use verify::{Rejection, WebhookVerifier, missing as missing_secret, sign_headers};

/// The route Clerk's webhook endpoint points at.
pub const ROUTE: &str = "/api/webhooks/clerk";

/// The variable holding the signing secret(s).
pub use crate::config::WEBHOOK_SECRET_VARIABLE as SECRET_VARIABLE;

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
pub(crate) const MAX_DELIVERY_ID: usize = 256;
/// Longest Clerk user id accepted (Clerk's are about 32 characters).
pub(crate) const MAX_USER_ID: usize = 256;
