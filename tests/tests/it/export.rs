//! `GET /api/me/export`: one JSON attachment with everything of the caller's (over several pages
//! of the store) and nothing of anyone else's, internal items and attributes left out, and a
//! document that cannot pass for complete when the store fails halfway.

use std::sync::Arc;

use async_trait::async_trait;
use darasa::questions::Difficulty;
use darasa::store::{
    Condition, Item, Key, Page, Query, SharedTable, StoreError, StoreResult, Table, Update, Write,
};
use darasa::users;
use darasa_tests::app::{Store, TestApp};
use darasa_tests::fixtures::{ALICE, BOB, PAID, create_job, record_attempt, seed_profile, seed_question};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const EXPORT: &str = "/api/me/export";
/// More attempts than one page of the export's reads (25), so the document spans pages.
const ATTEMPTS: usize = 30;

on_both_stores!(the_export_holds_everything_of_the_callers_and_nothing_of_anyone_elses);

/// Everything a user can have: profile, usage, a job with an answered and an unanswered question,
/// attempts, an interview with feedback (its start leaves a rate bucket), a resume analysis.
async fn seed_user(app: &TestApp, user: &str, name: &str) -> (Uuid, Uuid, Uuid) {
    seed_profile(app, user, name).await;
    let token = app.token(user, PAID);
    let job = darasa_tests::fixtures::create_job_with(
        app,
        &token,
        darasa_tests::fixtures::job_body(&format!("{name}'s job"), None),
    )
    .await;
    let answered =
        seed_question(app, user, job, Difficulty::Easy, &format!("{name}'s answered question")).await;
    let unanswered =
        seed_question(app, user, job, Difficulty::Hard, &format!("{name}'s open question")).await;
    for n in 0..ATTEMPTS {
        record_attempt(app, user, answered.id, Some((n % 11) as u8)).await;
    }
    let created =
        app.call(Method::POST, &format!("/api/job-infos/{job}/interviews"), Some(&token), None, &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let interview: Uuid = created.json()["id"].as_str().unwrap().parse().unwrap();
    let feedback = Update::new().set("feedback", format!("{name}'s interview feedback"));
    app.table.update(&darasa::interviews::key(user, interview), feedback, None).await.unwrap();
    let analysis = json!({"id": Uuid::now_v7(), "jobInfoId": job, "analysis": {"overallScore": 7},
        "model": "test-model", "fileName": format!("{name}.pdf"), "mimeType": "application/pdf", "size": 10,
        "createdAt": "2026-11-01T09:00:00Z"});
    let item = darasa::resumes::store::KIND.item(user, job, Uuid::now_v7(), &analysis).unwrap();
    app.table.put(item, None).await.unwrap();
    let usage = Update::new().add(users::QUESTIONS_GENERATED, 2).add(users::RESUME_ANALYSES, 1);
    app.table.update(&users::usage_key(user), usage, None).await.unwrap();
    (job, answered.id, unanswered.id)
}

async fn the_export_holds_everything_of_the_callers_and_nothing_of_anyone_elses(store: Store) {
    let app = TestApp::new(store).await;
    let (job, answered, unanswered) = seed_user(&app, ALICE, "Alice").await;
    seed_user(&app, BOB, "Bob").await;
    // The rate windows, in the user's partition in DynamoDB (the embedded store counts in memory).
    let sort_keys: Vec<String> = app
        .table
        .counters()
        .query(&Query::new(users::partition(ALICE), "").limit(1000))
        .await
        .unwrap()
        .items
        .iter()
        .map(|item| item["sk"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        sort_keys.iter().any(|sk| sk.starts_with("RATE#")),
        "protection state to leave out: {sort_keys:?}"
    );

    let token = app.token(ALICE, &[]);
    let response = app.call(Method::GET, EXPORT, Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("content-disposition"), Some("attachment; filename=\"darasa-export.json\""));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let text = response.text();
    for foreign in
        ["Bob", "user_bob", "RATE#", "INFLIGHT#", "\"pk\"", "\"sk\"", "parentKey", "updatedKey", "expiresAt"]
    {
        assert!(!text.contains(foreign), "{foreign} in the export");
    }
    let export = response.json();
    assert_eq!((&export["format"], &export["userId"]), (&json!("darasa-export/1"), &json!(ALICE)));
    assert_eq!(export["profile"]["email"], "user_alice@example.com");
    assert_eq!(export["usage"]["questionsGenerated"], 2);
    assert_eq!(export["jobInfos"].as_array().unwrap().len(), 1);
    assert_eq!(export["jobInfos"][0]["id"], job.to_string());

    let questions = export["questions"].as_array().unwrap();
    let question = |id: Uuid| questions.iter().find(|q| q["id"] == id.to_string()).expect("exported");
    assert_eq!(question(answered)["attempts"], ATTEMPTS);
    assert_eq!(question(answered)["keyPoints"], json!(["key point of Alice's answered question"]));
    assert!(question(unanswered).get("keyPoints").is_none(), "not given away before it is answered");

    let attempts = export["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), ATTEMPTS, "every page");
    let ids: std::collections::BTreeSet<&str> = attempts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ATTEMPTS);
    for attempt in attempts {
        assert_eq!(attempt["questionId"], answered.to_string());
        assert!(
            attempt["answer"].is_string() && attempt["feedback"].is_string() && attempt["rating"].is_u64()
        );
    }
    assert_eq!(export["interviews"][0]["feedback"], "Alice's interview feedback");
    assert_eq!(export["resumeAnalyses"][0]["fileName"], "Alice.pdf");
    let progress = &export["progress"][0];
    assert_eq!(
        (&progress["jobInfoId"], &progress["attempts"], &progress["answered"]),
        (&json!(job), &json!(ATTEMPTS), &json!(1))
    );

    // Someone who has nothing gets the same document, empty.
    let nobody = app.call(Method::GET, EXPORT, Some(&app.token("user_nobody", &[])), None, &[]).await.json();
    assert_eq!(nobody["profile"], Value::Null);
    for section in ["jobInfos", "questions", "attempts", "interviews", "resumeAnalyses", "progress"] {
        assert_eq!(nobody[section], json!([]), "{section}");
    }
    app.call(Method::GET, EXPORT, None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

/// A store whose reads of attempts fail (after the export started sending).
struct FailingAttempts(SharedTable);

#[async_trait]
impl Table for FailingAttempts {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.0.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.0.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        self.0.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        self.0.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        if query.prefix == "ATTEMPT#" {
            return Err(StoreError::Unavailable("the table went away".into()));
        }
        self.0.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        self.0.transact(writes).await
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

#[tokio::test]
async fn an_export_cut_by_a_failing_read_never_looks_complete() {
    let seeding = TestApp::new(Store::Embedded).await;
    let token = seeding.token(ALICE, &[]);
    let job = create_job(&seeding, &token).await;
    let question = seed_question(&seeding, ALICE, job, Difficulty::Easy, "Q").await;
    record_attempt(&seeding, ALICE, question.id, Some(6)).await;
    let failing: SharedTable = Arc::new(FailingAttempts(seeding.table.clone()));
    let app = TestApp::builder(Store::Embedded).table(failing).build().await;

    let request = darasa_tests::app::request(Method::GET, EXPORT, Some(&token), None, &[]);
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the head was read before answering");
    let mut received = Vec::new();
    let mut body = response.into_body();
    let error = loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                received.extend_from_slice(frame.data_ref().map(|data| &data[..]).unwrap_or_default())
            }
            Some(Err(error)) => break error,
            None => panic!("the body ended cleanly: {}", String::from_utf8_lossy(&received)),
        }
    };
    assert!(error.to_string().contains("went away"), "{error}");
    let partial = String::from_utf8(received).unwrap();
    assert!(partial.contains("\"questions\":[") && partial.ends_with("\"attempts\":["), "{partial}");
    assert!(serde_json::from_str::<Value>(&partial).is_err(), "never a valid document");
}
