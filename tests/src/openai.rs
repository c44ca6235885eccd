//! A loopback fake of an OpenAI-compatible Chat Completions server (wire-formats, "OpenAI-compatible
//! Chat Completions"), serving scripted replies in order: SSE streams of `chat.completion.chunk`s
//! ending with a usage chunk and `data: [DONE]` (pieces sent as separate writes, with pauses,
//! gates the test opens, or a cut connection), whole `chat.completion` JSON, and the documented
//! error bodies. It answers `POST /v1/chat/completions`, checks the bearer key as OpenAI does (or
//! takes none, as a local server), records every request, and stops when dropped. The reply
//! machinery is `scripted`'s.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use darasa::ai::SharedModel;
use darasa::ai::openai::{OpenAi, OpenAiConfig};
use darasa::ai::policy::Policy;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::loopback::LoopbackServer;
pub use crate::scripted::{Gate, Piece, test_policy};
use crate::scripted::{Script, respond};

/// The key the fake accepts (when started with one).
pub const FAKE_KEY: &str = "sk-test-openai-key";
/// The model the adapter is configured with in tests.
pub const FAKE_MODEL: &str = "gpt-4o-mini";
/// Where the fake serves Chat Completions.
pub const PATH: &str = "/v1/chat/completions";

/// The Chat Completions wire format, as the type parameter of its replies.
#[derive(Clone, Copy, Debug)]
pub struct OpenAiWire;

/// A scripted reply in the Chat Completions wire format.
pub type Reply = crate::scripted::Reply<OpenAiWire>;

impl Reply {
    /// A streamed reply of `texts` as deltas ending with `finish` (e.g. "stop"), the usage chunk
    /// and `[DONE]`.
    pub fn stream(texts: &[&str], finish: &str) -> Self {
        Self::chunks(&stream_events(texts, finish))
    }

    /// These chunks as SSE events, then `[DONE]`.
    pub fn chunks(events: &[Value]) -> Self {
        Self::chunks_with(events, "\n\n")
    }

    /// These chunks and `[DONE]` with the given event separator (`\n\n` or `\r\n\r\n`).
    pub fn chunks_with(events: &[Value], separator: &str) -> Self {
        Self::sse_with(events, separator).then(Piece::Bytes(format!("data: [DONE]{separator}").into_bytes()))
    }

    /// A whole (`stream: false`) reply.
    pub fn completion(text: &str, finish: &str) -> Self {
        Self::json(
            200,
            json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_760_000_000,
                "model": FAKE_MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                    "logprobs": null, "finish_reason": finish}],
                "usage": usage(),
            }),
        )
    }

    /// An error body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Self {
        Self::json(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
    }

    /// 429 with `Retry-After: retry_after` (seconds or an HTTP date).
    pub fn rate_limited(retry_after: &str) -> Self {
        Self::error(
            429,
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached for gpt-4o-mini on requests per min (RPM). Please try again later.",
        )
        .header("retry-after", retry_after)
    }

    pub fn server_error(status: u16) -> Self {
        Self::error(status, "server_error", None, "The server had an error while processing your request.")
    }

    pub fn unauthorized() -> Self {
        Self::error(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        )
    }
}

/// The usage the fake reports per call.
pub fn usage() -> Value {
    json!({"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52,
        "completion_tokens_details": {"reasoning_tokens": 0}})
}

/// A `chat.completion.chunk` with a content delta and/or a finish reason.
pub fn chunk(content: Option<&str>, finish: Option<&str>) -> Value {
    let delta = match content {
        Some(text) => json!({"content": text}),
        None => json!({}),
    };
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": FAKE_MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null,
    })
}

/// The last chunk `include_usage` asks for: no choice, the call's usage. `choices` is what it
/// carries for them (`[]` at OpenAI, `null` at some servers), `None` leaving the key out.
pub fn usage_chunk(choices: Option<Value>) -> Value {
    let mut chunk = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_760_000_000,
        "model": FAKE_MODEL, "usage": usage()});
    if let Some(choices) = choices {
        chunk["choices"] = choices;
    }
    chunk
}

/// The chunks OpenAI streams for `texts`: the role with empty content first, a delta per text,
/// the finish reason on an empty delta, then the usage chunk.
pub fn stream_events(texts: &[&str], finish: &str) -> Vec<Value> {
    let mut opening = chunk(Some(""), None);
    opening["choices"][0]["delta"]["role"] = json!("assistant");
    let mut events = vec![opening];
    events.extend(texts.iter().map(|text| chunk(Some(text), None)));
    events.push(chunk(None, Some(finish)));
    events.push(usage_chunk(Some(json!([]))));
    events
}

/// What the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Recorded {
    /// `(role, content)` of every message.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|message| {
                        let field = |name: &str| message[name].as_str().unwrap_or_default().to_owned();
                        (field("role"), field("content"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Server {
    script: Script<OpenAiWire, Recorded>,
    /// The key a caller must present; `None` takes any caller, as a local server does.
    key: Option<&'static str>,
}

/// The running fake.
pub struct FakeOpenAi {
    server: Arc<Server>,
    loopback: LoopbackServer,
}

impl FakeOpenAi {
    /// A fake that wants `FAKE_KEY`, as OpenAI does.
    pub async fn start() -> Self {
        Self::serve(Some(FAKE_KEY)).await
    }

    /// A fake that takes no key, as Ollama or llama.cpp's server does.
    pub async fn keyless() -> Self {
        Self::serve(None).await
    }

    async fn serve(key: Option<&'static str>) -> Self {
        let server = Arc::new(Server { script: Script::default(), key });
        let router = Router::new().fallback(handle).with_state(server.clone());
        Self { server, loopback: LoopbackServer::start(router).await }
    }

    /// Queues `reply` for the next request not yet answered.
    pub fn push(&self, reply: Reply) {
        self.server.script.push(reply);
    }

    /// The reply for every request once the queue is empty.
    pub fn always(&self, reply: Reply) {
        self.server.script.always(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.server.script.requests()
    }

    /// `http://127.0.0.1:<port>/v1`, as an OpenAI base URL ends with the API version.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.loopback.url())
    }

    /// The adapter's configuration pointing at this fake (with its key, if it wants one).
    pub fn config(&self) -> OpenAiConfig {
        OpenAiConfig {
            api_key: self.server.key.map(str::to_owned),
            base_url: self.base_url(),
            model: FAKE_MODEL.into(),
        }
    }

    /// The adapter pointed at this fake.
    pub fn model(&self, policy: Policy) -> SharedModel {
        Arc::new(OpenAi::with_policy(self.config(), policy))
    }
}

async fn handle(State(server): State<Arc<Server>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    server.script.record(recorded.clone());
    if let Some(key) = server.key
        && recorded.authorization.as_deref() != Some(format!("Bearer {key}").as_str())
    {
        return respond(Reply::unauthorized()).await;
    }
    if parts.method != http::Method::POST || recorded.path != PATH {
        return respond(Reply::error(404, "invalid_request_error", None, "fake: unknown method or path"))
            .await;
    }
    if recorded.body.is_null() {
        return respond(Reply::error(
            400,
            "invalid_request_error",
            None,
            "We could not parse the JSON body of your request.",
        ))
        .await;
    }
    match server.script.next() {
        Some(reply) => respond(reply).await,
        None => respond(Reply::server_error(500)).await,
    }
}
