//! Practice history end to end: graded answers kept after the feedback stream (with the rating
//! read from it, or none), nothing kept from a failed stream, the per-question list, the question's
//! and the job's counters (exact under 20 concurrent attempts), and the deletes that remove them.

use std::time::Duration;

use darasa::ai::gemini::Policy;
use darasa::protect::{Mode, Modes};
use darasa::questions::{Difficulty, Question};
use darasa::store::{Item, Query};
use darasa::users;
use darasa_tests::app::{Store, TestApp, TestResponse};
use darasa_tests::data_stream::{self, Part};
use darasa_tests::fixtures::{ALICE, BOB, create_job, record_attempt, seed_question};
use darasa_tests::gemini::{FakeGemini, Gate, Piece, Reply, chunk, test_policy};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const FEEDBACK: &str = "/api/ai/questions/generate-feedback";

async fn setup(store: Store) -> (TestApp, FakeGemini) {
    let fake = FakeGemini::start().await;
    let app = TestApp::builder(store).model(fake.model(test_policy())).build().await;
    (app, fake)
}

/// A model reply in the original's feedback shape, `rating` written as given (e.g. "7/10").
fn rated_reply(rating: &str) -> Vec<String> {
    vec![
        format!("## Feedback (Rating: {rating})\n"),
        "You named idempotency keys but not where they live.\n---\n".into(),
        "## Correct Answer\nStore the key with the result in one write.".into(),
    ]
}

fn stream(pieces: &[String]) -> Reply {
    Reply::stream(&pieces.iter().map(String::as_str).collect::<Vec<_>>(), "STOP")
}

fn parts(response: &TestResponse) -> Vec<Part> {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("x-vercel-ai-data-stream"), Some("v1"));
    data_stream::parse(&response.text()).unwrap_or_else(|error| panic!("{error}"))
}

async fn grade(app: &TestApp, token: &str, question: Uuid, answer: &str) -> Vec<Part> {
    let body = json!({"prompt": answer, "questionId": question});
    parts(&app.call(Method::POST, FEEDBACK, Some(token), Some(body), &[]).await)
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.call(Method::GET, path, Some(token), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
    response.json()
}

async fn progress(app: &TestApp, token: &str, job: Uuid) -> Value {
    get_json(app, token, &format!("/api/job-infos/{job}/progress")).await
}

/// The user's stored items whose sort key starts with `prefix`.
async fn items(app: &TestApp, user: &str, prefix: &str) -> Vec<Item> {
    app.table.query(&Query::new(users::partition(user), prefix).limit(1000)).await.unwrap().items
}

fn today() -> String {
    darasa::attempts::store::day_of(time::OffsetDateTime::now_utc())
}

on_both_stores!(
    a_graded_answer_is_kept_with_its_rating_after_the_stream,
    feedback_without_a_readable_rating_is_kept_with_a_null_rating,
    a_failed_or_cut_feedback_stream_keeps_nothing,
    attempts_list_newest_first_in_pages_and_stay_private,
    progress_counts_per_job_difficulty_and_day,
    twenty_concurrent_attempts_keep_every_counter_exact,
    deleting_the_job_or_the_user_removes_attempts_and_progress,
);

async fn a_graded_answer_is_kept_with_its_rating_after_the_stream(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, &[]);
    let job = create_job(&app, &token).await;
    let question = seed_question(&app, ALICE, job, Difficulty::Medium, "How is a charge retry-safe?").await;
    let reply = rated_reply("7/10");
    fake.push(stream(&reply));

    let parts = grade(&app, &token, question.id, "  Use an idempotency key.  ").await;
    let attempt_id = data_stream::attempt_id(&parts).expect("an attemptId");
    let codes = data_stream::codes(&parts);
    assert!(codes.starts_with("f0") && codes.ends_with("ed2"), "the original's parts, then the id: {codes}");
    assert_eq!(data_stream::text(&parts), reply.concat(), "the stream the client sees is unchanged");
    assert_eq!(parts.last(), Some(&Part::Data(vec![json!({ "attemptId": attempt_id })])));

    let list = get_json(&app, &token, &format!("/api/questions/{}/attempts", question.id)).await;
    let stored = &list["items"][0];
    let created_at = stored["createdAt"].as_str().expect("createdAt").to_owned();
    assert_eq!(
        *stored,
        json!({
            "id": attempt_id, "questionId": question.id, "jobInfoId": job,
            "answer": "Use an idempotency key.", "feedback": reply.concat(), "rating": 7,
            "model": "gemini-2.5-flash", "createdAt": created_at,
        })
    );
    assert!(created_at.starts_with(&today()));
    assert_eq!(list["nextCursor"], Value::Null);

    let path = format!("/api/questions/{}", question.id);
    let read = app.call(Method::GET, &path, Some(&token), None, &[]).await;
    assert_eq!(read.header("etag"), Some("\"2\""), "an attempt changes the question's counters");
    assert_eq!((read.json()["attempts"].clone(), read.json()["bestRating"].clone()), (json!(1), json!(7)));

    // A weaker retry: counted, newest first, the best kept.
    fake.push(stream(&rated_reply("3/10")));
    let retry = data_stream::attempt_id(&grade(&app, &token, question.id, "Retry later.").await).unwrap();
    let list = get_json(&app, &token, &format!("/api/questions/{}/attempts", question.id)).await;
    let ids: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [retry.as_str(), attempt_id.as_str()]);
    let read = get_json(&app, &token, &path).await;
    assert_eq!((read["attempts"].clone(), read["bestRating"].clone()), (json!(2), json!(7)));

    let progress = progress(&app, &token, job).await;
    let tally = json!({"questions": 1, "answered": 1, "attempts": 2, "ratedAttempts": 2,
        "averageRating": 5.0, "bestRating": 7});
    let empty = json!({"questions": 0, "answered": 0, "attempts": 0, "ratedAttempts": 0,
        "averageRating": null, "bestRating": null});
    let mut expected = json!({
        "jobInfoId": job,
        "byDifficulty": {"easy": empty, "medium": tally, "hard": empty},
        "trend": [{"day": today(), "attempts": 2, "ratedAttempts": 2, "averageRating": 5.0}],
    });
    for (name, value) in tally.as_object().unwrap() {
        expected[name] = value.clone();
    }
    assert_eq!(progress, expected);
}

async fn feedback_without_a_readable_rating_is_kept_with_a_null_rating(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, &[]);
    let job = create_job(&app, &token).await;
    let question = seed_question(&app, ALICE, job, Difficulty::Easy, "What is a saga?").await;
    for rating in ["7.5/10", "seven out of ten"] {
        fake.push(stream(&rated_reply(rating)));
        let parts = grade(&app, &token, question.id, "A chain of local transactions.").await;
        assert!(data_stream::attempt_id(&parts).is_some(), "kept all the same: {parts:?}");
    }
    let list = get_json(&app, &token, &format!("/api/questions/{}/attempts", question.id)).await;
    let ratings: Vec<&Value> = list["items"].as_array().unwrap().iter().map(|a| &a["rating"]).collect();
    assert_eq!(ratings, [&Value::Null, &Value::Null]);
    let read = get_json(&app, &token, &format!("/api/questions/{}", question.id)).await;
    assert_eq!((read["attempts"].clone(), read["bestRating"].clone()), (json!(2), Value::Null));
    let progress = progress(&app, &token, job).await;
    assert_eq!(
        (
            &progress["answered"],
            &progress["attempts"],
            &progress["ratedAttempts"],
            &progress["averageRating"]
        ),
        (&json!(1), &json!(2), &json!(0), &Value::Null)
    );
    assert_eq!(
        progress["trend"],
        json!([{"day": today(), "attempts": 2, "ratedAttempts": 0, "averageRating": null}])
    );
}

async fn a_failed_or_cut_feedback_stream_keeps_nothing(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, &[]);
    let job = create_job(&app, &token).await;
    let question = seed_question(&app, ALICE, job, Difficulty::Hard, "Design a ledger.").await;
    let before = items(&app, ALICE, "").await.len();
    let failures = [
        Reply::unavailable(),
        Reply::sse(&[chunk(Some("## Feedback (Rating: 9/10)\n"), None)]).then(Piece::Cut),
        Reply::stream(&["## Feedback (Rating: 9/10)\n"], "SAFETY"),
        Reply::stream(&["## Feedback (Rating: 9/10)\n"], "MAX_TOKENS"),
    ];
    for reply in failures {
        fake.always(reply);
        let parts = grade(&app, &token, question.id, "Double entry.").await;
        assert!(matches!(parts.last(), Some(Part::Error(_))), "ends with 3: {parts:?}");
        assert!(data_stream::attempt_id(&parts).is_none(), "{parts:?}");
    }
    assert!(items(&app, ALICE, "ATTEMPT#").await.is_empty());
    let read = get_json(&app, &token, &format!("/api/questions/{}", question.id)).await;
    assert_eq!((read["attempts"].clone(), read["version"].clone()), (json!(0), json!(1)));
    assert_eq!(progress(&app, &token, job).await["attempts"], 0);
    // Protection state (rate windows) may have been written; nothing of the user's data was.
    let after: Vec<Item> = items(&app, ALICE, "").await;
    let data =
        after.iter().filter(|item| !item["sk"].as_str().unwrap_or_default().starts_with("RATE#")).count();
    assert_eq!(data, before);
}

async fn attempts_list_newest_first_in_pages_and_stay_private(store: Store) {
    let app = TestApp::new(store).await;
    let (alice, bob) = (app.token(ALICE, &[]), app.token(BOB, &[]));
    let job = create_job(&app, &alice).await;
    let question = seed_question(&app, ALICE, job, Difficulty::Easy, "Q1").await;
    let other = seed_question(&app, ALICE, job, Difficulty::Easy, "Q2").await;
    let mut ids = Vec::new();
    for rating in [1, 2, 3, 4, 5] {
        ids.push(record_attempt(&app, ALICE, question.id, Some(rating)).await.id.to_string());
        record_attempt(&app, ALICE, other.id, Some(rating)).await;
    }
    ids.reverse();

    let base = format!("/api/questions/{}/attempts", question.id);
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{base}?limit=2&cursor={cursor}"),
            None => format!("{base}?limit=2"),
        };
        let page = get_json(&app, &alice, &path).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 5, "paging must end");
    }
    assert_eq!(seen, ids, "newest first, only this question's");

    // Cursors of another list, even of the same user's other question, are refused.
    let other_page = get_json(&app, &alice, &format!("/api/questions/{}/attempts?limit=1", other.id)).await;
    let questions_page = get_json(&app, &alice, &format!("/api/job-infos/{job}/questions?limit=1")).await;
    for foreign in [&other_page["nextCursor"], &questions_page["nextCursor"], &json!("bm9wZQ")] {
        let path = format!("{base}?cursor={}", foreign.as_str().unwrap());
        app.call(Method::GET, &path, Some(&alice), None, &[])
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "INVALID_CURSOR");
    }
    app.call(Method::GET, &base, Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "QUESTION_NOT_FOUND");
    let unknown = format!("/api/questions/{}/attempts", Uuid::now_v7());
    app.call(Method::GET, &unknown, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "QUESTION_NOT_FOUND");
    app.call(Method::GET, "/api/questions/nope/attempts", Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_ID");
    app.call(Method::GET, &format!("{base}?limit=0"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_QUERY");
    app.call(Method::GET, &base, None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

async fn progress_counts_per_job_difficulty_and_day(store: Store) {
    let app = TestApp::new(store).await;
    let (alice, bob) = (app.token(ALICE, &[]), app.token(BOB, &[]));
    let job = create_job(&app, &alice).await;
    let other_job = create_job(&app, &alice).await;
    let easy_1 = seed_question(&app, ALICE, job, Difficulty::Easy, "E1").await;
    let easy_2 = seed_question(&app, ALICE, job, Difficulty::Easy, "E2").await;
    let hard = seed_question(&app, ALICE, job, Difficulty::Hard, "H1").await;
    seed_question(&app, ALICE, job, Difficulty::Medium, "M1, never answered").await;
    let elsewhere = seed_question(&app, ALICE, other_job, Difficulty::Easy, "Elsewhere").await;
    for (question, rating) in [(&easy_1, Some(4)), (&easy_1, Some(6)), (&easy_2, None), (&hard, Some(9))] {
        record_attempt(&app, ALICE, question.id, rating).await;
    }
    record_attempt(&app, ALICE, elsewhere.id, Some(2)).await;

    let progress = progress(&app, &alice, job).await;
    let tally = |questions, answered, attempts, rated, average: Value, best: Value| {
        json!({"questions": questions, "answered": answered, "attempts": attempts, "ratedAttempts": rated,
            "averageRating": average, "bestRating": best})
    };
    let total = tally(4, 3, 4, 3, json!(6.33), json!(9));
    for (name, value) in total.as_object().unwrap() {
        assert_eq!(progress[name], *value, "{name}");
    }
    assert_eq!(progress["byDifficulty"]["easy"], tally(2, 2, 3, 2, json!(5.0), json!(6)));
    assert_eq!(progress["byDifficulty"]["medium"], tally(1, 0, 0, 0, Value::Null, Value::Null));
    assert_eq!(progress["byDifficulty"]["hard"], tally(1, 1, 1, 1, json!(9.0), json!(9)));
    assert_eq!(
        progress["trend"],
        json!([{"day": today(), "attempts": 4, "ratedAttempts": 3, "averageRating": 6.33}])
    );

    let separate = self::progress(&app, &alice, other_job).await;
    assert_eq!(
        (&separate["questions"], &separate["attempts"], &separate["bestRating"]),
        (&json!(1), &json!(1), &json!(2))
    );
    let fresh = create_job(&app, &alice).await;
    let nothing = self::progress(&app, &alice, fresh).await;
    assert_eq!(
        (&nothing["questions"], &nothing["averageRating"], &nothing["trend"]),
        (&json!(0), &Value::Null, &json!([]))
    );

    for (token, path) in [
        (&bob, format!("/api/job-infos/{job}/progress")),
        (&alice, format!("/api/job-infos/{}/progress", Uuid::now_v7())),
    ] {
        app.call(Method::GET, &path, Some(token), None, &[])
            .await
            .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    }
}

/// 20 graded answers to one question at once, every one held at the model until all 20 are in
/// flight, so their transactions race: the first-attempt guard, the best-rating guard and the
/// progress `ADD`s must still add up exactly.
async fn twenty_concurrent_attempts_keep_every_counter_exact(store: Store) {
    let fake = FakeGemini::start().await;
    // The first replies wait for the last request to arrive: give them time on a loaded machine.
    let patient = Policy {
        first_byte_timeout: Duration::from_secs(30),
        total_timeout: Duration::from_secs(60),
        ..test_policy()
    };
    // Rate limits off: they allow 2 generations in flight per user, and this test is about 20
    // recordings racing, not about that cap (protect.rs tests it).
    let app = TestApp::builder(store)
        .model(fake.model(patient))
        .protection(Modes { rate_limit: Mode::Off, ..Modes::LOCAL })
        .build()
        .await;
    let token = app.token(ALICE, &[]);
    let job = create_job(&app, &token).await;
    let question: Question = seed_question(&app, ALICE, job, Difficulty::Medium, "Race me.").await;
    // Every rating from 0 to 10, some twice, in an order the race reshuffles anyway.
    let ratings: Vec<u8> = (0..20u8).map(|n| n * 7 % 11).collect();
    let gate = Gate::new();
    for rating in &ratings {
        fake.push(stream(&rated_reply(&format!("{rating}/10"))).insert(0, Piece::Wait(gate.clone())));
    }
    let calls: Vec<_> = (0..20)
        .map(|n| {
            let body = json!({"prompt": format!("answer {n}"), "questionId": question.id});
            app.spawn(darasa_tests::app::request(Method::POST, FEEDBACK, Some(&token), Some(body), &[]))
        })
        .collect();
    for _ in 0..3000 {
        if fake.requests().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.requests().len(), 20, "all 20 in flight");
    gate.open();
    let mut ids = Vec::new();
    for call in calls {
        ids.push(data_stream::attempt_id(&parts(&call.await.unwrap())).expect("every attempt kept"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);

    let sum: u32 = ratings.iter().map(|&r| u32::from(r)).sum();
    let average = (f64::from(sum) / 20.0 * 100.0).round() / 100.0;
    let read = get_json(&app, &token, &format!("/api/questions/{}", question.id)).await;
    assert_eq!(
        (&read["attempts"], &read["bestRating"], &read["version"]),
        (&json!(20), &json!(10), &json!(21))
    );
    let progress = progress(&app, &token, job).await;
    let tally = json!({"questions": 1, "answered": 1, "attempts": 20, "ratedAttempts": 20,
        "averageRating": average, "bestRating": 10});
    assert_eq!(progress["byDifficulty"]["medium"], tally);
    for (name, value) in tally.as_object().unwrap() {
        assert_eq!(progress[name], *value, "{name}");
    }
    assert_eq!(
        progress["trend"],
        json!([{"day": today(), "attempts": 20, "ratedAttempts": 20, "averageRating": average}])
    );
    let list = get_json(&app, &token, &format!("/api/questions/{}/attempts?limit=100", question.id)).await;
    let mut stored: Vec<u8> =
        list["items"].as_array().unwrap().iter().map(|a| a["rating"].as_u64().unwrap() as u8).collect();
    let mut expected = ratings.clone();
    stored.sort_unstable();
    expected.sort_unstable();
    assert_eq!(stored, expected);
}

async fn deleting_the_job_or_the_user_removes_attempts_and_progress(store: Store) {
    let app = TestApp::new(store).await;
    let (alice, bob) = (app.token(ALICE, &[]), app.token(BOB, &[]));
    let job = create_job(&app, &alice).await;
    let kept = create_job(&app, &alice).await;
    for (job, text) in [(job, "A"), (job, "B"), (kept, "C")] {
        let question = seed_question(&app, ALICE, job, Difficulty::Easy, text).await;
        record_attempt(&app, ALICE, question.id, Some(5)).await;
        record_attempt(&app, ALICE, question.id, None).await;
    }
    let bobs_job = create_job(&app, &bob).await;
    let bobs = seed_question(&app, BOB, bobs_job, Difficulty::Easy, "Bob's").await;
    record_attempt(&app, BOB, bobs.id, Some(8)).await;
    assert_eq!(items(&app, ALICE, "ATTEMPT#").await.len(), 6);
    assert_eq!(items(&app, ALICE, "PROGRESS#").await.len(), 2);

    let deleted = app.call(Method::DELETE, &format!("/api/job-infos/{job}"), Some(&alice), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let left = items(&app, ALICE, "ATTEMPT#").await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|attempt| attempt["jobInfoId"] == kept.to_string()), "only the other job's");
    let progress_left = items(&app, ALICE, "PROGRESS#").await;
    assert_eq!(progress_left.len(), 1);
    assert_eq!(progress_left[0]["jobInfoId"], kept.to_string());
    app.call(Method::GET, &format!("/api/job-infos/{job}/progress"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");

    darasa::users::delete_user(app.table.as_ref(), ALICE, darasa::clock::now()).await.unwrap();
    let remaining: Vec<String> =
        items(&app, ALICE, "").await.iter().map(|item| item["sk"].as_str().unwrap().to_owned()).collect();
    assert_eq!(remaining, ["TOMBSTONE"]);
    assert_eq!(items(&app, BOB, "ATTEMPT#").await.len(), 1, "another user's history stays");
    assert_eq!(progress(&app, &bob, bobs_job).await["attempts"], 1);
}
