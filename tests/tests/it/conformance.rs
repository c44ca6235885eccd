//! HTTP conformance the contract promises: `If-Match` per RFC 9110 (lists, weak tags, `*`,
//! foreign tags are 412), a cursor of another list is `400 INVALID_CURSOR` on every list, body
//! limits that admit every valid body whatever its script, and list pages bounded in bytes.

use darasa::job_infos::{MAX_DESCRIPTION, MAX_NAME, MAX_TITLE};
use darasa::questions::Difficulty;
use darasa::store::PAGE_BYTES;
use darasa_tests::app::{Store, TestApp};
use darasa_tests::fixtures::{ALICE, PAID, create_job, record_attempt, seed_question};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_stores!(
    if_match_follows_rfc_9110,
    a_cursor_of_another_list_is_invalid_cursor_everywhere,
    non_ascii_text_at_the_documented_limits_is_accepted,
    list_pages_are_bounded_in_bytes,
);

async fn if_match_follows_rfc_9110(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    let path = format!("/api/job-infos/{job}");
    let patch = |if_match: &'static str| {
        let (app, token, path) = (&app, &token, &path);
        async move {
            let body = json!({"name": format!("renamed {}", Uuid::now_v7())});
            app.call(Method::PATCH, path, Some(token), Some(body), &[("if-match", if_match)]).await
        }
    };
    // Well-formed tags that are not the current one, or weak ones (never equal under the strong
    // comparison If-Match uses), fail the precondition: 412, nothing written.
    for stale in ["\"some-other-etag\"", "W/\"1\"", "\"2\", \"3\"", "\"\""] {
        patch(stale).await.assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    }
    let current = app.call(Method::GET, &path, Some(&token), None, &[]).await;
    assert_eq!(current.header("etag"), Some("\"1\""), "nothing was written");
    // A list matches when any of its strong tags is current; `*` when the job exists.
    let listed = patch("\"7\", W/\"x\", \"1\"").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.header("etag"), Some("\"2\""));
    let any = patch("*").await;
    assert_eq!(any.status, StatusCode::OK, "{}", any.text());
    assert_eq!(any.header("etag"), Some("\"3\""));
    // Only a field that is not an entity-tag list is a 400.
    for malformed in ["nonsense", "3", "\"3\" \"4\"", "*, \"3\""] {
        patch(malformed).await.assert_problem(StatusCode::BAD_REQUEST, "INVALID_IF_MATCH");
    }
    // A missing job stays a 404 whatever the tag.
    let gone = format!("/api/job-infos/{}", Uuid::now_v7());
    app.call(Method::PATCH, &gone, Some(&token), Some(json!({"name": "x"})), &[("if-match", "\"zzz\"")])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    // Deletes and interviews follow the same rules.
    let created =
        app.call(Method::POST, &format!("/api/job-infos/{job}/interviews"), Some(&token), None, &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let interview = format!("/api/interviews/{}", created.json()["id"].as_str().unwrap());
    let duration = json!({"duration": "00:01:00"});
    app.call(Method::PATCH, &interview, Some(&token), Some(duration.clone()), &[("if-match", "\"other\"")])
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    let patched = app
        .call(Method::PATCH, &interview, Some(&token), Some(duration), &[("if-match", "\"0\", \"1\"")])
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    app.call(Method::DELETE, &interview, Some(&token), None, &[("if-match", "W/\"2\"")])
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    let deleted = app.call(Method::DELETE, &interview, Some(&token), None, &[("if-match", "\"2\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    app.call(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"v3\"")])
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    let deleted = app.call(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"9\", \"3\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
}

async fn next_cursor(app: &TestApp, token: &str, path: &str) -> String {
    let response = app.call(Method::GET, path, Some(token), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
    response.json()["nextCursor"].as_str().unwrap_or_else(|| panic!("{path} has a next page")).to_owned()
}

async fn a_cursor_of_another_list_is_invalid_cursor_everywhere(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    create_job(&app, &token).await;
    let question = seed_question(&app, ALICE, job, Difficulty::Easy, "Q1").await;
    seed_question(&app, ALICE, job, Difficulty::Hard, "Q2").await;
    for _ in 0..2 {
        record_attempt(&app, ALICE, question.id, Some(5)).await;
        let created = app
            .call(Method::POST, &format!("/api/job-infos/{job}/interviews"), Some(&token), None, &[])
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    }
    let lists = [
        "/api/job-infos?limit=1".to_owned(),
        format!("/api/job-infos/{job}/questions?limit=1"),
        format!("/api/job-infos/{job}/interviews?status=all&limit=1"),
        format!("/api/questions/{}/attempts?limit=1", question.id),
    ];
    let mut cursors = Vec::new();
    for list in &lists {
        cursors.push(next_cursor(&app, &token, list).await);
    }
    // Every list, the resume analyses' too (empty here), refuses every other list's cursor.
    let mut targets = lists.to_vec();
    targets.push(format!("/api/job-infos/{job}/resume-analyses?limit=1"));
    for (at, target) in targets.iter().enumerate() {
        for (from, cursor) in cursors.iter().enumerate() {
            let path = format!("{target}&cursor={cursor}");
            let response = app.call(Method::GET, &path, Some(&token), None, &[]).await;
            if from == at {
                assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
            } else {
                response.assert_problem(StatusCode::BAD_REQUEST, "INVALID_CURSOR");
            }
        }
    }
}

/// `n` characters of 4 bytes each in UTF-8 (the most any character takes).
fn wide(n: usize) -> String {
    "\u{1D11E}".repeat(n)
}

async fn non_ascii_text_at_the_documented_limits_is_accepted(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, PAID);
    let longest = json!({"name": wide(MAX_NAME), "title": wide(MAX_TITLE), "experienceLevel": "senior",
        "description": wide(MAX_DESCRIPTION)});
    let created = app.call(Method::POST, "/api/job-infos", Some(&token), Some(longest.clone()), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let job = created.json();
    assert_eq!(job["description"].as_str().unwrap().chars().count(), MAX_DESCRIPTION);
    let path = format!("/api/job-infos/{}", job["id"].as_str().unwrap());
    let patched = app.call(Method::PATCH, &path, Some(&token), Some(longest), &[]).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    // One character over is a validation error, not a size error.
    let over = json!({"name": "n", "experienceLevel": "senior", "description": wide(MAX_DESCRIPTION + 1)});
    app.call(Method::POST, "/api/job-infos", Some(&token), Some(over), &[])
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "INVALID_JOB_INFO");
    // The limit stays bounded.
    let huge = json!({"name": "n", "experienceLevel": "senior", "description": "x".repeat(512 * 1024)});
    app.call(Method::POST, "/api/job-infos", Some(&token), Some(huge), &[])
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    // An answer of the longest length reaches the route's own checks (here: not your question).
    let answer = json!({"prompt": wide(darasa::questions::MAX_ANSWER), "questionId": Uuid::now_v7()});
    app.call(Method::POST, "/api/ai/questions/generate-feedback", Some(&token), Some(answer), &[])
        .await
        .assert_plain(StatusCode::FORBIDDEN, "You do not have permission to do this");
}

async fn list_pages_are_bounded_in_bytes(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, PAID);
    // 30 jobs of 80 KB each: 2.4 MB, more than a page may hold.
    let total = 30;
    for n in 0..total {
        let body = json!({"name": format!("job {n}"), "title": null, "experienceLevel": "junior",
            "description": wide(MAX_DESCRIPTION)});
        let created = app.call(Method::POST, "/api/job-infos", Some(&token), Some(body), &[]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    }
    let (mut seen, mut cursor, mut pages) = (Vec::<Value>::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/job-infos?limit=100&cursor={cursor}"),
            None => "/api/job-infos?limit=100".to_owned(),
        };
        let response = app.call(Method::GET, &path, Some(&token), None, &[]).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.body.len() <= PAGE_BYTES, "a page of {} bytes", response.body.len());
        let page = response.json();
        seen.extend(page["items"].as_array().unwrap().iter().map(|job| job["id"].clone()));
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages <= total, "paging must end");
    }
    assert!(pages >= 2, "30 jobs of 80 KB do not fit one page");
    let mut unique = seen.clone();
    unique.sort_by_key(|id| id.to_string());
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (total, total), "every job once");
}
