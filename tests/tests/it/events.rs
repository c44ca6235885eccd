//! Every event in `infra/events/` through the same Lambda adapter `lambda_http::run` uses, with
//! the configuration `infra/env.json` gives `sam local invoke`: status and body per route.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use darasa::app::{self, AppState};
use darasa::auth::{SystemClock, Verifier};
use darasa::config::{self, Vars};
use darasa::job_infos::{self, ExperienceLevel, JobInfo};
use darasa::store::SharedTable;
use darasa::users::{self, Profile};
use serde_json::Value;

/// The user the event tokens are minted for, and the job info the path events name.
const EVENT_USER: &str = "user_events";
const EVENT_JOB: &str = "0190b6b0-4a5e-7c3a-9f00-00000000e001";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// (event file, function, expected status), in the order they run against one store.
const EVENTS: &[(&str, &str, u16)] = &[
    ("job-infos-create.json", "job-infos", 201),
    ("job-infos-list.json", "job-infos", 200),
    ("job-infos-get.json", "job-infos", 200),
    ("job-infos-update.json", "job-infos", 200),
    ("job-infos-delete.json", "job-infos", 204),
    ("me.json", "me", 200),
];

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
    (table, dir)
}

fn verifier_for(function: &str) -> Arc<Verifier> {
    let env = std::fs::read_to_string(repo("infra/env.json")).unwrap();
    let vars = config::sam_env_vars(&env, &app::logical_id(function)).unwrap();
    let lookup = |name: &str| vars.get(name).cloned();
    let auth = config::auth_from(&Vars(&lookup)).unwrap().expect("infra/env.json sets CLERK_ISSUER");
    Arc::new(Verifier::new(auth, reqwest::Client::new(), Arc::new(SystemClock)).unwrap())
}

#[tokio::test]
async fn every_event_runs_through_the_lambda_adapter() {
    let (table, _dir) = seeded_table().await;
    let mut covered = Vec::new();
    for (file, function, status) in EVENTS {
        let event = std::fs::read_to_string(repo("infra/events").join(file)).unwrap();
        let router = app::function_router(function).unwrap();
        let state = AppState::new(table.clone(), verifier_for(function));
        let response = darasa::http::invoke_lambda_event(app::serve(router, state), &event).await.unwrap();
        assert_eq!(response["statusCode"], *status, "{file}: {response:#}");
        let body: Value = match response["body"].as_str() {
            Some(text) if !text.is_empty() => serde_json::from_str(text).unwrap(),
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
            "job-infos-delete.json" => assert_eq!(body, Value::Null),
            "me.json" => assert_eq!(body["user"]["email"], "events@example.com"),
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

#[tokio::test]
async fn a_tampered_event_token_is_a_401_response_not_a_lambda_error() {
    let (table, _dir) = seeded_table().await;
    let event = std::fs::read_to_string(repo("infra/events/me.json")).unwrap();
    let mut event: Value = serde_json::from_str(&event).unwrap();
    let token = event["headers"]["authorization"].as_str().unwrap().to_owned();
    event["headers"]["authorization"] = Value::String(format!("{}x", token));
    let state = AppState::new(table, verifier_for("me"));
    let response = darasa::http::invoke_lambda_event(
        app::serve(app::function_router("me").unwrap(), state),
        &event.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(response["statusCode"], 401);
    assert_eq!(response["headers"]["content-type"], "application/problem+json");
}
