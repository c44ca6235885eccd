//! Session-token verification through a real axum router: what gets in, what gets a 401 (with
//! the handler never running), and how the JWKS cache treats Clerk (TTL, outage, unknown `kid`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use darasa::auth::{AuthConfig, KeySource, Session, Verifier};
use darasa_tests::clerk::{
    FakeJwks, T0, TEST_ISSUER, TEST_ORIGIN, TestClock, claims, hs256_token, jwk, jwks, other_key, raw_token,
    sign, test_key, token, with_payload,
};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const KID: &str = "ins_test_1";
const NEW_KID: &str = "ins_test_2";

#[derive(Clone)]
struct TestState {
    verifier: Arc<Verifier>,
    calls: Arc<AtomicUsize>,
}

impl FromRef<TestState> for Arc<Verifier> {
    fn from_ref(state: &TestState) -> Self {
        state.verifier.clone()
    }
}

async fn whoami(State(state): State<TestState>, session: Session) -> Json<Value> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "userId": session.user_id,
        "sessionId": session.session_id,
        "features": session.features,
    }))
}

struct Harness {
    router: Router,
    calls: Arc<AtomicUsize>,
    verifier: Arc<Verifier>,
    clock: TestClock,
    fake: Option<FakeJwks>,
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
}

fn http() -> reqwest::Client {
    // Loopback must not go through whatever proxy the environment sets.
    darasa::http_client::builder().no_proxy().build().unwrap()
}

impl Harness {
    fn new(config: AuthConfig, fake: Option<FakeJwks>) -> Self {
        let clock = TestClock::new(T0);
        let verifier = Arc::new(Verifier::new(config, http(), clock.shared()).unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let router = Router::new()
            .route("/whoami", get(whoami))
            .with_state(TestState { verifier: verifier.clone(), calls: calls.clone() });
        Self { router, calls, verifier, clock, fake }
    }

    /// Verifier on a fake JWKS serving the test key as `KID`.
    async fn jwks(authorized_parties: &[&str]) -> Self {
        Self::jwks_with(authorized_parties, None).await
    }

    async fn jwks_with(authorized_parties: &[&str], bearer: Option<&str>) -> Self {
        let fake = FakeJwks::start(jwks([jwk(test_key(), KID)])).await;
        let config = AuthConfig {
            issuer: TEST_ISSUER.into(),
            keys: KeySource::Jwks { url: fake.url(), bearer: bearer.map(str::to_owned) },
            authorized_parties: authorized_parties.iter().map(|party| party.to_string()).collect(),
        };
        Self::new(config, Some(fake))
    }

    fn fake(&self) -> &FakeJwks {
        self.fake.as_ref().unwrap()
    }

    fn now(&self) -> i64 {
        darasa::auth::Clock::now(&self.clock)
    }

    /// A valid token for `user_2abc` signed by the test key as `KID`, issued now.
    fn valid_token(&self) -> String {
        token(test_key(), KID, &claims("user_2abc", self.now()))
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, content_type, body }
    }

    async fn bearer(&self, token: &str) -> Reply {
        let request = Request::get("/whoami").header(header::AUTHORIZATION, format!("Bearer {token}"));
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn accepts(&self, token: &str) -> Value {
        let reply = self.bearer(token).await;
        assert_eq!(reply.status, StatusCode::OK, "expected acceptance, got {:?}", reply.body);
        reply.body
    }

    /// 401 problem+json UNAUTHENTICATED, handler not run; returns the detail message.
    async fn rejects(&self, token: &str, case: &str) -> String {
        let calls = self.calls.load(Ordering::SeqCst);
        let reply = self.bearer(token).await;
        assert_unauthenticated(&reply, case);
        assert_eq!(self.calls.load(Ordering::SeqCst), calls, "{case}: the handler ran");
        reply.body["detail"].as_str().unwrap().to_owned()
    }
}

fn assert_unauthenticated(reply: &Reply, case: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}: {:?}", reply.body);
    assert_eq!(reply.content_type.as_deref(), Some("application/problem+json"), "{case}");
    assert_eq!(reply.body["code"], "UNAUTHENTICATED", "{case}");
}

fn claims_with(now: i64, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut value = claims("user_2abc", now);
    edit(value.as_object_mut().unwrap());
    value
}

#[tokio::test]
async fn bearer_token_is_accepted_with_its_features() {
    let harness = Harness::jwks(&[]).await;
    let claims = claims_with(T0, |c| {
        c.insert("fea".into(), json!("u:5_questions,u:1_interview,x:ignored"));
    });
    let body = harness.accepts(&token(test_key(), KID, &claims)).await;
    assert_eq!(
        body,
        json!({"userId": "user_2abc", "sessionId": "sess_2abc", "features": ["1_interview", "5_questions"]})
    );
    assert_eq!(harness.calls.load(Ordering::SeqCst), 1);
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn missing_fea_means_no_features() {
    let harness = Harness::jwks(&[]).await;
    let body = harness.accepts(&harness.valid_token()).await;
    assert_eq!(body["features"], json!([]));
}

#[tokio::test]
async fn session_cookie_is_accepted_among_other_cookies() {
    let harness = Harness::jwks(&[]).await;
    let request = Request::get("/whoami")
        .header(header::COOKIE, "theme=dark; __client_uat=1767225600")
        .header(header::COOKIE, format!("__session_x=nope; __session={}; other=1", harness.valid_token()))
        .body(Body::empty())
        .unwrap();
    let reply = harness.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["userId"], "user_2abc");
}

#[tokio::test]
async fn no_token_is_401() {
    let harness = Harness::jwks(&[]).await;
    let reply = harness.send(Request::get("/whoami").body(Body::empty()).unwrap()).await;
    assert_unauthenticated(&reply, "no token");
    let cookie_without_session =
        Request::get("/whoami").header(header::COOKIE, "theme=dark").body(Body::empty()).unwrap();
    assert_unauthenticated(&harness.send(cookie_without_session).await, "unrelated cookie");
    assert_eq!(harness.calls.load(Ordering::SeqCst), 0);
    assert_eq!(harness.verifier.jwks_fetch_count(), 0, "nothing to verify, nothing fetched");
}

// Long because it is a table: one row per way a token can be wrong, all checked the same way.
#[tokio::test]
async fn bad_tokens_are_401_and_never_reach_the_handler() {
    let harness = Harness::jwks(&[]).await;
    let good = harness.valid_token();
    let public_pem = test_key().public_pem();
    let now = T0;
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed", "not-a-jwt".into(), "malformed"),
        ("malformed segments", "a.b.c".into(), "malformed"),
        ("four segments", format!("{good}.x"), "malformed"),
        ("garbage signature", format!("{}.AAAA", good.rsplit_once('.').unwrap().0), "signature"),
        (
            "expired beyond skew",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("exp".into(), json!(now - 5)))),
            "expired",
        ),
        (
            "nbf beyond skew",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("nbf".into(), json!(now + 6)))),
            "not valid yet",
        ),
        (
            "iat in the future",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("iat".into(), json!(now + 60)))),
            "not valid yet",
        ),
        ("no exp", token(test_key(), KID, &claims_with(now, |c| _ = c.remove("exp"))), "expiry"),
        (
            "wrong issuer",
            token(
                test_key(),
                KID,
                &claims_with(now, |c| _ = c.insert("iss".into(), json!("https://evil.clerk.accounts.dev"))),
            ),
            "issuer",
        ),
        ("no sub", token(test_key(), KID, &claims_with(now, |c| _ = c.remove("sub"))), "user"),
        (
            "empty sub",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("sub".into(), json!("")))),
            "user",
        ),
        (
            "numeric sub",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("sub".into(), json!(42)))),
            "malformed",
        ),
        (
            "pending session",
            token(test_key(), KID, &claims_with(now, |c| _ = c.insert("sts".into(), json!("pending")))),
            "pending",
        ),
        (
            "alg none",
            raw_token(&json!({"alg": "none", "typ": "JWT", "kid": KID}), &claims("user_2abc", now), ""),
            "RS256",
        ),
        (
            "alg none, no signature segment",
            raw_token(&json!({"alg": "none"}), &claims("user_2abc", now), "")
                .trim_end_matches('.')
                .to_owned(),
            "malformed",
        ),
        (
            "HS256 with the public key as secret",
            hs256_token(public_pem.as_bytes(), KID, &claims("user_2abc", now)),
            "RS256",
        ),
        (
            "RS512",
            sign(
                test_key(),
                &{
                    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
                    header.kid = Some(KID.into());
                    header
                },
                &claims("user_2abc", now),
            ),
            "RS256",
        ),
        (
            "typ not JWT",
            sign(
                test_key(),
                &{
                    let mut header = darasa_tests::clerk::rs256_header(KID);
                    header.typ = Some("at+jwt".into());
                    header
                },
                &claims("user_2abc", now),
            ),
            "type",
        ),
        (
            "no kid",
            sign(
                test_key(),
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
                &claims("user_2abc", now),
            ),
            "key id",
        ),
        ("tampered payload", with_payload(&good, &claims("user_evil", now)), "signature"),
        (
            "signed by another key under a known kid",
            token(other_key(), KID, &claims("user_2abc", now)),
            "signature",
        ),
    ];
    for (case, token, detail) in cases {
        let message = harness.rejects(&token, case).await;
        assert!(message.contains(detail), "{case}: detail {message:?} should mention {detail:?}");
    }
    // Every case above was judged with the one key set fetched for the first case that got that far.
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn clock_skew_of_five_seconds_is_tolerated() {
    let harness = Harness::jwks(&[]).await;
    let nearly_expired = claims_with(T0, |c| _ = c.insert("exp".into(), json!(T0 - 4)));
    harness.accepts(&token(test_key(), KID, &nearly_expired)).await;
    let nearly_valid = claims_with(T0, |c| {
        c.insert("nbf".into(), json!(T0 + 5));
        c.insert("iat".into(), json!(T0 + 5));
    });
    harness.accepts(&token(test_key(), KID, &nearly_valid)).await;
}

#[tokio::test]
async fn azp_is_checked_against_the_allowed_origins() {
    let harness = Harness::jwks(&[TEST_ORIGIN, "https://darasa.example"]).await;
    harness.accepts(&harness.valid_token()).await;
    let absent = claims_with(T0, |c| _ = c.remove("azp"));
    harness.accepts(&token(test_key(), KID, &absent)).await;
    let calls = harness.calls.load(Ordering::SeqCst);

    let foreign = claims_with(T0, |c| _ = c.insert("azp".into(), json!("https://evil.example")));
    let reply = harness.bearer(&token(test_key(), KID, &foreign)).await;
    assert_unauthenticated(&reply, "azp not allowed");
    assert!(reply.body["detail"].as_str().unwrap().contains("origin"));
    assert_eq!(harness.calls.load(Ordering::SeqCst), calls, "the handler ran");

    // With no allow-list, any origin is fine.
    let open = Harness::jwks(&[]).await;
    open.accepts(&token(test_key(), KID, &foreign)).await;
}

#[tokio::test]
async fn jwks_fetch_sends_the_configured_bearer() {
    let harness = Harness::jwks_with(&[], Some("sk_test_secret")).await;
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.fake().last_authorization().as_deref(), Some("Bearer sk_test_secret"));
}

#[tokio::test]
async fn unknown_kid_is_throttled_then_accepted_after_rotation() {
    let harness = Harness::jwks(&[]).await;
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);

    // Signed by a key Clerk has not published (yet); valid for an hour.
    let rotated_claims = claims_with(T0, |c| _ = c.insert("exp".into(), json!(T0 + 3600)));
    let rotated = token(other_key(), NEW_KID, &rotated_claims);
    let detail = harness.rejects(&rotated, "unknown kid").await;
    assert!(detail.contains("unknown key"), "{detail}");

    // A burst of forged kids must not turn into a burst of JWKS fetches.
    let before = harness.verifier.jwks_fetch_count();
    let burst: Vec<_> = (0..20).map(|_| harness.bearer(&rotated)).collect();
    for reply in futures::future::join_all(burst).await {
        assert_unauthenticated(&reply, "unknown kid burst");
    }
    assert!(
        harness.verifier.jwks_fetch_count() - before <= 1,
        "burst caused {} fetches",
        harness.verifier.jwks_fetch_count() - before
    );
    assert_eq!(harness.fake().hits(), harness.verifier.jwks_fetch_count());

    // Clerk publishes the new key; within the throttle window we still do not ask again.
    harness.fake().set_keys(jwks([jwk(test_key(), KID), jwk(other_key(), NEW_KID)]));
    harness.rejects(&rotated, "unknown kid inside the throttle window").await;
    let fetches = harness.verifier.jwks_fetch_count();

    harness.clock.advance(5 * 60);
    let body = harness.accepts(&rotated).await;
    assert_eq!(body["userId"], "user_2abc");
    assert_eq!(harness.verifier.jwks_fetch_count(), fetches + 1);
    // Both keys now verify without further fetches.
    harness.accepts(&harness.valid_token()).await;
    harness.accepts(&rotated).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), fetches + 1);
}

#[tokio::test]
async fn cold_burst_with_unknown_kid_fetches_once() {
    let harness = Harness::jwks(&[]).await;
    let unknown = token(other_key(), NEW_KID, &claims("user_2abc", T0));
    let burst: Vec<_> = (0..20).map(|_| harness.bearer(&unknown)).collect();
    for reply in futures::future::join_all(burst).await {
        assert_unauthenticated(&reply, "cold unknown kid burst");
    }
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);
    assert_eq!(harness.fake().hits(), 1);
    assert_eq!(harness.calls.load(Ordering::SeqCst), 0);
    // And the cache it filled serves the known key.
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn jwks_is_refetched_after_an_hour() {
    let harness = Harness::jwks(&[]).await;
    harness.accepts(&harness.valid_token()).await;
    harness.clock.advance(3599);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 1, "still fresh");

    harness.clock.advance(1);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 2, "refetched after the TTL");
    assert_eq!(harness.fake().hits(), 2);

    // A rotation that drops the old key takes effect at the next TTL refetch.
    harness.fake().set_keys(jwks([jwk(other_key(), NEW_KID)]));
    harness.clock.advance(3600);
    harness.rejects(&harness.valid_token(), "retired key").await;
    harness.accepts(&token(other_key(), NEW_KID, &claims("user_2abc", harness.now()))).await;
}

#[tokio::test]
async fn cached_keys_survive_a_clerk_outage() {
    let harness = Harness::jwks(&[]).await;
    harness.accepts(&harness.valid_token()).await;

    harness.fake().fail(true);
    harness.clock.advance(3600);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 2, "tried to refresh");

    // Backing off: no attempt on every request.
    for _ in 0..5 {
        harness.accepts(&harness.valid_token()).await;
    }
    assert_eq!(harness.verifier.jwks_fetch_count(), 2, "backs off after a failure");

    harness.clock.advance(30);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 3, "retries after the back-off");

    // Clerk is back: the next attempt refreshes and the cache is fresh again.
    harness.fake().fail(false);
    harness.clock.advance(30);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 4);
    harness.clock.advance(60);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 4, "fresh again");
    assert_eq!(harness.fake().hits(), 4);
}

#[tokio::test]
async fn clerk_down_at_cold_start_is_503_not_401() {
    let harness = Harness::jwks(&[]).await;
    harness.fake().fail(true);
    let reply = harness.bearer(&harness.valid_token()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "UNAVAILABLE");
    assert_eq!(harness.calls.load(Ordering::SeqCst), 0);

    harness.fake().fail(false);
    let reply = harness.bearer(&harness.valid_token()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "backing off");
    assert_eq!(harness.verifier.jwks_fetch_count(), 1);

    harness.clock.advance(30);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 2);
}

#[tokio::test]
async fn priming_fetches_the_keys_so_the_first_token_needs_no_fetch() {
    let harness = Harness::jwks(&[]).await;
    harness.verifier.prime().await;
    assert_eq!((harness.verifier.jwks_fetch_count(), harness.fake().hits()), (1, 1));

    harness.accepts(&harness.valid_token()).await;
    harness.verifier.prime().await;
    assert_eq!(harness.fake().hits(), 1, "the first token and a second prime found the keys held");
}

#[tokio::test]
async fn a_failed_prime_leaves_the_fetch_to_the_first_request_unthrottled() {
    let harness = Harness::jwks(&[]).await;
    harness.fake().fail(true);
    harness.verifier.prime().await;
    assert_eq!(harness.fake().hits(), 1);

    // Clerk is back a moment later, well inside the throttle that follows a failed refresh.
    harness.fake().fail(false);
    harness.clock.advance(1);
    harness.accepts(&harness.valid_token()).await;
    assert_eq!(harness.fake().hits(), 2);
}

#[tokio::test]
async fn pem_key_source_needs_no_network() {
    // No fake server, and a client that cannot reach anything: the PEM is all we need.
    let harness = Harness::new(test_key().auth_config(), None);
    let claims = claims_with(T0, |c| _ = c.insert("fea".into(), json!("u:unlimited_questions")));
    // Clerk's PEM mode does not need a kid.
    let no_kid = sign(test_key(), &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims);
    let body = harness.accepts(&no_kid).await;
    assert_eq!(body["features"], json!(["unlimited_questions"]));
    harness.accepts(&test_key().mint("user_dev", &["5_questions"], 60, T0)).await;
    harness.verifier.prime().await;
    assert_eq!(harness.verifier.jwks_fetch_count(), 0);

    let fresh = Harness::new(test_key().auth_config(), None);
    fresh.rejects(&token(other_key(), DEV_KID, &claims), "other key in PEM mode").await;
    fresh
        .rejects(&hs256_token(test_key().public_pem().as_bytes(), DEV_KID, &claims), "HS256 in PEM mode")
        .await;
}

const DEV_KID: &str = darasa::auth::dev::DevIssuer::KID;

#[test]
fn bad_pem_is_a_configuration_error() {
    let config = AuthConfig {
        issuer: TEST_ISSUER.into(),
        keys: KeySource::Pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n".into()),
        authorized_parties: Vec::new(),
    };
    let error = Verifier::new(config, http(), TestClock::new(T0).shared()).unwrap_err();
    assert!(!error.to_string().contains("nope"), "the message must not echo key material");
}

// The verified-token cache: a repeated token skips the signature check, but only the very same
// bytes, only before `exp`, only with the key that verified it, and never beyond its bound.

#[tokio::test]
async fn a_repeated_token_is_answered_from_the_cache() {
    let harness = Harness::jwks(&[]).await;
    let token = harness.valid_token();
    harness.accepts(&token).await;
    assert_eq!((harness.verifier.cached_tokens(), harness.verifier.token_cache_hits()), (1, 0));
    let body = harness.accepts(&token).await;
    assert_eq!(body["userId"], "user_2abc");
    assert_eq!(harness.verifier.token_cache_hits(), 1);
}

#[tokio::test]
async fn a_tampered_token_is_never_served_from_the_cache() {
    let harness = Harness::jwks(&[]).await;
    let token = harness.valid_token();
    harness.accepts(&token).await;
    // Same header and signature, another user in the claims.
    let forged = with_payload(&token, &claims("user_admin", harness.now()));
    harness.rejects(&forged, "payload swapped under a cached signature").await;
    // The signature truncated, or one character changed.
    harness.rejects(&token[..token.len() - 2], "signature truncated").await;
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    harness.rejects(&String::from_utf8(flipped).unwrap(), "signature changed").await;
    assert_eq!(harness.verifier.token_cache_hits(), 0);
    assert_eq!(harness.verifier.cached_tokens(), 1);
}

#[tokio::test]
async fn a_cached_token_is_not_served_past_its_exp() {
    let harness = Harness::jwks(&[]).await;
    let token = harness.valid_token(); // exp = T0 + 60
    harness.accepts(&token).await;
    harness.clock.set(T0 + 59);
    harness.accepts(&token).await;
    assert_eq!(harness.verifier.token_cache_hits(), 1);
    // From exp on, full verification decides: it still grants the 5 s skew, then refuses.
    harness.clock.set(T0 + 60);
    harness.accepts(&token).await;
    assert_eq!(harness.verifier.token_cache_hits(), 1, "not from the cache at exp");
    harness.clock.set(T0 + 65);
    harness.rejects(&token, "expired").await;
    assert_eq!(harness.verifier.token_cache_hits(), 1);
}

#[tokio::test]
async fn a_cached_token_is_not_served_once_its_key_is_replaced() {
    let harness = Harness::jwks(&[]).await;
    let long_lived = token(
        test_key(),
        KID,
        &claims_with(T0, |c| {
            c.insert("exp".into(), json!(T0 + 7_200));
        }),
    );
    harness.accepts(&long_lived).await;
    // Clerk now publishes another key under the same kid; after the hourly refresh the token no
    // longer verifies, and its cache entry (made with the old key) must not say otherwise.
    harness.fake().set_keys(jwks([jwk(other_key(), KID)]));
    harness.clock.set(T0 + 3_600);
    harness.rejects(&long_lived, "cached, but its key was replaced").await;
    assert_eq!(harness.verifier.token_cache_hits(), 0);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let fake = FakeJwks::start(jwks([jwk(test_key(), KID)])).await;
    let config = AuthConfig {
        issuer: TEST_ISSUER.into(),
        keys: KeySource::Jwks { url: fake.url(), bearer: None },
        authorized_parties: Vec::new(),
    };
    let clock = TestClock::new(T0);
    let verifier = Verifier::new(config, http(), clock.shared()).unwrap().with_token_cache_capacity(8);
    for n in 0..40 {
        let token = token(test_key(), KID, &claims(&format!("user_{n}"), T0));
        verifier.verify(&token).await.unwrap();
        assert!(verifier.cached_tokens() <= 8, "{} entries", verifier.cached_tokens());
    }
    // Off entirely: every request verifies.
    let off =
        Verifier::new(test_key().auth_config(), http(), clock.shared()).unwrap().with_token_cache_capacity(0);
    let token = test_key().mint("user_x", &[], 60, T0);
    off.verify(&token).await.unwrap();
    off.verify(&token).await.unwrap();
    assert_eq!((off.cached_tokens(), off.token_cache_hits()), (0, 0));
}
