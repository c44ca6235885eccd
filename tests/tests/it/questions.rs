//! Questions end to end: the streamed AI routes against the fake Gemini (exact data-stream parts
//! checked with an independent parser, the original's plain-text errors in their order, the
//! quota consumed atomically with the stored question, nothing stored on failure), streaming
//! over a real socket, the read routes, and the routes' own Lambda events.

use std::time::Duration;

use axum::body::Body;
use darasa::ai::gemini::Policy;
use darasa::protect::{Mode, Modes};
use darasa::questions::{self, Difficulty, Question};
use darasa::store::{Key, Query, Update};
use darasa::users;
use darasa_tests::app::{Store, TestApp, TestResponse};
use darasa_tests::data_stream::{self, Part};
use darasa_tests::events;
use darasa_tests::fixtures::{ALICE, BOB, DESCRIPTION, FREE, create_job_with, job_body};
use darasa_tests::gemini::{FAKE_KEY, FakeGemini, Gate, Piece, Reply, chunk, test_policy};
use darasa_tests::loopback::LoopbackServer;
use darasa_tests::on_both_stores;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const GENERATE: &str = "/api/ai/questions/generate-question";
const FEEDBACK: &str = "/api/ai/questions/generate-feedback";

async fn setup(store: Store) -> (TestApp, FakeGemini) {
    let fake = FakeGemini::start().await;
    let app = TestApp::builder(store).model(fake.model(test_policy())).build().await;
    (app, fake)
}

async fn create_job(app: &TestApp, token: &str, title: Option<&str>) -> Uuid {
    create_job_with(app, token, job_body("Payments", title)).await
}

fn question_body(difficulty: &str, job: impl std::fmt::Display) -> Value {
    json!({"prompt": difficulty, "jobInfoId": job.to_string()})
}

/// A streamed reply: 200 with the data-stream headers, parsed.
fn stream_parts(response: &TestResponse) -> Vec<Part> {
    let body = String::from_utf8_lossy(&response.body);
    assert_eq!(response.status, StatusCode::OK, "{body}");
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(response.header("x-vercel-ai-data-stream"), Some("v1"));
    data_stream::parse(&body).unwrap_or_else(|error| panic!("{error}"))
}

async fn used(app: &TestApp, user: &str) -> u64 {
    users::get_usage(app.table.as_ref(), user).await.unwrap().questions_generated
}

async fn seed_usage(app: &TestApp, user: &str, count: i64) {
    app.table
        .update(&users::usage_key(user), Update::new().add(users::QUESTIONS_GENERATED, count), None)
        .await
        .unwrap();
}

async fn stored_questions(app: &TestApp, user: &str, job: Uuid) -> Vec<Question> {
    questions::list(app.table.as_ref(), user, job, 100, None).await.unwrap().0
}

/// How many of the user's resources are stored (job infos, questions...): the partition without
/// the usage counters (checked with `used`) and the protection rules' state (rate windows,
/// generation leases).
async fn stored_items(app: &TestApp, user: &str) -> usize {
    let resource = |item: &darasa::store::Item| {
        let sk = item["sk"].as_str().unwrap_or_default();
        sk != "USAGE" && !sk.starts_with("INFLIGHT#")
    };
    partition_but_windows(app, user).await.iter().filter(|item| resource(item)).count()
}

/// Every item of the user's partition but their rate-limit windows (which count every request),
/// usage counters and generation slots included.
async fn partition_but_windows(app: &TestApp, user: &str) -> Vec<darasa::store::Item> {
    let items = app.table.query(&Query::new(users::partition(user), "").limit(1000)).await.unwrap().items;
    items.into_iter().filter(|item| !item["sk"].as_str().unwrap_or_default().starts_with("RATE#")).collect()
}

/// Waits until the fake has received `count` requests.
async fn until_requests(fake: &FakeGemini, count: usize) {
    for _ in 0..3000 {
        if fake.requests().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the fake got {} requests, expected {count}", fake.requests().len());
}

/// Sends a POST with a JSON body on its own task (so a test can act while it is in flight).
fn spawn_call(
    app: &TestApp,
    token: &str,
    path: &'static str,
    body: Value,
) -> tokio::task::JoinHandle<TestResponse> {
    app.spawn(darasa_tests::app::request(Method::POST, path, Some(token), Some(body), &[]))
}

on_both_stores!(
    generate_question_streams_the_parts_then_stores_it,
    checks_come_in_the_originals_order_with_its_strings,
    a_failed_generation_stores_nothing_and_ends_with_an_error_part,
    concurrent_requests_at_the_limit_store_exactly_one,
    a_third_generation_in_flight_is_refused,
    a_job_deleted_during_generation_gets_nothing_attached,
    feedback_streams_the_graded_answer_then_keeps_it,
    feedback_checks_ownership_through_the_questions_job,
    question_reads_list_in_creation_order_and_stay_private,
    without_a_key_the_offline_engine_answers_under_the_same_rules,
);

async fn generate_question_streams_the_parts_then_stores_it(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, Some("Backend Engineer")).await;
    fake.push(Reply::stream(
        &["## Idempotent payments\n\n", "How would you ", "make a charge retry-safe?"],
        "STOP",
    ));

    let response =
        app.call(Method::POST, GENERATE, Some(&token), Some(question_body("medium", job)), &[]).await;
    let parts = stream_parts(&response);
    let Part::StepStart { message_id } = &parts[0] else { panic!("starts with f: {parts:?}") };
    assert!(message_id.starts_with("msg-"));
    let question_id = data_stream::question_id(&parts).expect("a questionId");
    let expected = vec![
        parts[0].clone(),
        Part::Text("## Idempotent payments\n\n".into()),
        Part::Text("How would you ".into()),
        Part::Text("make a charge ".into()),
        Part::Text("retry-safe?".into()),
        Part::StepFinish { finish_reason: "stop".into(), is_continued: false },
        Part::Finish { finish_reason: "stop".into() },
        Part::Data(vec![json!({ "questionId": question_id })]),
    ];
    assert_eq!(parts, expected, "text, then the finish parts, then the id once stored");

    // What the model was asked.
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].api_key.as_deref(), Some(FAKE_KEY));
    assert!(sent[0].path.ends_with("/models/gemini-2.5-flash:streamGenerateContent"));
    let system = sent[0].system();
    for needle in [DESCRIPTION, "`senior`", "`Backend Engineer`"] {
        assert!(system.contains(needle), "{needle} missing from {system}");
    }
    assert_eq!(sent[0].turns(), [("user".to_owned(), "medium".to_owned())]);

    // What was stored.
    let fetched =
        app.call(Method::GET, &format!("/api/questions/{question_id}"), Some(&token), None, &[]).await;
    assert_eq!(fetched.status, StatusCode::OK);
    let question = fetched.json();
    let text = "## Idempotent payments\n\nHow would you make a charge retry-safe?";
    assert_eq!(question["text"], text);
    assert_eq!(question["difficulty"], "medium");
    assert_eq!(question["jobInfoId"], job.to_string());
    assert_eq!(question["version"], 1);
    assert_eq!(used(&app, ALICE).await, 1);

    // The next generation carries this one as history, so the model does not repeat it.
    fake.push(Reply::stream(&["Design a ledger."], "STOP"));
    let second = app.call(Method::POST, GENERATE, Some(&token), Some(question_body("hard", job)), &[]).await;
    assert!(data_stream::question_id(&stream_parts(&second)).is_some());
    assert_eq!(
        fake.requests()[1].turns(),
        [
            ("user".to_owned(), "medium".to_owned()),
            ("model".to_owned(), text.to_owned()),
            ("user".to_owned(), "hard".to_owned())
        ]
    );
    // A job without a title does not mention one.
    let untitled = create_job(&app, &token, None).await;
    fake.push(Reply::stream(&["What is a saga?"], "STOP"));
    app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", untitled)), &[]).await;
    assert!(!fake.requests()[2].system().contains("Job title"));
    assert_eq!(used(&app, ALICE).await, 3);
}

async fn checks_come_in_the_originals_order_with_its_strings(store: Store) {
    let (app, fake) = setup(store).await;
    let alice_free = app.token(ALICE, FREE);
    let alice_no_plan = app.token(ALICE, &[]);
    let bob = app.token(BOB, FREE);
    let job = create_job(&app, &alice_free, None).await;
    let bobs_job = create_job(&app, &bob, None).await;
    let good = question_body("easy", job);

    // 401 first, whatever else is wrong.
    for token in [None, Some("not.a.token"), Some(&alice_free[..alice_free.len() - 3])] {
        let response = app.call(Method::POST, GENERATE, token, Some(json!({"prompt": "extreme"})), &[]).await;
        response.assert_plain(StatusCode::UNAUTHORIZED, "You are not logged in");
    }
    // Then 400 (even for a user without a plan), any flaw in the body.
    let bad_bodies = [
        json!({"prompt": "extreme", "jobInfoId": job.to_string()}),
        json!({"prompt": "easy"}),
        json!({"prompt": "easy", "jobInfoId": ""}),
        json!({"prompt": 3, "jobInfoId": job.to_string()}),
        json!({"jobInfoId": job.to_string()}),
        json!([1, 2]),
    ];
    for body in bad_bodies {
        let response = app.call(Method::POST, GENERATE, Some(&alice_no_plan), Some(body.clone()), &[]).await;
        response.assert_plain(StatusCode::BAD_REQUEST, "Error generating your question");
    }
    let not_json = Request::post(GENERATE)
        .header("authorization", format!("Bearer {alice_free}"))
        .body(Body::from("prompt=easy"))
        .unwrap();
    app.send(not_json).await.assert_plain(StatusCode::BAD_REQUEST, "Error generating your question");
    // Then the plan, before ownership.
    let response = app.call(Method::POST, GENERATE, Some(&alice_no_plan), Some(good.clone()), &[]).await;
    response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    seed_usage(&app, BOB, 5).await;
    let response = app.call(Method::POST, GENERATE, Some(&bob), Some(good.clone()), &[]).await;
    response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    // Then ownership: another user's job, an unknown id, not an id at all. Nothing is taken and
    // given back for them: neither a quota unit nor a generation slot is written.
    let before = partition_but_windows(&app, ALICE).await;
    for other in [bobs_job.to_string(), Uuid::now_v7().to_string(), "job-1".to_owned()] {
        let body = json!({"prompt": "hard", "jobInfoId": other, "extra": "ignored as the original does"});
        let response = app.call(Method::POST, GENERATE, Some(&alice_free), Some(body), &[]).await;
        response.assert_plain(StatusCode::FORBIDDEN, "You do not have permission to do this");
    }
    assert_eq!(partition_but_windows(&app, ALICE).await, before, "a refused request writes nothing");
    assert!(fake.requests().is_empty(), "no refused request reaches the model");
    assert_eq!(used(&app, ALICE).await, 0);
    assert!(stored_questions(&app, ALICE, job).await.is_empty());
}

async fn a_failed_generation_stores_nothing_and_ends_with_an_error_part(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, None).await;
    let items_before = stored_items(&app, ALICE).await;
    let failures: Vec<(Reply, &str)> = vec![
        (Reply::unavailable(), ""),
        (Reply::sse(&[chunk(Some("Explain the first "), None)]).then(Piece::Cut), "Explain the first "),
        (Reply::stream(&["Something "], "SAFETY"), ""),
        (Reply::stream(&["Long answer "], "MAX_TOKENS"), "Long answer "),
    ];
    for (reply, text_before_error) in failures {
        fake.always(reply);
        let response =
            app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", job)), &[]).await;
        let parts = stream_parts(&response);
        let last = parts.last().expect("parts");
        assert!(matches!(last, Part::Error(message) if !message.is_empty()), "ends with 3: {parts:?}");
        assert!(data_stream::question_id(&parts).is_none(), "no id: {parts:?}");
        assert!(data_stream::text(&parts).starts_with(text_before_error), "{parts:?}");
        assert!(!parts.iter().any(|part| matches!(part, Part::Finish { .. })), "never finished: {parts:?}");
    }
    assert_eq!(used(&app, ALICE).await, 0, "no quota consumed");
    assert!(stored_questions(&app, ALICE, job).await.is_empty());
    assert_eq!(stored_items(&app, ALICE).await, items_before, "nothing written");
}

async fn concurrent_requests_at_the_limit_store_exactly_one(store: Store) {
    // The first generations wait for the last to arrive: give them time on a loaded machine.
    let fake = FakeGemini::start().await;
    let patient = Policy {
        first_byte_timeout: Duration::from_secs(30),
        total_timeout: Duration::from_secs(60),
        ..test_policy()
    };
    // Rate limits off: this is the quota's race, not the cap on generations in flight.
    let app = TestApp::builder(store)
        .model(fake.model(patient))
        .protection(Modes { rate_limit: Mode::Off, ..Modes::LOCAL })
        .build()
        .await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, None).await;
    // 20 at once against a quota of 5: the units are reserved before the model is called, so
    // exactly 5 generations start and the other 15 are refused before any text.
    let gate = Gate::new();
    fake.always(Reply::stream(&["Race ", "question?"], "STOP").insert(0, Piece::Wait(gate.clone())));
    let calls: Vec<_> =
        (0..20).map(|_| spawn_call(&app, &token, GENERATE, question_body("easy", job))).collect();
    until_requests(&fake, 5).await;
    gate.open();
    let (mut stored, mut refused) = (0, 0);
    for call in calls {
        let response = call.await.unwrap();
        if response.status == StatusCode::FORBIDDEN {
            response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
            refused += 1;
            continue;
        }
        let parts = stream_parts(&response);
        assert!(data_stream::question_id(&parts).is_some(), "{parts:?}");
        stored += 1;
    }
    assert_eq!((stored, refused), (5, 15));
    assert_eq!(fake.requests().len(), 5, "only the reserved generations reached the model");
    assert_eq!(used(&app, ALICE).await, 5);
    assert_eq!(stored_questions(&app, ALICE, job).await.len(), 5);
    let response =
        app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", job)), &[]).await;
    response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");

    // Unlimited plans have no ceiling.
    let unlimited = app.token(BOB, &["unlimited_questions"]);
    let bobs_job = create_job(&app, &unlimited, None).await;
    seed_usage(&app, BOB, 500).await;
    fake.always(Reply::stream(&["Unlimited?"], "STOP"));
    let calls: Vec<_> =
        (0..5).map(|_| spawn_call(&app, &unlimited, GENERATE, question_body("hard", bobs_job))).collect();
    for call in calls {
        assert!(data_stream::question_id(&stream_parts(&call.await.unwrap())).is_some());
    }
    assert_eq!(used(&app, BOB).await, 505);
}

/// At most two generations of one user run at once; a third is refused with the original's
/// `429 RATE_LIMIT` before anything is reserved, and a slot frees when a generation ends.
async fn a_third_generation_in_flight_is_refused(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, &["unlimited_questions"]);
    let job = create_job(&app, &token, None).await;
    let gate = Gate::new();
    fake.always(Reply::stream(&["Held ", "question?"], "STOP").insert(0, Piece::Wait(gate.clone())));
    let question = seed_question(&app, ALICE, job, "Q?").await;
    let first = spawn_call(&app, &token, GENERATE, question_body("easy", job));
    let answer = json!({"prompt": "an answer", "questionId": question.id});
    let second = spawn_call(&app, &token, FEEDBACK, answer);
    until_requests(&fake, 2).await;
    let third = app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", job)), &[]).await;
    third.assert_plain(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
    assert!(third.header("retry-after").is_some());
    assert_eq!(
        used(&app, ALICE).await,
        2,
        "the seeded question and the one in flight: the refused one reserved nothing"
    );
    gate.open();
    assert!(data_stream::question_id(&stream_parts(&first.await.unwrap())).is_some());
    let feedback = stream_parts(&second.await.unwrap());
    assert!(feedback.contains(&Part::Finish { finish_reason: "stop".into() }), "{feedback:?}");
    assert!(data_stream::attempt_id(&feedback).is_some(), "the graded answer was kept");
    let again = app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", job)), &[]).await;
    assert!(data_stream::question_id(&stream_parts(&again)).is_some(), "the slots were given back");
}

async fn a_job_deleted_during_generation_gets_nothing_attached(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, None).await;
    let gate = Gate::new();
    fake.push(Reply::stream(&["Orphan ", "question?"], "STOP").insert(1, Piece::Wait(gate.clone())));
    let call = spawn_call(&app, &token, GENERATE, question_body("easy", job));
    until_requests(&fake, 1).await;
    let deleted = app.call(Method::DELETE, &format!("/api/job-infos/{job}"), Some(&token), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    gate.open();
    let parts = stream_parts(&call.await.unwrap());
    assert_eq!(data_stream::error(&parts), Some("You do not have permission to do this"));
    assert_eq!(used(&app, ALICE).await, 0);
    assert_eq!(
        stored_items(&app, ALICE).await,
        0,
        "no question left behind, and the reserved unit given back"
    );
}

/// A question stored for `user`'s job, as a finished generation stores it.
async fn seed_question(app: &TestApp, user: &str, job: Uuid, text: &str) -> Question {
    let question = Question::new(job, text.to_owned(), Difficulty::Medium);
    darasa_tests::fixtures::seed_question_counted(&app.table, user, &question).await;
    question
}

async fn feedback_streams_the_graded_answer_then_keeps_it(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, &[]);
    let job = create_job(&app, &token, None).await;
    let question = seed_question(&app, ALICE, job, "How do you make a charge `retry-safe`?").await;
    let items_before = stored_items(&app, ALICE).await;
    let reply = [
        "## Feedback (Rating: 7/10)\n",
        "You named idempotency keys but not their storage.\n",
        "---\n",
        "## Correct Answer\n",
        "Store the key with the result in one write.",
    ];
    fake.push(Reply::stream(&reply, "STOP"));
    let body = json!({"prompt": "  Use an idempotency key.  ", "questionId": question.id});
    let response = app.call(Method::POST, FEEDBACK, Some(&token), Some(body), &[]).await;
    let parts = stream_parts(&response);
    assert_eq!(data_stream::codes(&parts), "f000000ed2", "{parts:?}");
    assert_eq!(data_stream::text(&parts), reply.concat());
    assert!(data_stream::attempt_id(&parts).is_some(), "the attempt's id after the feedback");
    assert_eq!(stored_items(&app, ALICE).await, items_before + 1, "one attempt kept (attempts.rs checks it)");

    let sent = &fake.requests()[0];
    assert!(sent.system().contains("```\nHow do you make a charge `retry-safe`?\n```"), "{}", sent.system());
    assert!(sent.system().contains("## Feedback (Rating: <grade>/10)"));
    assert!(sent.system().contains("## Correct Answer"));
    assert_eq!(
        sent.turns(),
        [("user".to_owned(), "Use an idempotency key.".to_owned())],
        "the answer, trimmed"
    );

    // A failing model ends the feedback stream with an error part.
    fake.always(Reply::unavailable());
    let body = json!({"prompt": "again", "questionId": question.id});
    let parts = stream_parts(&app.call(Method::POST, FEEDBACK, Some(&token), Some(body), &[]).await);
    assert_eq!(data_stream::codes(&parts), "3");
}

async fn feedback_checks_ownership_through_the_questions_job(store: Store) {
    let (app, fake) = setup(store).await;
    let alice = app.token(ALICE, &[]);
    let bob = app.token(BOB, &[]);
    let job = create_job(&app, &alice, None).await;
    let question = seed_question(&app, ALICE, job, "Q?").await;

    let response = app.call(Method::POST, FEEDBACK, None, Some(json!({"prompt": "a"})), &[]).await;
    response.assert_plain(StatusCode::UNAUTHORIZED, "You are not logged in");
    for body in [
        json!({"prompt": "", "questionId": question.id}),
        json!({"prompt": "   ", "questionId": question.id}),
        json!({"prompt": "an answer"}),
        json!({"prompt": "an answer", "questionId": ""}),
        json!({"prompt": "x".repeat(questions::MAX_ANSWER + 1), "questionId": question.id}),
        json!("an answer"),
    ] {
        let response = app.call(Method::POST, FEEDBACK, Some(&alice), Some(body), &[]).await;
        response.assert_plain(StatusCode::BAD_REQUEST, "Error generating your feedback");
    }
    // Bob cannot get feedback on Alice's question, nor on ids that name nothing.
    for id in [question.id.to_string(), Uuid::now_v7().to_string(), "q-1".to_owned()] {
        let response = app
            .call(Method::POST, FEEDBACK, Some(&bob), Some(json!({"prompt": "a", "questionId": id})), &[])
            .await;
        response.assert_plain(StatusCode::FORBIDDEN, "You do not have permission to do this");
    }
    // A question whose job is being deleted (a cascade that stopped halfway) is not Alice's to
    // use either.
    let doomed = create_job(&app, &alice, None).await;
    let orphan = seed_question(&app, ALICE, doomed, "Orphan?").await;
    let mark = Update::new().set("deleting", true);
    app.table.update(&darasa::job_infos::key(ALICE, doomed), mark, None).await.unwrap();
    let body = json!({"prompt": "a", "questionId": orphan.id});
    let response = app.call(Method::POST, FEEDBACK, Some(&alice), Some(body), &[]).await;
    response.assert_plain(StatusCode::FORBIDDEN, "You do not have permission to do this");
    assert!(fake.requests().is_empty());
}

async fn question_reads_list_in_creation_order_and_stay_private(store: Store) {
    let (app, _fake) = setup(store).await;
    let alice = app.token(ALICE, &[]);
    let bob = app.token(BOB, &[]);
    let job = create_job(&app, &alice, None).await;
    let other_job = create_job(&app, &alice, None).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(seed_question(&app, ALICE, job, &format!("Question {n}")).await.id.to_string());
    }
    seed_question(&app, ALICE, other_job, "Elsewhere").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/job-infos/{job}/questions?limit=2&cursor={cursor}"),
            None => format!("/api/job-infos/{job}/questions?limit=2"),
        };
        let page = app.call(Method::GET, &path, Some(&alice), None, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let page = page.json();
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 5, "paging must end");
    }
    assert_eq!(seen, ids, "oldest first, only this job's");

    let path = format!("/api/questions/{}", ids[0]);
    let one = app.call(Method::GET, &path, Some(&alice), None, &[]).await;
    assert_eq!(one.header("etag"), Some("\"1\""));
    assert_eq!(one.json()["text"], "Question 0");
    let fresh = app.call(Method::GET, &path, Some(&alice), None, &[("if-none-match", "\"1\"")]).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);

    app.call(Method::GET, &path, Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "QUESTION_NOT_FOUND");
    app.call(Method::GET, &format!("/api/job-infos/{job}/questions"), Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    app.call(Method::GET, "/api/questions/nope", Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_ID");
    app.call(Method::GET, &format!("/api/job-infos/{job}/questions?limit=0"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_QUERY");
    app.call(Method::GET, &path, None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");

    // Deleting the job takes its questions with it.
    let deleted = app.call(Method::DELETE, &format!("/api/job-infos/{job}"), Some(&alice), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "QUESTION_NOT_FOUND");
    assert!(app.table.get(&questions::key(ALICE, ids[0].parse().unwrap())).await.unwrap().is_none());
    let remaining = app
        .call(Method::GET, &format!("/api/job-infos/{other_job}/questions"), Some(&alice), None, &[])
        .await;
    assert_eq!(remaining.json()["items"].as_array().unwrap().len(), 1);
}

/// With no provider configured the offline engine answers, under every rule a hosted model
/// answers under: the quota, the stored question (naming its model, keeping its key points out
/// of the JSON) and feedback graded against those key points.
async fn without_a_key_the_offline_engine_answers_under_the_same_rules(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, Some("Backend engineer")).await;
    let mut texts = Vec::new();
    for difficulty in ["easy", "medium", "hard", "easy", "medium"] {
        let response =
            app.call(Method::POST, GENERATE, Some(&token), Some(question_body(difficulty, job)), &[]).await;
        let parts = stream_parts(&response);
        assert!(data_stream::question_id(&parts).is_some(), "{parts:?}");
        texts.push(data_stream::text(&parts));
    }
    let refused = app.call(Method::POST, GENERATE, Some(&token), Some(question_body("easy", job)), &[]).await;
    refused.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    assert_eq!(used(&app, ALICE).await, 5);
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 5, "five different questions");

    let stored = stored_questions(&app, ALICE, job).await;
    assert_eq!(stored.len(), 5);
    let question = &stored[0];
    assert_eq!(question.model.as_deref(), Some("darasa-offline-1"));
    let item = app.table.get(&questions::key(ALICE, question.id)).await.unwrap().unwrap();
    let key_points: Vec<String> = serde_json::from_value(item["keyPoints"].clone()).unwrap();
    assert!(!key_points.is_empty(), "the engine's key points are kept with the question");
    let read =
        app.call(Method::GET, &format!("/api/questions/{}", question.id), Some(&token), None, &[]).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.json().get("keyPoints").is_none(), "never shown before grading");

    // Covering the stored key points rates higher than not answering.
    let rating = |answer: String| {
        let body = json!({"prompt": answer, "questionId": question.id});
        let app = &app;
        let token = &token;
        async move {
            let response = app.call(Method::POST, FEEDBACK, Some(token), Some(body), &[]).await;
            let feedback = data_stream::text(&stream_parts(&response));
            let first = feedback.lines().next().unwrap_or_default().to_owned();
            first.trim_start_matches("## Feedback (Rating: ").trim_end_matches("/10)").parse::<u8>().unwrap()
        }
    };
    let blank = rating("No idea, sorry.".into()).await;
    let covered =
        rating(format!("{} Because of that, the trade-off is worth it.", key_points.join(". "))).await;
    assert!(blank <= 3 && covered > blank, "{blank} then {covered}");
    assert_eq!(used(&app, ALICE).await, 5, "feedback counts nothing");
}

/// Reads a streamed response until a complete `0:` line arrives; returns the lines so far.
async fn read_until_text(response: &mut reqwest::Response, received: &mut Vec<u8>) -> Vec<Part> {
    loop {
        let text = String::from_utf8_lossy(received).into_owned();
        if let Some(end) = text.rfind('\n') {
            let parts = data_stream::parse(&text[..=end]).unwrap();
            if parts.iter().any(|part| matches!(part, Part::Text(_))) {
                return parts;
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("the first text part must arrive while the upstream still holds the rest")
            .unwrap()
            .expect("the body ended before any text");
        received.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn text_reaches_the_client_while_the_upstream_still_holds_the_rest() {
    let (app, fake) = setup(Store::Embedded).await;
    let token = app.token(ALICE, FREE);
    let job = create_job(&app, &token, None).await;
    let question = seed_question(&app, ALICE, job, "Q?").await;
    let server = LoopbackServer::start(app.router.clone()).await;
    let client = darasa::http_client::builder().build().unwrap();
    for (path, body) in [
        (GENERATE, question_body("easy", job)),
        (FEEDBACK, json!({"prompt": "an answer", "questionId": question.id})),
    ] {
        let gate = Gate::new();
        fake.push(
            Reply::stream(&["First part ", "and the rest."], "STOP").insert(1, Piece::Wait(gate.clone())),
        );
        let mut response = client
            .post(format!("{}{path}", server.url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-vercel-ai-data-stream"], "v1");
        let mut received = Vec::new();
        let early = read_until_text(&mut response, &mut received).await;
        assert!(!gate.is_open());
        assert_eq!(data_stream::text(&early), "First part ", "{path}");
        gate.open();
        while let Some(chunk) = response.chunk().await.unwrap() {
            received.extend_from_slice(&chunk);
        }
        let parts = data_stream::parse(&String::from_utf8(received).unwrap()).unwrap();
        assert_eq!(data_stream::text(&parts), "First part and the rest.");
        assert_eq!(data_stream::question_id(&parts).is_some(), path == GENERATE, "{parts:?}");
    }
}

/// The user and ids the route events in `infra/events/` name.
const EVENT_USER: &str = "user_events";
const EVENT_JOB: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e001";
const EVENT_QUESTION: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e002";

#[tokio::test]
async fn the_route_events_stream_through_the_lambda_adapter_with_a_model() {
    let fake = FakeGemini::start().await;
    let app = TestApp::new(Store::Embedded).await;
    let at = time::macros::datetime!(2026-11-01 09:00:00 UTC);
    let job = darasa::job_infos::JobInfo {
        id: EVENT_JOB.parse().unwrap(),
        user_id: EVENT_USER.into(),
        name: "Seeded job".into(),
        title: None,
        experience_level: darasa::job_infos::ExperienceLevel::Senior,
        description: "Seeded for the event tests".into(),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    darasa::job_infos::insert(app.table.as_ref(), &job).await.unwrap();
    let question = Question {
        id: EVENT_QUESTION.parse().unwrap(),
        ..Question::new(job.id, "Q?".into(), Difficulty::Easy)
    };
    darasa_tests::fixtures::seed_question_counted(&app.table, EVENT_USER, &question).await;

    for (file, function, codes) in [
        ("generate-question.json", "generate-question", "f0ed2"),
        ("generate-feedback.json", "generate-feedback", "f0ed2"),
    ] {
        fake.push(Reply::stream(&["Streamed."], "STOP"));
        let model = Some(fake.model(test_policy()));
        let response = events::invoke(function, app.table.clone(), model, &events::read(file)).await;
        assert_eq!(response["statusCode"], 200, "{file}: {response:#}");
        assert_eq!(response["headers"]["x-vercel-ai-data-stream"], "v1");
        let parts = data_stream::parse(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(data_stream::codes(&parts), codes, "{file}: {parts:?}");
    }
    assert_eq!(used(&app, EVENT_USER).await, 2, "the seeded question and the generated one");
    assert!(
        app.table
            .get(&Key::new(users::partition(EVENT_USER), format!("QUESTION#{EVENT_QUESTION}")))
            .await
            .unwrap()
            .is_some()
    );
}
