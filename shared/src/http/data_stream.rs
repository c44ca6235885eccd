//! The streaming bodies the original web client parses (Vercel AI SDK 4.x, `docs/original.md`):
//! the **data stream** (`TYPE:JSON\n` lines, header `X-Vercel-AI-Data-Stream: v1`) used by the
//! question routes, and the raw **text stream** used by resume analysis. Both go out chunk by
//! chunk as the model produces text: nothing here buffers a reply.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::ai::{AiError, FinishReason, ModelEvent, ModelStream};

/// Both stream kinds are UTF-8 plain text on the wire.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// The header that tells the AI SDK client the body is a data stream.
pub const DATA_STREAM_HEADER: &str = "x-vercel-ai-data-stream";

/// One part of a data stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamPart {
    /// `f:` a model call (step) starts.
    StepStart { message_id: String },
    /// `0:` a piece of text.
    Text(String),
    /// `e:` a step ended; `continued` when the next step carries on the same text. No usage:
    /// the original sends none (`sendUsage: false`).
    StepFinish { reason: FinishReason, continued: bool },
    /// `d:` the message is finished.
    Finish { reason: FinishReason },
    /// `2:` a JSON array of data items.
    Data(Value),
    /// `3:` an error; the stream ends after it.
    Error(String),
}

impl StreamPart {
    /// The part as one line of the wire format.
    pub fn encode(&self) -> String {
        let (code, value) = match self {
            Self::StepStart { message_id } => ('f', json!({ "messageId": message_id })),
            Self::Text(text) => ('0', json!(text)),
            Self::StepFinish { reason, continued } => {
                ('e', json!({ "finishReason": reason.as_str(), "isContinued": continued }))
            }
            Self::Finish { reason } => ('d', json!({ "finishReason": reason.as_str() })),
            Self::Data(value) => ('2', value.clone()),
            Self::Error(message) => ('3', json!(message)),
        };
        format!("{code}:{value}\n")
    }
}

/// A `200` data-stream response whose body is `parts`, each sent as soon as it is produced.
pub fn response(parts: impl Stream<Item = StreamPart> + Send + 'static) -> Response {
    streaming(parts.map(|part| Ok::<_, Infallible>(part.encode())), true)
}

/// A `200` text-stream response: the chunks as they come, no framing. A stream that fails ends
/// the body abruptly (the client sees an incomplete response), as a text stream has no error
/// part.
pub fn text_response(chunks: impl Stream<Item = Result<String, AiError>> + Send + 'static) -> Response {
    streaming(chunks, false)
}

fn streaming<E>(chunks: impl Stream<Item = Result<String, E>> + Send + 'static, data_stream: bool) -> Response
where
    E: Into<axum::BoxError> + 'static,
{
    let mut response = (StatusCode::OK, Body::from_stream(chunks)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Asks proxies that buffer by default (nginx) to pass chunks straight through.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if data_stream {
        headers.insert(DATA_STREAM_HEADER, HeaderValue::from_static("v1"));
    }
    response
}

/// Turns model events into data-stream parts, as the AI SDK frames a reply: `f:` before each
/// step, `0:` per text piece, `e:` after each step, `d:` once the reply is complete. It also
/// keeps the whole text, for a route that stores it.
#[derive(Debug)]
pub struct ReplyParts {
    message_id: String,
    in_step: bool,
    text: String,
    key_points: Vec<String>,
    complete: bool,
}

/// A reply the model finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    pub text: String,
    /// What a complete answer covers, when the reply is a question and the model said.
    pub key_points: Vec<String>,
}

impl Default for ReplyParts {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyParts {
    pub fn new() -> Self {
        Self {
            message_id: format!("msg-{}", uuid::Uuid::now_v7().simple()),
            in_step: false,
            text: String::new(),
            key_points: Vec::new(),
            complete: false,
        }
    }

    /// The parts for one event.
    pub fn on_event(&mut self, event: ModelEvent) -> Vec<StreamPart> {
        if let ModelEvent::KeyPoints(points) = event {
            // Not for the client's eyes before it answers: kept for storing, never sent.
            self.key_points = points;
            return Vec::new();
        }
        let mut parts = Vec::with_capacity(3);
        if !self.in_step {
            self.in_step = true;
            parts.push(StreamPart::StepStart { message_id: self.message_id.clone() });
        }
        match event {
            ModelEvent::Text(text) => {
                self.text.push_str(&text);
                parts.push(StreamPart::Text(text));
            }
            ModelEvent::StepFinish { reason, continued } => {
                self.in_step = false;
                parts.push(StreamPart::StepFinish { reason, continued });
                if !continued {
                    self.complete = true;
                    parts.push(StreamPart::Finish { reason });
                }
            }
            ModelEvent::KeyPoints(_) => {}
        }
        parts
    }

    /// The reply text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the final step ended (the reply is whole).
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

/// The reply as data-stream parts: text as it arrives, then the finish parts, or an error part
/// when the model fails (the error is logged; the client reads its public message).
pub fn model_reply(events: ModelStream) -> impl Stream<Item = StreamPart> + Send + 'static {
    model_reply_then(events, |_| async { Vec::new() })
}

/// Like `model_reply`, then the parts `then` makes of the outcome before the stream closes: the
/// finished reply when it is complete (to store it, say), or the error after its error part
/// (to give back what the generation held). Either way `then` runs before the body ends, so a
/// Lambda is not frozen before it finished.
pub fn model_reply_then<F, Fut>(
    mut events: ModelStream,
    then: F,
) -> impl Stream<Item = StreamPart> + Send + 'static
where
    F: FnOnce(Result<Finished, AiError>) -> Fut + Send + 'static,
    Fut: Future<Output = Vec<StreamPart>> + Send,
{
    async_stream::stream! {
        let mut reply = ReplyParts::new();
        let mut failure = None;
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    for part in reply.on_event(event) {
                        yield part;
                    }
                }
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        if failure.is_none() && !reply.is_complete() {
            failure = Some(AiError::Interrupted("the model stream ended early".into()));
        }
        let outcome = match failure {
            Some(error) => {
                tracing::warn!(%error, "model reply failed");
                yield StreamPart::Error(error.public_message());
                Err(error)
            }
            None => Ok(Finished { text: reply.text, key_points: reply.key_points }),
        };
        for part in then(outcome).await {
            yield part;
        }
    }
}

/// The reply's text as it arrives, for a text stream; once the reply is complete, `then` runs on
/// the whole text before the body ends (so a Lambda is not frozen before it stored). A failed or
/// cut reply ends the body with an error (the client sees an incomplete response) and `then`
/// never runs.
pub fn model_text_then<F, Fut>(
    mut events: ModelStream,
    then: F,
) -> impl Stream<Item = Result<String, AiError>> + Send + 'static
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    async_stream::stream! {
        let mut text = String::new();
        let mut complete = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(ModelEvent::Text(piece)) => {
                    text.push_str(&piece);
                    yield Ok(piece);
                }
                Ok(ModelEvent::StepFinish { continued, .. }) => complete = !continued,
                Ok(ModelEvent::KeyPoints(_)) => {}
                Err(error) => {
                    tracing::warn!(%error, "model reply failed");
                    yield Err(error);
                    return;
                }
            }
        }
        if !complete {
            let error = AiError::Interrupted("the model stream ended early".into());
            tracing::warn!(%error, "model reply failed");
            yield Err(error);
            return;
        }
        then(text).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_encode_as_the_ai_sdk_wire_format() {
        let cases = [
            (StreamPart::StepStart { message_id: "msg-1".into() }, "f:{\"messageId\":\"msg-1\"}\n"),
            (StreamPart::Text("line \"1\"\n".into()), "0:\"line \\\"1\\\"\\n\"\n"),
            (
                StreamPart::StepFinish { reason: FinishReason::Length, continued: true },
                "e:{\"finishReason\":\"length\",\"isContinued\":true}\n",
            ),
            (StreamPart::Finish { reason: FinishReason::Stop }, "d:{\"finishReason\":\"stop\"}\n"),
            (StreamPart::Data(json!([{"questionId": "q"}])), "2:[{\"questionId\":\"q\"}]\n"),
            (StreamPart::Error("PLAN_LIMIT".into()), "3:\"PLAN_LIMIT\"\n"),
        ];
        for (part, wire) in cases {
            assert_eq!(part.encode(), wire);
        }
    }

    #[test]
    fn continued_steps_reopen_and_only_the_last_finishes() {
        let mut reply = ReplyParts::new();
        let mut parts = Vec::new();
        for event in [
            ModelEvent::Text("a ".into()),
            ModelEvent::StepFinish { reason: FinishReason::Length, continued: true },
            ModelEvent::Text("b".into()),
            ModelEvent::StepFinish { reason: FinishReason::Stop, continued: false },
        ] {
            parts.extend(reply.on_event(event));
        }
        let codes: String = parts.iter().map(|part| part.encode().chars().next().unwrap_or('?')).collect();
        assert_eq!(codes, "f0ef0ed");
        assert_eq!(reply.text(), "a b");
        assert!(reply.is_complete());
    }
}
