//! Every event in `infra/events/` through the same Lambda adapter `lambda_http::run` uses, with
//! the configuration `infra/env.json` gives `sam local invoke`: status and body per route.

use std::sync::Arc;

use darasa::app;
use darasa::attempts::{self, Attempt};
use darasa::config;
use darasa::job_infos::{self, ExperienceLevel, JobInfo};
use darasa::questions::{self, Difficulty, Practice, Question};
use darasa::store::SharedTable;
use darasa::users::{self, Profile};
use darasa_tests::events::{function, repo, state_for};
use serde_json::Value;

/// The user the event tokens are minted for, and the job info and question the path events name.
const EVENT_USER: &str = "user_events";
const EVENT_JOB: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e001";
/// The question `generate-feedback.json` answers.
const EVENT_QUESTION: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e002";

/// (event file, function, expected status), in the order they run against one store.
const EVENTS: &[(&str, &str, u16)] = &[
    ("job-infos-create.json", "job-infos", 201),
    ("job-infos-list.json", "job-infos", 200),
    ("job-infos-get.json", "job-infos", 200),
    ("job-infos-update.json", "job-infos", 200),
    // The seeded job's question has one graded attempt.
    ("attempts-list.json", "job-infos", 200),
    ("job-infos-progress.json", "job-infos", 200),
    // infra/env.json configures no AI provider, as a fresh checkout has none: the offline engine
    // answers (questions.rs runs the same events against a fake Gemini).
    ("generate-question.json", "generate-question", 200),
    ("generate-feedback.json", "generate-feedback", 200),
    // A base64 multipart upload, as a function URL delivers it: the form and the job pass, and
    // user_events's plan has no unlimited_resume_analysis (resumes.rs covers the analysis).
    ("analyze-resume.json", "analyze-resume", 403),
    // Last of the job's events: it takes the seeded job, its questions and attempts with it.
    ("job-infos-delete.json", "job-infos", 204),
    ("me.json", "me", 200),
    ("me-export.json", "me", 200),
    ("clerk-user-created.json", "clerk-webhook", 200),
    ("clerk-user-updated.json", "clerk-webhook", 200),
    ("clerk-user-deleted.json", "clerk-webhook", 200),
    // The interview events use their own seeded job and interview; infra/env.json configures no
    // Hume, so the routes that call it answer 503 (interviews.rs covers them with a fake).
    ("interviews-create.json", "interviews", 201),
    ("interviews-list.json", "interviews", 200),
    ("interviews-get.json", "interviews", 200),
    ("interviews-update.json", "interviews", 200),
    ("interviews-transcript.json", "interviews", 503),
    ("interviews-feedback.json", "interviews", 503),
    ("hume-access-token.json", "interviews", 503),
    ("interviews-delete.json", "interviews", 204),
];

/// The job and interview the interview events name.
const EVENT_INTERVIEW_JOB: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e002";
const EVENT_INTERVIEW: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e101";
const EVENT_CHAT: &str = "470a49f6-1dec-4afe-8b61-035d3b2d63b0";

async fn seeded_table() -> (SharedTable, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let table: SharedTable =
        Arc::new(darasa::store::embedded::EmbeddedTable::open(&dir.path().join("store.redb")).unwrap());
    let at = time::macros::datetime!(2026-11-01 09:00:00 UTC);
    let job = JobInfo {
        id: EVENT_JOB.parse().unwrap(),
        user_id: EVENT_USER.into(),
        name: "Seeded job".into(),
        title: None,
        experience_level: ExperienceLevel::Senior,
        description: "Seeded for the event tests".into(),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    job_infos::insert(table.as_ref(), &job).await.unwrap();
    let profile = Profile {
        id: EVENT_USER.into(),
        name: "Event User".into(),
        email: "events@example.com".into(),
        image_url: "https://img.clerk.com/events".into(),
        created_at: at,
        updated_at: at,
    };
    users::put_profile(table.as_ref(), &profile).await.unwrap();
    let question = Question {
        id: EVENT_QUESTION.parse().unwrap(),
        ..Question::new(job.id, "Seeded question?".into(), Difficulty::Medium)
    };
    questions::insert(table.as_ref(), EVENT_USER, &question, &[]).await.unwrap();
    let feedback = "## Feedback (Rating: 8/10)\nGood.".to_owned();
    let attempt = Attempt::new(&question, "Seeded answer".into(), feedback, "test-model".into());
    attempts::record(table.as_ref(), EVENT_USER, &question, Practice::default(), &attempt).await.unwrap();
    (table, dir)
}

/// The job and interview the interview events name; seeded when they start, so the job-infos
/// events see only their own jobs.
async fn seed_interviews(table: &SharedTable) {
    let at = time::macros::datetime!(2026-11-01 09:00:00 UTC);
    let interview_job = JobInfo {
        id: EVENT_INTERVIEW_JOB.parse().unwrap(),
        user_id: EVENT_USER.into(),
        name: "Interview job".into(),
        title: None,
        experience_level: ExperienceLevel::Senior,
        description: "Seeded for the interview events".into(),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    job_infos::insert(table.as_ref(), &interview_job).await.unwrap();
    let interview = darasa::interviews::Interview {
        id: EVENT_INTERVIEW.parse().unwrap(),
        job_info_id: interview_job.id,
        duration: darasa::interviews::ZERO_DURATION.into(),
        // Started while Hume was configured: infra/env.json configures none, and attaching a
        // chat needs Hume to confirm it.
        hume_chat_id: Some(EVENT_CHAT.into()),
        feedback: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    darasa::interviews::insert(table.as_ref(), EVENT_USER, &interview).await.unwrap();
}

// Long because it walks the table of events in order (later events use what earlier ones made).
#[tokio::test]
async fn every_event_runs_through_the_lambda_adapter() {
    let (table, _dir) = seeded_table().await;
    let mut covered = Vec::new();
    for (file, function, status) in EVENTS {
        let event = std::fs::read_to_string(repo("infra/events").join(file)).unwrap();
        let event = resign_svix(event, function);
        if *file == "interviews-create.json" {
            seed_interviews(&table).await;
        }
        let function = self::function(function);
        let state = state_for(function, table.clone()).await;
        let router = app::serve((function.routes)(), state);
        let response = darasa::local::invoke_lambda_event(router, &event).await.unwrap();
        assert_eq!(response["statusCode"], *status, "{file}: {response:#}");
        let body: Value = match response["body"].as_str() {
            Some(text) if !text.is_empty() => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }
            _ => Value::Null,
        };
        match *file {
            "job-infos-create.json" => {
                assert_eq!(body["userId"], EVENT_USER);
                assert_eq!(response["headers"]["etag"], "\"1\"");
            }
            "job-infos-list.json" => {
                let ids: Vec<&str> =
                    body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
                assert_eq!(ids.len(), 2, "{body}");
                assert_eq!(ids[1], EVENT_JOB, "the seeded job is the older one");
            }
            "job-infos-get.json" => assert_eq!(body["name"], "Seeded job"),
            "job-infos-update.json" => {
                assert_eq!(body["version"], 2);
                assert_eq!(response["headers"]["etag"], "\"2\"");
            }
            "attempts-list.json" => {
                assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
                assert_eq!(body["items"][0]["rating"], 8);
            }
            "job-infos-progress.json" => {
                assert_eq!(
                    (&body["questions"], &body["attempts"], &body["bestRating"]),
                    (&1.into(), &1.into(), &8.into())
                );
            }
            "job-infos-delete.json" => assert_eq!(body, Value::Null),
            "me.json" => assert_eq!(body["user"]["email"], "events@example.com"),
            "me-export.json" => {
                assert_eq!(
                    response["headers"]["content-disposition"],
                    "attachment; filename=\"darasa-export.json\""
                );
                assert_eq!(
                    (&body["userId"], &body["profile"]["email"]),
                    (&EVENT_USER.into(), &"events@example.com".into())
                );
                assert_eq!(
                    body["jobInfos"].as_array().map(Vec::len),
                    Some(1),
                    "the created job; the seeded one was deleted"
                );
            }
            "generate-question.json" | "generate-feedback.json" => {
                assert_eq!(response["headers"]["x-vercel-ai-data-stream"], "v1", "{file}");
                let text = body.as_str().unwrap_or_default();
                let labelled = text.contains("offline") && text.contains("practice engine");
                assert!(labelled, "{file}: {text}");
                let stored = text.contains("2:[{\"questionId\"");
                assert_eq!(stored, *file == "generate-question.json", "{file}: {text}");
            }
            "analyze-resume.json" => {
                assert_eq!(response["headers"]["content-type"], "text/plain; charset=utf-8");
                assert_eq!(body, "PLAN_LIMIT");
            }
            "clerk-user-created.json" | "clerk-user-updated.json" | "clerk-user-deleted.json" => {
                assert_eq!(body, "Webhook received");
                assert_eq!(response["headers"]["x-webhook-outcome"], "applied", "{file}");
                let profile = users::get_profile(table.as_ref(), CLERK_EVENT_USER).await.unwrap();
                let name = profile.as_ref().map(|profile| profile.name.as_str());
                match *file {
                    "clerk-user-created.json" => assert_eq!(name, Some("Amina")),
                    "clerk-user-updated.json" => assert_eq!(name, Some("Amina Odhiambo")),
                    _ => assert_eq!(name, None),
                }
            }
            "interviews-create.json" => {
                assert_eq!(body["jobInfoId"], EVENT_INTERVIEW_JOB);
                assert_eq!(body["duration"], "00:00:00");
                assert_eq!(response["headers"]["etag"], "\"1\"");
            }
            "interviews-list.json" => {
                let ids: Vec<&str> =
                    body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
                assert_eq!(ids.len(), 2, "{body}");
                assert_eq!(ids[1], EVENT_INTERVIEW, "the seeded interview is the older one");
            }
            "interviews-get.json" => assert_eq!(body["humeChatId"], EVENT_CHAT),
            "interviews-update.json" => {
                assert_eq!(body["humeChatId"], EVENT_CHAT);
                assert_eq!(body["duration"], "00:12:34");
                assert_eq!(body["version"], 2);
            }
            "interviews-transcript.json" | "interviews-feedback.json" | "hume-access-token.json" => {
                assert_eq!(body["code"], "UNAVAILABLE");
                assert!(body["detail"].as_str().unwrap().contains("HUME_API_KEY"), "{file}: {body}");
            }
            "interviews-delete.json" => assert_eq!(body, Value::Null),
            other => panic!("no expectation for {other}"),
        }
        covered.push(file.to_string());
    }
    let mut present: Vec<String> = std::fs::read_dir(repo("infra/events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    present.sort();
    covered.sort();
    assert_eq!(present, covered, "every event file has a test");
}

/// The Clerk user of the `clerk-user-*` events (bodies from `infra/events/clerk/`).
const CLERK_EVENT_USER: &str = "user_2pQx7rLmVb3dKcN9TzWnYe4HsJf";

/// The committed Clerk events carry Svix signatures from when they were made, which the
/// 5-minute tolerance rejects by now: re-sign the unchanged body with the env.json fixture secret
/// and the current time (what `darasa-local invoke --resign` does). Other events pass unchanged.
fn resign_svix(event: String, function: &str) -> String {
    let Some(secret) = webhooks_secret(function) else {
        return event;
    };
    let mut event: Value = serde_json::from_str(&event).unwrap();
    let id = event["headers"]["svix-id"].as_str().unwrap().to_owned();
    let body = event["body"].as_str().unwrap().to_owned();
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature =
        svix::webhooks::Webhook::new(&secret).unwrap().sign(&id, timestamp, body.as_bytes()).unwrap();
    event["headers"]["svix-timestamp"] = timestamp.to_string().into();
    event["headers"]["svix-signature"] = signature.into();
    event.to_string()
}

fn webhooks_secret(function: &str) -> Option<String> {
    let env = std::fs::read_to_string(repo("infra/env.json")).unwrap();
    config::sam_env_vars(&env, &self::function(function).logical_id())
        .unwrap()
        .remove(darasa::webhooks::SECRET_VARIABLE)
}

/// The committed signatures are valid (only stale) over bodies that are exactly the raw payloads
/// in `infra/events/clerk/`, so the events are what Svix would have sent.
#[test]
fn clerk_events_are_signed_over_the_raw_payloads() {
    let secret = webhooks_secret("clerk-webhook").expect("infra/env.json sets the fixture secret");
    let webhook = svix::webhooks::Webhook::new(&secret).unwrap();
    for (event, payload) in [
        ("clerk-user-created.json", "user.created.json"),
        ("clerk-user-updated.json", "user.updated.json"),
        ("clerk-user-deleted.json", "user.deleted.json"),
    ] {
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(repo("infra/events").join(event)).unwrap())
                .unwrap();
        let body = event["body"].as_str().unwrap();
        assert_eq!(body, std::fs::read_to_string(repo("infra/events/clerk").join(payload)).unwrap());
        let mut headers = http::HeaderMap::new();
        for name in ["svix-id", "svix-timestamp", "svix-signature"] {
            headers.insert(name, event["headers"][name].as_str().unwrap().parse().unwrap());
        }
        webhook.verify_ignoring_timestamp(body.as_bytes(), &headers).unwrap();
        let stale = webhook.verify(body.as_bytes(), &headers).unwrap_err();
        assert!(matches!(stale, svix::webhooks::WebhookError::TimestampTooOldError), "{payload}: {stale}");
    }
}

#[tokio::test]
async fn a_tampered_event_token_is_a_401_response_not_a_lambda_error() {
    let (table, _dir) = seeded_table().await;
    let event = std::fs::read_to_string(repo("infra/events/me.json")).unwrap();
    let mut event: Value = serde_json::from_str(&event).unwrap();
    let token = event["headers"]["authorization"].as_str().unwrap().to_owned();
    event["headers"]["authorization"] = Value::String(format!("{}x", token));
    let me = function("me");
    let state = state_for(me, table).await;
    let response = darasa::local::invoke_lambda_event(app::serve((me.routes)(), state), &event.to_string())
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 401);
    assert_eq!(response["headers"]["content-type"], "application/problem+json");
}

/// The cold-start benchmark serves `infra/bench/jwks.json` as Clerk's keys (to time a start that
/// fetches them): it must hold the key the events' tokens are signed with, under their `kid`.
#[tokio::test]
async fn the_benchmarks_key_set_verifies_every_events_token() {
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("infra/bench/jwks.json")).unwrap()).unwrap();
    let clerk = darasa_tests::clerk::FakeJwks::start(keys).await;
    // infra/env.json's configuration, with the URL in place of the PEM, as the harness gives it.
    let env = std::fs::read_to_string(repo("infra/env.json")).unwrap();
    let mut vars = config::sam_env_vars(&env, &function("me").logical_id()).unwrap();
    vars.remove("CLERK_JWT_KEY");
    vars.insert("CLERK_JWKS_URL".into(), clerk.url());
    let lookup = |name: &str| vars.get(name).cloned();
    let config = config::Config::from_vars(&config::Vars(&lookup), config::Needs::NONE).await.unwrap();
    let http = darasa::http_client::builder().no_proxy().build().unwrap();
    let verifier = darasa::auth::Verifier::new(config.auth, http, darasa::clock::system()).unwrap();
    let mut verified = 0;
    for entry in std::fs::read_dir(repo("infra/events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(authorization) = event["headers"]["authorization"].as_str() else { continue };
        let token = authorization.strip_prefix("Bearer ").unwrap();
        verifier.verify(token).await.unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        verified += 1;
    }
    assert!(verified >= 10, "only {verified} events carry a token");
    assert_eq!(clerk.hits(), 1);
}
