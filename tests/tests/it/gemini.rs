//! The Gemini adapter against the loopback fake speaking the documented wire format: streamed
//! and whole replies, what it sends, retries (honouring the server's delay), timeouts,
//! continuation at the token limit, safety blocks and cut streams.

use std::time::{Duration, Instant};

use darasa::ai::gemini::Policy;
use darasa::ai::{AiError, FinishReason, ModelEvent, ModelRequest, SharedModel, Turn};
use darasa_tests::gemini::{
    FAKE_KEY, FAKE_MODEL, FakeGemini, Gate, Piece, Reply, chunk, stream_events, test_policy,
};
use futures::StreamExt;
use serde_json::json;

fn request() -> ModelRequest {
    ModelRequest {
        system: "You write one interview question.".into(),
        turns: vec![Turn::user("easy"), Turn::model("What is a closure?"), Turn::user("hard")],
        output: None,
        brief: None,
        max_output_tokens: None,
    }
}

/// Every event of a streamed reply, the error (if any) last.
async fn collect(model: &SharedModel, request: ModelRequest) -> (Vec<ModelEvent>, Option<AiError>) {
    let mut stream = model.stream(request);
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

fn text_of(events: &[ModelEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            ModelEvent::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn texts(list: &[&str]) -> Vec<ModelEvent> {
    list.iter().map(|text| ModelEvent::Text((*text).to_owned())).collect()
}

const STOP: ModelEvent = ModelEvent::StepFinish { reason: FinishReason::Stop, continued: false };
const CONTINUED: ModelEvent = ModelEvent::StepFinish { reason: FinishReason::Length, continued: true };

#[tokio::test]
async fn streams_deltas_and_sends_the_documented_request() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::stream(&["How would you ", "shard a ", "rate limiter?"], "STOP"));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    // Text is released through its last whitespace until the call ends (see the adapter).
    let mut expected = texts(&["How would you ", "shard a ", "rate ", "limiter?"]);
    expected.push(STOP);
    assert_eq!(events, expected);

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.path, format!("/v1beta/models/{FAKE_MODEL}:streamGenerateContent"));
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(sent.api_key.as_deref(), Some(FAKE_KEY));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(sent.system(), "You write one interview question.");
    assert_eq!(
        sent.turns(),
        [
            ("user".to_owned(), "easy".to_owned()),
            ("model".to_owned(), "What is a closure?".to_owned()),
            ("user".to_owned(), "hard".to_owned())
        ]
    );
    assert!(sent.body.get("generationConfig").is_none(), "no settings the original did not send");
}

#[tokio::test]
async fn events_split_mid_event_and_crlf_separators_decode_the_same() {
    let fake = FakeGemini::start().await;
    let events = stream_events(&["Design a ", "cache with ", "TTLs — and eviction."], "STOP");
    // 7-byte pieces split `data:`, the JSON, the multi-byte dash and the `\r\n\r\n` separators.
    fake.push(Reply::sse_with(&events, "\r\n\r\n").split_every(7, Duration::from_millis(2)));
    fake.push(Reply::sse_with(&events, "\n\n").split_every(3, Duration::from_millis(1)));
    let model = fake.model(test_policy());
    for _ in 0..2 {
        let (events, error) = collect(&model, request()).await;
        assert_eq!(error, None);
        assert_eq!(text_of(&events), "Design a cache with TTLs — and eviction.");
        assert_eq!(events.last(), Some(&STOP));
    }
}

#[tokio::test]
async fn rate_limit_then_success_waits_the_servers_retry_delay() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::rate_limited("0.4s"));
    fake.push(Reply::stream(&["Fine now."], "STOP"));
    let model = fake.model(test_policy());
    let started = Instant::now();
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Fine now.");
    assert!(started.elapsed() >= Duration::from_millis(400), "waited {:?}", started.elapsed());
    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body, "the retry is the same request");
}

#[tokio::test]
async fn a_retry_delay_longer_than_allowed_fails_at_once() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::rate_limited("30s"));
    let model = fake.model(test_policy());
    let started = Instant::now();
    let (events, error) = collect(&model, request()).await;
    assert!(events.is_empty());
    match error {
        Some(AiError::Busy { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(30))),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_twice_then_success() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::internal());
    fake.push(Reply::internal());
    fake.push(Reply::stream(&["Third ", "time lucky."], "STOP"));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Third time lucky.");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_the_attempts() {
    let fake = FakeGemini::start().await;
    fake.always(Reply::unavailable());
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert!(events.is_empty());
    let error = error.expect("an error");
    assert!(matches!(error, AiError::Unavailable(_)), "{error:?}");
    assert!(!error.public_message().contains("overloaded"), "the provider's words stay in the log");
    assert_eq!(fake.requests().len(), test_policy().max_attempts as usize);
}

#[tokio::test]
async fn a_refused_key_is_not_retried() {
    let fake = FakeGemini::start().await;
    let mut config = fake.config();
    config.api_key = "wrong".into();
    let model: SharedModel =
        std::sync::Arc::new(darasa::ai::gemini::Gemini::with_policy(config, test_policy()));
    let (_, error) = collect(&model, request()).await;
    assert!(matches!(error, Some(AiError::Rejected { status: 400, .. })), "{error:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_cut_mid_reply_errors_after_the_text_already_sent() {
    let fake = FakeGemini::start().await;
    // The connection breaks.
    fake.push(Reply::sse(&[chunk(Some("The first half "), None)]).then(Piece::Cut));
    // The connection closes cleanly, but before any finish reason.
    fake.push(Reply::sse(&[chunk(Some("Only this "), None)]));
    // Half an event, then the end.
    fake.push(
        Reply::sse(&[chunk(Some("Also "), None)])
            .then(Piece::Bytes(b"data: {\"candidates\": [{\"content".to_vec())),
    );
    let model = fake.model(test_policy());
    for expected in ["The first half ", "Only this ", "Also "] {
        let (events, error) = collect(&model, request()).await;
        assert_eq!(events, texts(&[expected]));
        assert!(matches!(error, Some(AiError::Interrupted(_))), "{error:?}");
    }
    assert_eq!(fake.requests().len(), 3, "text reached the client, so nothing is retried");
}

#[tokio::test]
async fn max_tokens_is_continued_and_the_pieces_joined() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::stream(&["Explain how the ", "borrow che"], "MAX_TOKENS"));
    fake.push(Reply::stream(&["checker ", "works."], "STOP"));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    let mut expected = texts(&["Explain how the ", "borrow "]);
    expected.push(CONTINUED);
    expected.extend(texts(&["checker ", "works."]));
    expected.push(STOP);
    assert_eq!(events, expected, "the cut word is regenerated, not sent twice");
    assert_eq!(text_of(&events), "Explain how the borrow checker works.");

    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    let turns = sent[1].turns();
    assert_eq!(turns.len(), 4);
    assert_eq!(
        turns[3],
        ("model".to_owned(), "Explain how the borrow ".to_owned()),
        "continues from the text so far"
    );
    assert_eq!(sent[1].system(), sent[0].system());
}

#[tokio::test]
async fn continuation_is_bounded() {
    let fake = FakeGemini::start().await;
    fake.always(Reply::stream(&["more and more "], "MAX_TOKENS"));
    let policy = Policy { max_steps: 3, ..test_policy() };
    let model = fake.model(policy);
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, Some(AiError::Truncated(3)));
    assert_eq!(events.iter().filter(|event| **event == CONTINUED).count(), 2);
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn safety_blocks_and_other_finish_reasons_are_clear_errors() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::stream(&["I can't ", "help"], "SAFETY"));
    fake.push(Reply::sse(&[json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})]));
    fake.push(Reply::stream(&["Hola "], "LANGUAGE"));
    let model = fake.model(test_policy());

    let (_, error) = collect(&model, request()).await;
    let error = error.expect("blocked");
    assert_eq!(error, AiError::Blocked("SAFETY".into()));
    assert!(error.public_message().contains("safety"));
    let (events, error) = collect(&model, request()).await;
    assert!(events.is_empty());
    assert_eq!(error, Some(AiError::Blocked("prompt: PROHIBITED_CONTENT".into())));
    let (_, error) = collect(&model, request()).await;
    assert_eq!(error, Some(AiError::Unfinished("LANGUAGE".into())));
}

#[tokio::test]
async fn a_slow_first_byte_times_out() {
    let fake = FakeGemini::start().await;
    // Nothing at all (not even headers) for too long.
    fake.push(Reply::stream(&["late"], "STOP").delay_headers(Duration::from_secs(5)));
    // Headers at once, then a body that does not start in time.
    fake.push(Reply::stream(&["late"], "STOP").insert(0, Piece::Sleep(Duration::from_secs(5))));
    let policy = Policy { first_byte_timeout: Duration::from_millis(300), ..test_policy() };
    let model = fake.model(policy);
    for _ in 0..2 {
        let started = Instant::now();
        let (events, error) = collect(&model, request()).await;
        assert!(events.is_empty());
        assert_eq!(error, Some(AiError::Timeout("first byte")));
        assert!(started.elapsed() < Duration::from_secs(2), "gave up after {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn a_stalled_stream_hits_the_idle_timeout_and_the_total_deadline_holds() {
    let fake = FakeGemini::start().await;
    let gate = Gate::new();
    fake.push(Reply::stream(&["Start ", "never ends"], "STOP").insert(1, Piece::Wait(gate.clone())));
    let policy = Policy { idle_timeout: Duration::from_millis(300), ..test_policy() };
    let (events, error) = collect(&fake.model(policy), request()).await;
    assert_eq!(events, texts(&["Start "]));
    assert_eq!(error, Some(AiError::Timeout("idle")));

    fake.push(Reply::stream(&["Start ", "never ends"], "STOP").insert(1, Piece::Wait(gate)));
    let policy = Policy { total_timeout: Duration::from_millis(500), ..test_policy() };
    let started = Instant::now();
    let (_, error) = collect(&fake.model(policy), request()).await;
    assert_eq!(error, Some(AiError::Timeout("total")));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn generate_returns_the_whole_reply_retrying_and_continuing() {
    let fake = FakeGemini::start().await;
    fake.push(Reply::rate_limited("0.1s"));
    fake.push(Reply::generated("Overall: 7/10. Commun", "MAX_TOKENS"));
    fake.push(Reply::generated("Communication was clear.", "STOP"));
    let model = fake.model(test_policy());
    let generated = model.generate(request()).await.unwrap();
    assert_eq!(generated.text, "Overall: 7/10. Communication was clear.");
    assert_eq!(generated.steps, 2);
    assert_eq!(generated.usage.total_tokens, 180, "usage summed over the calls");

    let sent = fake.requests();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|request| request.path == format!("/v1beta/models/{FAKE_MODEL}:generateContent"))
    );
    assert_eq!(sent[2].turns().last().unwrap(), &("model".to_owned(), "Overall: 7/10. ".to_owned()));

    fake.push(Reply::generated("No.", "RECITATION"));
    assert_eq!(model.generate(request()).await, Err(AiError::Blocked("RECITATION".into())));
    fake.push(Reply::generated("", "STOP"));
    assert_eq!(model.generate(request()).await, Err(AiError::Empty));
}

#[tokio::test]
async fn a_whole_reply_may_take_longer_than_a_streams_first_byte() {
    // generateContent answers only once the whole reply is ready, so only the total deadline
    // bounds it.
    let fake = FakeGemini::start().await;
    fake.push(Reply::generated("Worth the wait.", "STOP").delay_headers(Duration::from_millis(600)));
    fake.push(Reply::generated("Too late.", "STOP").delay_headers(Duration::from_secs(5)));
    let policy = Policy { first_byte_timeout: Duration::from_millis(300), ..test_policy() };
    let model = fake.model(policy.clone());
    assert_eq!(
        model.generate(request()).await.map(|generated| generated.text),
        Ok("Worth the wait.".to_owned())
    );
    let model = fake.model(Policy { total_timeout: Duration::from_secs(1), ..policy });
    assert_eq!(model.generate(request()).await, Err(AiError::Timeout("total")));
}
