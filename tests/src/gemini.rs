//! A loopback fake of the Gemini REST API (`docs/wire-formats.md`), serving scripted replies in order:
//! SSE streams from `:streamGenerateContent?alt=sse` (pieces sent as separate writes, with
//! pauses, gates the test opens, or a cut connection), JSON from `:generateContent`, and the
//! documented error bodies. It checks `x-goog-api-key` as Gemini does, records every request,
//! and stops when dropped. The reply machinery is `scripted`'s.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use darasa::ai::SharedModel;
use darasa::ai::gemini::{Gemini, GeminiConfig, Policy};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::loopback::LoopbackServer;
pub use crate::scripted::{Gate, Piece, test_policy};
use crate::scripted::{Script, respond};

/// The key the fake accepts.
pub const FAKE_KEY: &str = "test-gemini-key";
/// The model the adapter is configured with in tests.
pub const FAKE_MODEL: &str = "gemini-2.5-flash";

/// Gemini's wire format, as the type parameter of its replies.
#[derive(Clone, Copy, Debug)]
pub struct GeminiWire;

/// A scripted reply in Gemini's wire format.
pub type Reply = crate::scripted::Reply<GeminiWire>;

impl Reply {
    /// The SSE stream of `texts` as deltas, the last event carrying `finish` (e.g. "STOP").
    pub fn stream(texts: &[&str], finish: &str) -> Self {
        Self::sse(&stream_events(texts, finish))
    }

    /// A whole `generateContent` reply.
    pub fn generated(text: &str, finish: &str) -> Self {
        Self::json(200, chunk(Some(text), Some(finish)))
    }

    /// A google.rpc.Status error body, as Gemini answers errors.
    pub fn error(status: u16, name: &str, message: &str) -> Self {
        Self::json(status, json!({"error": {"code": status, "message": message, "status": name}}))
    }

    /// 429 RESOURCE_EXHAUSTED asking to retry after `delay` (e.g. "0.4s") via `RetryInfo`.
    pub fn rate_limited(delay: &str) -> Self {
        Self::json(
            429,
            json!({"error": {"code": 429, "message": format!("You exceeded your current quota. Please retry in {delay}."),
                "status": "RESOURCE_EXHAUSTED", "details": [
                    {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}}),
        )
    }

    pub fn unavailable() -> Self {
        Self::error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    }

    pub fn internal() -> Self {
        Self::error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        )
    }
}

/// A `GenerateContentResponse` chunk: a text delta and/or a finish reason, with usage.
pub fn chunk(text: Option<&str>, finish: Option<&str>) -> Value {
    let mut candidate = json!({"index": 0});
    if let Some(text) = text {
        candidate["content"] = json!({"parts": [{"text": text}], "role": "model"});
    }
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 12, "totalTokenCount": 90,
            "thoughtsTokenCount": 38},
        "modelVersion": FAKE_MODEL,
        "responseId": "fake-response",
    })
}

/// Events carrying `texts` as deltas; the last one also carries `finish`.
pub fn stream_events(texts: &[&str], finish: &str) -> Vec<Value> {
    let last = texts.len().saturating_sub(1);
    texts.iter().enumerate().map(|(n, text)| chunk(Some(text), (n == last).then_some(finish))).collect()
}

/// What the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent`.
    pub path: String,
    pub query: Option<String>,
    pub api_key: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Recorded {
    /// The system instruction's text.
    pub fn system(&self) -> String {
        parts_text(&self.body["systemInstruction"])
    }

    /// `(role, text)` of every turn.
    pub fn turns(&self) -> Vec<(String, String)> {
        self.body["contents"]
            .as_array()
            .map(|turns| {
                turns
                    .iter()
                    .map(|turn| (turn["role"].as_str().unwrap_or_default().to_owned(), parts_text(turn)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn parts_text(content: &Value) -> String {
    content["parts"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|part| part["text"].as_str()).collect())
        .unwrap_or_default()
}

/// The running fake.
pub struct FakeGemini {
    script: Arc<Script<GeminiWire, Recorded>>,
    server: LoopbackServer,
}

impl FakeGemini {
    pub async fn start() -> Self {
        let script = Arc::new(Script::default());
        let router = Router::new().fallback(handle).with_state(script.clone());
        Self { script, server: LoopbackServer::start(router).await }
    }

    /// Queues `reply` for the next request not yet answered.
    pub fn push(&self, reply: Reply) {
        self.script.push(reply);
    }

    /// The reply for every request once the queue is empty.
    pub fn always(&self, reply: Reply) {
        self.script.always(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests()
    }

    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The adapter's configuration pointing at this fake.
    pub fn config(&self) -> GeminiConfig {
        GeminiConfig { api_key: FAKE_KEY.into(), model: FAKE_MODEL.into(), base_url: self.base_url() }
    }

    /// The Gemini adapter pointed at this fake.
    pub fn model(&self, policy: Policy) -> SharedModel {
        Arc::new(Gemini::with_policy(self.config(), policy))
    }
}

async fn handle(State(script): State<Arc<Script<GeminiWire, Recorded>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        api_key: header("x-goog-api-key"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    let known_path = recorded.path.starts_with("/v1beta/models/")
        && (recorded.path.ends_with(":streamGenerateContent") || recorded.path.ends_with(":generateContent"));
    script.record(recorded.clone());
    if recorded.api_key.as_deref() != Some(FAKE_KEY) {
        return respond(Reply::error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ))
        .await;
    }
    if parts.method != http::Method::POST || !known_path {
        return respond(Reply::error(404, "NOT_FOUND", "fake: unknown method or path")).await;
    }
    if recorded.body.is_null() {
        return respond(Reply::error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")).await;
    }
    match script.next() {
        Some(reply) => respond(reply).await,
        None => respond(Reply::error(500, "INTERNAL", "fake: no scripted reply left")).await,
    }
}
