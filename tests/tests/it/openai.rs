//! The OpenAI-compatible adapter against the loopback fake speaking Chat Completions: streamed
//! and whole replies, what it sends (with and without a key), SSE framing split anywhere, the
//! usage chunk in its variants, retries honouring `Retry-After`, timeouts, continuation at
//! `length`, refusals, cut streams, structured output, files refused, and the generate-question
//! route end to end on this adapter.

use std::time::{Duration, Instant};

use darasa::ai::policy::Policy;
use darasa::ai::{AiError, FinishReason, ModelEvent, ModelRequest, Output, Part, Role, SharedModel, Turn};
use darasa_tests::app::{Store, TestApp};
use darasa_tests::data_stream::{self, Part as StreamPart};
use darasa_tests::fixtures::{ALICE, DESCRIPTION, FREE, create_job};
use darasa_tests::openai::{
    FAKE_KEY, FAKE_MODEL, FakeOpenAi, Gate, PATH, Piece, Reply, chunk, stream_events, test_policy,
    usage_chunk,
};
use futures::StreamExt;
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn request() -> ModelRequest {
    ModelRequest {
        system: "You write one interview question.".into(),
        turns: vec![Turn::user("easy"), Turn::model("What is a closure?"), Turn::user("hard")],
        ..ModelRequest::default()
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

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(role, content)| ((*role).to_owned(), (*content).to_owned())).collect()
}

const STOP: ModelEvent = ModelEvent::StepFinish { reason: FinishReason::Stop, continued: false };
const CONTINUED: ModelEvent = ModelEvent::StepFinish { reason: FinishReason::Length, continued: true };

#[tokio::test]
async fn streams_deltas_and_sends_the_documented_request() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::stream(&["How would you ", "shard a ", "rate limiter?"], "stop"));
    let model = fake.model(test_policy());
    assert_eq!(model.name(), FAKE_MODEL);
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    // Text is released through its last whitespace until the call ends (as with Gemini).
    let mut expected = texts(&["How would you ", "shard a ", "rate ", "limiter?"]);
    expected.push(STOP);
    assert_eq!(events, expected);

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", PATH));
    assert_eq!(sent.authorization.as_deref(), Some(format!("Bearer {FAKE_KEY}").as_str()));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        json!({
            "model": FAKE_MODEL,
            "messages": [
                {"role": "system", "content": "You write one interview question."},
                {"role": "user", "content": "easy"},
                {"role": "assistant", "content": "What is a closure?"},
                {"role": "user", "content": "hard"},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
        }),
        "no max_tokens or response_format unless asked for"
    );

    fake.push(Reply::stream(&["Short."], "stop"));
    let capped = ModelRequest { max_output_tokens: Some(300), ..request() };
    assert_eq!(collect(&model, capped).await.1, None);
    assert_eq!(fake.requests()[1].body["max_tokens"], 300);
}

#[tokio::test]
async fn a_keyless_server_gets_no_authorization_header() {
    let fake = FakeOpenAi::keyless().await;
    fake.push(Reply::stream(&["Local ", "answer."], "stop"));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Local answer.");
    assert_eq!(fake.requests()[0].authorization, None);
}

#[tokio::test]
async fn chunks_split_mid_line_and_mid_json_and_crlf_separators_decode_the_same() {
    let fake = FakeOpenAi::start().await;
    let events = stream_events(&["Design a ", "cache with ", "TTLs — and eviction."], "stop");
    // 7-byte pieces split `data:`, the JSON, the multi-byte dash, `[DONE]` and the separators.
    fake.push(Reply::chunks_with(&events, "\r\n\r\n").split_every(7, Duration::from_millis(2)));
    fake.push(Reply::chunks_with(&events, "\n\n").split_every(3, Duration::from_millis(1)));
    fake.push(Reply::chunks_with(&events, "\r\n\r\n"));
    let model = fake.model(test_policy());
    for _ in 0..3 {
        let (events, error) = collect(&model, request()).await;
        assert_eq!(error, None);
        assert_eq!(text_of(&events), "Design a cache with TTLs — and eviction.");
        assert_eq!(events.last(), Some(&STOP));
    }
}

#[tokio::test]
async fn the_usage_chunk_may_carry_empty_null_or_no_choices() {
    let fake = FakeOpenAi::start().await;
    for choices in [Some(json!([])), Some(Value::Null), None] {
        fake.push(Reply::chunks(&[
            chunk(Some("Counted "), None),
            chunk(Some("once."), Some("stop")),
            usage_chunk(choices),
        ]));
    }
    // Some servers put the usage on the finishing chunk and send no [DONE].
    let mut finishing = chunk(Some("Together."), Some("stop"));
    finishing["usage"] = darasa_tests::openai::usage();
    fake.push(Reply::sse(&[finishing]));
    let model = fake.model(test_policy());
    for expected in ["Counted once.", "Counted once.", "Counted once.", "Together."] {
        let (events, error) = collect(&model, request()).await;
        assert_eq!(error, None);
        assert_eq!(text_of(&events), expected);
        assert_eq!(events.last(), Some(&STOP));
    }
}

#[tokio::test]
async fn rate_limit_then_success_waits_the_retry_after() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::rate_limited("1"));
    fake.push(Reply::stream(&["Fine now."], "stop"));
    let model = fake.model(test_policy());
    let started = Instant::now();
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Fine now.");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body, "the retry is the same request");

    // An HTTP date already past: no wait beyond it, and still retried.
    fake.push(Reply::rate_limited("Thu, 01 Jan 2015 00:00:00 GMT"));
    fake.push(Reply::stream(&["Again fine."], "stop"));
    let started = Instant::now();
    let (events, error) = collect(&model, request()).await;
    assert_eq!((text_of(&events).as_str(), error), ("Again fine.", None));
    assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_fails_at_once() {
    let fake = FakeOpenAi::start().await;
    let in_an_hour = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    fake.push(Reply::rate_limited("30"));
    fake.push(Reply::rate_limited(&in_an_hour));
    let model = fake.model(test_policy());
    for expected in [
        Duration::from_secs(30)..=Duration::from_secs(30),
        Duration::from_secs(3590)..=Duration::from_secs(3600),
    ] {
        let started = Instant::now();
        let (events, error) = collect(&model, request()).await;
        assert!(events.is_empty());
        match error {
            Some(AiError::Busy { retry_after: Some(delay), .. }) => {
                assert!(expected.contains(&delay), "{delay:?}")
            }
            other => panic!("expected Busy with a delay, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(fake.requests().len(), 2, "neither was retried");
}

#[tokio::test]
async fn server_errors_twice_then_success() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::server_error(500));
    fake.push(Reply::server_error(503));
    fake.push(Reply::stream(&["Third ", "time lucky."], "stop"));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Third time lucky.");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_the_attempts() {
    let fake = FakeOpenAi::start().await;
    fake.always(Reply::server_error(503));
    let model = fake.model(test_policy());
    let (events, error) = collect(&model, request()).await;
    assert!(events.is_empty());
    let error = error.expect("an error");
    assert!(matches!(error, AiError::Unavailable(_)), "{error:?}");
    assert!(!error.public_message().contains("server had an error"), "the provider's words stay in the log");
    assert_eq!(fake.requests().len(), test_policy().max_attempts as usize);
}

#[tokio::test]
async fn refusals_of_the_request_are_not_retried() {
    let fake = FakeOpenAi::start().await;
    let mut config = fake.config();
    config.api_key = Some("sk-wrong".into());
    let model: SharedModel =
        std::sync::Arc::new(darasa::ai::openai::OpenAi::with_policy(config, test_policy()));
    let (_, error) = collect(&model, request()).await;
    match error {
        Some(AiError::Rejected { status: 401, message }) => assert!(message.starts_with("Incorrect API key")),
        other => panic!("expected Rejected 401, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1);

    let model = fake.model(test_policy());
    for (status, kind, code) in
        [(400, "invalid_request_error", None), (404, "invalid_request_error", Some("model_not_found"))]
    {
        fake.push(Reply::error(status, kind, code, "no such model or bad request"));
        let (_, error) = collect(&model, request()).await;
        assert!(matches!(error, Some(AiError::Rejected { status: s, .. }) if s == status), "{error:?}");
    }
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_stream_cut_mid_reply_errors_after_the_text_already_sent() {
    let fake = FakeOpenAi::start().await;
    // The connection breaks.
    fake.push(Reply::sse(&[chunk(Some("The first half "), None)]).then(Piece::Cut));
    // The connection closes cleanly, but before any finish reason.
    fake.push(Reply::sse(&[chunk(Some("Only this "), None)]));
    // Half an event, then the end.
    fake.push(
        Reply::sse(&[chunk(Some("Also "), None)])
            .then(Piece::Bytes(b"data: {\"choices\": [{\"delta\": {\"cont".to_vec())),
    );
    // [DONE] without any finish reason.
    fake.push(Reply::chunks(&[chunk(Some("Then done "), None)]));
    let model = fake.model(test_policy());
    for expected in ["The first half ", "Only this ", "Also ", "Then done "] {
        let (events, error) = collect(&model, request()).await;
        assert_eq!(events, texts(&[expected]));
        assert!(matches!(error, Some(AiError::Interrupted(_))), "{error:?}");
    }
    assert_eq!(fake.requests().len(), 4, "text reached the client, so nothing is retried");
}

#[tokio::test]
async fn length_is_continued_and_the_pieces_joined() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::stream(&["Explain how the ", "borrow che"], "length"));
    fake.push(Reply::stream(&["checker ", "works."], "stop"));
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
    let messages = sent[1].messages();
    assert_eq!(messages.len(), 5);
    assert_eq!(messages[..4], sent[0].messages()[..], "the same conversation");
    assert_eq!(
        messages[4],
        ("assistant".to_owned(), "Explain how the borrow ".to_owned()),
        "continues from the text so far"
    );
}

#[tokio::test]
async fn continuation_is_bounded() {
    let fake = FakeOpenAi::start().await;
    fake.always(Reply::stream(&["more and more "], "length"));
    let model = fake.model(Policy { max_steps: 3, ..test_policy() });
    let (events, error) = collect(&model, request()).await;
    assert_eq!(error, Some(AiError::Truncated(3)));
    assert_eq!(events.iter().filter(|event| **event == CONTINUED).count(), 2);
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn content_filters_refusals_and_other_finish_reasons_are_clear_errors() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::stream(&["I can't ", "help"], "content_filter"));
    let mut refusal = chunk(None, None);
    refusal["choices"][0]["delta"] = json!({"refusal": "I can't help with that."});
    fake.push(Reply::chunks(&[refusal]));
    fake.push(Reply::stream(&["Calling "], "tool_calls"));
    fake.push(Reply::chunks(&[
        chunk(Some("Partial "), None),
        json!({"error": {"message": "model crashed", "type": "server_error", "code": 500}}),
    ]));
    let model = fake.model(test_policy());

    let (_, error) = collect(&model, request()).await;
    let error = error.expect("blocked");
    assert_eq!(error, AiError::Blocked("content_filter".into()));
    assert!(error.public_message().contains("safety"));
    let (events, error) = collect(&model, request()).await;
    assert!(events.is_empty());
    assert_eq!(error, Some(AiError::Blocked("refusal".into())));
    let (_, error) = collect(&model, request()).await;
    assert_eq!(error, Some(AiError::Unfinished("tool_calls".into())));
    let (events, error) = collect(&model, request()).await;
    assert_eq!(events, texts(&["Partial "]));
    assert!(
        matches!(error, Some(AiError::Unavailable(ref message)) if message.contains("model crashed")),
        "{error:?}"
    );
}

#[tokio::test]
async fn structured_output_sends_the_schema_as_json_schema() {
    let fake = FakeOpenAi::start().await;
    fake.always(Reply::stream(&["{\"score\": 7}"], "stop"));
    let model = fake.model(test_policy());
    let schema = json!({
        "type": "OBJECT",
        "properties": {
            "score": {"type": "NUMBER", "description": "From 1 to 10", "minimum": 0, "maximum": 10},
            "notes": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["a", "b"]}},
        },
        "required": ["score", "notes"],
        "propertyOrdering": ["score", "notes"],
    });
    let structured = ModelRequest {
        output: Some(Output { mime_type: "application/json".into(), schema: Some(schema) }),
        ..request()
    };
    let (events, error) = collect(&model, structured).await;
    assert_eq!((text_of(&events).as_str(), error), ("{\"score\": 7}", None));
    assert_eq!(
        fake.requests()[0].body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "analysis", "strict": false, "schema": {
            "type": "object",
            "properties": {
                "score": {"type": "number", "description": "From 1 to 10", "minimum": 0, "maximum": 10},
                "notes": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            },
            "required": ["score", "notes"],
        }}})
    );

    // The resume analysis's schema, as the route sends it: no Gemini dialect left anywhere.
    let analysis = ModelRequest {
        output: Some(Output {
            mime_type: "application/json".into(),
            schema: Some(darasa::resumes::analysis::analysis_schema()),
        }),
        ..request()
    };
    collect(&model, analysis).await;
    let sent = fake.requests()[1].body["response_format"]["json_schema"]["schema"].to_string();
    for dialect in ["propertyOrdering", "\"OBJECT\"", "\"STRING\"", "\"NUMBER\"", "\"ARRAY\""] {
        assert!(!sent.contains(dialect), "{dialect} in {sent}");
    }

    // JSON without a schema: JSON mode.
    let json_mode = ModelRequest {
        output: Some(Output { mime_type: "application/json".into(), schema: None }),
        ..request()
    };
    collect(&model, json_mode).await;
    assert_eq!(fake.requests()[2].body["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn a_file_part_is_refused_before_any_call() {
    let fake = FakeOpenAi::start().await;
    let model = fake.model(test_policy());
    assert!(!model.reads_files());
    let with_file = ModelRequest {
        turns: vec![Turn {
            role: Role::User,
            parts: vec![Part::File { mime_type: "application/pdf".into(), data: b"%PDF-1.4".to_vec() }],
        }],
        ..request()
    };
    let (events, error) = collect(&model, with_file.clone()).await;
    assert!(events.is_empty());
    assert!(matches!(error, Some(AiError::Rejected { status: 415, .. })), "{error:?}");
    assert!(matches!(model.generate(with_file).await, Err(AiError::Rejected { status: 415, .. })));
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_slow_first_byte_times_out() {
    let fake = FakeOpenAi::start().await;
    // Nothing at all (not even headers) for too long.
    fake.push(Reply::stream(&["late"], "stop").delay_headers(Duration::from_secs(5)));
    // Headers at once, then a body that does not start in time.
    fake.push(Reply::stream(&["late"], "stop").insert(0, Piece::Sleep(Duration::from_secs(5))));
    let model = fake.model(Policy { first_byte_timeout: Duration::from_millis(300), ..test_policy() });
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
    let fake = FakeOpenAi::start().await;
    let gate = Gate::new();
    // Piece 2 is the first text delta: the opening role chunk and "Start " get through.
    fake.push(Reply::stream(&["Start ", "never ends"], "stop").insert(2, Piece::Wait(gate.clone())));
    let policy = Policy { idle_timeout: Duration::from_millis(300), ..test_policy() };
    let (events, error) = collect(&fake.model(policy), request()).await;
    assert_eq!(events, texts(&["Start "]));
    assert_eq!(error, Some(AiError::Timeout("idle")));

    fake.push(Reply::stream(&["Start ", "never ends"], "stop").insert(2, Piece::Wait(gate)));
    let policy = Policy { total_timeout: Duration::from_millis(500), ..test_policy() };
    let started = Instant::now();
    let (_, error) = collect(&fake.model(policy), request()).await;
    assert_eq!(error, Some(AiError::Timeout("total")));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn generate_returns_the_whole_reply_retrying_and_continuing() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::rate_limited("0"));
    fake.push(Reply::completion("Overall: 7/10. Commun", "length"));
    fake.push(Reply::completion("Communication was clear.", "stop"));
    let model = fake.model(test_policy());
    let generated = model.generate(request()).await.unwrap();
    assert_eq!(generated.text, "Overall: 7/10. Communication was clear.");
    assert_eq!(generated.steps, 2);
    assert_eq!(generated.usage.total_tokens, 104, "usage summed over the calls");
    assert_eq!(generated.usage.output_tokens, 24);

    let sent = fake.requests();
    assert_eq!(sent.len(), 3);
    for request in &sent {
        assert_eq!(request.body["stream"], false);
        assert!(request.body.get("stream_options").is_none());
    }
    assert_eq!(sent[2].messages().last().unwrap(), &("assistant".to_owned(), "Overall: 7/10. ".to_owned()));

    fake.push(Reply::completion("No.", "content_filter"));
    assert_eq!(model.generate(request()).await, Err(AiError::Blocked("content_filter".into())));
    fake.push(Reply::completion("", "stop"));
    assert_eq!(model.generate(request()).await, Err(AiError::Empty));
}

#[tokio::test]
async fn a_whole_reply_may_take_longer_than_a_streams_first_byte() {
    // A non-streamed reply answers only once it is whole, so only the total deadline bounds it.
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::completion("Worth the wait.", "stop").delay_headers(Duration::from_millis(600)));
    fake.push(Reply::completion("Too late.", "stop").delay_headers(Duration::from_secs(5)));
    let policy = Policy { first_byte_timeout: Duration::from_millis(300), ..test_policy() };
    let model = fake.model(policy.clone());
    assert_eq!(
        model.generate(request()).await.map(|generated| generated.text),
        Ok("Worth the wait.".to_owned())
    );
    let model = fake.model(Policy { total_timeout: Duration::from_secs(1), ..policy });
    assert_eq!(model.generate(request()).await, Err(AiError::Timeout("total")));
}

#[tokio::test]
async fn the_generate_question_route_streams_through_this_adapter() {
    let fake = FakeOpenAi::keyless().await;
    let app = TestApp::builder(Store::Embedded).model(fake.model(test_policy())).build().await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token).await;
    fake.push(Reply::stream(
        &["## Idempotent payments\n\n", "How would you ", "make a charge retry-safe?"],
        "stop",
    ));

    let body = json!({"prompt": "medium", "jobInfoId": job.to_string()});
    let response =
        app.call(Method::POST, "/api/ai/questions/generate-question", Some(&token), Some(body), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("x-vercel-ai-data-stream"), Some("v1"));
    let parts = data_stream::parse(&response.text()).unwrap_or_else(|error| panic!("{error}"));
    let question_id = data_stream::question_id(&parts).expect("a questionId");
    assert_eq!(
        parts[1..],
        [
            StreamPart::Text("## Idempotent payments\n\n".into()),
            StreamPart::Text("How would you ".into()),
            StreamPart::Text("make a charge ".into()),
            StreamPart::Text("retry-safe?".into()),
            StreamPart::StepFinish { finish_reason: "stop".into(), is_continued: false },
            StreamPart::Finish { finish_reason: "stop".into() },
            StreamPart::Data(vec![json!({ "questionId": question_id })]),
        ],
        "{parts:?}"
    );
    assert!(matches!(&parts[0], StreamPart::StepStart { .. }));

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let messages = sent[0].messages();
    assert_eq!(messages[0].0, "system");
    assert!(messages[0].1.contains(DESCRIPTION), "the job reaches the system message");
    assert_eq!(messages[1..], pairs(&[("user", "medium")])[..]);

    let stored =
        app.call(Method::GET, &format!("/api/questions/{question_id}"), Some(&token), None, &[]).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(stored.json()["text"], "## Idempotent payments\n\nHow would you make a charge retry-safe?");

    // A reply cut at `length` reaches the client as two steps of one message.
    fake.push(Reply::stream(&["Design a rate ", "limi"], "length"));
    fake.push(Reply::stream(&["limiter."], "stop"));
    let body = json!({"prompt": "hard", "jobInfoId": job.to_string()});
    let response =
        app.call(Method::POST, "/api/ai/questions/generate-question", Some(&token), Some(body), &[]).await;
    let parts = data_stream::parse(&response.text()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(data_stream::codes(&parts), "f0ef0ed2", "{parts:?}");
    assert_eq!(data_stream::text(&parts), "Design a rate limiter.");
}
