//! The API as a test drives it: one builder for every test app (a real store, and the model,
//! Hume client and webhook secrets a test wants), tokens from one test issuer, requests through
//! `tower::ServiceExt::oneshot`.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use darasa::AppState;
use darasa::ai::SharedModel;
use darasa::auth::Verifier;
use darasa::auth::dev::DevIssuer;
use darasa::hume::HumeClient;
use darasa::protect::{Modes, Protection};
use darasa::store::SharedTable;
use darasa::webhooks::WebhookVerifier;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Which adapter a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Dynamo,
    Embedded,
}

/// Runs an async test body `fn(Store)` once per adapter, as two tests named `<name>::dynamo` and
/// `<name>::embedded`.
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

/// The one verifier of test tokens.
pub fn verifier() -> Arc<Verifier> {
    Arc::new(
        Verifier::new(
            issuer().auth_config(),
            darasa::http_client::builder().build().unwrap(),
            darasa::clock::system(),
        )
        .expect("verifier"),
    )
}

/// A fresh table on `store`, and the directory that must outlive an embedded one.
pub async fn table(store: Store) -> (SharedTable, Option<tempfile::TempDir>) {
    match store {
        Store::Dynamo => (Arc::new(crate::dynamodb::test_table().await), None),
        Store::Embedded => {
            let dir = tempfile::tempdir().expect("temp dir");
            let table = darasa::store::embedded::EmbeddedTable::open(&dir.path().join("store.redb"))
                .expect("embedded store");
            (Arc::new(table), Some(dir))
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub table: SharedTable,
    /// Keeps the embedded store's directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

/// What a test app is built with; everything but the store is optional.
#[derive(Default)]
pub struct TestAppBuilder {
    table: Option<(SharedTable, Option<tempfile::TempDir>)>,
    store: Option<Store>,
    model: Option<SharedModel>,
    hume: Option<Arc<HumeClient>>,
    webhooks: Option<Arc<WebhookVerifier>>,
    protection: Option<Arc<Protection>>,
}

impl TestAppBuilder {
    /// Serves the AI routes with `model` (the offline engine otherwise, as the local host).
    pub fn model(mut self, model: SharedModel) -> Self {
        self.model = Some(model);
        self
    }

    /// Serves the Hume routes with `hume`.
    pub fn hume(mut self, hume: Arc<HumeClient>) -> Self {
        self.hume = Some(hume);
        self
    }

    /// Verifies webhook deliveries with these secrets (`whsec_…`, space-separated).
    pub fn webhook_secrets(mut self, secrets: &str) -> Self {
        self.webhooks = Some(Arc::new(WebhookVerifier::from_secrets(secrets).expect("webhook secrets")));
        self
    }

    /// Protects the routes with these modes (the local host's defaults otherwise: shield and
    /// rate limits live, bots only reported, since test requests carry no User-Agent).
    pub fn protection(mut self, modes: Modes) -> Self {
        self.protection = Some(Arc::new(Protection::new(modes, darasa::clock::system())));
        self
    }

    /// Shares these rules (and their in-process caches) with another app.
    pub fn shared_protection(mut self, protection: Arc<Protection>) -> Self {
        self.protection = Some(protection);
        self
    }

    /// Uses this table instead of a fresh one (a wrapper that fails on purpose, a shared table).
    pub fn table(mut self, table: SharedTable) -> Self {
        self.table = Some((table, None));
        self
    }

    /// The state the app serves with.
    pub async fn state(self) -> (AppState, Option<tempfile::TempDir>) {
        let (table, dir) = match (self.table, self.store) {
            (Some(table), _) => table,
            (None, Some(store)) => table(store).await,
            (None, None) => table(Store::Embedded).await,
        };
        let protection = self
            .protection
            .unwrap_or_else(|| Arc::new(Protection::new(Modes::LOCAL, darasa::clock::system())));
        let mut state = AppState::new(table, verifier()).with_protection(protection);
        // As the local host: the offline engine unless a test gives a model.
        state = state.with_model(self.model.unwrap_or_else(darasa::ai::offline::OfflineModel::shared));
        if let Some(hume) = self.hume {
            state = state.with_hume(hume);
        }
        if let Some(webhooks) = self.webhooks {
            state = state.with_webhooks(webhooks);
        }
        (state, dir)
    }

    pub async fn build(self) -> TestApp {
        let (state, dir) = self.state().await;
        let table = state.table.clone();
        let router = darasa::app::serve(darasa::app::all_routes(), state);
        TestApp { router, table, _dir: dir }
    }
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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

    /// Asserts a plain-text answer (the AI routes' errors): status, exact body, content type.
    pub fn assert_plain(&self, status: StatusCode, body: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.text(), body);
        assert_eq!(self.header("content-type"), Some("text/plain; charset=utf-8"));
    }
}

impl TestApp {
    /// The builder, on `store`.
    pub fn builder(store: Store) -> TestAppBuilder {
        TestAppBuilder { store: Some(store), ..TestAppBuilder::default() }
    }

    /// Every route on a fresh `store`, with no model, Hume or webhook secret.
    pub async fn new(store: Store) -> Self {
        Self::builder(store).build().await
    }

    pub fn token(&self, user: &str, features: &[&str]) -> String {
        issuer().mint(user, features, 600, now())
    }

    /// Sends a request.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        send(&self.router, request).await
    }

    /// Sends a request on its own task, so a test can act while it is in flight.
    pub fn spawn(&self, request: Request<Body>) -> tokio::task::JoinHandle<TestResponse> {
        let router = self.router.clone();
        tokio::spawn(async move { send(&router, request).await })
    }

    /// `method path` with an optional token, JSON body and extra headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.send(request(method, path, token, body, headers)).await
    }
}

/// A request as `TestApp::call` sends it.
pub fn request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> Request<Body> {
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
    builder.body(body).expect("request")
}

/// Sends `request` through `router` and collects the whole response.
pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router.clone().oneshot(request).await.expect("router is infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    TestResponse { status: parts.status, headers: parts.headers, body }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Puts `subject`'s rate-limit item into `app`'s counters, as a test starts from: `attributes`
/// (a window's `count#<start>`, `blockedUntil`...) and a TTL ten minutes away.
pub async fn seed_window(
    app: &TestApp,
    subject: &darasa::protect::window::Subject,
    attributes: serde_json::Value,
) {
    let mut item = serde_json::json!({ "pk": subject.pk, "sk": subject.sk, "expiresAt": now() + 600 });
    item.as_object_mut().expect("an object").extend(attributes.as_object().cloned().expect("attributes"));
    app.table.counters().put(item.as_object().cloned().expect("an item"), None).await.expect("seed");
}

/// The item holding `subject`'s window, empty when there is none.
pub async fn window_item(app: &TestApp, subject: &darasa::protect::window::Subject) -> darasa::store::Item {
    let key = darasa::store::Key::new(subject.pk.clone(), subject.sk.clone());
    app.table.counters().get(&key).await.expect("read").unwrap_or_default()
}

/// A numeric attribute of `subject`'s window item, 0 when absent (as the limiter reads it).
pub async fn number(app: &TestApp, subject: &darasa::protect::window::Subject, name: &str) -> i64 {
    window_item(app, subject).await.get(name).and_then(serde_json::Value::as_i64).unwrap_or(0)
}
