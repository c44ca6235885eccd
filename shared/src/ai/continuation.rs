//! One reply as one or more model calls, for the HTTP adapters. A reply that stops at the token
//! limit is asked for again with the text so far as the model's own turn, up to `max_steps`
//! calls, and the pieces are joined. Streamed text is held back to the last whitespace until a
//! call ends, so a word cut by the limit is regenerated whole instead of reaching the client
//! twice (what the AI SDK's `continueSteps` does). Token usage is logged per call and per reply.
//!
//! What differs between providers (URLs, headers, request and reply JSON, finish reasons) is
//! the `Provider` trait; retries are `retry`, timeouts `policy`, event framing `sse`.

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::policy::{Policy, bounded_wait};
use super::retry::{self, ErrorDetail, error_chain};
use super::sse::SseDecoder;
use super::{AiError, FinishReason, Generated, ModelEvent, ModelRequest, ModelStream, Usage};

/// What one HTTP model API needs to say for the shared mechanics to drive it.
pub(crate) trait Provider: Clone + Send + Sync + 'static {
    /// The configured model, as the logs name it.
    fn model(&self) -> &str;

    fn policy(&self) -> &Policy;

    /// The POST for one call, headers and `body` set; `streamed` picks the streaming endpoint or
    /// mode.
    fn request(&self, streamed: bool, body: Vec<u8>) -> reqwest::RequestBuilder;

    /// The body of one call: the conversation, plus `so_far` as the model's turn when
    /// continuing. Fails (before anything is sent) on a request the provider cannot take.
    fn encode(&self, request: &ModelRequest, so_far: &str, streamed: bool) -> Result<Vec<u8>, AiError>;

    /// What an error answer (status not 2xx) says.
    fn read_error(&self, headers: &HeaderMap, body: &str) -> ErrorDetail;

    /// One SSE event's data of a streamed reply.
    fn parse_event(&self, data: &str) -> Result<Piece, AiError>;

    /// A whole (non-streamed) reply body.
    fn parse_reply(&self, body: &[u8]) -> Result<Piece, AiError>;

    /// The provider's finish reason in our terms.
    fn finish(&self, reason: &str) -> Finish;
}

/// What one response (or one event of a streamed one) says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Piece {
    /// Text deltas, in order (thoughts and empty deltas left out).
    pub texts: Vec<String>,
    /// The provider's finish reason, as sent.
    pub finish: Option<String>,
    /// This call's usage so far; the last one seen counts.
    pub usage: Option<Usage>,
    /// The provider marked the end of the stream (nothing after it is read).
    pub end: bool,
}

/// How a call ended, in our terms.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    /// At the output-token limit: continued.
    MaxTokens,
    /// A safety or policy filter.
    Blocked(String),
    Other(String),
}

/// The streamed reply to `request`, continued across calls as needed.
pub(crate) fn stream<P: Provider>(provider: P, request: ModelRequest) -> ModelStream {
    Box::pin(async_stream::try_stream! {
        let policy = provider.policy().clone();
        let deadline = Instant::now() + policy.total_timeout;
        // Everything the client has been sent, across calls.
        let mut emitted = String::new();
        let mut usage = Usage::default();
        let mut step = 0;
        loop {
            step += 1;
            let body = provider.encode(&request, &emitted, true)?;
            let (mut response, sent) = call(&provider, true, &body, deadline).await?;
            let mut decoder = SseDecoder::default();
            // Text after the call's last whitespace, released when the call ends.
            let mut held = String::new();
            let mut released_any = false;
            let mut finish: Option<String> = None;
            let mut call_usage = Usage::default();
            let mut first = true;
            let mut ended = false;
            while !ended {
                let (wait, what) = if first {
                    (policy.first_byte_timeout.saturating_sub(sent.elapsed()), "first byte")
                } else {
                    (policy.idle_timeout, "idle")
                };
                first = false;
                let chunk = next_chunk(&mut response, wait, what, deadline).await?;
                let events = match &chunk {
                    Some(bytes) => decoder.push(bytes),
                    None => decoder.finish(),
                };
                ended = chunk.is_none();
                for data in events {
                    let piece = match provider.parse_event(&data) {
                        // Half an event at the very end: the stream was cut, not garbled.
                        Err(AiError::Malformed(error)) if chunk.is_none() => {
                            Err(AiError::Interrupted(format!("the stream ended inside an event ({error})")))
                        }
                        other => other,
                    }?;
                    if let Some(usage) = piece.usage {
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
                    if piece.end {
                        ended = true;
                        break;
                    }
                }
            }
            log_call(provider.model(), step, finish.as_deref(), call_usage);
            usage.add(call_usage);
            match finish.as_deref().map(|reason| provider.finish(reason)) {
                None => Err(AiError::Interrupted("the stream ended before a finish reason".into()))?,
                Some(Finish::Stop) => {
                    if !held.is_empty() {
                        emitted.push_str(&held);
                        yield ModelEvent::Text(std::mem::take(&mut held));
                    }
                    if emitted.trim().is_empty() {
                        Err(AiError::Empty)?;
                    }
                    log_reply(provider.model(), step, usage);
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

/// The whole reply to `request`, continued across calls as needed.
pub(crate) async fn generate<P: Provider>(provider: &P, request: ModelRequest) -> Result<Generated, AiError> {
    let policy = provider.policy();
    let deadline = Instant::now() + policy.total_timeout;
    let mut text = String::new();
    let mut usage = Usage::default();
    for step in 1..=policy.max_steps {
        let body = provider.encode(&request, &text, false)?;
        let (response, _) = call(provider, false, &body, deadline).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let bytes = match tokio::time::timeout(remaining, response.bytes()).await {
            Err(_) => return Err(AiError::Timeout("total")),
            Ok(Err(error)) => return Err(AiError::Interrupted(error_chain(&error))),
            Ok(Ok(bytes)) => bytes,
        };
        let reply = provider.parse_reply(&bytes)?;
        let call_usage = reply.usage.unwrap_or_default();
        log_call(provider.model(), step, reply.finish.as_deref(), call_usage);
        usage.add(call_usage);
        let mut piece: String = reply.texts.concat();
        match reply.finish.as_deref().map(|reason| provider.finish(reason)) {
            None => return Err(AiError::Malformed("the reply has no finish reason".into())),
            Some(Finish::Stop) => {
                text.push_str(&piece);
                if text.trim().is_empty() {
                    return Err(AiError::Empty);
                }
                log_reply(provider.model(), step, usage);
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

/// One call with its retries. A stream must start within the first-byte timeout; a whole reply
/// sends nothing until it is ready, so only the deadline bounds it.
async fn call<P: Provider>(
    provider: &P,
    streamed: bool,
    body: &[u8],
    deadline: Instant,
) -> Result<(reqwest::Response, Instant), AiError> {
    let policy = provider.policy();
    let wait =
        if streamed { (policy.first_byte_timeout, "first byte") } else { (policy.total_timeout, "total") };
    retry::send(
        policy,
        deadline,
        wait,
        || provider.request(streamed, body.to_vec()),
        |headers, text| provider.read_error(headers, text),
    )
    .await
}

/// The next piece of a streamed body: `None` at its end.
async fn next_chunk(
    response: &mut reqwest::Response,
    wait: std::time::Duration,
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

/// Moves `held` up to and including its last whitespace out; `None` when it has none.
fn take_through_last_whitespace(held: &mut String) -> Option<String> {
    let (index, ch) = held.char_indices().rev().find(|(_, ch)| ch.is_whitespace())?;
    let rest = held.split_off(index + ch.len_utf8());
    Some(std::mem::replace(held, rest))
}

fn log_call(model: &str, step: u32, finish: Option<&str>, usage: Usage) {
    crate::telemetry::record_ai_usage(
        model,
        crate::telemetry::AiTokens {
            input: usage.prompt_tokens,
            output: usage.output_tokens,
            thinking: usage.thoughts_tokens,
        },
    );
    tracing::info!(
        model = %model,
        step,
        finish_reason = finish.unwrap_or("-"),
        prompt_tokens = usage.prompt_tokens,
        output_tokens = usage.output_tokens,
        thoughts_tokens = usage.thoughts_tokens,
        total_tokens = usage.total_tokens,
        "model call"
    );
}

fn log_reply(model: &str, steps: u32, usage: Usage) {
    tracing::info!(
        model = %model,
        steps,
        prompt_tokens = usage.prompt_tokens,
        output_tokens = usage.output_tokens,
        thoughts_tokens = usage.thoughts_tokens,
        total_tokens = usage.total_tokens,
        "model reply complete"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_text_is_released_through_the_last_whitespace() {
        let mut held = "Explain the borrow che".to_owned();
        assert_eq!(take_through_last_whitespace(&mut held).as_deref(), Some("Explain the borrow "));
        assert_eq!(held, "che");
        assert_eq!(take_through_last_whitespace(&mut held), None);
        let mut held = "a\u{3000}b".to_owned();
        assert_eq!(take_through_last_whitespace(&mut held).as_deref(), Some("a\u{3000}"));
    }
}
