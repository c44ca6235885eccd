//! Interviews end to end against loopback fakes of Hume and Gemini: CRUD and listing, the plan
//! check and the start counted atomically with `humeChatId` (raced on both stores), the token
//! bucket (raced on both stores), Hume tokens (cache, expiry, concurrent callers, failures),
//! transcripts (paging, condensing, odd events, failures), AI feedback, and another user's ids.

use std::sync::Arc;
use std::time::Duration;

use darasa::interviews;
use darasa::protect::{Decision, INTERVIEW_BUCKET};
use darasa::users;
use darasa_tests::app::{Store, TestApp, TestResponse};
use darasa_tests::clerk::TestClock;
use darasa_tests::fixtures::{ALICE, BOB, FREE, create_job_with, ids, seed_profile};
use darasa_tests::gemini::{FakeGemini, Reply, test_policy};
use darasa_tests::hume::{Failure, FakeHume, event};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const UNLIMITED: &[&str] = &["unlimited_interviews"];

struct Env {
    app: TestApp,
    hume: FakeHume,
    gemini: FakeGemini,
}

async fn setup(store: Store) -> Env {
    let hume = FakeHume::start().await;
    let gemini = FakeGemini::start().await;
    let client = hume.client(darasa::clock::system(), Duration::from_millis(800));
    let app = TestApp::builder(store).model(gemini.model(test_policy())).hume(client).build().await;
    Env { app, hume, gemini }
}

/// A mid-level Android job.
async fn create_job(app: &TestApp, token: &str, title: Option<&str>) -> Uuid {
    let job = json!({"name": "Mobile", "title": title, "experienceLevel": "mid-level",
        "description": "Build Android apps in Kotlin."});
    create_job_with(app, token, job).await
}

async fn create_interview(app: &TestApp, token: &str, job: Uuid) -> TestResponse {
    app.call(Method::POST, &format!("/api/job-infos/{job}/interviews"), Some(token), None, &[]).await
}

async fn new_interview(app: &TestApp, token: &str, job: Uuid) -> Uuid {
    let response = create_interview(app, token, job).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()["id"].as_str().unwrap().parse().unwrap()
}

async fn patch(
    app: &TestApp,
    token: &str,
    id: Uuid,
    changes: Value,
    headers: &[(&str, &str)],
) -> TestResponse {
    app.call(Method::PATCH, &format!("/api/interviews/{id}"), Some(token), Some(changes), headers).await
}

async fn started(app: &TestApp, user: &str) -> u64 {
    users::get_usage(app.table.as_ref(), user).await.unwrap().interviews_started
}

async fn crud_and_listing(store: Store) {
    let env = setup(store).await;
    let app = &env.app;
    let alice = app.token(ALICE, UNLIMITED);
    let job = create_job(app, &alice, None).await;

    let created = create_interview(app, &alice, job).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let first = created.json();
    assert_eq!(first["duration"], "00:00:00");
    assert_eq!(first["humeChatId"], Value::Null);
    assert_eq!(first["feedback"], Value::Null);
    assert_eq!(first["jobInfoId"], job.to_string());
    assert_eq!(created.header("etag"), Some("\"1\""));
    let first_id: Uuid = first["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(created.header("location").unwrap(), format!("/api/interviews/{first_id}"));
    let second_id = new_interview(app, &alice, job).await;

    let list = format!("/api/job-infos/{job}/interviews");
    let response = app.call(Method::GET, &list, Some(&alice), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(ids(&response).is_empty(), "unstarted interviews are not listed");
    let all = app.call(Method::GET, &format!("{list}?status=all"), Some(&alice), None, &[]).await;
    assert_eq!(ids(&all), [second_id.to_string(), first_id.to_string()], "newest first");
    let bad = app.call(Method::GET, &format!("{list}?status=done"), Some(&alice), None, &[]).await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "INVALID_QUERY");

    // Bad changes: a clear 400 and nothing written.
    for (changes, code) in [
        (json!({"duration": "1:00"}), "INVALID_INTERVIEW"),
        (json!({"duration": "00:61:00"}), "INVALID_INTERVIEW"),
        (json!({"humeChatId": "../admin"}), "INVALID_INTERVIEW"),
        (json!({"humeChatId": ""}), "INVALID_INTERVIEW"),
        (json!({}), "INVALID_INTERVIEW"),
        (json!({"feedback": "great"}), "INVALID_BODY"),
        (json!({"duration": 5}), "INVALID_BODY"),
    ] {
        patch(app, &alice, first_id, changes, &[]).await.assert_problem(StatusCode::BAD_REQUEST, code);
    }
    let unchanged =
        app.call(Method::GET, &format!("/api/interviews/{first_id}"), Some(&alice), None, &[]).await;
    assert_eq!(unchanged.json()["version"], 1);

    // Start both (unlimited), then update the duration with If-Match.
    for chat in ["chat-1", "chat-2"] {
        env.hume.chat(chat, Vec::new());
    }
    let response = patch(app, &alice, first_id, json!({"humeChatId": "chat-1"}), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["humeChatId"], "chat-1");
    assert_eq!(response.header("etag"), Some("\"2\""));
    let response =
        patch(app, &alice, second_id, json!({"humeChatId": "chat-2", "duration": "00:00:10"}), &[]).await;
    assert_eq!(response.json()["duration"], "00:00:10");
    let response =
        patch(app, &alice, first_id, json!({"duration": "00:05:07"}), &[("if-match", "\"2\"")]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["duration"], "00:05:07");
    patch(app, &alice, first_id, json!({"duration": "00:06:00"}), &[("if-match", "\"2\"")])
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    assert_eq!(started(app, ALICE).await, 2);

    let response = app.call(Method::GET, &list, Some(&alice), None, &[]).await;
    assert_eq!(ids(&response), [second_id.to_string(), first_id.to_string()]);
    let get = app.call(Method::GET, &format!("/api/interviews/{first_id}"), Some(&alice), None, &[]).await;
    assert_eq!(get.json()["duration"], "00:05:07");
    let etag = get.header("etag").unwrap().to_owned();
    let fresh = app
        .call(
            Method::GET,
            &format!("/api/interviews/{first_id}"),
            Some(&alice),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);

    let path = format!("/api/interviews/{first_id}");
    app.call(Method::DELETE, &path, Some(&alice), None, &[("if-match", "\"1\"")])
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    assert_eq!(app.call(Method::DELETE, &path, Some(&alice), None, &[]).await.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "INTERVIEW_NOT_FOUND");
    app.call(Method::DELETE, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "INTERVIEW_NOT_FOUND");
    assert_eq!(started(app, ALICE).await, 2, "deleting refunds nothing");

    // A job's delete takes its interviews with it.
    let job_path = format!("/api/job-infos/{job}");
    assert_eq!(
        app.call(Method::DELETE, &job_path, Some(&alice), None, &[]).await.status,
        StatusCode::NO_CONTENT
    );
    app.call(Method::GET, &format!("/api/interviews/{second_id}"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "INTERVIEW_NOT_FOUND");
    create_interview(app, &alice, job).await.assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    app.call(Method::GET, "/api/job-infos/nope/interviews", Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_ID");
    assert_eq!(app.call(Method::GET, &list, None, None, &[]).await.status, StatusCode::UNAUTHORIZED);
}

async fn free_plan_counts_the_started_interview(store: Store) {
    let env = setup(store).await;
    let app = &env.app;
    let none = app.token(ALICE, &[]);
    let job = create_job(app, &none, Some("Android Engineer")).await;
    create_interview(app, &none, job).await.assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    app.call(Method::POST, "/api/hume/access-token", Some(&none), None, &[])
        .await
        .assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT");

    let free = app.token(ALICE, FREE);
    for chat in ["chat-a", "chat-c"] {
        env.hume.chat(chat, Vec::new());
    }
    // Creating does not count: both are allowed before either started.
    let first = new_interview(app, &free, job).await;
    let second = new_interview(app, &free, job).await;
    assert_eq!(started(app, ALICE).await, 0);
    let response = patch(app, &free, first, json!({"humeChatId": "chat-a"}), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(started(app, ALICE).await, 1);
    // The same id again is idempotent; a different one is a conflict; neither counts again.
    let again = patch(app, &free, first, json!({"humeChatId": "chat-a"}), &[]).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["version"], 2, "nothing written");
    patch(app, &free, first, json!({"humeChatId": "chat-b"}), &[])
        .await
        .assert_problem(StatusCode::CONFLICT, "HUME_CHAT_ALREADY_SET");
    // Duration updates of the started interview still work.
    assert_eq!(patch(app, &free, first, json!({"duration": "00:01:00"}), &[]).await.status, StatusCode::OK);

    patch(app, &free, second, json!({"humeChatId": "chat-c"}), &[])
        .await
        .assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    let second_now =
        app.call(Method::GET, &format!("/api/interviews/{second}"), Some(&free), None, &[]).await;
    assert_eq!(second_now.json()["humeChatId"], Value::Null, "a refused start writes nothing");
    create_interview(app, &free, job).await.assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    app.call(Method::POST, "/api/hume/access-token", Some(&free), None, &[])
        .await
        .assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    assert_eq!(started(app, ALICE).await, 1);
    // An upgrade lifts the limit.
    let paid = app.token(ALICE, UNLIMITED);
    assert_eq!(patch(app, &paid, second, json!({"humeChatId": "chat-c"}), &[]).await.status, StatusCode::OK);
}

/// Eight interviews of a free user start at once: exactly one wins, the others get PLAN_LIMIT.
async fn racing_starts_leave_exactly_one(store: Store) {
    let env = setup(store).await;
    let app = Arc::new(env.app);
    let free = app.token(ALICE, FREE);
    let job = create_job(&app, &free, None).await;
    let mut interviews = Vec::new();
    for n in 0..8 {
        interviews.push(new_interview(&app, &free, job).await);
        env.hume.chat(&format!("chat-{n}"), Vec::new());
    }
    let tasks: Vec<_> = interviews
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let (app, free, id) = (app.clone(), free.clone(), *id);
            tokio::spawn(async move {
                patch(&app, &free, id, json!({"humeChatId": format!("chat-{n}")}), &[]).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::OK => ok += 1,
            _ => response.assert_problem(StatusCode::FORBIDDEN, "PLAN_LIMIT"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(started(&app, ALICE).await, 1);
    let all =
        app.call(Method::GET, &format!("/api/job-infos/{job}/interviews"), Some(&free), None, &[]).await;
    assert_eq!(ids(&all).len(), 1, "exactly one interview is started");
}

/// Twenty creations at once against a full bucket of 12: exactly 12 pass.
async fn racing_creations_share_one_bucket(store: Store) {
    let env = setup(store).await;
    let app = Arc::new(env.app);
    let alice = app.token(ALICE, UNLIMITED);
    let job = create_job(&app, &alice, None).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move { create_interview(&app, &alice, job).await })
        })
        .collect();
    let (mut created, mut limited) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED => created += 1,
            _ => {
                response.assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
                let retry: u64 = response.header("retry-after").unwrap().parse().unwrap();
                // A quarter day per token (plus the skew between racing requests' clocks).
                assert!((1..=6 * 3600 + 60).contains(&retry), "{retry}");
                limited += 1;
            }
        }
    }
    assert_eq!((created, limited), (12, 8));
    let all = app
        .call(
            Method::GET,
            &format!("/api/job-infos/{job}/interviews?status=all&limit=100"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(ids(&all).len(), 12);
    // Another user's bucket is their own.
    let bob = app.token(BOB, UNLIMITED);
    let bobs_job = create_job(&app, &bob, None).await;
    assert_eq!(create_interview(&app, &bob, bobs_job).await.status, StatusCode::CREATED);
    // Refill: a quarter day later one token, a day later four (checked on the bucket directly).
    let now = darasa::clock::Clock::now_ms(&darasa::clock::SystemClock);
    let table = app.table.as_ref();
    assert!(matches!(INTERVIEW_BUCKET.take(table, ALICE, now).await.unwrap(), Decision::Denied { .. }));
    let quarter = 6 * 3600 * 1000;
    assert_eq!(
        INTERVIEW_BUCKET.take(table, ALICE, now + quarter + 1000).await.unwrap(),
        Decision::Allowed { remaining: 0 }
    );
    assert!(matches!(
        INTERVIEW_BUCKET.take(table, ALICE, now + quarter + 2000).await.unwrap(),
        Decision::Denied { .. }
    ));
    assert_eq!(
        INTERVIEW_BUCKET.take(table, ALICE, now + 5 * quarter + 3000).await.unwrap(),
        Decision::Allowed { remaining: 3 }
    );
}

/// Bob probes Alice's ids on every route: 404 each time, and nothing of hers changes.
async fn another_users_ids_are_not_found(store: Store) {
    let env = setup(store).await;
    let app = &env.app;
    let alice = app.token(ALICE, UNLIMITED);
    let job = create_job(app, &alice, None).await;
    let id = new_interview(app, &alice, job).await;
    env.hume.chat("chat-alice", vec![event("USER_MESSAGE", "USER", Some("secret"), None)]);
    patch(app, &alice, id, json!({"humeChatId": "chat-alice"}), &[]).await;
    let asked = env.hume.chat_requests().len();
    let bob = app.token(BOB, UNLIMITED);
    seed_profile(app, BOB, "Bob").await;
    let interview = format!("/api/interviews/{id}");
    let cases = [
        (Method::POST, format!("/api/job-infos/{job}/interviews"), None, "JOB_INFO_NOT_FOUND"),
        (Method::GET, format!("/api/job-infos/{job}/interviews"), None, "JOB_INFO_NOT_FOUND"),
        (Method::GET, interview.clone(), None, "INTERVIEW_NOT_FOUND"),
        (Method::PATCH, interview.clone(), Some(json!({"duration": "00:00:01"})), "INTERVIEW_NOT_FOUND"),
        (Method::PATCH, interview.clone(), Some(json!({"humeChatId": "chat-bob"})), "INTERVIEW_NOT_FOUND"),
        (Method::DELETE, interview.clone(), None, "INTERVIEW_NOT_FOUND"),
        (Method::GET, format!("{interview}/transcript"), None, "INTERVIEW_NOT_FOUND"),
        (Method::POST, format!("{interview}/feedback"), None, "INTERVIEW_NOT_FOUND"),
        (Method::POST, format!("{interview}/feedback?regenerate=true"), None, "INTERVIEW_NOT_FOUND"),
    ];
    for (method, path, changes, code) in cases {
        let response = app.call(method.clone(), &path, Some(&bob), changes, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {path}: {}", response.text());
        response.assert_problem(StatusCode::NOT_FOUND, code);
    }
    let hers = app.call(Method::GET, &interview, Some(&alice), None, &[]).await;
    assert_eq!(hers.json()["version"], 2);
    assert_eq!(hers.json()["humeChatId"], "chat-alice");
    assert_eq!(env.hume.chat_requests().len(), asked, "Hume was never asked for her chat on Bob's behalf");
    assert!(env.gemini.requests().is_empty());
    assert_eq!(started(app, BOB).await, 0);
}

on_both_stores!(
    crud_and_listing,
    free_plan_counts_the_started_interview,
    racing_starts_leave_exactly_one,
    racing_creations_share_one_bucket,
    another_users_ids_are_not_found,
);

/// An interview of Alice's with `chat` (a chat Hume knows, started now) as its Hume chat.
async fn started_interview(env: &Env, chat: &str) -> (String, Uuid) {
    let alice = env.app.token(ALICE, UNLIMITED);
    let job = create_job(&env.app, &alice, None).await;
    let id = new_interview(&env.app, &alice, job).await;
    env.hume.chat(chat, Vec::new());
    let response = patch(&env.app, &alice, id, json!({"humeChatId": chat}), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    (alice, id)
}

#[tokio::test]
async fn transcripts_are_paged_and_condensed() {
    let env = setup(Store::Embedded).await;
    let (alice, id) = started_interview(&env, "chat-long").await;
    // 250 events: a system prompt, then agent/user pairs with odd events among them.
    let mut events = vec![event("SYSTEM_PROMPT", "SYSTEM", Some("You interview"), Some(""))];
    for n in 0..83 {
        events.push(event("AGENT_MESSAGE", "AGENT", Some(&format!("q{n}")), Some("{\"Joy\":0.1}")));
        events.push(event("USER_MESSAGE", "USER", Some(&format!("a{n}")), Some("{\"Calmness\":0.5}")));
        events.push(match n % 4 {
            0 => event("USER_INTERRUPTION", "USER", Some("stop"), None),
            1 => event("SOME_FUTURE_TYPE", "NARRATOR", Some("??"), None),
            2 => event("USER_MESSAGE", "MARTIAN", Some(&format!("b{n}")), None),
            _ => event("AGENT_MESSAGE", "AGENT", None, None),
        });
    }
    assert_eq!(events.len(), 250);
    env.hume.chat("chat-long", events);
    let response =
        env.app.call(Method::GET, &format!("/api/interviews/{id}/transcript"), Some(&alice), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = response.json();
    assert_eq!(json["humeChatId"], "chat-long");
    let messages = json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 83 * 2);
    assert_eq!(messages[0], json!({"isUser": false, "content": ["q0"]}));
    assert_eq!(messages[1], json!({"isUser": true, "content": ["a0"]}));
    assert_eq!(
        messages[5],
        json!({"isUser": true, "content": ["a2", "b2"]}),
        "same speaker grouped, any role"
    );
    let pages: Vec<(String, usize, usize)> = env.hume.chat_requests();
    assert_eq!(pages[0], ("chat-long".to_owned(), 0, 1), "the start was checked when the chat was attached");
    assert_eq!(
        pages[1..],
        (0..4).map(|page| ("chat-long".to_owned(), page, 100)).collect::<Vec<_>>(),
        "pages 0..2 hold events, page 3 is the empty one that ends it"
    );

    // Not started: 404, Hume not asked.
    let job = create_job(&env.app, &alice, None).await;
    let fresh = new_interview(&env.app, &alice, job).await;
    env.app
        .call(Method::GET, &format!("/api/interviews/{fresh}/transcript"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "TRANSCRIPT_NOT_FOUND");
    assert_eq!(env.hume.chat_requests().len(), 5);
}

#[tokio::test]
async fn hume_failures_are_502_with_a_clear_message() {
    let env = setup(Store::Embedded).await;
    let (alice, id) = started_interview(&env, "chat-x").await;
    env.hume.chat("chat-x", vec![event("USER_MESSAGE", "USER", Some("hi"), None)]);
    let path = format!("/api/interviews/{id}/transcript");
    for (failure, words) in [
        (Failure::Status(401), "credentials"),
        (Failure::Status(500), "failed to answer"),
        (Failure::Delay(Duration::from_secs(2)), "too long"),
    ] {
        env.hume.fail_chat(failure);
        let response = env.app.call(Method::GET, &path, Some(&alice), None, &[]).await;
        response.assert_problem(StatusCode::BAD_GATEWAY, "HUME_ERROR");
        let detail = response.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(words), "{detail}");
        assert!(!detail.contains("fake") && !detail.contains("127.0.0.1"), "{detail}");
        assert!(response.json()["requestId"].is_string());
    }
    // A chat Hume no longer has (its retention ended).
    let (_, other) = started_interview(&env, "chat-gone").await;
    env.hume.forget_chat("chat-gone");
    env.app
        .call(Method::GET, &format!("/api/interviews/{other}/transcript"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_GATEWAY, "HUME_ERROR");
    assert_eq!(env.app.call(Method::GET, &path, Some(&alice), None, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn hume_routes_without_hume_are_503_naming_the_variables() {
    let gemini = FakeGemini::start().await;
    let app = TestApp::builder(Store::Embedded).model(gemini.model(test_policy())).build().await;
    let alice = app.token(ALICE, UNLIMITED);
    let job = create_job(&app, &alice, None).await;
    let id = new_interview(&app, &alice, job).await;
    // No chat id can be confirmed without Hume.
    let response = patch(&app, &alice, id, json!({"humeChatId": "c"}), &[]).await;
    response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
    // An interview started while Hume was configured.
    let started = darasa::store::Update::new().set("humeChatId", "c");
    app.table.update(&interviews::key(ALICE, id), started, None).await.unwrap();
    for (method, path, body) in [
        (Method::PATCH, format!("/api/interviews/{id}"), Some(json!({"humeChatId": "d"}))),
        (Method::POST, "/api/hume/access-token".to_owned(), None),
        (Method::GET, format!("/api/interviews/{id}/transcript"), None),
        (Method::POST, format!("/api/interviews/{id}/feedback"), None),
    ] {
        let response = app.call(method, &path, Some(&alice), body, &[]).await;
        response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
        let detail = response.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("HUME_API_KEY") && detail.contains("HUME_SECRET_KEY"), "{path}: {detail}");
    }
}

#[tokio::test]
async fn access_tokens_are_cached_refreshed_and_shared() {
    let hume = FakeHume::start().await;
    let clock = TestClock::new(1_800_000_000);
    let client = hume.client(clock.shared(), Duration::from_millis(800));
    let app = TestApp::builder(Store::Embedded).hume(client.clone()).build().await;
    let alice = app.token(ALICE, FREE);

    let response = app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.json(), json!({"accessToken": "hume-token-1", "expiresIn": 1800}));
    clock.advance(600);
    let cached = app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[]).await;
    assert_eq!(cached.json(), json!({"accessToken": "hume-token-1", "expiresIn": 1200}));
    assert_eq!(hume.token_requests(), 1);
    // Within the refresh margin of its expiry: a new token.
    clock.advance(1200 - darasa::hume::REFRESH_MARGIN_SECONDS);
    let refreshed = app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[]).await;
    assert_eq!(refreshed.json()["accessToken"], "hume-token-2");
    assert_eq!(hume.token_requests(), 2);

    // Expired, then ten callers at once: one fetch.
    clock.advance(3600);
    hume.delay_tokens(Duration::from_millis(200));
    let calls: Vec<_> = (0..10).map(|_| client.access_token()).collect();
    let tokens = futures::future::join_all(calls).await;
    assert!(tokens.iter().all(|token| token.as_ref().unwrap().access_token == "hume-token-3"));
    assert_eq!(hume.token_requests(), 3);

    // Failures: 401 (bad credentials), 500, a timeout; nothing cached, the next call recovers.
    clock.advance(3600);
    hume.delay_tokens(Duration::ZERO);
    for failure in [Failure::Status(401), Failure::Status(500), Failure::Delay(Duration::from_secs(2))] {
        hume.fail_token(failure);
        app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[])
            .await
            .assert_problem(StatusCode::BAD_GATEWAY, "HUME_ERROR");
    }
    let recovered = app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[]).await;
    assert_eq!(recovered.status, StatusCode::OK);

    // Wrong credentials are refused by the fake, so the Basic header is really checked.
    let mut config = hume.config();
    config.secret_key = "wrong".into();
    let wrong = darasa::hume::HumeClient::new(
        config,
        darasa::http_client::builder().build().unwrap(),
        clock.shared(),
    );
    assert_eq!(wrong.access_token().await.unwrap_err(), darasa::hume::HumeError::Unauthorized(401));
}

fn feedback_chat() -> Vec<Value> {
    vec![
        event("SYSTEM_PROMPT", "SYSTEM", Some("persona"), Some("")),
        event("AGENT_MESSAGE", "AGENT", Some("Tell me about Kotlin coroutines."), Some("{\"Joy\": 0.2}")),
        event(
            "USER_MESSAGE",
            "USER",
            Some("They are light threads."),
            Some("{\"Anxiety\": 0.61234, \"Calmness\": 0.1}"),
        ),
        event("USER_MESSAGE", "USER", Some("Um."), Some("")),
        event("USER_MESSAGE", "USER", Some("Structured concurrency."), Some("{broken")),
        event("USER_INTERRUPTION", "USER", Some("wait"), None),
    ]
}

#[tokio::test]
async fn feedback_is_generated_stored_and_regenerated_on_request() {
    let env = setup(Store::Embedded).await;
    let (alice, id) = started_interview(&env, "chat-f").await;
    env.hume.chat("chat-f", feedback_chat());
    let path = format!("/api/interviews/{id}/feedback");

    // The profile gives the interviewee's name; without it, 404.
    env.app
        .call(Method::POST, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    seed_profile(&env.app, ALICE, "Alice Wanjiru").await;

    env.gemini
        .push(Reply::generated("Overall: 7/10\n\n## Communication Clarity: 7/10\nYou expl", "MAX_TOKENS"));
    env.gemini.push(Reply::generated("explained coroutines well.", "STOP"));
    let response = env.app.call(Method::POST, &path, Some(&alice), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let feedback = "Overall: 7/10\n\n## Communication Clarity: 7/10\nYou explained coroutines well.";
    assert_eq!(response.json()["feedback"], feedback, "continued at the token limit");
    let stored = interviews::find(env.app.table.as_ref(), ALICE, id).await.unwrap().unwrap();
    assert_eq!(stored.feedback.as_deref(), Some(feedback));

    let sent = env.gemini.requests();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].path.ends_with(":generateContent"), "not streamed");
    let system = sent[0].system();
    assert!(system.contains("Alice Wanjiru") && system.contains("Build Android apps in Kotlin."));
    assert!(system.contains("mid-level") && !system.contains("null"), "{system}");
    let (role, transcript) = sent[0].turns()[0].clone();
    assert_eq!(role, "user");
    let transcript: Value = serde_json::from_str(&transcript).unwrap();
    assert_eq!(
        transcript,
        json!([
            {"speaker": "interviewer", "text": "Tell me about Kotlin coroutines."},
            {"speaker": "interviewee", "text": "They are light threads.",
                "emotionFeatures": {"Anxiety": 0.612, "Calmness": 0.1}},
            {"speaker": "interviewee", "text": "Um."},
            {"speaker": "interviewee", "text": "Structured concurrency."},
        ])
    );

    // Asked again: the stored feedback, no new generation.
    let again = env.app.call(Method::POST, &path, Some(&alice), None, &[]).await;
    assert_eq!(again.json()["feedback"], feedback);
    assert_eq!(env.gemini.requests().len(), 2);

    // A failed regeneration stores nothing.
    env.gemini.push(Reply::error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."));
    let failed =
        env.app.call(Method::POST, &format!("{path}?regenerate=true"), Some(&alice), None, &[]).await;
    failed.assert_problem(StatusCode::BAD_GATEWAY, "AI_ERROR");
    assert!(!failed.text().contains("invalid argument"), "{}", failed.text());
    let stored = interviews::find(env.app.table.as_ref(), ALICE, id).await.unwrap().unwrap();
    assert_eq!(stored.feedback.as_deref(), Some(feedback));
    assert_eq!(stored.version, 3);

    env.gemini.push(Reply::generated("Overall: 9/10 — much better.", "STOP"));
    let regenerated =
        env.app.call(Method::POST, &format!("{path}?regenerate=true"), Some(&alice), None, &[]).await;
    assert_eq!(regenerated.json()["feedback"], "Overall: 9/10 — much better.");
    env.app
        .call(Method::POST, &format!("{path}?regenerate=maybe"), Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_QUERY");
}

#[tokio::test]
async fn feedback_needs_a_started_interview_and_working_providers() {
    let env = setup(Store::Embedded).await;
    let alice = env.app.token(ALICE, UNLIMITED);
    seed_profile(&env.app, ALICE, "Alice").await;
    let job = create_job(&env.app, &alice, Some("Android Engineer")).await;
    let fresh = new_interview(&env.app, &alice, job).await;
    let response = env
        .app
        .call(Method::POST, &format!("/api/interviews/{fresh}/feedback"), Some(&alice), None, &[])
        .await;
    response.assert_problem(StatusCode::CONFLICT, "INTERVIEW_NOT_STARTED");
    assert_eq!(response.json()["detail"], "Interview has not been completed yet");

    let (_, id) = started_interview(&env, "chat-g").await;
    let path = format!("/api/interviews/{id}/feedback");
    // Hume fails: 502, Gemini never asked, nothing stored.
    env.hume.chat("chat-g", feedback_chat());
    env.hume.fail_chat(Failure::Status(500));
    env.app
        .call(Method::POST, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_GATEWAY, "HUME_ERROR");
    assert!(env.gemini.requests().is_empty());
    // Gemini keeps failing (5xx after the retries): 502, nothing stored.
    env.gemini.always(Reply::unavailable());
    env.app
        .call(Method::POST, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::BAD_GATEWAY, "AI_ERROR");
    assert_eq!(interviews::find(env.app.table.as_ref(), ALICE, id).await.unwrap().unwrap().feedback, None);
    // An empty chat has nothing to review.
    env.hume.chat("chat-g", vec![event("SYSTEM_PROMPT", "SYSTEM", Some("p"), None)]);
    env.app
        .call(Method::POST, &path, Some(&alice), None, &[])
        .await
        .assert_problem(StatusCode::CONFLICT, "TRANSCRIPT_EMPTY");

    // With no provider configured, the offline engine reviews the transcript.
    let hume = FakeHume::start().await;
    let app = TestApp::builder(Store::Embedded)
        .hume(hume.client(darasa::clock::system(), Duration::from_secs(1)))
        .build()
        .await;
    let alice = app.token(ALICE, UNLIMITED);
    seed_profile(&app, ALICE, "Alice").await;
    let job = create_job(&app, &alice, None).await;
    let id = new_interview(&app, &alice, job).await;
    hume.chat("c", feedback_chat());
    patch(&app, &alice, id, json!({"humeChatId": "c"}), &[]).await;
    let response =
        app.call(Method::POST, &format!("/api/interviews/{id}/feedback"), Some(&alice), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let feedback = response.json()["feedback"].as_str().unwrap().to_owned();
    assert!(feedback.contains("offline by Darasa's practice engine"), "{feedback}");
    assert_eq!(
        interviews::find(app.table.as_ref(), ALICE, id).await.unwrap().unwrap().feedback,
        Some(feedback)
    );
}

/// A Hume chat id belongs to one interview of one user: Hume must know it, it must have started
/// after the interview was created, and one another interview holds is refused; nobody reads a
/// chat their interview does not own.
#[tokio::test]
async fn a_chat_id_is_checked_with_hume_and_claimed_once() {
    let env = setup(Store::Embedded).await;
    let app = &env.app;
    let alice = app.token(ALICE, UNLIMITED);
    let job = create_job(app, &alice, None).await;
    let theirs = new_interview(app, &alice, job).await;
    env.hume.chat("chat-secret", vec![event("USER_MESSAGE", "USER", Some("my salary"), None)]);
    assert_eq!(
        patch(app, &alice, theirs, json!({"humeChatId": "chat-secret"}), &[]).await.status,
        StatusCode::OK
    );

    let bob = app.token(BOB, UNLIMITED);
    let bobs_job = create_job(app, &bob, None).await;
    let bobs = new_interview(app, &bob, bobs_job).await;
    // Another interview's chat: refused, and Bob's transcript route never reads it.
    patch(app, &bob, bobs, json!({"humeChatId": "chat-secret"}), &[])
        .await
        .assert_problem(StatusCode::CONFLICT, "HUME_CHAT_TAKEN");
    app.call(Method::GET, &format!("/api/interviews/{bobs}/transcript"), Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "TRANSCRIPT_NOT_FOUND");
    // Not even her own second interview may take it.
    let second = new_interview(app, &alice, job).await;
    patch(app, &alice, second, json!({"humeChatId": "chat-secret"}), &[])
        .await
        .assert_problem(StatusCode::CONFLICT, "HUME_CHAT_TAKEN");
    // A chat Hume does not know.
    patch(app, &bob, bobs, json!({"humeChatId": "chat-made-up"}), &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_INTERVIEW");
    // A chat that started before the interview existed is some other call.
    let an_hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 3_600_000;
    env.hume.chat_started_at("chat-old", an_hour_ago, Vec::new());
    patch(app, &bob, bobs, json!({"humeChatId": "chat-old"}), &[])
        .await
        .assert_problem(StatusCode::CONFLICT, "HUME_CHAT_NOT_THIS_INTERVIEW");
    let unchanged = app.call(Method::GET, &format!("/api/interviews/{bobs}"), Some(&bob), None, &[]).await;
    assert_eq!(
        (unchanged.json()["humeChatId"].clone(), unchanged.json()["version"].clone()),
        (Value::Null, json!(1))
    );
    assert_eq!(started(app, BOB).await, 0, "no refused attach counts");
    // A chat of his own works.
    env.hume.chat("chat-bob", Vec::new());
    assert_eq!(patch(app, &bob, bobs, json!({"humeChatId": "chat-bob"}), &[]).await.status, StatusCode::OK);
}

/// Hume tokens come at the interview bucket's pace: 20 requests in a row, 12 served.
#[tokio::test]
async fn hume_tokens_are_paced_like_interviews() {
    let env = setup(Store::Embedded).await;
    let alice = env.app.token(ALICE, UNLIMITED);
    let mut served = 0;
    for n in 0..20 {
        let response = env.app.call(Method::POST, "/api/hume/access-token", Some(&alice), None, &[]).await;
        match response.status {
            StatusCode::OK => served += 1,
            _ => {
                response.assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
                assert!(n >= 12, "refused at request {n}");
                assert!(response.header("retry-after").is_some());
            }
        }
    }
    assert_eq!(served, 12);
}
