//! The JWKS cache. Keys live for the whole process (a Lambda instance serves many requests), are
//! refreshed hourly, survive a Clerk outage, and an unknown `kid` cannot make us hammer Clerk.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::{AuthError, Clock};

/// Keys older than this are refetched on next use.
pub(crate) const TTL_SECONDS: i64 = 60 * 60;
/// After a failed fetch, no new attempt before this (cached keys keep being served meanwhile).
pub(crate) const RETRY_AFTER_FAILURE_SECONDS: i64 = 30;
/// An unknown `kid` triggers a refetch only if no fetch started within this window, so a flood of
/// forged `kid`s costs Clerk at most one request per window.
pub(crate) const UNKNOWN_KID_THROTTLE_SECONDS: i64 = 5 * 60;
/// Per-fetch HTTP timeout; a stuck Clerk must not eat the Lambda's time budget.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS is a few hundred bytes; anything near this is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(crate) struct JwksCache {
    url: String,
    bearer: Option<String>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    /// Held while fetching so concurrent callers wait for one fetch instead of each starting one.
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// Start of the last successful fetch; the TTL counts from here.
    fetched_at: Option<i64>,
    /// Start of the last fetch attempt, successful or not; an unknown `kid` is throttled by it.
    attempted_at: Option<i64>,
    /// Earliest time a new attempt may start after a failure.
    retry_at: i64,
}

impl State {
    /// Whether a caller that needs `kid` at `now` should fetch the JWKS.
    fn should_fetch(&self, kid: &str, now: i64) -> bool {
        if now < self.retry_at {
            return false;
        }
        let fresh = self.fetched_at.is_some_and(|at| now - at < TTL_SECONDS);
        let throttled = self.attempted_at.is_some_and(|at| now - at < UNKNOWN_KID_THROTTLE_SECONDS);
        !fresh || (!self.keys.contains_key(kid) && !throttled)
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

impl JwksCache {
    pub(crate) fn new(
        url: String,
        bearer: Option<String>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            url,
            bearer,
            http,
            clock,
            state: RwLock::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for `kid`, fetching the JWKS first when the cache is stale or lacks it (within the
    /// throttles).
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        let (fetch, cached) = {
            let state = self.read();
            (state.should_fetch(kid, self.clock.now()), state.keys.get(kid).cloned())
        };
        match (fetch, cached) {
            (false, Some(key)) => return Ok(key),
            (false, None) => return Err(self.missing()),
            (true, Some(_)) => {
                // Stale but known: one caller refreshes; the others answer from the cache instead
                // of queueing behind Clerk.
                if let Ok(_guard) = self.refresh.try_lock() {
                    let still_needed = self.read().should_fetch(kid, self.clock.now());
                    if still_needed {
                        self.refresh_now().await;
                    }
                }
            }
            (true, None) => {
                let _guard = self.refresh.lock().await;
                // Whoever held the lock may have fetched already; the throttles then say no.
                let still_needed = self.read().should_fetch(kid, self.clock.now());
                if still_needed {
                    self.refresh_now().await;
                }
            }
        }
        // Only a successful fetch replaces the map, so a kid missing now was retired by Clerk.
        let key = self.read().keys.get(kid).cloned();
        key.ok_or_else(|| self.missing())
    }

    /// The error for a `kid` we do not have: unknown if we have a key set, else unavailable.
    fn missing(&self) -> AuthError {
        if self.read().fetched_at.is_some() { AuthError::UnknownKey } else { AuthError::KeysUnavailable }
    }

    /// A poisoned lock only means a panic elsewhere mid-update; the map is still consistent
    /// (updates are single assignments), so keep using it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches the key set unless one is held: during a cold start's Init, so the first request
    /// finds the keys (in AWS a fetch is a new TLS connection to Clerk, at the function's share of
    /// a CPU once Init is over). A failure is logged and throttles nothing: the first request
    /// that needs a key tries again.
    pub(crate) async fn prime(&self) {
        let _guard = self.refresh.lock().await;
        if self.read().fetched_at.is_some() {
            return;
        }
        if let Err((cause, _)) = self.attempt().await {
            tracing::warn!(%cause, "JWKS fetch during start-up failed; the first request retries");
        }
    }

    /// Fetches once and records the outcome. Callers hold `refresh`.
    async fn refresh_now(&self) {
        if let Err((cause, started)) = self.attempt().await {
            let mut state = self.write();
            state.attempted_at = Some(started);
            // Keep whatever keys we have: a Clerk outage must not sign everyone out.
            tracing::warn!(%cause, cached_keys = state.keys.len(), "JWKS fetch failed");
            state.retry_at = started + RETRY_AFTER_FAILURE_SECONDS;
        }
    }

    /// One counted fetch, its keys stored if it succeeds; else why it failed and when it started.
    /// Callers hold `refresh`.
    async fn attempt(&self) -> Result<(), (String, i64)> {
        let started = self.clock.now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = self.fetch().await.map_err(|cause| (cause, started))?;
        tracing::debug!(keys = keys.len(), "JWKS refreshed");
        let mut state = self.write();
        state.attempted_at = Some(started);
        state.keys = keys;
        state.fetched_at = Some(started);
        state.retry_at = 0;
        Ok(())
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let mut request =
            self.http.get(&self.url).timeout(FETCH_TIMEOUT).header("Accept", "application/json");
        if let Some(bearer) = &self.bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.map_err(|error| format!("request failed: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        if response.content_length().is_some_and(|length| length > MAX_BODY_BYTES as u64) {
            return Err("body too large".into());
        }
        let body = response.bytes().await.map_err(|error| format!("reading body: {error}"))?;
        if body.len() > MAX_BODY_BYTES {
            return Err("body too large".into());
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|error| format!("not a JWKS: {error}"))?;
        let keys: HashMap<_, _> = set.keys.iter().filter_map(usable_key).collect();
        if keys.is_empty() {
            // Treated as a failure so a broken response cannot wipe good keys.
            return Err("no usable RS256 signing keys".into());
        }
        Ok(keys)
    }
}

/// An RSA signing key for RS256 (or with no `alg`/`use`, which permit it), keyed by `kid`.
fn usable_key(jwk: &serde_json::Value) -> Option<(String, Arc<DecodingKey>)> {
    let field = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    if field("kty") != Some("RSA") {
        return None;
    }
    if field("alg").is_some_and(|alg| alg != "RS256") || field("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    let kid = field("kid").filter(|kid| !kid.is_empty())?;
    let key = DecodingKey::from_rsa_components(field("n")?, field("e")?).ok()?;
    Some((kid.to_owned(), Arc::new(key)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_rs256_signing_keys_are_kept() {
        let keys = [
            json!({"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}),
            json!({"kty":"RSA","kid":"b","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB"}),
            json!({"kty":"RSA","kid":"c","use":"enc","n":"AQAB","e":"AQAB"}),
            json!({"kty":"RSA","kid":"d","alg":"RS512","n":"AQAB","e":"AQAB"}),
            json!({"kty":"EC","kid":"e","crv":"P-256","x":"AA","y":"AA"}),
            json!({"kty":"RSA","n":"AQAB","e":"AQAB"}),
            json!({"kty":"RSA","kid":"g","n":"!!","e":"AQAB"}),
        ];
        let mut kept: Vec<String> = keys.iter().filter_map(usable_key).map(|(kid, _)| kid).collect();
        kept.sort();
        assert_eq!(kept, ["a", "b"]);
    }

    #[test]
    fn throttles() {
        let mut state = State::default();
        assert!(state.should_fetch("k", 100));
        state.fetched_at = Some(100);
        state.attempted_at = Some(100);
        state.keys.insert("k".into(), Arc::new(DecodingKey::from_rsa_raw_components(&[1], &[1])));
        assert!(!state.should_fetch("k", 100 + TTL_SECONDS - 1));
        assert!(state.should_fetch("k", 100 + TTL_SECONDS));
        assert!(!state.should_fetch("other", 100 + UNKNOWN_KID_THROTTLE_SECONDS - 1));
        assert!(state.should_fetch("other", 100 + UNKNOWN_KID_THROTTLE_SECONDS));
        state.attempted_at = Some(100 + TTL_SECONDS);
        state.retry_at = 100 + TTL_SECONDS + RETRY_AFTER_FAILURE_SECONDS;
        assert!(!state.should_fetch("k", 100 + TTL_SECONDS + 1));
        assert!(state.should_fetch("k", state.retry_at));
    }
}
