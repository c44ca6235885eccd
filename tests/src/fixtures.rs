//! Data the scenario tests share: users, plans, a job to practise for, and creating it through
//! the API as a client would.

use darasa::attempts::{self, Attempt};
use darasa::questions::{self, Difficulty, Question};
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
/// A browser's User-Agent: what the bot rules let through.
pub const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
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

/// A question stored for `user`'s job as a finished generation stores it (counted in the job's
/// progress, not in the usage), with one key point.
pub async fn seed_question(
    app: &TestApp,
    user: &str,
    job: Uuid,
    difficulty: Difficulty,
    text: &str,
) -> Question {
    let question = Question::new(job, text.to_owned(), difficulty);
    questions::insert(app.table.as_ref(), user, &question, &[format!("key point of {text}")])
        .await
        .expect("question stored");
    question
}

/// Feedback in the original's shape, rated `rating` (none: a reply without a readable rating).
pub fn feedback_text(rating: Option<u8>) -> String {
    let heading = match rating {
        Some(rating) => format!("## Feedback (Rating: {rating}/10)"),
        None => "## Feedback".to_owned(),
    };
    format!("{heading}\nYou covered part of it.\n---\n## Correct Answer\nThe complete answer.")
}

/// Records a graded attempt at `user`'s question directly (as the feedback route does once its
/// stream completed), reading the question's counters first as the route does.
pub async fn record_attempt(app: &TestApp, user: &str, question_id: Uuid, rating: Option<u8>) -> Attempt {
    let grading =
        questions::get_for_grading(app.table.as_ref(), user, question_id).await.expect("the question");
    let answer = format!("answer {}", Uuid::now_v7());
    let attempt = Attempt::new(&grading.question, answer, feedback_text(rating), "test-model".into());
    attempts::record(app.table.as_ref(), user, &grading.question, grading.practice, &attempt)
        .await
        .expect("attempt recorded");
    attempt
}

/// Stores `question` for `user` with one unit of the user's question quota taken, as the
/// generation route leaves it (the quota is reserved before the model is called).
pub async fn seed_question_counted(table: &SharedTable, user: &str, question: &darasa::questions::Question) {
    let counter = darasa::users::Counter::QuestionsGenerated;
    darasa::users::usage::reserve(table, user, counter, None).await.expect("reserve").commit();
    darasa::questions::insert(table.as_ref(), user, question, &[]).await.expect("seed question");
}

/// `count` job infos of `user` straight into `table` (the benchmarks' list of a realistic size:
/// each description about 600 characters).
pub async fn seed_job_infos(table: &dyn darasa::store::Table, user: &str, count: usize) {
    for n in 0..count {
        let new: darasa::job_infos::NewJobInfo = serde_json::from_value(json!({
            "name": format!("Job {n}"), "title": "Engineer", "experienceLevel": "mid-level",
            "description": "Rust, AWS Lambda and DynamoDB. ".repeat(20),
        }))
        .expect("valid job");
        darasa::job_infos::create(table, user, new).await.expect("seed");
    }
}
