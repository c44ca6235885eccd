//! The offline engine behind the model port: it answers a request from its brief (it does not
//! read prose prompts) and streams the answer the way a model does, in small pieces a few
//! milliseconds apart, so the original client behaves as it does with a provider. The engine
//! works on a blocking thread: building it and answering are CPU work.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Engine;
use crate::ai::brief::Brief;
use crate::ai::{
    AiError, FinishReason, Generated, Model, ModelEvent, ModelRequest, ModelStream, SharedModel, Usage,
};

/// The pause between two pieces of a streamed answer.
pub const PIECE_PAUSE: Duration = Duration::from_millis(3);
/// A piece is cut at the first whitespace after this many characters.
const PIECE_CHARS: usize = 40;

/// The engine as a model.
#[derive(Debug, Clone, Copy)]
pub struct OfflineModel {
    pause: Duration,
}

impl Default for OfflineModel {
    fn default() -> Self {
        Self { pause: PIECE_PAUSE }
    }
}

impl OfflineModel {
    pub fn shared() -> SharedModel {
        Arc::new(Self::default())
    }

    /// With another pause between pieces (`Duration::ZERO` for benchmarks).
    pub fn with_pause(pause: Duration) -> Self {
        Self { pause }
    }
}

/// What the engine answered: the text and, for a question, its key points.
struct Answer {
    text: String,
    key_points: Vec<String>,
}

async fn answer(request: ModelRequest) -> Result<Answer, AiError> {
    let brief = request.brief.ok_or_else(|| AiError::Rejected {
        status: 400,
        message: "the offline engine answers only the product's own requests (no brief given)".into(),
    })?;
    tokio::task::spawn_blocking(move || {
        let engine = Engine::shared();
        match brief {
            Brief::Question(brief) => {
                let question = engine.question(&brief);
                Answer { text: question.text, key_points: question.key_points }
            }
            Brief::Grade(brief) => Answer { text: engine.grade(&brief), key_points: Vec::new() },
            Brief::Resume(brief) => Answer { text: engine.review_resume(&brief), key_points: Vec::new() },
            Brief::Interview(brief) => {
                Answer { text: engine.review_interview(&brief), key_points: Vec::new() }
            }
        }
    })
    .await
    .map_err(|error| AiError::Unavailable(format!("the offline engine stopped: {error}")))
}

/// `text` in pieces of about `PIECE_CHARS` characters, each ending after whitespace when it can,
/// so they join back to exactly `text`.
fn pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut count = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        count += 1;
        let end = index + ch.len_utf8();
        let at_boundary = ch.is_whitespace() && !chars.peek().is_some_and(|(_, next)| next.is_whitespace());
        if (count >= PIECE_CHARS && at_boundary) || count >= PIECE_CHARS * 3 {
            pieces.push(&text[start..end]);
            start = end;
            count = 0;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[async_trait]
impl Model for OfflineModel {
    fn stream(&self, request: ModelRequest) -> ModelStream {
        let pause = self.pause;
        Box::pin(async_stream::stream! {
            let answer = match answer(request).await {
                Ok(answer) => answer,
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            if !answer.key_points.is_empty() {
                yield Ok(ModelEvent::KeyPoints(answer.key_points));
            }
            for (n, piece) in pieces(&answer.text).into_iter().enumerate() {
                if n > 0 && !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                yield Ok(ModelEvent::Text(piece.to_owned()));
            }
            yield Ok(ModelEvent::StepFinish { reason: FinishReason::Stop, continued: false });
        })
    }

    async fn generate(&self, request: ModelRequest) -> Result<Generated, AiError> {
        let answer = answer(request).await?;
        Ok(Generated { text: answer.text, usage: Usage::default(), steps: 1 })
    }

    fn name(&self) -> String {
        Engine::MODEL_NAME.into()
    }

    /// It reads extracted text, never a file.
    fn reads_files(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_join_back_to_the_text_and_break_at_whitespace() {
        let text = "## Feedback (Rating: 6/10)\nA partial answer: the basics are there, but important points are missing. You covered 2 of 5 key points.\n\nnaïve café ".repeat(3);
        let split = pieces(&text);
        assert!(split.len() > 5, "{split:?}");
        assert_eq!(split.concat(), text);
        assert!(split[..split.len() - 1].iter().all(|piece| piece.ends_with(char::is_whitespace)));
        let unbroken = "x".repeat(500);
        assert_eq!(pieces(&unbroken).concat(), unbroken);
    }

    #[tokio::test]
    async fn a_request_without_a_brief_is_refused() {
        let model = OfflineModel::default();
        let error = model.generate(ModelRequest::default()).await.unwrap_err();
        assert!(matches!(error, AiError::Rejected { status: 400, .. }), "{error}");
    }
}
