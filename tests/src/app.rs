//! The API as a test drives it: every function's router over a real store (DynamoDB Local or
//! the embedded file), tokens from a dev issuer, requests through `tower::ServiceExt::oneshot`.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use darasa::AppState;
use darasa::auth::dev::DevIssuer;
use darasa::auth::{SystemClock, Verifier};
use darasa::store::SharedTable;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Which adapter a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Dynamo,
    Embedded,
}

/// Runs an async test body `fn(Store)` once per adapter, as two tests named `<name>_dynamo` and
/// `<name>_embedded`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn dynamo() {
                    super::$name($crate::app::Store::Dynamo).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn embedded() {
                    super::$name($crate::app::Store::Embedded).await
                }
            }
        )*
    };
}

/// The issuer tests mint tokens with (one RSA key per test binary: key generation is slow).
pub fn issuer() -> &'static DevIssuer {
    static ISSUER: OnceLock<DevIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| DevIssuer::generate("https://tests.darasa.invalid").expect("test RSA key"))
}

pub struct TestApp {
    pub router: Router,
    pub table: SharedTable,
    /// Keeps the embedded store's directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts a problem+json error with this status and code.
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        assert_eq!(self.json()["code"], code, "body: {}", String::from_utf8_lossy(&self.body));
    }
}

impl TestApp {
    pub async fn new(store: Store) -> Self {
        let (table, dir): (SharedTable, _) = match store {
            Store::Dynamo => (Arc::new(crate::dynamodb::test_table().await), None),
            Store::Embedded => {
                let dir = tempfile::tempdir().expect("temp dir");
                let table = darasa::store::embedded::EmbeddedTable::open(&dir.path().join("store.redb"))
                    .expect("embedded store");
                (Arc::new(table), Some(dir))
            }
        };
        Self::with_table(table, dir)
    }

    pub fn with_table(table: SharedTable, dir: Option<tempfile::TempDir>) -> Self {
        let verifier = Verifier::new(issuer().auth_config(), reqwest::Client::new(), Arc::new(SystemClock))
            .expect("verifier");
        let state = AppState::new(table.clone(), Arc::new(verifier));
        let router = darasa::app::serve(darasa::app::all_routes(), state);
        Self { router, table, _dir: dir }
    }

    pub fn token(&self, user: &str, features: &[&str]) -> String {
        issuer().mint(user, features, 600, now())
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("router is infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes().to_vec();
        TestResponse { status: parts.status, headers: parts.headers, body }
    }

    /// `method path` as `user` with an optional JSON body and extra headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body.map(|json| Body::from(json.to_string())).unwrap_or_else(Body::empty);
        self.send(builder.body(body).expect("request")).await
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
