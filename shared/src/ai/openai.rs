//! The OpenAI-compatible adapter of the model port: Chat Completions (`POST
//! {base}/chat/completions`) as OpenAI serves it and as local servers (Ollama, llama.cpp's server,
//! vLLM, LM Studio) imitate it, so any of them can drive the AI routes.
//!
//! Streaming sends `stream: true` with `stream_options.include_usage` (one `chat.completion.chunk`
//! per SSE event, text as `delta.content`, a usage-only chunk and `[DONE]` at the end); whole
//! replies send `stream: false`. What is this protocol's own lives here: the URL, the optional
//! bearer key, messages (our system instruction first, `Role::Model` as `assistant`), structured
//! output as `response_format` with our Gemini-dialect schemas converted to JSON Schema, the
//! reply and error JSON, and finish reasons. Retries, timeouts, continuation at the token limit
//! and usage logs are the shared mechanics (`continuation`, `retry`, `policy`, `sse`).
//!
//! Files are not sent (`reads_files` is false): a request carrying one is refused before any
//! call.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::continuation::{self, Finish, Piece, Provider};
use super::policy::Policy;
use super::retry::ErrorDetail;
use super::{AiError, Generated, Model, ModelRequest, ModelStream, Output, Part, Role, Usage};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The key's variable; in AWS `OPENAI_API_KEY_SECRET_ARN` names a Secrets Manager secret.
pub const API_KEY_VARIABLE: &str = "OPENAI_API_KEY";
pub const BASE_URL_VARIABLE: &str = "OPENAI_BASE_URL";
pub const MODEL_VARIABLE: &str = "OPENAI_MODEL";

/// The name a response schema is sent under (OpenAI requires one; only the resume analysis
/// asks for structured output).
const SCHEMA_NAME: &str = "analysis";

/// Which server, account and model to use.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// Sent as a bearer token when present; local servers usually need none.
    pub api_key: Option<String>,
    /// Up to the API version, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// e.g. `gpt-4o-mini`, or a local server's name such as `llama3.2:3b`.
    pub model: String,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self { api_key: None, base_url: DEFAULT_BASE_URL.into(), model: DEFAULT_MODEL.into() }
    }
}

impl OpenAiConfig {
    /// OpenAI itself, the default model, with this key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self { api_key: Some(api_key.into()), ..Self::default() }
    }
}

impl std::fmt::Debug for OpenAiConfig {
    // Hand-written so the key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish()
    }
}

/// The adapter. Cheap to clone; build it once per process so connections are reused.
#[derive(Clone)]
pub struct OpenAi {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: OpenAiConfig,
    policy: Policy,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi")
            .field("config", &self.inner.config)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl OpenAi {
    pub fn new(config: OpenAiConfig) -> Self {
        Self::with_policy(config, Policy::default())
    }

    pub fn with_policy(config: OpenAiConfig, policy: Policy) -> Self {
        Self { inner: Arc::new(Inner { http: policy.client(), config, policy }) }
    }

    /// The shared handle the routes take.
    pub fn shared(config: OpenAiConfig) -> super::SharedModel {
        Arc::new(Self::new(config))
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.inner.config
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.inner.config.base_url.trim_end_matches('/'))
    }
}

#[async_trait]
impl Model for OpenAi {
    fn name(&self) -> String {
        self.inner.config.model.clone()
    }

    fn reads_files(&self) -> bool {
        false
    }

    fn stream(&self, request: ModelRequest) -> ModelStream {
        continuation::stream(self.clone(), request)
    }

    async fn generate(&self, request: ModelRequest) -> Result<Generated, AiError> {
        continuation::generate(self, request).await
    }
}

impl Provider for OpenAi {
    fn model(&self) -> &str {
        &self.inner.config.model
    }

    fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    fn request(&self, _streamed: bool, body: Vec<u8>) -> reqwest::RequestBuilder {
        let request = self
            .inner
            .http
            .post(self.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        match &self.inner.config.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn encode(&self, request: &ModelRequest, so_far: &str, streamed: bool) -> Result<Vec<u8>, AiError> {
        let mut messages = Vec::with_capacity(request.turns.len() + 2);
        if !request.system.is_empty() {
            messages.push(WireMessage { role: "system", content: Cow::Borrowed(&request.system) });
        }
        for turn in &request.turns {
            let content = match turn.parts.as_slice() {
                [Part::Text(text)] => Cow::Borrowed(text.as_str()),
                parts => {
                    if let Some(Part::File { mime_type, .. }) =
                        parts.iter().find(|part| matches!(part, Part::File { .. }))
                    {
                        return Err(AiError::Rejected {
                            status: 415,
                            message: format!(
                                "this adapter does not send files ({mime_type}); send the file's text instead"
                            ),
                        });
                    }
                    Cow::Owned(turn.text())
                }
            };
            let role = match turn.role {
                Role::User => "user",
                Role::Model => "assistant",
            };
            messages.push(WireMessage { role, content });
        }
        if !so_far.is_empty() {
            messages.push(WireMessage { role: "assistant", content: Cow::Borrowed(so_far) });
        }
        let wire = WireRequest {
            model: &self.inner.config.model,
            messages,
            stream: streamed,
            stream_options: streamed.then_some(WireStreamOptions { include_usage: true }),
            max_tokens: request.max_output_tokens,
            response_format: request.output.as_ref().and_then(response_format),
        };
        serde_json::to_vec(&wire)
            .map_err(|error| AiError::Malformed(format!("encoding the request: {error}")))
    }

    fn read_error(&self, headers: &HeaderMap, body: &str) -> ErrorDetail {
        // OpenAI's own finer-grained delay; `Retry-After` is read by the shared retry.
        let retry_delay = headers
            .get("retry-after-ms")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|millis| millis.is_finite() && *millis >= 0.0)
            .map(|millis| Duration::from_secs_f64(millis.min(86_400_000.0) / 1000.0));
        let (status, message) = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(mut reply)) => match reply.remove("error") {
                Some(error) => error_fields(&error),
                None => (String::new(), String::new()),
            },
            // Not JSON (a proxy's page, a local server's plain text): keep its start for the log.
            _ => (String::new(), body.trim().chars().take(300).collect()),
        };
        ErrorDetail { status, message, retry_delay }
    }

    fn parse_event(&self, data: &str) -> Result<Piece, AiError> {
        if data.trim() == "[DONE]" {
            return Ok(Piece { end: true, ..Piece::default() });
        }
        parse_reply(data.as_bytes())
    }

    fn parse_reply(&self, body: &[u8]) -> Result<Piece, AiError> {
        parse_reply(body)
    }

    fn finish(&self, reason: &str) -> Finish {
        match reason {
            "stop" => Finish::Stop,
            "length" => Finish::MaxTokens,
            "content_filter" => Finish::Blocked(reason.to_owned()),
            // tool_calls, function_call and whatever a server invents.
            other => Finish::Other(other.to_owned()),
        }
    }
}

/// `response_format` for structured output: the schema when there is one, else JSON mode for a
/// JSON reply, else nothing.
fn response_format(output: &Output) -> Option<Value> {
    match &output.schema {
        Some(schema) => Some(json!({
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": json_schema(schema), "strict": false},
        })),
        None => {
            let essence = output.mime_type.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json").then(|| json!({"type": "json_object"}))
        }
    }
}

/// A schema in Gemini's OpenAPI-subset dialect as standard JSON Schema: types in lower case
/// (`nullable` folded into the type), `propertyOrdering` dropped, nested schemas converted;
/// every other keyword (`required`, `enum`, `description`, `minimum`, ...) kept as it is.
fn json_schema(schema: &Value) -> Value {
    let Value::Object(fields) = schema else {
        return schema.clone();
    };
    let nullable = fields.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    let mut converted = Map::with_capacity(fields.len());
    for (keyword, value) in fields {
        let value = match (keyword.as_str(), value) {
            ("propertyOrdering" | "nullable", _) => continue,
            ("type", Value::String(kind)) => {
                let kind = kind.to_ascii_lowercase();
                if nullable { json!([kind, "null"]) } else { json!(kind) }
            }
            // Property names are the reply's keys: only their schemas change.
            ("properties", Value::Object(properties)) => Value::Object(
                properties.iter().map(|(name, property)| (name.clone(), json_schema(property))).collect(),
            ),
            ("items", items) => json_schema(items),
            ("anyOf", Value::Array(choices)) => Value::Array(choices.iter().map(json_schema).collect()),
            (_, other) => other.clone(),
        };
        converted.insert(keyword.clone(), value);
    }
    Value::Object(converted)
}

/// The log label and message of an `error` value: `{"message", "type", "code"}` (`code` a
/// string at OpenAI, a number at some local servers) or a bare string.
fn error_fields(error: &Value) -> (String, String) {
    if let Some(message) = error.as_str() {
        return (String::new(), message.to_owned());
    }
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
    let label = text("code").or_else(|| text("type")).unwrap_or_default();
    (label, text("message").unwrap_or_default())
}

/// A streamed chunk or a whole reply: the first choice's text (`delta` or `message`), its
/// finish reason, and the usage when present.
fn parse_reply(bytes: &[u8]) -> Result<Piece, AiError> {
    let reply: WireReply =
        serde_json::from_slice(bytes).map_err(|error| AiError::Malformed(error.to_string()))?;
    if let Some(error) = reply.error {
        // An error inside a 200 reply: the server gave up mid-reply.
        let (label, message) = error_fields(&error);
        let code = match error.get("code") {
            Some(Value::Number(code)) => code.to_string(),
            Some(Value::String(code)) => code.clone(),
            _ => "-".into(),
        };
        let message = format!("{code} {label}: {message}");
        let rate_limited = code == "429" || label.contains("rate_limit");
        return Err(if rate_limited {
            AiError::Busy { retry_after: None, message }
        } else {
            AiError::Unavailable(message)
        });
    }
    let usage = reply.usage.map(|usage| {
        let output = usage.completion_tokens.unwrap_or(0);
        let reasoning =
            usage.completion_tokens_details.and_then(|details| details.reasoning_tokens).unwrap_or(0);
        let prompt = usage.prompt_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            // OpenAI counts reasoning within the completion; we count it apart, as Gemini does.
            output_tokens: output.saturating_sub(reasoning),
            thoughts_tokens: reasoning,
            total_tokens: usage.total_tokens.unwrap_or(prompt + output),
        }
    });
    let Some(choice) = reply.choices.unwrap_or_default().into_iter().next() else {
        return Ok(Piece { usage, ..Piece::default() });
    };
    let said = choice.delta.or(choice.message).unwrap_or_default();
    if said.refusal.as_deref().is_some_and(|refusal| !refusal.is_empty()) {
        return Err(AiError::Blocked("refusal".into()));
    }
    let texts = said.content.filter(|text| !text.is_empty()).into_iter().collect();
    let finish = choice.finish_reason.filter(|reason| !reason.is_empty());
    Ok(Piece { texts, finish, usage, end: false })
}

// ---- wire types (snake_case, as the protocol spells them) ----

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<WireStreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
}

#[derive(Serialize)]
struct WireStreamOptions {
    include_usage: bool,
}

/// Both a `chat.completion.chunk` and a `chat.completion`: every field may be absent or null.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireReply {
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireChoice {
    delta: Option<WireSaid>,
    message: Option<WireSaid>,
    finish_reason: Option<String>,
}

/// What the model said. Reasoning some servers stream beside it (`reasoning_content`) is not
/// part of the answer and is ignored.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireSaid {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
    completion_tokens_details: Option<WireCompletionDetails>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireCompletionDetails {
    reasoning_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::Turn;

    fn model(api_key: Option<&str>) -> OpenAi {
        OpenAi::new(OpenAiConfig {
            api_key: api_key.map(str::to_owned),
            base_url: "http://127.0.0.1:9/v1/".into(),
            model: "llama3.2:3b".into(),
        })
    }

    #[test]
    fn the_key_never_reaches_a_log_and_the_url_is_the_base_s() {
        let debug = format!("{:?}", model(Some("sk-secret")));
        assert!(!debug.contains("sk-secret") && debug.contains("<redacted>"), "{debug}");
        assert_eq!(model(None).url(), "http://127.0.0.1:9/v1/chat/completions");
    }

    #[test]
    fn request_bodies() {
        let request = ModelRequest {
            system: "Be brief.".into(),
            turns: vec![Turn::user("easy"), Turn::model("What is a closure?"), Turn::user("hard")],
            output: Some(Output { mime_type: "application/json".into(), schema: None }),
            brief: None,
            max_output_tokens: Some(256),
        };
        let body: Value =
            serde_json::from_slice(&model(None).encode(&request, "So far ", true).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "llama3.2:3b",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "easy"},
                    {"role": "assistant", "content": "What is a closure?"},
                    {"role": "user", "content": "hard"},
                    {"role": "assistant", "content": "So far "},
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 256,
                "response_format": {"type": "json_object"},
            })
        );
        let plain =
            ModelRequest { system: String::new(), turns: vec![Turn::user("hi")], ..ModelRequest::default() };
        let body: Value = serde_json::from_slice(&model(None).encode(&plain, "", false).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"model": "llama3.2:3b", "messages": [{"role": "user", "content": "hi"}], "stream": false})
        );
        let file = Turn {
            role: Role::User,
            parts: vec![Part::File { mime_type: "application/pdf".into(), data: vec![1] }],
        };
        let with_file = ModelRequest { turns: vec![file], ..ModelRequest::default() };
        assert!(matches!(
            model(None).encode(&with_file, "", true),
            Err(AiError::Rejected { status: 415, .. })
        ));
    }

    #[test]
    fn gemini_schemas_become_json_schema() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "type": {"type": "STRING", "enum": ["a", "b"], "description": "a property named type"},
                "score": {"type": "NUMBER", "minimum": 0, "maximum": 10},
                "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "nullable": true},
            },
            "required": ["type", "score"],
            "propertyOrdering": ["type", "score", "tags"],
        });
        assert_eq!(
            json_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": ["a", "b"], "description": "a property named type"},
                    "score": {"type": "number", "minimum": 0, "maximum": 10},
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                },
                "required": ["type", "score"],
            })
        );
        let analysis = json_schema(&crate::resumes::analysis::analysis_schema()).to_string();
        assert!(!analysis.contains("propertyOrdering") && !analysis.contains("OBJECT"), "{analysis}");
    }

    #[test]
    fn chunks_replies_and_errors() {
        let openai = model(None);
        let piece = openai
            .parse_event(r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi "},"finish_reason":null}],"usage":null}"#)
            .unwrap();
        assert_eq!(piece, Piece { texts: vec!["Hi ".into()], ..Piece::default() });
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":30,"total_tokens":39,"completion_tokens_details":{"reasoning_tokens":10}}}"#;
        let expected = Usage { prompt_tokens: 9, output_tokens: 20, thoughts_tokens: 10, total_tokens: 39 };
        assert_eq!(openai.parse_event(usage).unwrap().usage, Some(expected));
        assert_eq!(openai.parse_event(" [DONE]").unwrap(), Piece { end: true, ..Piece::default() });
        let whole = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}]}"#;
        let piece = openai.parse_reply(whole).unwrap();
        assert_eq!((piece.texts, piece.finish.as_deref()), (vec!["Done.".to_owned()], Some("stop")));
        let refused = r#"{"choices":[{"index":0,"delta":{"refusal":"I can't"},"finish_reason":null}]}"#;
        assert_eq!(openai.parse_event(refused), Err(AiError::Blocked("refusal".into())));
        assert!(matches!(openai.parse_event("{\"choices\": [{"), Err(AiError::Malformed(_))));
        let mid_stream =
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert!(matches!(openai.parse_event(mid_stream), Err(AiError::Busy { .. })));
        let crashed = r#"{"error":{"code":500,"message":"out of memory","type":"server_error"}}"#;
        assert!(
            matches!(openai.parse_event(crashed), Err(AiError::Unavailable(m)) if m.contains("out of memory"))
        );

        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", "1500".parse().unwrap());
        let body = r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            openai.read_error(&headers, body),
            ErrorDetail {
                status: "rate_limit_exceeded".into(),
                message: "Rate limit reached".into(),
                retry_delay: Some(Duration::from_millis(1500))
            }
        );
        let bare = openai.read_error(&HeaderMap::new(), r#"{"error":"model 'x' not found"}"#);
        assert_eq!((bare.status.as_str(), bare.message.as_str()), ("", "model 'x' not found"));
        assert_eq!(
            openai.read_error(&HeaderMap::new(), "404 page not found\n").message,
            "404 page not found"
        );

        assert_eq!(openai.finish("stop"), Finish::Stop);
        assert_eq!(openai.finish("length"), Finish::MaxTokens);
        assert_eq!(openai.finish("content_filter"), Finish::Blocked("content_filter".into()));
        assert_eq!(openai.finish("tool_calls"), Finish::Other("tool_calls".into()));
    }
}
