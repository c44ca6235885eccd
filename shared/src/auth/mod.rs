//! Clerk session tokens: where a request carries one, how it is verified, and the `Session` a
//! handler receives. Verification follows Clerk's manual-verification guide and its SDK
//! (`@clerk/backend` `verifyJwt`/`assertions`): RS256 only, signature before claims, 5 s clock
//! skew, `iss`, `azp` against the allowed origins, pending sessions treated as signed out.
//! Time always comes from an injected [`Clock`] so tests can move it without sleeping.

mod cache;
#[cfg(feature = "local")]
pub mod dev;
mod jwks;

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, request::Parts};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;

pub use crate::clock::{Clock, SystemClock};
use crate::error::ApiError;
use crate::plans::Features;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, as Clerk's SDK does (`DEFAULT_CLOCK_SKEW_IN_MS`).
pub const CLOCK_SKEW_SECONDS: i64 = 5;

/// The cookie Clerk sets for same-origin requests.
pub const SESSION_COOKIE: &str = "__session";

/// Where the token-signing public keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A JWKS endpoint (`{iss}/.well-known/jwks.json`, or `https://api.clerk.com/v1/jwks` with
    /// the secret key as `bearer`). Fetched lazily and cached.
    Jwks { url: String, bearer: Option<String> },
    /// Clerk's "JWKS Public Key" (SPKI PEM, `CLERK_JWT_KEY`): no network at all.
    Pem(String),
}

impl std::fmt::Debug for KeySource {
    // Hand-written so the bearer (Clerk's secret key) never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks { url, bearer } => f
                .debug_struct("Jwks")
                .field("url", url)
                .field("bearer", &bearer.as_ref().map(|_| "<redacted>"))
                .finish(),
            Self::Pem(_) => f.write_str("Pem(..)"),
        }
    }
}

/// What the verifier trusts.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Clerk's Frontend API URL; `iss` must equal it, a trailing slash on either side aside
    /// (dashboards show it both ways, and a mismatch would refuse every token).
    pub issuer: String,
    pub keys: KeySource,
    /// Origins allowed in `azp`; empty accepts any.
    pub authorized_parties: Vec<String>,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Session {
    /// Clerk user id (`sub`).
    pub user_id: String,
    /// Clerk session id (`sid`).
    pub session_id: Option<String>,
    /// Plan features from the `fea` claim.
    pub features: Features,
}

/// Why a token was refused. `Display` is what the client reads: short, actionable, and never
/// anything about the keys.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Sign in first: send the session token as `Authorization: Bearer` or the __session cookie")]
    MissingToken,
    #[error("The session token is malformed")]
    Malformed,
    #[error("The session token must be signed with RS256")]
    UnsupportedAlgorithm,
    #[error("The session token has an unsupported type")]
    UnsupportedType,
    #[error("The session token has no key id")]
    MissingKeyId,
    #[error("The session token was signed with an unknown key; sign in again")]
    UnknownKey,
    #[error("The session token signature is invalid")]
    BadSignature,
    #[error("The session token has no expiry")]
    MissingExpiry,
    #[error("The session token has expired; fetch a fresh one")]
    Expired,
    #[error("The session token is not valid yet; check the device clock")]
    NotYetValid,
    #[error("The session token was issued by another issuer")]
    WrongIssuer,
    #[error("The session token has no user")]
    MissingSubject,
    #[error("The session token was issued for another origin")]
    UnauthorizedParty,
    #[error("The session is pending; finish signing in")]
    PendingSession,
    /// The JWKS could not be fetched and nothing is cached (cold start during a Clerk outage).
    #[error("Session keys are unavailable right now; retry shortly")]
    KeysUnavailable,
    /// A configured or generated key is unusable (a deployment problem, not the caller's).
    #[error("invalid signing key configuration: {0}")]
    KeyConfig(String),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            // Neither is the caller's fault; a 401 would make the frontend sign the user out.
            AuthError::KeysUnavailable => Self::Unavailable { message: error.to_string() },
            AuthError::KeyConfig(_) => Self::internal(error),
            other => Self::Unauthorized(other.to_string()),
        }
    }
}

/// Verifies session tokens. Built once per process (Lambda instance) so the JWKS cache survives
/// warm invocations.
pub struct Verifier {
    issuer: String,
    authorized_parties: HashSet<String>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    /// Tokens already verified (see `cache.rs`): a repeated token skips the RSA check.
    tokens: cache::TokenCache,
}

enum Keys {
    Static(Arc<DecodingKey>),
    /// Boxed: the cache is far larger than an `Arc`, and a verifier holds one or the other.
    Jwks(Box<jwks::JwksCache>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("authorized_parties", &self.authorized_parties)
            .field(
                "keys",
                &match self.keys {
                    Keys::Static(_) => "pem",
                    Keys::Jwks(_) => "jwks",
                },
            )
            .finish_non_exhaustive()
    }
}

/// The JOSE header fields we look at, parsed by hand so that `alg: none` or an unknown algorithm
/// is a clean rejection rather than a parse error inside the JWT library.
#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// The claims we use. A claim of the wrong JSON type makes the token malformed.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    iat: Option<f64>,
    #[serde(default)]
    sts: Option<String>,
    #[serde(default)]
    fea: Option<String>,
}

impl Verifier {
    /// Fails only when a PEM key is configured and is not an RSA public key.
    pub fn new(config: AuthConfig, http: reqwest::Client, clock: Arc<dyn Clock>) -> Result<Self, AuthError> {
        let keys = match config.keys {
            KeySource::Pem(pem) => Keys::Static(Arc::new(decoding_key_from_pem(&pem)?)),
            KeySource::Jwks { url, bearer } => {
                Keys::Jwks(Box::new(jwks::JwksCache::new(url, bearer, http, clock.clone())))
            }
        };
        Ok(Self {
            issuer: config.issuer.trim_end_matches('/').to_owned(),
            authorized_parties: config.authorized_parties.into_iter().collect(),
            keys,
            clock,
            tokens: cache::TokenCache::new(cache::DEFAULT_CAPACITY),
        })
    }

    /// Bounds the verified-token cache to `capacity` entries (0 turns it off).
    pub fn with_token_cache_capacity(mut self, capacity: usize) -> Self {
        self.tokens = cache::TokenCache::new(capacity);
        self
    }

    /// Tokens in the verified-token cache now.
    pub fn cached_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Verifications answered from the verified-token cache so far.
    pub fn token_cache_hits(&self) -> u64 {
        self.tokens.hits()
    }

    /// Fetches the JWKS now, if that is where the keys come from, so a cold start's first request
    /// does not: called during Init, beside the table's prime (`AppState::from_config` bounds
    /// both). A failed fetch is left to the first request, as without it.
    pub async fn prime(&self) {
        if let Keys::Jwks(cache) = &self.keys {
            cache.prime().await;
        }
    }

    /// How many JWKS fetches were attempted (0 with a PEM key).
    pub fn jwks_fetch_count(&self) -> u64 {
        match &self.keys {
            Keys::Static(_) => 0,
            Keys::Jwks(cache) => cache.fetch_count(),
        }
    }

    /// Verifies one token: header, signature, then claims.
    pub async fn verify(&self, token: &str) -> Result<Session, AuthError> {
        let header = parse_header(token)?;
        if header.alg != "RS256" {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
            return Err(AuthError::UnsupportedType);
        }
        let key = match &self.keys {
            Keys::Static(key) => key.clone(),
            Keys::Jwks(cache) => {
                let kid =
                    header.kid.as_deref().filter(|kid| !kid.is_empty()).ok_or(AuthError::MissingKeyId)?;
                cache.key(kid).await?
            }
        };
        // The same token verified before with the same key, and not expired: nothing more to
        // check (every other check depends only on the token's bytes and our fixed config).
        let hash = cache::TokenCache::hash(&self.issuer, token);
        let now = self.clock.now();
        if let Some(session) = self.tokens.get(&hash, now, &key) {
            return Ok(session);
        }
        let claims = decode_claims(token, &key)?;
        let exp = claims.exp;
        let session = self.check_claims(claims)?;
        if let Some(exp) = exp {
            self.tokens.insert(hash, session.clone(), exp, key, now);
        }
        Ok(session)
    }

    fn check_claims(&self, claims: Claims) -> Result<Session, AuthError> {
        let now = self.clock.now() as f64;
        let skew = CLOCK_SKEW_SECONDS as f64;
        let exp = claims.exp.ok_or(AuthError::MissingExpiry)?;
        if exp <= now - skew {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + skew) || claims.iat.is_some_and(|iat| iat > now + skew) {
            return Err(AuthError::NotYetValid);
        }
        if claims.iss.as_deref().map(|iss| iss.trim_end_matches('/')) != Some(self.issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
        let user_id = claims.sub.filter(|sub| !sub.is_empty()).ok_or(AuthError::MissingSubject)?;
        if let Some(azp) = &claims.azp
            && !self.authorized_parties.is_empty()
            && !self.authorized_parties.contains(azp)
        {
            return Err(AuthError::UnauthorizedParty);
        }
        if claims.sts.as_deref() == Some("pending") {
            return Err(AuthError::PendingSession);
        }
        Ok(Session {
            user_id,
            session_id: claims.sid,
            features: Features::from_claim(claims.fea.as_deref().unwrap_or_default()),
        })
    }
}

fn parse_header(token: &str) -> Result<JoseHeader, AuthError> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(AuthError::Malformed);
    };
    if header.is_empty() || payload.is_empty() {
        return Err(AuthError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

/// Checks the signature with `key` and deserializes the claims. Time and issuer checks are ours
/// (injected clock, Clerk's skew), so the library's are off.
fn decode_claims(token: &str, key: &DecodingKey) -> Result<Claims, AuthError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm => AuthError::UnsupportedAlgorithm,
            _ => AuthError::Malformed,
        }
    })
}

/// Accepts Clerk's PEM as the dashboard shows it, as an env var with literal `\n`, or squashed
/// onto one line; SPKI ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY").
pub(crate) fn decoding_key_from_pem(pem: &str) -> Result<DecodingKey, AuthError> {
    let pem = pem.trim().replace("\\n", "\n");
    let key = rsa::RsaPublicKey::from_public_key_pem(&pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(&pem))
        .or_else(|_| {
            let der = pem_body(&pem).ok_or(())?;
            rsa::RsaPublicKey::from_public_key_der(&der)
                .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(&der))
                .map_err(|_| ())
        })
        .map_err(|()| AuthError::KeyConfig("the PEM is not an RSA public key".into()))?;
    Ok(DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be()))
}

/// The base64 body between `-----BEGIN …-----` and `-----END …-----`, whitespace removed.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let after_begin = pem.strip_prefix("-----BEGIN ")?;
    let body_start = after_begin.find("-----")? + "-----".len();
    let rest = &after_begin[body_start..];
    let body_end = rest.find("-----END ")?;
    let body: String = rest[..body_end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

/// The session token of a request: `Authorization: Bearer`, else the `__session` cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    bearer.or_else(|| {
        // HTTP/2 may split cookies over several headers; each is `a=b; c=d`.
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| name.trim() == SESSION_COOKIE && !value.trim().is_empty())
            .map(|(_, value)| value.trim().trim_matches('"'))
    })
}

impl<S> FromRequestParts<S> for Session
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Verified once per request even if several extractors ask.
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        let verifier = Arc::<Verifier>::from_ref(state);
        let token = token_from_headers(&parts.headers).ok_or(AuthError::MissingToken)?;
        let session = verifier.verify(token).await.inspect_err(|error| {
            tracing::debug!(%error, "session token rejected");
        })?;
        parts.extensions.insert(session.clone());
        crate::telemetry::record_user(&session.user_id);
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let map = headers(&[(AUTHORIZATION, "Bearer  abc "), (COOKIE, "__session=xyz")]);
        assert_eq!(token_from_headers(&map), Some("abc"));
        let map = headers(&[(AUTHORIZATION, "bearer abc")]);
        assert_eq!(token_from_headers(&map), Some("abc"));
    }

    #[test]
    fn session_cookie_among_others() {
        let map =
            headers(&[(COOKIE, "theme=dark; __session_abc=nope"), (COOKIE, "a=1;__session=tok.en.sig; b=2")]);
        assert_eq!(token_from_headers(&map), Some("tok.en.sig"));
        let map = headers(&[(AUTHORIZATION, "Basic dXNlcg=="), (COOKIE, "x__session=no; __session=")]);
        assert_eq!(token_from_headers(&map), None);
    }

    #[test]
    fn header_must_have_three_segments() {
        assert!(matches!(parse_header("a.b"), Err(AuthError::Malformed)));
        assert!(matches!(parse_header("a.b.c.d"), Err(AuthError::Malformed)));
        assert!(matches!(parse_header("!!.b.c"), Err(AuthError::Malformed)));
    }

    #[cfg(feature = "local")]
    #[test]
    fn pem_squashed_onto_one_line_or_with_escapes() {
        let issuer = dev::DevIssuer::generate("https://dev.example").unwrap();
        let pem = issuer.public_pem();
        assert!(decoding_key_from_pem(&pem).is_ok());
        assert!(decoding_key_from_pem(&pem.replace('\n', "\\n")).is_ok());
        assert!(decoding_key_from_pem(&pem.replace('\n', "")).is_ok());
        assert!(matches!(
            decoding_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(AuthError::KeyConfig(_))
        ));
    }

    #[cfg(feature = "local")]
    #[tokio::test]
    async fn issuer_compared_without_a_trailing_slash() {
        let now = crate::clock::unix_seconds();
        for (configured, in_token) in [
            ("https://dev.example/", "https://dev.example"),
            ("https://dev.example", "https://dev.example/"),
            ("https://dev.example/", "https://dev.example/"),
        ] {
            let minted = dev::DevIssuer::generate(in_token).unwrap();
            let config = AuthConfig {
                issuer: configured.into(),
                keys: KeySource::Pem(minted.public_pem()),
                authorized_parties: vec![],
            };
            let verifier =
                Verifier::new(config, crate::http_client::builder().build().unwrap(), crate::clock::system())
                    .unwrap();
            let session = verifier.verify(&minted.mint("user_1", &[], 60, now)).await;
            assert!(session.is_ok(), "{configured} vs {in_token}: {session:?}");
        }
        let other = dev::DevIssuer::generate("https://other.example").unwrap();
        let config = AuthConfig {
            issuer: "https://dev.example/".into(),
            keys: KeySource::Pem(other.public_pem()),
            authorized_parties: vec![],
        };
        let verifier =
            Verifier::new(config, crate::http_client::builder().build().unwrap(), crate::clock::system())
                .unwrap();
        let refused = verifier.verify(&other.mint("user_1", &[], 60, now)).await;
        assert!(matches!(refused, Err(AuthError::WrongIssuer)));
    }

    #[test]
    fn unavailable_keys_are_a_503_not_a_401() {
        assert_eq!(
            ApiError::from(AuthError::KeysUnavailable).status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(ApiError::from(AuthError::Expired).code(), "UNAUTHENTICATED");
    }
}
