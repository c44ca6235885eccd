//! The model port: what the AI routes ask of a language model, independent of the provider and
//! of any resource. A request is a system instruction plus alternating user/model turns
//! (optionally files and a response schema) and the same ask as a neutral `brief`; a reply is
//! either streamed as text deltas or returned whole. Adapters: the Gemini REST API (`gemini`),
//! OpenAI-compatible Chat Completions (`openai`: OpenAI, Ollama, llama.cpp, vLLM, LM Studio),
//! which share their HTTP mechanics (`continuation`, `retry`, `policy`, `sse`), and the offline
//! engine (`offline`), which answers from the brief alone. Which one serves is configuration
//! (`config::ModelConfig`). Each resource writes its own prompts; `prompt` has the quoting they
//! share.

pub mod brief;
mod continuation;
pub mod gemini;
pub mod offline;
pub mod openai;
pub mod policy;
pub mod prompt;
mod retry;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// Who said a turn. Gemini calls the assistant `model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Model,
}

/// One piece of a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A file sent inline (a resume PDF, say), with its MIME type as uploaded.
    File {
        mime_type: String,
        data: Vec<u8>,
    },
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Turn {
    pub fn user(text: impl Into<String>) -> Self {
        Self { role: Role::User, parts: vec![Part::Text(text.into())] }
    }

    pub fn model(text: impl Into<String>) -> Self {
        Self { role: Role::Model, parts: vec![Part::Text(text.into())] }
    }

    /// The text of the turn's text parts, joined.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                Part::File { .. } => None,
            })
            .collect()
    }
}

/// Structured output: the reply is JSON (or another MIME type) matching `schema`, given in the
/// provider's schema dialect (Gemini: a subset of OpenAPI 3.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub mime_type: String,
    pub schema: Option<serde_json::Value>,
}

/// What the model is asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelRequest {
    /// The system instruction: the role, the context and the rules of the reply.
    pub system: String,
    /// The conversation, oldest first; the last turn is the user's.
    pub turns: Vec<Turn>,
    pub output: Option<Output>,
    /// The same request in neutral, structured terms (for engines that do not read prose).
    pub brief: Option<brief::Brief>,
    /// A cap on the reply's tokens per model call; `None` leaves the provider's default. A reply
    /// that reaches it is continued like one that reaches the provider's own limit.
    pub max_output_tokens: Option<u32>,
}

/// Why one model call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The reply is complete.
    Stop,
    /// The reply reached the output-token limit (and the next call continues it).
    Length,
}

impl FinishReason {
    /// The AI SDK's name for it (`finishReason` in the data stream).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// What a reply stream yields. A complete reply ends with `StepFinish { reason: Stop,
/// continued: false }`; a failed one ends with an `Err` item instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelEvent {
    /// The next piece of the reply text.
    Text(String),
    /// One model call ended; `continued` when the reply stopped at the token limit and the next
    /// call carries on from the text so far.
    StepFinish { reason: FinishReason, continued: bool },
    /// What a complete answer to the reply covers, when the reply is a question and the model
    /// says so (the offline engine does): kept with the question to grade answers against.
    KeyPoints(Vec<String>),
}

/// Tokens spent, summed over every call of one reply (absent counts are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub thoughts_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.output_tokens += other.output_tokens;
        self.thoughts_tokens += other.thoughts_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub text: String,
    pub usage: Usage,
    /// How many model calls it took (more than one when the reply was continued).
    pub steps: u32,
}

/// A stream of reply events; lazy: nothing is sent until it is first polled.
pub type ModelStream = BoxStream<'static, Result<ModelEvent, AiError>>;

/// The shared handle the routes take.
pub type SharedModel = Arc<dyn Model>;

/// A language model.
#[async_trait]
pub trait Model: Send + Sync + 'static {
    /// Streams the reply. Errors before the first event (retries exhausted, timeouts) and after
    /// it (a cut stream, a safety block) both arrive as the stream's last item.
    fn stream(&self, request: ModelRequest) -> ModelStream;

    /// The whole reply at once.
    async fn generate(&self, request: ModelRequest) -> Result<Generated, AiError>;

    /// The model's name, recorded with what it produced (e.g. `gemini-2.5-flash`).
    fn name(&self) -> String {
        "unknown".into()
    }

    /// Whether the model reads `Part::File`s. One that does not fails a request carrying one
    /// (`AiError::Rejected`, before anything is sent), so a route gives it the file's text.
    fn reads_files(&self) -> bool {
        true
    }
}

/// Why a reply failed. `Display` is for the log (it may quote the provider); what a client may
/// read is `public_message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiError {
    /// Rate-limited (429) after the retries, or asked to wait longer than we may.
    #[error("the model is rate-limited (retry after {retry_after:?}): {message}")]
    Busy { retry_after: Option<Duration>, message: String },
    /// 5xx after the retries, or the provider could not be reached.
    #[error("the model is unavailable: {0}")]
    Unavailable(String),
    /// No answer in time.
    #[error("the model did not answer in time ({0})")]
    Timeout(&'static str),
    /// The provider refused the request (a 4xx other than 429): our configuration or request.
    #[error("the model provider refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The prompt or the reply was blocked by the provider's safety filters.
    #[error("the reply was blocked ({0})")]
    Blocked(String),
    /// The reply stopped for another reason than completion or the token limit.
    #[error("the reply stopped early ({0})")]
    Unfinished(String),
    /// Still at the token limit after the last continuation.
    #[error("the reply was still incomplete after {0} calls")]
    Truncated(u32),
    /// The stream ended (or broke) before the reply was complete.
    #[error("the reply stream was cut: {0}")]
    Interrupted(String),
    /// The reply was complete but held no text.
    #[error("the model returned an empty reply")]
    Empty,
    /// The provider's answer could not be read.
    #[error("unreadable reply from the model: {0}")]
    Malformed(String),
}

impl AiError {
    /// What the client is told: clear, and never the provider's own words or our configuration.
    pub fn public_message(&self) -> String {
        match self {
            Self::Busy { retry_after: Some(delay), .. } => format!(
                "The AI model is busy right now; try again in {} s",
                delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
            ),
            Self::Busy { retry_after: None, .. } => {
                "The AI model is busy right now; try again shortly".into()
            }
            Self::Unavailable(_) => "The AI model is unavailable right now; try again shortly".into(),
            Self::Timeout(_) => "The AI model took too long to answer; try again".into(),
            Self::Rejected { .. } => "The AI model could not handle this request".into(),
            Self::Blocked(_) => {
                "The AI model declined to answer this (safety filter); rephrase and try again".into()
            }
            Self::Unfinished(_) | Self::Empty | Self::Malformed(_) => {
                "The AI model did not finish its answer; try again".into()
            }
            Self::Truncated(_) => "The AI model's answer was too long to finish; try again".into(),
            Self::Interrupted(_) => "The AI model's answer was cut off; try again".into(),
        }
    }
}

/// What an AI route answers (with 503) in a process built without a model: a function whose
/// entry does not need one, or a test. A deployed AI function always has one (the offline engine
/// when no provider is configured).
pub fn not_configured_message() -> String {
    "No AI model is configured for this function".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_messages_hide_provider_details() {
        let errors = [
            AiError::Busy { retry_after: Some(Duration::from_millis(1500)), message: "quota xyz".into() },
            AiError::Unavailable("10.0.0.1 refused".into()),
            AiError::Rejected { status: 400, message: "API key not valid".into() },
            AiError::Malformed("expected value at line 1".into()),
        ];
        for error in errors {
            let public = error.public_message();
            for secret in ["xyz", "10.0.0.1", "API key", "line 1"] {
                assert!(!public.contains(secret), "{public}");
            }
        }
        assert!(
            AiError::Busy { retry_after: Some(Duration::from_millis(1500)), message: String::new() }
                .public_message()
                .contains("2 s")
        );
    }
}
