//! One model call over HTTP, retried while nothing of it has reached the client: 429, 500, 502,
//! 503, 504 and connection failures are tried again after the server's delay (its error body's
//! or `Retry-After`) or a jittered backoff, until the attempts or the deadline run out or the
//! server asks for longer than the policy allows. Shared by the HTTP adapters; each says how its
//! provider's error bodies read.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::OffsetDateTime;
use time::PrimitiveDateTime;
use time::macros::format_description;
use tokio::time::Instant;

use super::AiError;
use super::policy::{Policy, backoff, bounded_wait};

/// What a provider's error answer tells us.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorDetail {
    /// The provider's name for the error (e.g. `RESOURCE_EXHAUSTED`, `invalid_request_error`).
    pub status: String,
    pub message: String,
    /// A delay the body (or a provider-specific header) asks for; `Retry-After` is read here.
    pub retry_delay: Option<Duration>,
}

/// Sends the request `build` makes until one is answered with a 2xx, and returns that response
/// (its headers read, its body not yet) and when the call that produced it was sent.
///
/// `wait` bounds each attempt from sending to the response's headers: a stream's first-byte
/// timeout, or the total timeout for a reply that only comes once it is whole. `read_error`
/// reads an error answer's headers and body.
pub(crate) async fn send(
    policy: &Policy,
    deadline: Instant,
    (wait, what): (Duration, &'static str),
    build: impl Fn() -> reqwest::RequestBuilder,
    read_error: impl Fn(&HeaderMap, &str) -> ErrorDetail,
) -> Result<(reqwest::Response, Instant), AiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = Instant::now();
        if deadline.saturating_duration_since(sent).is_zero() {
            return Err(AiError::Timeout("total"));
        }
        let (wait, what) = bounded_wait(wait, what, deadline);
        let (error, server_delay) = match tokio::time::timeout(wait, build().send()).await {
            Err(_) => return Err(AiError::Timeout(what)),
            Ok(Ok(response)) if response.status().is_success() => return Ok((response, sent)),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                // An error body is small; do not let a stalled one eat the whole budget.
                let remaining =
                    deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(5));
                let text = match tokio::time::timeout(remaining, response.text()).await {
                    Ok(Ok(text)) => text,
                    _ => String::new(),
                };
                let detail = read_error(&headers, &text);
                let delay = detail.retry_delay.or_else(|| retry_after(&headers, crate::clock::now()));
                let message = format!("{status} {}: {}", detail.status, detail.message);
                match status {
                    429 => (AiError::Busy { retry_after: delay, message }, delay),
                    500 | 502 | 503 | 504 => (AiError::Unavailable(message), delay),
                    _ => return Err(AiError::Rejected { status, message: detail.message }),
                }
            }
            // Not reaching the provider at all is worth another try; anything else is not.
            Ok(Err(error)) if error.is_connect() => {
                (AiError::Unavailable(format!("cannot connect: {}", error_chain(&error))), None)
            }
            Ok(Err(error)) => return Err(AiError::Unavailable(error_chain(&error))),
        };
        if attempt >= policy.max_attempts {
            return Err(error);
        }
        let delay = server_delay.unwrap_or_else(|| backoff(policy.backoff, attempt));
        if delay > policy.max_retry_delay || Instant::now() + delay >= deadline {
            tracing::warn!(%error, ?delay, "not waiting that long for the model");
            return Err(match error {
                AiError::Busy { message, .. } => AiError::Busy { retry_after: Some(delay), message },
                other => other,
            });
        }
        tracing::warn!(%error, attempt, ?delay, "model call failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

/// `Retry-After` as a delay from `now`: whole seconds, or an HTTP date (the IMF-fixdate form
/// servers send, e.g. `Wed, 21 Oct 2026 07:28:00 GMT`; a date already past means no wait).
pub(crate) fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let imf_fixdate = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = PrimitiveDateTime::parse(value, imf_fixdate).ok()?.assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// The error and its causes on one line (reqwest hides the useful part in `source`).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = value.parse() {
            headers.insert(RETRY_AFTER, value);
        }
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = time::macros::datetime!(2026-10-21 07:27:30 UTC);
        assert_eq!(retry_after(&headers("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2026 07:28:00 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2026 07:00:00 GMT"), now), Some(Duration::ZERO), "past");
        for unreadable in ["soon", "-3", "1.5", "21 Oct 2026 07:28:00", "Wed, 21 Oct 2026 07:28:00 PST", ""] {
            assert_eq!(retry_after(&headers(unreadable), now), None, "{unreadable:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
