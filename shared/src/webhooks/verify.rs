//! Svix signature checks over the exact body bytes, with up to two secrets so Clerk's signing
//! secret can be rotated without dropping deliveries; what a refused delivery is told.

use http::HeaderMap;
use svix::webhooks::{Webhook, WebhookError};

use super::{MAX_DELIVERY_ID, MAX_SECRETS, SECRET_VARIABLE};
use crate::config::ConfigError;

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

/// The three Svix headers over `body`, signed with `secret` at `timestamp` (epoch seconds): what
/// Clerk sends with a delivery. For the local host's sender and the cold-start benchmark.
pub fn sign_headers(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], WebhookError> {
    let signature = Webhook::new(secret)?.sign(id, timestamp, body)?;
    Ok([("svix-id", id.to_owned()), ("svix-timestamp", timestamp.to_string()), ("svix-signature", signature)])
}

/// The start-up error of a function that needs the secret and has none.
pub fn missing() -> ConfigError {
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

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

    #[test]
    fn a_missing_secret_names_the_variable() {
        let error = missing().to_string();
        assert!(error.starts_with("CLERK_WEBHOOK_SIGNING_SECRET is not set"), "{error}");
    }
}
