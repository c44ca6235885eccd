//! A loopback fake of the Gemini REST API (`docs/wire-formats.md`), serving scripted replies in order:
//! SSE streams from `:streamGenerateContent?alt=sse` (pieces sent as separate writes, with
//! pauses, gates the test opens, or a cut connection), JSON from `:generateContent`, and the
//! documented error bodies. It checks `x-goog-api-key` as Gemini does, records every request,
//! and stops when dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use darasa::ai::SharedModel;
use darasa::ai::gemini::{Gemini, GeminiConfig, Policy};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::loopback::LoopbackServer;

/// The key the fake accepts.
pub const FAKE_KEY: &str = "test-gemini-key";
/// The model the adapter is configured with in tests.
pub const FAKE_MODEL: &str = "gemini-2.5-flash";

/// A point a scripted reply waits at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Notify, AtomicBool)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        self.0.1.store(true, Ordering::SeqCst);
        self.0.0.notify_waiters();
    }

    pub fn is_open(&self) -> bool {
        self.0.1.load(Ordering::SeqCst)
    }

    pub async fn wait(&self) {
        loop {
            let notified = self.0.0.notified();
            if self.is_open() {
                return;
            }
            notified.await;
        }
    }
}

/// One step of writing a reply body.
#[derive(Clone)]
pub enum Piece {
    /// Written (and flushed) on its own.
    Bytes(Vec<u8>),
    Sleep(Duration),
    Wait(Gate),
    /// Breaks the connection mid-body.
    Cut,
}

/// A scripted reply.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub extra_headers: Vec<(&'static str, String)>,
    /// Before the status line goes out.
    pub header_delay: Option<Duration>,
    pub pieces: Vec<Piece>,
}

impl Reply {
    /// An SSE stream, one write per event, events separated by `\n\n`.
    pub fn sse(events: &[Value]) -> Self {
        Self::sse_with(events, "\n\n")
    }

    /// An SSE stream with the given event separator (`\n\n` or `\r\n\r\n`).
    pub fn sse_with(events: &[Value], separator: &str) -> Self {
        let pieces = events
            .iter()
            .map(|event| Piece::Bytes(format!("data: {event}{separator}").into_bytes()))
            .collect();
        Self {
            status: 200,
            content_type: "text/event-stream",
            extra_headers: Vec::new(),
            header_delay: None,
            pieces,
        }
    }

    /// The SSE stream of `texts` as deltas, the last event carrying `finish` (e.g. "STOP").
    pub fn stream(texts: &[&str], finish: &str) -> Self {
        Self::sse(&stream_events(texts, finish))
    }

    /// A whole `generateContent` reply.
    pub fn generated(text: &str, finish: &str) -> Self {
        Self::json(200, chunk(Some(text), Some(finish)))
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            content_type: "application/json; charset=UTF-8",
            extra_headers: Vec::new(),
            header_delay: None,
            pieces: vec![Piece::Bytes(body.to_string().into_bytes())],
        }
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

    /// Appends a piece.
    pub fn then(mut self, piece: Piece) -> Self {
        self.pieces.push(piece);
        self
    }

    /// Inserts a piece before piece `index`.
    pub fn insert(mut self, index: usize, piece: Piece) -> Self {
        self.pieces.insert(index, piece);
        self
    }

    /// Re-splits the body into pieces of `size` bytes with `pause` between them, so events and
    /// line ends arrive split across reads.
    pub fn split_every(mut self, size: usize, pause: Duration) -> Self {
        let bytes: Vec<u8> = self
            .pieces
            .iter()
            .flat_map(|piece| match piece {
                Piece::Bytes(bytes) => bytes.clone(),
                _ => Vec::new(),
            })
            .collect();
        self.pieces = bytes
            .chunks(size)
            .flat_map(|chunk| [Piece::Bytes(chunk.to_vec()), Piece::Sleep(pause)])
            .collect();
        self
    }

    pub fn delay_headers(mut self, delay: Duration) -> Self {
        self.header_delay = Some(delay);
        self
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

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running fake.
pub struct FakeGemini {
    script: Arc<Script>,
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
        self.script.replies.lock().unwrap().push_back(reply);
    }

    /// The reply for every request once the queue is empty.
    pub fn always(&self, reply: Reply) {
        *self.script.fallback.lock().unwrap() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
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

/// Test timings: generous timeouts, short backoff, so retries do not slow the suite.
pub fn test_policy() -> Policy {
    Policy {
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(20),
        max_attempts: 3,
        backoff: Duration::from_millis(20),
        max_retry_delay: Duration::from_secs(3),
        max_steps: 10,
    }
}

async fn handle(State(script): State<Arc<Script>>, request: Request) -> Response {
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
    script.requests.lock().unwrap().push(recorded.clone());
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
    let reply =
        script.replies.lock().unwrap().pop_front().or_else(|| script.fallback.lock().unwrap().clone());
    match reply {
        Some(reply) => respond(reply).await,
        None => respond(Reply::error(500, "INTERNAL", "fake: no scripted reply left")).await,
    }
}

async fn respond(reply: Reply) -> Response {
    if let Some(delay) = reply.header_delay {
        tokio::time::sleep(delay).await;
    }
    let pieces = reply.pieces;
    let body = async_stream::stream! {
        for piece in pieces {
            match piece {
                Piece::Bytes(bytes) => yield Ok(Bytes::from(bytes)),
                Piece::Sleep(pause) => tokio::time::sleep(pause).await,
                Piece::Wait(gate) => gate.wait().await,
                Piece::Cut => {
                    // Let what was written reach the client first: hyper drops unflushed data
                    // when a body fails.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    yield Err(std::io::Error::other("fake: connection cut"));
                    return;
                }
            }
        }
    };
    let mut response =
        (StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK), Body::from_stream(body))
            .into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    for (name, value) in reply.extra_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
