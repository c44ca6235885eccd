//! `GET /api/me`, and how failures of the store reach a client (no internals, a request id).

use std::sync::Arc;

use async_trait::async_trait;
use darasa::store::{
    Condition, Item, Key, Page, Query, SharedTable, StoreError, StoreResult, Table, Update, Write,
};
use darasa::users::{self, Profile};
use darasa_tests::app::{Store, TestApp};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "user_2me";

fn profile() -> Profile {
    Profile {
        id: USER.into(),
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        image_url: "https://img.clerk.com/ada".into(),
        created_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
        updated_at: time::macros::datetime!(2026-01-03 03:04:05 UTC),
    }
}

on_both_stores!(me_is_404_until_the_profile_exists, me_reports_plan_quotas);

async fn me_is_404_until_the_profile_exists(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(USER, &["5_questions"]);
    let response = app.call(Method::GET, "/api/me", Some(&token), None, &[]).await;
    response.assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    users::put_profile(app.table.as_ref(), &profile()).await.unwrap();
    let response = app.call(Method::GET, "/api/me", Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    let me = response.json();
    assert_eq!(
        me["user"],
        json!({
            "id": USER, "name": "Ada Lovelace", "email": "ada@example.com",
            "imageUrl": "https://img.clerk.com/ada",
            "createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-03T03:04:05Z"
        })
    );
    // Another user sees only their own (missing) profile.
    let other = app.token("user_other", &[]);
    app.call(Method::GET, "/api/me", Some(&other), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
}

async fn me_reports_plan_quotas(store: Store) {
    let app = TestApp::new(store).await;
    users::put_profile(app.table.as_ref(), &profile()).await.unwrap();
    let usage = users::usage_key(USER);
    let counters = Update::new().add(users::QUESTIONS_GENERATED, 3).add(users::INTERVIEWS_STARTED, 1);
    app.table.update(&usage, counters, None).await.unwrap();

    let free = app.token(USER, &["5_questions", "1_interview"]);
    let me = app.call(Method::GET, "/api/me", Some(&free), None, &[]).await.json();
    assert_eq!(me["features"], json!(["1_interview", "5_questions"]));
    assert_eq!(me["usage"]["questions"], json!({"used": 3, "limit": 5, "remaining": 2}));
    assert_eq!(me["usage"]["interviews"], json!({"used": 1, "limit": 1, "remaining": 0}));
    assert_eq!(me["usage"]["resumeAnalyses"], json!({"used": 0, "limit": 0, "remaining": 0}));

    let paid = app.token(USER, &["unlimited_questions", "unlimited_interviews", "unlimited_resume_analysis"]);
    let me = app.call(Method::GET, "/api/me", Some(&paid), None, &[]).await.json();
    for quota in ["questions", "interviews", "resumeAnalyses"] {
        assert_eq!(me["usage"][quota]["limit"], Value::Null, "{quota}");
        assert_eq!(me["usage"][quota]["remaining"], Value::Null, "{quota}");
    }
    assert_eq!(me["usage"]["questions"]["used"], 3);

    let none = app.token(USER, &[]);
    let me = app.call(Method::GET, "/api/me", Some(&none), None, &[]).await.json();
    assert_eq!(me["features"], json!([]));
    assert_eq!(me["usage"]["questions"], json!({"used": 3, "limit": 0, "remaining": 0}));
}

/// A store that fails every call with a given error.
struct BrokenTable(fn() -> StoreError);

#[async_trait]
impl Table for BrokenTable {
    async fn get(&self, _: &Key) -> StoreResult<Option<Item>> {
        Err((self.0)())
    }
    async fn put(&self, _: Item, _: Option<Condition>) -> StoreResult<()> {
        Err((self.0)())
    }
    async fn update(&self, _: &Key, _: Update, _: Option<Condition>) -> StoreResult<Item> {
        Err((self.0)())
    }
    async fn delete(&self, _: &Key, _: Option<Condition>) -> StoreResult<()> {
        Err((self.0)())
    }
    async fn query(&self, _: &Query) -> StoreResult<Page> {
        Err((self.0)())
    }
    async fn transact(&self, _: Vec<Write>) -> StoreResult<()> {
        Err((self.0)())
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

#[tokio::test]
async fn server_errors_carry_a_request_id_and_no_internals() {
    const SECRET: &str = "dynamodb://internal-host:8000 AccessDenied arn:aws:iam::123";
    let failures: [(fn() -> StoreError, u16); 2] =
        [(|| StoreError::Unavailable(SECRET.into()), 503), (|| StoreError::Mapping(SECRET.into()), 500)];
    for (make, status) in failures {
        let table: SharedTable = Arc::new(BrokenTable(make));
        let app = TestApp::builder(Store::Embedded).table(table).build().await;
        let token = app.token(USER, &[]);
        let response = app.call(Method::GET, "/api/job-infos", Some(&token), None, &[]).await;
        assert_eq!(response.status.as_u16(), status);
        assert_eq!(response.header("content-type"), Some("application/problem+json"));
        let text = String::from_utf8_lossy(&response.body).to_string();
        assert!(!text.contains("internal-host") && !text.contains("arn:aws"), "leaked: {text}");
        assert!(!text.contains(SECRET));
        let request_id = response.json()["requestId"].as_str().expect("a request id").to_owned();
        assert_eq!(response.header("x-request-id"), Some(request_id.as_str()));
    }
}
