//! Clerk test support: a loopback fake of the JWKS endpoint, a clock tests move by hand, and
//! token helpers for well-formed and deliberately broken session tokens. Test keys are generated
//! at run time (never committed) and cached per test binary.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use darasa::auth::Clock;
use darasa::auth::dev::DevIssuer;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The issuer test tokens claim, shaped like a Clerk development instance.
pub const TEST_ISSUER: &str = "https://test.clerk.accounts.dev";
/// The origin test tokens carry in `azp`.
pub const TEST_ORIGIN: &str = "http://localhost:5173";
/// A fixed "now" so tests are reproducible (2026-01-01T00:00:00Z).
pub const T0: i64 = 1_767_225_600;

/// The main test key (cached: 2048-bit generation takes a moment).
pub fn test_key() -> &'static DevIssuer {
    static KEY: OnceLock<DevIssuer> = OnceLock::new();
    KEY.get_or_init(|| DevIssuer::generate(TEST_ISSUER).expect("generate test key"))
}

/// A second key, for rotation and wrong-key cases.
pub fn other_key() -> &'static DevIssuer {
    static KEY: OnceLock<DevIssuer> = OnceLock::new();
    KEY.get_or_init(|| DevIssuer::generate(TEST_ISSUER).expect("generate second test key"))
}

/// `key`'s public JWK under the given `kid`.
pub fn jwk(key: &DevIssuer, kid: &str) -> Value {
    let mut jwk = key.jwks()["keys"][0].clone();
    jwk["kid"] = Value::String(kid.to_owned());
    jwk
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: impl IntoIterator<Item = Value>) -> Value {
    json!({ "keys": keys.into_iter().collect::<Vec<_>>() })
}

/// Clerk v2 session claims for `sub`, issued at `now`, valid 60 s, with `azp` = [`TEST_ORIGIN`].
pub fn claims(sub: &str, now: i64) -> Value {
    json!({
        "azp": TEST_ORIGIN,
        "exp": now + 60,
        "fva": [0, -1],
        "iat": now,
        "iss": TEST_ISSUER,
        "jti": "a1b2c3",
        "nbf": now - 10,
        "sid": "sess_2abc",
        "sub": sub,
        "v": 2,
    })
}

/// An RS256 header with `kid`, as Clerk sends it.
pub fn rs256_header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    header
}

/// Signs `claims` with `key` under an arbitrary header (the header's `alg` must be RS*).
pub fn sign(key: &DevIssuer, header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, key.encoding_key()).expect("sign test token")
}

/// RS256 token with `kid`, signed by `key`.
pub fn token(key: &DevIssuer, kid: &str, claims: &Value) -> String {
    sign(key, &rs256_header(kid), claims)
}

/// HS256 token with `secret` as the HMAC key (the classic RS/HS confusion attack when `secret` is
/// the public key PEM).
pub fn hs256_token(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign HS256 token")
}

/// A token assembled by hand from raw JSON header and claims and a raw signature segment
/// (`alg: none` and other things no library will produce).
pub fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64_json(header), b64_json(claims))
}

/// Replaces a token's payload segment, keeping its header and signature.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    format!("{header}.{}.{signature}", b64_json(claims))
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The clock tests set and advance (in seconds); clones share the same time.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new(now: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// As the `Arc<dyn Clock>` the verifier takes, sharing this clock's time.
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst) * 1000
    }
}

/// A loopback stand-in for Clerk's JWKS endpoint (`GET /.well-known/jwks.json`).
/// The server task is aborted when this is dropped.
pub struct FakeJwks {
    addr: SocketAddr,
    state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

struct FakeState {
    keys: Mutex<Value>,
    failing: AtomicBool,
    hits: AtomicU64,
    last_authorization: Mutex<Option<String>>,
}

impl FakeJwks {
    /// Starts serving `keys` (a JWKS document) on 127.0.0.1 with an ephemeral port.
    pub async fn start(keys: Value) -> Self {
        let state = Arc::new(FakeState {
            keys: Mutex::new(keys),
            failing: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            last_authorization: Mutex::new(None),
        });
        let app = Router::new().route("/.well-known/jwks.json", get(serve_jwks)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake JWKS");
        let addr = listener.local_addr().expect("fake JWKS address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    /// Replaces the served key set (key rotation).
    pub fn set_keys(&self, keys: Value) {
        *self.state.keys.lock().unwrap() = keys;
    }

    /// While `true`, every request gets a 503 (a Clerk outage).
    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Requests received so far, failed ones included.
    pub fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of the latest request.
    pub fn last_authorization(&self) -> Option<String> {
        self.state.last_authorization.lock().unwrap().clone()
    }
}

impl Drop for FakeJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_jwks(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    *state.last_authorization.lock().unwrap() =
        headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    if state.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "clerk is down").into_response();
    }
    let keys = state.keys.lock().unwrap().clone();
    axum::Json(keys).into_response()
}
