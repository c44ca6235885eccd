//! The Gemini adapter of the model port: the REST API (`v1beta`) over reqwest with rustls.
//!
//! Streaming uses `:streamGenerateContent?alt=sse` (one `GenerateContentResponse` JSON per SSE
//! event, text as deltas, the last event carrying `finishReason`); whole replies use
//! `:generateContent`. What is Gemini's own lives here: URLs, the `x-goog-api-key` header, the
//! request and reply JSON, `RetryInfo` delays in error bodies, and which finish reasons are
//! safety blocks. The mechanics every HTTP adapter shares (retries honouring the server's delay,
//! timeouts, continuation at the token limit with held-back text, usage logs) are in
//! `continuation`, `retry`, `policy` and `sse`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::continuation::{self, Finish, Piece, Provider};
pub use super::policy::Policy;
use super::retry::ErrorDetail;
use super::{AiError, Generated, Model, ModelRequest, ModelStream, Part, Role, Usage};

pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";
/// The key's variable; in AWS `GEMINI_API_KEY_SECRET_ARN` names a Secrets Manager secret.
pub const API_KEY_VARIABLE: &str = "GEMINI_API_KEY";
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Which provider account and model to use.
#[derive(Clone, PartialEq, Eq)]
pub struct GeminiConfig {
    pub api_key: String,
    /// e.g. `gemini-2.5-flash` (a `models/` prefix is accepted).
    pub model: String,
    /// Scheme and host, e.g. `https://generativelanguage.googleapis.com`; tests point it at a fake.
    pub base_url: String,
}

impl GeminiConfig {
    /// The default model and endpoint with this key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self { api_key: api_key.into(), model: DEFAULT_MODEL.into(), base_url: DEFAULT_BASE_URL.into() }
    }
}

impl std::fmt::Debug for GeminiConfig {
    // Hand-written so the key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The adapter. Cheap to clone; build it once per process so connections are reused.
#[derive(Clone)]
pub struct Gemini {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: GeminiConfig,
    policy: Policy,
}

impl std::fmt::Debug for Gemini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gemini")
            .field("config", &self.inner.config)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Stream,
    Generate,
}

impl Gemini {
    pub fn new(config: GeminiConfig) -> Self {
        Self::with_policy(config, Policy::default())
    }

    pub fn with_policy(config: GeminiConfig, policy: Policy) -> Self {
        Self { inner: Arc::new(Inner { http: policy.client(), config, policy }) }
    }

    /// The shared handle the routes take.
    pub fn shared(config: GeminiConfig) -> super::SharedModel {
        Arc::new(Self::new(config))
    }

    pub fn config(&self) -> &GeminiConfig {
        &self.inner.config
    }

    fn url(&self, action: Action) -> String {
        let base = self.inner.config.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1beta").unwrap_or(base);
        let model = self.inner.config.model.trim_start_matches("models/");
        match action {
            Action::Stream => format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            Action::Generate => format!("{base}/v1beta/models/{model}:generateContent"),
        }
    }

    /// The request body for one step: the conversation, plus the reply so far as a `model`
    /// turn when continuing.
    fn body(&self, request: &ModelRequest, so_far: &str) -> Result<Vec<u8>, AiError> {
        let mut contents: Vec<WireContent<'_>> = request.turns.iter().map(wire_turn).collect();
        if !so_far.is_empty() {
            contents.push(WireContent { role: Some("model"), parts: vec![WirePart::Text { text: so_far }] });
        }
        let wire = WireRequest {
            system_instruction: (!request.system.is_empty())
                .then(|| WireContent { role: None, parts: vec![WirePart::Text { text: &request.system }] }),
            contents,
            generation_config: (request.output.is_some() || request.max_output_tokens.is_some()).then(|| {
                WireGenerationConfig {
                    max_output_tokens: request.max_output_tokens,
                    response_mime_type: request.output.as_ref().map(|output| output.mime_type.as_str()),
                    response_schema: request.output.as_ref().and_then(|output| output.schema.as_ref()),
                }
            }),
        };
        serde_json::to_vec(&wire)
            .map_err(|error| AiError::Malformed(format!("encoding the request: {error}")))
    }
}

#[async_trait]
impl Model for Gemini {
    fn name(&self) -> String {
        self.inner.config.model.trim_start_matches("models/").to_owned()
    }

    fn stream(&self, request: ModelRequest) -> ModelStream {
        continuation::stream(self.clone(), request)
    }

    async fn generate(&self, request: ModelRequest) -> Result<Generated, AiError> {
        continuation::generate(self, request).await
    }
}

impl Provider for Gemini {
    fn model(&self) -> &str {
        &self.inner.config.model
    }

    fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    fn request(&self, streamed: bool, body: Vec<u8>) -> reqwest::RequestBuilder {
        let action = if streamed { Action::Stream } else { Action::Generate };
        self.inner
            .http
            .post(self.url(action))
            .header("x-goog-api-key", &self.inner.config.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    fn encode(&self, request: &ModelRequest, so_far: &str, _streamed: bool) -> Result<Vec<u8>, AiError> {
        self.body(request, so_far)
    }

    fn read_error(&self, _headers: &HeaderMap, body: &str) -> ErrorDetail {
        error_detail(body)
    }

    fn parse_event(&self, data: &str) -> Result<Piece, AiError> {
        parse_response(data.as_bytes())
    }

    fn parse_reply(&self, body: &[u8]) -> Result<Piece, AiError> {
        parse_response(body)
    }

    fn finish(&self, reason: &str) -> Finish {
        classify_finish(reason)
    }
}

fn classify_finish(reason: &str) -> Finish {
    match reason {
        "STOP" => Finish::Stop,
        "MAX_TOKENS" => Finish::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => Finish::Blocked(reason.to_owned()),
        // LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, unspecified and whatever comes next.
        other => Finish::Other(other.to_owned()),
    }
}

fn parse_response(bytes: &[u8]) -> Result<Piece, AiError> {
    let response: WireResponse =
        serde_json::from_slice(bytes).map_err(|error| AiError::Malformed(error.to_string()))?;
    if let Some(error) = response.error {
        // An error object inside a 200 stream: the provider gave up mid-reply.
        let message = format!("{} {}: {}", error.code, error.status, error.message);
        return Err(match error.code {
            429 => AiError::Busy { retry_after: None, message },
            _ => AiError::Unavailable(message),
        });
    }
    if let Some(reason) = response.prompt_feedback.and_then(|feedback| feedback.block_reason) {
        return Err(AiError::Blocked(format!("prompt: {reason}")));
    }
    let usage = response.usage_metadata.map(|usage| Usage {
        prompt_tokens: usage.prompt_token_count,
        output_tokens: usage.candidates_token_count,
        thoughts_tokens: usage.thoughts_token_count,
        total_tokens: usage.total_token_count,
    });
    let Some(candidate) = response.candidates.into_iter().next() else {
        return Ok(Piece { usage, ..Piece::default() });
    };
    let texts = candidate
        .content
        .map(|content| content.parts)
        .unwrap_or_default()
        .into_iter()
        .filter(|part| !part.thought)
        .filter_map(|part| part.text)
        .filter(|text| !text.is_empty())
        .collect();
    Ok(Piece { texts, finish: candidate.finish_reason, usage, end: false })
}

/// Reads a google.rpc.Status error body; anything else leaves the fields empty.
fn error_detail(body: &str) -> ErrorDetail {
    let Ok(WireResponse { error: Some(error), .. }) = serde_json::from_str::<WireResponse>(body) else {
        return ErrorDetail::default();
    };
    let retry_delay = error
        .details
        .iter()
        .filter(|detail| {
            detail
                .get("@type")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|detail| detail.get("retryDelay").and_then(Value::as_str).and_then(parse_duration));
    ErrorDetail { status: error.status, message: error.message, retry_delay }
}

/// A protobuf Duration in JSON: `"23s"`, `"29.723877525s"`.
fn parse_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

// ---- wire types (v1beta, camelCase) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<WireContent<'a>>,
    contents: Vec<WireContent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<WireGenerationConfig<'a>>,
}

#[derive(Serialize)]
struct WireContent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<WirePart<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum WirePart<'a> {
    Text {
        text: &'a str,
    },
    Inline {
        #[serde(rename = "inlineData")]
        inline_data: WireBlob<'a>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireBlob<'a> {
    mime_type: &'a str,
    data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireGenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<&'a Value>,
}

fn wire_turn(turn: &super::Turn) -> WireContent<'_> {
    let role = match turn.role {
        Role::User => "user",
        Role::Model => "model",
    };
    let parts = turn
        .parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => WirePart::Text { text },
            Part::File { mime_type, data } => {
                WirePart::Inline { inline_data: WireBlob { mime_type, data: STANDARD.encode(data) } }
            }
        })
        .collect();
    WireContent { role: Some(role), parts }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireResponse {
    candidates: Vec<WireCandidate>,
    prompt_feedback: Option<WirePromptFeedback>,
    usage_metadata: Option<WireUsage>,
    error: Option<WireError>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireCandidate {
    content: Option<WireReplyContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireReplyContent {
    parts: Vec<WireReplyPart>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireReplyPart {
    text: Option<String>,
    /// Thought summaries (when enabled) are not part of the answer.
    thought: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WirePromptFeedback {
    block_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireUsage {
    prompt_token_count: u64,
    candidates_token_count: u64,
    thoughts_token_count: u64,
    total_token_count: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireError {
    code: u16,
    message: String,
    status: String,
    details: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_errors_and_retry_delays() {
        let piece = parse_response(
            br#"{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true},{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":11,"totalTokenCount":1122,"thoughtsTokenCount":1103}}"#,
        )
        .unwrap();
        assert_eq!(piece.texts, ["Hi"]);
        assert_eq!(piece.finish.as_deref(), Some("STOP"));
        assert_eq!(
            piece.usage,
            Some(Usage { prompt_tokens: 8, output_tokens: 11, thoughts_tokens: 1103, total_tokens: 1122 })
        );
        let blocked = parse_response(br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#);
        assert_eq!(blocked, Err(AiError::Blocked("prompt: SAFETY".into())));
        assert!(matches!(parse_response(b"{\"candidates\": [{"), Err(AiError::Malformed(_))));
        assert_eq!(parse_response(br#"{"candidates":[{"finishReason":"STOP"}]}"#).unwrap().texts.len(), 0);

        let body = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"29.5s"}]}}"#;
        let detail = error_detail(body);
        assert_eq!(detail.retry_delay, Some(Duration::from_millis(29_500)));
        assert_eq!(detail.status, "RESOURCE_EXHAUSTED");
        assert_eq!(error_detail("<html>bad gateway</html>"), ErrorDetail::default());
        assert_eq!(parse_duration("23s"), Some(Duration::from_secs(23)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(classify_finish("STOP"), Finish::Stop);
        assert_eq!(classify_finish("MAX_TOKENS"), Finish::MaxTokens);
        assert_eq!(classify_finish("SAFETY"), Finish::Blocked("SAFETY".into()));
        assert_eq!(classify_finish("RECITATION"), Finish::Blocked("RECITATION".into()));
        assert_eq!(classify_finish("SOMETHING_NEW"), Finish::Other("SOMETHING_NEW".into()));
    }

    #[test]
    fn urls_and_request_bodies() {
        let mut config = GeminiConfig::new("k");
        config.base_url = "http://127.0.0.1:9/v1beta/".into();
        config.model = "models/gemini-x".into();
        let gemini = Gemini::new(config);
        assert_eq!(
            gemini.url(Action::Stream),
            "http://127.0.0.1:9/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
        );
        assert_eq!(gemini.url(Action::Generate), "http://127.0.0.1:9/v1beta/models/gemini-x:generateContent");
        assert!(!format!("{gemini:?}").contains("\"k\""));

        let request = ModelRequest {
            system: "Be brief.".into(),
            turns: vec![
                super::super::Turn::user("easy"),
                super::super::Turn {
                    role: Role::User,
                    parts: vec![Part::File { mime_type: "application/pdf".into(), data: b"%PDF".to_vec() }],
                },
            ],
            output: Some(super::super::Output {
                mime_type: "application/json".into(),
                schema: Some(serde_json::json!({"type": "OBJECT"})),
            }),
            brief: None,
            max_output_tokens: None,
        };
        let body: Value = serde_json::from_slice(&gemini.body(&request, "So far ").unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "easy"}]},
                    {"role": "user", "parts": [{"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}}]},
                    {"role": "model", "parts": [{"text": "So far "}]},
                ],
                "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}},
            })
        );
    }

    #[test]
    fn an_output_cap_goes_in_the_generation_config() {
        let gemini = Gemini::new(GeminiConfig::new("k"));
        let capped = ModelRequest {
            turns: vec![super::super::Turn::user("easy")],
            max_output_tokens: Some(512),
            ..ModelRequest::default()
        };
        let body: Value = serde_json::from_slice(&gemini.body(&capped, "").unwrap()).unwrap();
        assert_eq!(body["generationConfig"], serde_json::json!({"maxOutputTokens": 512}));
    }
}
