//! A loopback fake of Hume's REST API (`docs/wire-formats.md`): `POST /oauth2-cc/token` (checks Basic
//! auth and `grant_type=client_credentials`) and `GET /v0/evi/chats/{id}` (checks
//! `X-Hume-Api-Key`, zero-based `page_number`, `page_size`), with scripted chats and failures,
//! request counters, and a stop on drop.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use darasa::auth::Clock;
use darasa::hume::{HumeClient, HumeConfig};
use serde_json::{Value, json};

use crate::loopback::LoopbackServer;

pub const FAKE_API_KEY: &str = "test-hume-key";
pub const FAKE_SECRET_KEY: &str = "test-hume-secret";

/// A scripted failure for the next request of one kind.
#[derive(Debug, Clone)]
pub enum Failure {
    Status(u16),
    /// Answers only after this long (longer than the client's timeout: a timeout).
    Delay(Duration),
}

#[derive(Default)]
struct Script {
    /// Chat id -> when it started (Unix ms) and its events, in order.
    chats: Mutex<HashMap<String, (i64, Vec<Value>)>>,
    token_failures: Mutex<VecDeque<Failure>>,
    chat_failures: Mutex<VecDeque<Failure>>,
    token_delay: Mutex<Option<Duration>>,
    expires_in: AtomicI64,
    token_requests: AtomicUsize,
    chat_requests: Mutex<Vec<(String, usize, usize)>>,
}

pub struct FakeHume {
    script: Arc<Script>,
    server: LoopbackServer,
}

impl FakeHume {
    pub async fn start() -> Self {
        let script = Arc::new(Script::default());
        script.expires_in.store(1800, Ordering::SeqCst);
        let router = Router::new()
            .route("/oauth2-cc/token", post(token))
            .route("/v0/evi/chats/{id}", get(chat_events))
            .with_state(script.clone());
        Self { script, server: LoopbackServer::start(router).await }
    }

    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// Stores a chat that started now, with its events (served 100 per page unless the request
    /// asks fewer).
    pub fn chat(&self, id: &str, events: Vec<Value>) {
        self.chat_started_at(id, time::OffsetDateTime::now_utc().unix_timestamp() * 1000, events);
    }

    /// Stores a chat that started at `start_ms` (Unix ms).
    pub fn chat_started_at(&self, id: &str, start_ms: i64, events: Vec<Value>) {
        self.script.chats.lock().unwrap().insert(id.to_owned(), (start_ms, events));
    }

    /// Forgets a chat, as Hume does when its retention ends: it is then a 404.
    pub fn forget_chat(&self, id: &str) {
        self.script.chats.lock().unwrap().remove(id);
    }

    pub fn fail_token(&self, failure: Failure) {
        self.script.token_failures.lock().unwrap().push_back(failure);
    }

    pub fn fail_chat(&self, failure: Failure) {
        self.script.chat_failures.lock().unwrap().push_back(failure);
    }

    /// Every token request waits this long (to make concurrent callers overlap).
    pub fn delay_tokens(&self, delay: Duration) {
        *self.script.token_delay.lock().unwrap() = Some(delay);
    }

    pub fn set_expires_in(&self, seconds: i64) {
        self.script.expires_in.store(seconds, Ordering::SeqCst);
    }

    pub fn token_requests(&self) -> usize {
        self.script.token_requests.load(Ordering::SeqCst)
    }

    /// `(chat id, page_number, page_size)` of every accepted chat request.
    pub fn chat_requests(&self) -> Vec<(String, usize, usize)> {
        self.script.chat_requests.lock().unwrap().clone()
    }

    pub fn config(&self) -> HumeConfig {
        HumeConfig {
            api_key: FAKE_API_KEY.into(),
            secret_key: FAKE_SECRET_KEY.into(),
            base_url: self.base_url(),
        }
    }

    /// A client of this fake on `clock`, giving up on a request after `timeout`.
    pub fn client(&self, clock: Arc<dyn Clock>, timeout: Duration) -> Arc<HumeClient> {
        Arc::new(
            HumeClient::new(self.config(), darasa::http_client::builder().build().unwrap(), clock)
                .with_timeout(timeout),
        )
    }
}

/// A `ReturnChatEvent` as Hume sends it.
pub fn event(kind: &str, role: &str, text: Option<&str>, emotion_features: Option<&str>) -> Value {
    json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "chat_id": "chat",
        "timestamp": 1716244956278i64,
        "role": role,
        "type": kind,
        "message_text": text,
        "emotion_features": emotion_features,
        "metadata": "",
    })
}

async fn failure(failure: Option<Failure>) -> Option<Response> {
    match failure? {
        Failure::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, axum::Json(json!({"message": "fake: scripted failure"}))).into_response())
        }
        Failure::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
    }
}

async fn token(State(script): State<Arc<Script>>, headers: HeaderMap, body: String) -> Response {
    script.token_requests.fetch_add(1, Ordering::SeqCst);
    let delay = *script.token_delay.lock().unwrap();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let next = script.token_failures.lock().unwrap().pop_front();
    if let Some(response) = failure(next).await {
        return response;
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{FAKE_API_KEY}:{FAKE_SECRET_KEY}"))
    );
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    let form = headers.get("content-type").and_then(|v| v.to_str().ok())
        == Some("application/x-www-form-urlencoded");
    if !authorized {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    if !form || body != "grant_type=client_credentials" {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "unsupported_grant_type"})))
            .into_response();
    }
    let n = script.token_requests.load(Ordering::SeqCst);
    axum::Json(json!({
        "access_token": format!("hume-token-{n}"),
        "token_type": "Bearer",
        "expires_in": script.expires_in.load(Ordering::SeqCst),
    }))
    .into_response()
}

async fn chat_events(
    State(script): State<Arc<Script>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let next = script.chat_failures.lock().unwrap().pop_front();
    if let Some(response) = failure(next).await {
        return response;
    }
    if headers.get("x-hume-api-key").and_then(|v| v.to_str().ok()) != Some(FAKE_API_KEY) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Invalid ApiKey"}))).into_response();
    }
    let page_number: usize = query.get("page_number").and_then(|v| v.parse().ok()).unwrap_or(0);
    let page_size: usize = query.get("page_size").and_then(|v| v.parse().ok()).unwrap_or(10).clamp(1, 100);
    script.chat_requests.lock().unwrap().push((id.clone(), page_number, page_size));
    let Some((start_ms, events)) = script.chats.lock().unwrap().get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Chat not found"}))).into_response();
    };
    let page: Vec<Value> = events.iter().skip(page_number * page_size).take(page_size).cloned().collect();
    axum::Json(json!({
        "id": id,
        "chat_group_id": "group",
        "status": "USER_ENDED",
        "start_timestamp": start_ms,
        "end_timestamp": start_ms + 600_000,
        "pagination_direction": "ASC",
        "page_number": page_number,
        "page_size": page_size,
        "total_pages": events.len().div_ceil(page_size),
        "metadata": "",
        "config": {"id": "cfg", "version": 0},
        "events_page": page,
    }))
    .into_response()
}
