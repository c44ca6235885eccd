//! Data the scenario tests share: users, plans, a job to practise for, and creating it through
//! the API as a client would.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use darasa::store::SharedTable;

use crate::app::TestApp;

pub const ALICE: &str = "user_alice";
pub const BOB: &str = "user_bob";
/// The free plan's features.
pub const FREE: &[&str] = &["5_questions", "1_interview"];
/// Every paid feature.
pub const PAID: &[&str] = &["unlimited_questions", "unlimited_interviews", "unlimited_resume_analysis"];
pub const DESCRIPTION: &str = "Build payment services in Rust on AWS Lambda with DynamoDB.";

/// A job info body.
pub fn job_body(name: &str, title: Option<&str>) -> Value {
    json!({"name": name, "title": title, "experienceLevel": "senior", "description": DESCRIPTION})
}

/// Creates a job info with `body` through the API; its id.
pub async fn create_job_with(app: &TestApp, token: &str, body: Value) -> Uuid {
    let response = app.call(Method::POST, "/api/job-infos", Some(token), Some(body), &[]).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response.json()["id"].as_str().expect("an id").parse().expect("a UUID")
}

/// Creates the usual job ("Payments", a senior Rust role) through the API; its id.
pub async fn create_job(app: &TestApp, token: &str) -> Uuid {
    create_job_with(app, token, job_body("Payments", Some("Backend Engineer"))).await
}

/// A profile as Clerk's webhook stores it, for `user` named `name`.
pub fn profile(user: &str, name: &str) -> darasa::users::Profile {
    let at = time::macros::datetime!(2026-11-01 09:00:00 UTC);
    darasa::users::Profile {
        id: user.into(),
        name: name.into(),
        email: format!("{user}@example.com"),
        image_url: String::new(),
        created_at: at,
        updated_at: at,
    }
}

/// Stores `user`'s profile directly, as if the webhook had arrived.
pub async fn seed_profile(app: &TestApp, user: &str, name: &str) {
    darasa::users::put_profile(app.table.as_ref(), &profile(user, name)).await.expect("profile stored");
}

/// The ids of a list response's items, in order.
pub fn ids(response: &crate::app::TestResponse) -> Vec<String> {
    response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Stores `question` for `user` as a finished generation leaves it: one unit of the user's
/// question quota taken, then the question.
pub async fn seed_question(table: &SharedTable, user: &str, question: &darasa::questions::Question) {
    let counter = darasa::users::Counter::QuestionsGenerated;
    darasa::users::usage::reserve(table, user, counter, None).await.expect("reserve").commit();
    darasa::questions::insert(table.as_ref(), user, question, &[]).await.expect("seed question");
}
