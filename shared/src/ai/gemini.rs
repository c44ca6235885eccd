//! The Gemini adapter of the model port: the REST API (`v1beta`) over reqwest with rustls.
//!
//! Streaming uses `:streamGenerateContent?alt=sse` (one `GenerateContentResponse` JSON per SSE
//! event, text as deltas, the last event carrying `finishReason`); whole replies use
//! `:generateContent`. Around both:
//! - retries with jittered backoff on 429/500/502/503/504 and connection failures, only before
//!   the reply's body started (nothing of that call has reached the client), honouring the
//!   server's `RetryInfo.retryDelay` / `Retry-After` and giving up when it asks for too long;
//! - connect, first-byte, idle and total timeouts;
//! - continuation: a reply that stops at the token limit is asked again with the text so far as
//!   a `model` turn, up to `max_steps` calls, and the pieces are joined. Streamed text is held
//!   back to the last whitespace until a call ends, so a word cut by the limit is regenerated
//!   whole instead of reaching the client twice (what the AI SDK's `continueSteps` does);
//! - safety blocks and other finish reasons become `AiError`s; token usage is logged per call.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::{
    AiError, FinishReason, Generated, Model, ModelEvent, ModelRequest, ModelStream, Part, Role, Usage,
};

pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";
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

/// Timeouts, retries and continuation bounds.
#[derive(Debug, Clone)]
pub struct Policy {
    /// To establish the connection.
    pub connect_timeout: Duration,
    /// From sending a streamed request to the first byte of its reply body (thinking happens
    /// here). A whole (`generateContent`) reply is bounded by `total_timeout` alone.
    pub first_byte_timeout: Duration,
    /// Between two pieces of a streamed reply.
    pub idle_timeout: Duration,
    /// For the whole reply: every retry, wait and continuation included.
    pub total_timeout: Duration,
    /// Calls per step, the first included (so `max_attempts - 1` retries).
    pub max_attempts: u32,
    /// First backoff; doubled per retry, jittered.
    pub backoff: Duration,
    /// A server asking to wait longer than this is not waited for.
    pub max_retry_delay: Duration,
    /// Model calls per reply, continuations included.
    pub max_steps: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            // Below the functions' 90 s Lambda timeout, so a slow reply ends with an error part.
            total_timeout: Duration::from_secs(80),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(10),
            max_steps: 10,
        }
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
        // No overall client timeout: a streamed reply may legitimately take a minute; our own
        // first-byte, idle and total deadlines bound it instead.
        let http =
            reqwest::Client::builder().connect_timeout(policy.connect_timeout).build().unwrap_or_default();
        Self { inner: Arc::new(Inner { http, config, policy }) }
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

    /// Sends one call, retrying what is worth retrying. Returns the successful response (its
    /// headers read, its body not yet) and when the call that produced it was sent.
    async fn send(
        &self,
        action: Action,
        body: &[u8],
        deadline: Instant,
    ) -> Result<(reqwest::Response, Instant), AiError> {
        let policy = &self.inner.policy;
        let url = self.url(action);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = Instant::now();
            let remaining = deadline.saturating_duration_since(sent);
            if remaining.is_zero() {
                return Err(AiError::Timeout("total"));
            }
            // `generateContent` sends nothing until the whole reply is ready: only the deadline
            // bounds it. A stream must start within the first-byte timeout.
            let (wait, what) = match action {
                Action::Stream => bounded_wait(policy.first_byte_timeout, "first byte", deadline),
                Action::Generate => bounded_wait(policy.total_timeout, "total", deadline),
            };
            let request = self
                .inner
                .http
                .post(&url)
                .header("x-goog-api-key", &self.inner.config.api_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
            let (error, server_delay) = match tokio::time::timeout(wait, request.send()).await {
                Err(_) => return Err(AiError::Timeout(what)),
                Ok(Ok(response)) if response.status().is_success() => return Ok((response, sent)),
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    let header_delay = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    // An error body is small; do not let a stalled one eat the whole budget.
                    let remaining =
                        deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(5));
                    let text = match tokio::time::timeout(remaining, response.text()).await {
                        Ok(Ok(text)) => text,
                        _ => String::new(),
                    };
                    let detail = error_detail(&text);
                    let delay = detail.retry_delay.or(header_delay);
                    let message = format!("{status} {}: {}", detail.status, detail.message);
                    match status {
                        429 => (AiError::Busy { retry_after: delay, message }, delay),
                        500 | 502 | 503 | 504 => (AiError::Unavailable(message), delay),
                        _ => return Err(AiError::Rejected { status, message: detail.message }),
                    }
                }
                // Not reaching the provider at all is worth another try; anything else is not.
                Ok(Err(error)) if error.is_connect() => {
                    (AiError::Unavailable(format!("cannot connect: {}", error_chain(&error))), None)
                }
                Ok(Err(error)) => return Err(AiError::Unavailable(error_chain(&error))),
            };
            if attempt >= policy.max_attempts {
                return Err(error);
            }
            let delay = server_delay.unwrap_or_else(|| backoff(policy.backoff, attempt));
            if delay > policy.max_retry_delay || Instant::now() + delay >= deadline {
                tracing::warn!(%error, ?delay, "not waiting that long for the model");
                return Err(match error {
                    AiError::Busy { message, .. } => AiError::Busy { retry_after: Some(delay), message },
                    other => other,
                });
            }
            tracing::warn!(%error, attempt, ?delay, "model call failed; retrying");
            tokio::time::sleep(delay).await;
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
            generation_config: request.output.as_ref().map(|output| WireGenerationConfig {
                response_mime_type: &output.mime_type,
                response_schema: output.schema.as_ref(),
            }),
        };
        serde_json::to_vec(&wire)
            .map_err(|error| AiError::Malformed(format!("encoding the request: {error}")))
    }

    /// The next piece of a streamed body: `None` at its end.
    async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
        wait: Duration,
        what: &'static str,
        deadline: Instant,
    ) -> Result<Option<Vec<u8>>, AiError> {
        let (wait, what) = bounded_wait(wait, what, deadline);
        match tokio::time::timeout(wait, response.chunk()).await {
            Err(_) => Err(AiError::Timeout(what)),
            Ok(Ok(chunk)) => Ok(chunk.map(|bytes| bytes.to_vec())),
            Ok(Err(error)) => Err(AiError::Interrupted(error_chain(&error))),
        }
    }

    fn log_call(&self, step: u32, finish: Option<&str>, usage: Usage) {
        crate::telemetry::record_ai_usage(
            &self.inner.config.model,
            crate::telemetry::AiTokens {
                input: usage.prompt_tokens,
                output: usage.output_tokens,
                thinking: usage.thoughts_tokens,
            },
        );
        tracing::info!(
            model = %self.inner.config.model,
            step,
            finish_reason = finish.unwrap_or("-"),
            prompt_tokens = usage.prompt_tokens,
            output_tokens = usage.output_tokens,
            thoughts_tokens = usage.thoughts_tokens,
            total_tokens = usage.total_tokens,
            "model call"
        );
    }

    fn log_reply(&self, steps: u32, usage: Usage) {
        tracing::info!(
            model = %self.inner.config.model,
            steps,
            prompt_tokens = usage.prompt_tokens,
            output_tokens = usage.output_tokens,
            thoughts_tokens = usage.thoughts_tokens,
            total_tokens = usage.total_tokens,
            "model reply complete"
        );
    }
}

/// A phase's wait, cut to what is left before the deadline (and then named after it).
fn bounded_wait(wait: Duration, what: &'static str, deadline: Instant) -> (Duration, &'static str) {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if wait < remaining { (wait, what) } else { (remaining, "total") }
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << (attempt.saturating_sub(1)).min(10));
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(2);
    Duration::from_millis(rand::thread_rng().gen_range(millis / 2..=millis))
}

/// The error and its causes on one line (reqwest hides the useful part in `source`).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl Model for Gemini {
    fn name(&self) -> String {
        self.inner.config.model.trim_start_matches("models/").to_owned()
    }

    fn stream(&self, request: ModelRequest) -> ModelStream {
        let gemini = self.clone();
        Box::pin(async_stream::try_stream! {
            let policy = gemini.inner.policy.clone();
            let deadline = Instant::now() + policy.total_timeout;
            // Everything the client has been sent, across calls.
            let mut emitted = String::new();
            let mut usage = Usage::default();
            let mut step = 0;
            loop {
                step += 1;
                let body = gemini.body(&request, &emitted)?;
                let (mut response, sent) = gemini.send(Action::Stream, &body, deadline).await?;
                let mut decoder = SseDecoder::default();
                // Text after the call's last whitespace, released when the call ends.
                let mut held = String::new();
                let mut released_any = false;
                let mut finish: Option<String> = None;
                let mut call_usage = Usage::default();
                let mut first = true;
                loop {
                    let (wait, what) = if first {
                        (policy.first_byte_timeout.saturating_sub(sent.elapsed()), "first byte")
                    } else {
                        (policy.idle_timeout, "idle")
                    };
                    first = false;
                    let chunk = gemini.next_chunk(&mut response, wait, what, deadline).await?;
                    let events = match &chunk {
                        Some(bytes) => decoder.push(bytes),
                        None => decoder.finish(),
                    };
                    for data in events {
                        let piece = match parse_response(data.as_bytes()) {
                            // Half an event at the very end: the stream was cut, not garbled.
                            Err(AiError::Malformed(error)) if chunk.is_none() => {
                                Err(AiError::Interrupted(format!("the stream ended inside an event ({error})")))
                            }
                            other => other,
                        }?;
                        if let Some(usage) = piece.usage {
                            // Cumulative within a call: the last one counts.
                            call_usage = usage;
                        }
                        for text in piece.texts {
                            held.push_str(&text);
                            if let Some(ready) = take_through_last_whitespace(&mut held) {
                                emitted.push_str(&ready);
                                released_any = true;
                                yield ModelEvent::Text(ready);
                            }
                        }
                        if piece.finish.is_some() {
                            finish = piece.finish;
                        }
                    }
                    if chunk.is_none() {
                        break;
                    }
                }
                gemini.log_call(step, finish.as_deref(), call_usage);
                usage.add(call_usage);
                match finish.as_deref().map(classify_finish) {
                    None => Err(AiError::Interrupted("the stream ended before a finish reason".into()))?,
                    Some(Finish::Stop) => {
                        if !held.is_empty() {
                            emitted.push_str(&held);
                            yield ModelEvent::Text(std::mem::take(&mut held));
                        }
                        if emitted.trim().is_empty() {
                            Err(AiError::Empty)?;
                        }
                        gemini.log_reply(step, usage);
                        yield ModelEvent::StepFinish { reason: FinishReason::Stop, continued: false };
                        break;
                    }
                    Some(Finish::MaxTokens) => {
                        if step >= policy.max_steps {
                            Err(AiError::Truncated(step))?;
                        }
                        // A call without any whitespace keeps its text, so the next one moves on.
                        if !released_any && !held.is_empty() {
                            emitted.push_str(&held);
                            yield ModelEvent::Text(std::mem::take(&mut held));
                        }
                        yield ModelEvent::StepFinish { reason: FinishReason::Length, continued: true };
                    }
                    Some(Finish::Blocked(reason)) => Err(AiError::Blocked(reason))?,
                    Some(Finish::Other(reason)) => Err(AiError::Unfinished(reason))?,
                }
            }
        })
    }

    async fn generate(&self, request: ModelRequest) -> Result<Generated, AiError> {
        let policy = &self.inner.policy;
        let deadline = Instant::now() + policy.total_timeout;
        let mut text = String::new();
        let mut usage = Usage::default();
        for step in 1..=policy.max_steps {
            let body = self.body(&request, &text)?;
            let (response, _) = self.send(Action::Generate, &body, deadline).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let bytes = match tokio::time::timeout(remaining, response.bytes()).await {
                Err(_) => return Err(AiError::Timeout("total")),
                Ok(Err(error)) => return Err(AiError::Interrupted(error_chain(&error))),
                Ok(Ok(bytes)) => bytes,
            };
            let reply = parse_response(&bytes)?;
            let call_usage = reply.usage.unwrap_or_default();
            self.log_call(step, reply.finish.as_deref(), call_usage);
            usage.add(call_usage);
            let mut piece: String = reply.texts.concat();
            match reply.finish.as_deref().map(classify_finish) {
                None => return Err(AiError::Malformed("the reply has no finish reason".into())),
                Some(Finish::Stop) => {
                    text.push_str(&piece);
                    if text.trim().is_empty() {
                        return Err(AiError::Empty);
                    }
                    self.log_reply(step, usage);
                    return Ok(Generated { text, usage, steps: step });
                }
                Some(Finish::MaxTokens) => {
                    // As when streaming: a word cut by the limit is regenerated whole.
                    let cut = take_through_last_whitespace(&mut piece).unwrap_or_default();
                    text.push_str(if cut.is_empty() { &piece } else { &cut });
                }
                Some(Finish::Blocked(reason)) => return Err(AiError::Blocked(reason)),
                Some(Finish::Other(reason)) => return Err(AiError::Unfinished(reason)),
            }
        }
        Err(AiError::Truncated(policy.max_steps))
    }
}

/// Moves `held` up to and including its last whitespace out; `None` when it has none.
fn take_through_last_whitespace(held: &mut String) -> Option<String> {
    let (index, ch) = held.char_indices().rev().find(|(_, ch)| ch.is_whitespace())?;
    let rest = held.split_off(index + ch.len_utf8());
    Some(std::mem::replace(held, rest))
}

/// How a call ended, in our terms.
#[derive(Debug, PartialEq, Eq)]
enum Finish {
    Stop,
    MaxTokens,
    Blocked(String),
    Other(String),
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

/// What one response (or one SSE event) says.
#[derive(Debug, Default, PartialEq)]
struct Piece {
    texts: Vec<String>,
    finish: Option<String>,
    usage: Option<Usage>,
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
    Ok(Piece { texts, finish: candidate.finish_reason, usage })
}

/// What a provider error body tells us.
#[derive(Debug, Default, PartialEq)]
struct ErrorDetail {
    status: String,
    message: String,
    retry_delay: Option<Duration>,
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
    response_mime_type: &'a str,
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

/// Server-sent events, decoded incrementally: bytes go in as they arrive (an event may be split
/// anywhere, even inside a UTF-8 character or a `\r\n`), complete events' `data` come out.
/// Lines end with `\n`, `\r\n` or `\r`; a blank line ends an event; comments and other fields are
/// ignored.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.buffer[start..].iter().position(|b| *b == b'\n' || *b == b'\r') {
            let end = start + offset;
            let terminator = if self.buffer[end] == b'\r' {
                match self.buffer.get(end + 1) {
                    // A `\r` at the end of what we have may be half of a `\r\n`: wait for more.
                    None => break,
                    Some(b'\n') => 2,
                    Some(_) => 1,
                }
            } else {
                1
            };
            let line = String::from_utf8_lossy(&self.buffer[start..end]).into_owned();
            start = end + terminator;
            self.line(&line, &mut events);
        }
        self.buffer.drain(..start);
        events
    }

    /// The stream ended: an event whose blank line never came is still delivered (the caller
    /// finds out whether it is complete JSON).
    pub fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        let rest = std::mem::take(&mut self.buffer);
        let rest = String::from_utf8_lossy(&rest);
        let rest = rest.trim_end_matches(['\r', '\n']);
        if !rest.is_empty() {
            self.line(rest, &mut events);
        }
        self.line("", &mut events);
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(std::mem::take(&mut self.data).join("\n"));
            }
        } else if let Some(value) = line.strip_prefix("data:") {
            self.data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
        // `event:`, `id:`, `retry:` and `:comments` carry nothing Gemini uses.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_anywhere_with_either_separator() {
        let stream = "data: {\"a\":1}\n\ndata: {\"b\":\"é\"}\r\n\r\n: comment\r\ndata: x\r\ndata: y\r\r";
        let bytes = stream.as_bytes();
        let mut decoder = SseDecoder::default();
        let mut whole = decoder.push(bytes);
        // The final `\r` may be half of a `\r\n` until the stream ends.
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é\"}"]);
        whole.extend(decoder.finish());
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é\"}", "x\ny"]);
        // Every split point, including inside the two-byte é and between \r and \n.
        for split in 0..bytes.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.push(&bytes[..split]);
            events.extend(decoder.push(&bytes[split..]));
            events.extend(decoder.finish());
            assert_eq!(events, whole, "split at {split}");
        }
        // One byte at a time.
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for byte in bytes {
            events.extend(decoder.push(std::slice::from_ref(byte)));
        }
        events.extend(decoder.finish());
        assert_eq!(events, whole);
    }

    #[test]
    fn sse_last_event_without_blank_line_is_delivered_at_the_end() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: {\"done\":true}").is_empty());
        assert_eq!(decoder.finish(), ["{\"done\":true}"]);
        assert!(SseDecoder::default().finish().is_empty());
    }

    #[test]
    fn held_text_is_released_through_the_last_whitespace() {
        let mut held = "Explain the borrow che".to_owned();
        assert_eq!(take_through_last_whitespace(&mut held).as_deref(), Some("Explain the borrow "));
        assert_eq!(held, "che");
        assert_eq!(take_through_last_whitespace(&mut held), None);
        let mut held = "a\u{3000}b".to_owned();
        assert_eq!(take_through_last_whitespace(&mut held).as_deref(), Some("a\u{3000}"));
    }

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
}
