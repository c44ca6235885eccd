//! Job infos through the HTTP router on both stores: validation, ordering, pagination, ETags,
//! cascade delete and isolation between users.

use darasa::job_infos;
use darasa::store::{Key, Query};
use darasa_tests::app::{Store, TestApp};
use darasa_tests::on_both_stores;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const ALICE: &str = "user_alice";
const BOB: &str = "user_bob";

fn job(name: &str) -> Value {
    json!({"name": name, "title": "Backend Engineer", "experienceLevel": "mid-level", "description": "Rust, AWS Lambda, DynamoDB"})
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.call(Method::POST, "/api/job-infos", Some(token), Some(body), &[]).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn list_all(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.call(Method::GET, "/api/job-infos?limit=100", Some(token), None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()["items"].as_array().cloned().unwrap_or_default()
}

on_both_stores!(
    create_returns_the_resource,
    invalid_bodies_are_rejected_and_write_nothing,
    list_is_newest_updated_first_with_cursor,
    etags_and_conditional_requests,
    patch_changes_fields_and_bumps_version,
    delete_cascades_to_children_only,
    other_users_ids_are_not_found,
    missing_token_is_unauthorized,
    a_deleted_users_token_cannot_recreate_data,
    a_listed_job_is_what_reading_it_answers_after_changes,
);

/// The list copies stored fields out as they are (on the embedded store): after a change written
/// as an update (not a whole item), each listed job is still exactly what `GET` answers.
async fn a_listed_job_is_what_reading_it_answers_after_changes(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let first = create(&app, &token, job("first")).await;
    let second = create(&app, &token, job("second")).await;
    let changes = json!({"name": "Ünïcode \"quoted\"", "title": "", "experienceLevel": "senior",
        "description": "line one\nline two <b>&</b> \\ done"});
    let path = format!("/api/job-infos/{}", first["id"].as_str().unwrap());
    let response = app.call(Method::PATCH, &path, Some(&token), Some(changes), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", String::from_utf8_lossy(&response.body));

    let listed = list_all(&app, &token).await;
    assert_eq!(listed.len(), 2);
    for created in [&first, &second] {
        let path = format!("/api/job-infos/{}", created["id"].as_str().unwrap());
        let read = app.call(Method::GET, &path, Some(&token), None, &[]).await.json();
        let item = listed.iter().find(|item| item["id"] == created["id"]).expect("listed");
        assert_eq!(item, &read);
    }
    assert_eq!(listed[0]["title"], Value::Null, "the cleared title is listed as null");
    assert_eq!(listed[0]["version"], 2);
}

async fn create_returns_the_resource(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let response = app
        .call(
            Method::POST,
            "/api/job-infos",
            Some(&token),
            Some(json!({"name": " Platform role ", "title": "", "experienceLevel": "junior", "description": "Go"})),
            &[],
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let body = response.json();
    let id = body["id"].as_str().unwrap();
    assert_eq!(response.header("location"), Some(format!("/api/job-infos/{id}").as_str()));
    assert_eq!(response.header("etag"), Some("\"1\""));
    assert_eq!(body["name"], "Platform role");
    assert_eq!(
        body["title"],
        Value::Null,
        "a blank title is stored as null, as the original client sends it"
    );
    assert_eq!(body["experienceLevel"], "junior");
    assert_eq!(body["userId"], ALICE);
    assert_eq!(body["version"], 1);
    assert_eq!(body["createdAt"], body["updatedAt"]);
    let fetched = app.call(Method::GET, &format!("/api/job-infos/{id}"), Some(&token), None, &[]).await;
    assert_eq!(fetched.json(), body);
}

async fn invalid_bodies_are_rejected_and_write_nothing(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let long = "x".repeat(job_infos::MAX_DESCRIPTION + 1);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"title": null, "experienceLevel": "junior", "description": "d"}), "INVALID_BODY", "name"),
        (
            json!({"name": "  ", "experienceLevel": "junior", "description": "d"}),
            "INVALID_JOB_INFO",
            "name is required",
        ),
        (
            json!({"name": "n", "experienceLevel": "principal", "description": "d"}),
            "INVALID_BODY",
            "principal",
        ),
        (json!({"name": 5, "experienceLevel": "junior", "description": "d"}), "INVALID_BODY", "invalid type"),
        (
            json!({"name": "n", "experienceLevel": "junior", "description": "d", "userId": "user_bob"}),
            "INVALID_BODY",
            "unknown field",
        ),
        (
            json!({"name": "n", "experienceLevel": "junior", "description": long}),
            "INVALID_JOB_INFO",
            "at most",
        ),
        (json!([1, 2]), "INVALID_BODY", "invalid type"),
    ];
    for (body, code, mention) in cases {
        let response = app.call(Method::POST, "/api/job-infos", Some(&token), Some(body.clone()), &[]).await;
        response.assert_problem(StatusCode::BAD_REQUEST, code);
        let detail = response.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(mention), "{body}: {detail}");
    }

    let malformed = http::Request::post("/api/job-infos")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"name\": \"n\","))
        .unwrap();
    app.send(malformed).await.assert_problem(StatusCode::BAD_REQUEST, "MALFORMED_JSON");

    let no_type = http::Request::post("/api/job-infos")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(job("n").to_string()))
        .unwrap();
    app.send(no_type).await.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");

    let huge = json!({"name": "n", "experienceLevel": "junior", "description": "d".repeat(200_000)});
    let response = app.call(Method::POST, "/api/job-infos", Some(&token), Some(huge), &[]).await;
    response.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    for bad in ["/api/job-infos/not-a-uuid", "/api/job-infos/1234"] {
        let response = app.call(Method::GET, bad, Some(&token), None, &[]).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "INVALID_ID");
        assert!(response.json()["detail"].as_str().unwrap().contains("jobInfoId must be a UUID"));
    }
    for query in ["limit=0", "limit=101", "limit=ten", "cursor=%%%", "cursor=abc", "sort=name"] {
        let response =
            app.call(Method::GET, &format!("/api/job-infos?{query}"), Some(&token), None, &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
    }
    assert!(list_all(&app, &token).await.is_empty(), "no rejected request may write");
}

async fn list_is_newest_updated_first_with_cursor(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(create(&app, &token, job(&format!("job {n}"))).await["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    // Touching the oldest makes it the most recently updated.
    let response = app
        .call(
            Method::PATCH,
            &format!("/api/job-infos/{}", ids[0]),
            Some(&token),
            Some(json!({"name": "job 0 again"})),
            &[],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let expected = [&ids[0], &ids[4], &ids[3], &ids[2], &ids[1]];

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/job-infos?limit=2&cursor={cursor}"),
            None => "/api/job-infos?limit=2".to_owned(),
        };
        let page = app.call(Method::GET, &path, Some(&token), None, &[]).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|item| item["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 5, "pagination must end");
    }
    assert_eq!(seen, expected.map(|id| id.to_owned()));

    // Another user's cursor cannot walk this user's partition.
    let bob = app.token(BOB, &[]);
    let alice_page = app.call(Method::GET, "/api/job-infos?limit=1", Some(&token), None, &[]).await.json();
    let alice_cursor = alice_page["nextCursor"].as_str().unwrap();
    let response =
        app.call(Method::GET, &format!("/api/job-infos?cursor={alice_cursor}"), Some(&bob), None, &[]).await;
    response.assert_problem(StatusCode::BAD_REQUEST, "INVALID_CURSOR");
}

async fn etags_and_conditional_requests(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let id = create(&app, &token, job("etag")).await["id"].as_str().unwrap().to_owned();
    let path = format!("/api/job-infos/{id}");

    let fresh = app.call(Method::GET, &path, Some(&token), None, &[("if-none-match", "\"1\"")]).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
    assert!(fresh.body.is_empty());
    assert_eq!(fresh.header("etag"), Some("\"1\""));

    let stale_patch = app
        .call(Method::PATCH, &path, Some(&token), Some(json!({"name": "lost"})), &[("if-match", "\"7\"")])
        .await;
    stale_patch.assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");

    let patch = app
        .call(Method::PATCH, &path, Some(&token), Some(json!({"name": "won"})), &[("if-match", "\"1\"")])
        .await;
    assert_eq!(patch.status, StatusCode::OK);
    assert_eq!(patch.header("etag"), Some("\"2\""));

    let changed = app.call(Method::GET, &path, Some(&token), None, &[("if-none-match", "\"1\"")]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["name"], "won");

    let stale_delete = app.call(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"1\"")]).await;
    stale_delete.assert_problem(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    assert_eq!(app.call(Method::GET, &path, Some(&token), None, &[]).await.status, StatusCode::OK);
    let bad_header = app.call(Method::DELETE, &path, Some(&token), None, &[("if-match", "yesterday")]).await;
    bad_header.assert_problem(StatusCode::BAD_REQUEST, "INVALID_IF_MATCH");

    let delete = app.call(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"2\"")]).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
}

async fn patch_changes_fields_and_bumps_version(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let created = create(&app, &token, job("patch me")).await;
    let path = format!("/api/job-infos/{}", created["id"].as_str().unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;

    let response = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"title": null, "experienceLevel": "senior"})),
            &[],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let patched = response.json();
    assert_eq!(patched["title"], Value::Null);
    assert_eq!(patched["experienceLevel"], "senior");
    assert_eq!(patched["name"], "patch me", "fields not sent are unchanged");
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["createdAt"], created["createdAt"]);
    assert_ne!(patched["updatedAt"], created["updatedAt"], "every update sets updatedAt");

    for (body, code) in [
        (json!({}), "INVALID_JOB_INFO"),
        (json!({"description": ""}), "INVALID_JOB_INFO"),
        (json!({"experienceLevel": "intern"}), "INVALID_BODY"),
        (json!({"id": "x"}), "INVALID_BODY"),
    ] {
        app.call(Method::PATCH, &path, Some(&token), Some(body), &[])
            .await
            .assert_problem(StatusCode::BAD_REQUEST, code);
    }
    let after = app.call(Method::GET, &path, Some(&token), None, &[]).await.json();
    assert_eq!(after, patched, "rejected patches change nothing");
}

async fn delete_cascades_to_children_only(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    let doomed = create(&app, &token, job("doomed")).await["id"].as_str().unwrap().parse().unwrap();
    let kept = create(&app, &token, job("kept")).await["id"].as_str().unwrap().parse().unwrap();
    let _partition = darasa::users::partition(ALICE);
    // Children as later resources store them: their own sort key, the parent in `parentKey`.
    for (parent, count) in [(doomed, 60), (kept, 3)] {
        for _ in 0..count {
            let child = uuid::Uuid::now_v7();
            let item =
                darasa::questions::store::KIND.item(ALICE, parent, child, &serde_json::json!({})).unwrap();
            app.table.put(item, None).await.unwrap();
        }
    }
    let children_of = |job: uuid::Uuid| job_infos::store::children(ALICE, job).limit(1000);
    assert_eq!(app.table.query(&children_of(doomed)).await.unwrap().items.len(), 60);

    let response =
        app.call(Method::DELETE, &format!("/api/job-infos/{doomed}"), Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(app.table.query(&children_of(doomed)).await.unwrap().items.is_empty());
    assert_eq!(app.table.query(&children_of(kept)).await.unwrap().items.len(), 3);
    assert!(app.table.get(&job_infos::key(ALICE, doomed)).await.unwrap().is_none());
    let again = app.call(Method::DELETE, &format!("/api/job-infos/{doomed}"), Some(&token), None, &[]).await;
    again.assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    let remaining = list_all(&app, &token).await;
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["name"], "kept");
}

async fn other_users_ids_are_not_found(store: Store) {
    let app = TestApp::new(store).await;
    let alice = app.token(ALICE, &[]);
    let bob = app.token(BOB, &[]);
    let created = create(&app, &alice, job("alice's")).await;
    let path = format!("/api/job-infos/{}", created["id"].as_str().unwrap());

    app.call(Method::GET, &path, Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    app.call(Method::PATCH, &path, Some(&bob), Some(json!({"name": "bob's now"})), &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    app.call(Method::DELETE, &path, Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    assert!(list_all(&app, &bob).await.is_empty());
    // Bob's attempts created nothing in his partition either.
    let bob_items = app.table.query(&Query::new(darasa::users::partition(BOB), "")).await.unwrap();
    assert!(bob_items.items.is_empty());

    let still = app.call(Method::GET, &path, Some(&alice), None, &[]).await;
    assert_eq!(still.json(), created, "alice's job info is untouched");
    let key = job_infos::key(ALICE, created["id"].as_str().unwrap().parse().unwrap());
    assert_eq!(Key::of(&app.table.get(&key).await.unwrap().unwrap()), Some(key));
}

async fn missing_token_is_unauthorized(store: Store) {
    let app = TestApp::new(store).await;
    for (method, path) in [
        (Method::GET, "/api/job-infos"),
        (Method::POST, "/api/job-infos"),
        (Method::GET, "/api/job-infos/0190e5e5-0000-7000-8000-000000000000"),
        (Method::DELETE, "/api/job-infos/0190e5e5-0000-7000-8000-000000000000"),
        (Method::GET, "/api/me"),
    ] {
        let body = (method == Method::POST).then(|| job("x"));
        app.call(method, path, None, body, &[])
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
}

async fn a_deleted_users_token_cannot_recreate_data(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, &[]);
    create(&app, &token, job("before")).await;
    // What Clerk's user.deleted does; the token stays valid for up to a minute afterwards.
    darasa::users::delete_user(app.table.as_ref(), ALICE, time::OffsetDateTime::now_utc()).await.unwrap();
    let response = app.call(Method::POST, "/api/job-infos", Some(&token), Some(job("after")), &[]).await;
    response.assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert!(list_all(&app, &token).await.is_empty(), "nothing re-created in the swept partition");
}
