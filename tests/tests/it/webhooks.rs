//! Clerk webhooks (`POST /api/webhooks/clerk`) through the HTTP router on both stores: every
//! delivery is signed with the svix crate's own `Webhook::sign`, as Svix signs them. Covers
//! verification and every rejection (400, nothing written), the profile `GET /api/me` then serves,
//! idempotence, order safety, tombstones, cascade delete (also when it fails halfway) and
//! concurrent deliveries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::body::Body;
use base64::Engine;
use darasa::app::{self};
use darasa::store::{
    Condition, EXPIRES_AT, Item, Key, Page, Query, SharedTable, StoreError, StoreResult, Table, Update, Write,
};
use darasa::users;
use darasa::webhooks::{self};
use darasa_tests::app::{Store, TestApp, TestResponse, now};
use darasa_tests::on_both_stores;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use svix::webhooks::Webhook;
use tower::ServiceExt;

/// The endpoint's signing secret in these tests, the previous one during a rotation, and one
/// nobody configured.
const SECRET: &str = "whsec_ZGFyYXNhIHdlYmhvb2sgdGVzdHM6IGN1cnJlbnQ=";
const PREVIOUS_SECRET: &str = "whsec_ZGFyYXNhIHdlYmhvb2sgdGVzdHM6IHByZXZpb3Vz";
const OTHER_SECRET: &str = "whsec_bm90IHRoZSBjb25maWd1cmVkIHNlY3JldCE=";

/// Clerk's `created_at` of the test users (ms); updates count up from it.
const CREATED_AT: i64 = 1_795_600_000_000;

async fn webhook_app(store: Store, secrets: &str) -> TestApp {
    TestApp::builder(store).webhook_secrets(secrets).build().await
}

/// A `user.created`/`user.updated` body shaped like Clerk's (`UserJSON`, `docs/wire-formats.md`).
fn user_event(kind: &str, user: &str, updated_at: i64, first: Value, last: Value, username: Value) -> Value {
    json!({
        "data": {
            "backup_code_enabled": false,
            "banned": false,
            "birthday": "",
            "create_organization_enabled": true,
            "created_at": CREATED_AT,
            "delete_self_enabled": true,
            "email_addresses": [
                {
                    "created_at": CREATED_AT, "email_address": format!("{user}.old@example.org"),
                    "id": format!("idn_old_{user}"), "linked_to": [], "object": "email_address",
                    "reserved": false, "updated_at": CREATED_AT,
                    "verification": {"attempts": null, "expire_at": null, "status": "verified", "strategy": "email_code"}
                },
                {
                    "created_at": CREATED_AT, "email_address": format!("{user}@example.org"),
                    "id": format!("idn_{user}"), "linked_to": [], "object": "email_address",
                    "reserved": false, "updated_at": CREATED_AT,
                    "verification": {"attempts": null, "expire_at": null, "status": "verified", "strategy": "ticket"}
                }
            ],
            "external_accounts": [],
            "external_id": null,
            "first_name": first,
            "gender": "",
            "has_image": true,
            "id": user,
            "image_url": format!("https://img.clerk.com/{user}"),
            "last_active_at": null,
            "last_name": last,
            "last_sign_in_at": null,
            "legal_accepted_at": null,
            "locked": false,
            "object": "user",
            "password_enabled": true,
            "phone_numbers": [],
            "primary_email_address_id": format!("idn_{user}"),
            "primary_phone_number_id": null,
            "primary_web3_wallet_id": null,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "saml_accounts": [],
            "totp_enabled": false,
            "two_factor_enabled": false,
            "unsafe_metadata": {},
            "updated_at": updated_at,
            "username": username,
            "web3_wallets": []
        },
        "event_attributes": {"http_request": {"client_ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}},
        "instance_id": "ins_2darasaTestInstance",
        "object": "event",
        "timestamp": updated_at + 50,
        "type": kind
    })
}

fn created(user: &str) -> Vec<u8> {
    named("user.created", user, CREATED_AT, "Ada", "Lovelace")
}

fn named(kind: &str, user: &str, updated_at: i64, first: &str, last: &str) -> Vec<u8> {
    user_event(kind, user, updated_at, first.into(), last.into(), Value::Null).to_string().into_bytes()
}

fn deleted(user: &str) -> Vec<u8> {
    json!({
        "data": {"deleted": true, "id": user, "object": "user"},
        "event_attributes": {"http_request": {"client_ip": "", "user_agent": ""}},
        "instance_id": "ins_2darasaTestInstance",
        "object": "event",
        "timestamp": CREATED_AT + 900_000,
        "type": "user.deleted"
    })
    .to_string()
    .into_bytes()
}

/// Request headers as (name, value) pairs.
type Headers = Vec<(&'static str, String)>;

/// The three Svix headers for `body`, signed by `secret` at `timestamp`.
fn signed(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Headers {
    let signature = Webhook::new(secret).unwrap().sign(id, timestamp, body).unwrap();
    vec![("svix-id", id.to_owned()), ("svix-timestamp", timestamp.to_string()), ("svix-signature", signature)]
}

fn request(headers: &[(&str, String)], body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(webhooks::ROUTE)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn post(app: &TestApp, headers: &[(&str, String)], body: Vec<u8>) -> TestResponse {
    app.send(request(headers, body)).await
}

/// A delivery as Svix makes it: signed now with the configured secret.
async fn deliver(app: &TestApp, id: &str, body: Vec<u8>) -> TestResponse {
    post(app, &signed(SECRET, id, now(), &body), body).await
}

fn text(response: &TestResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// Asserts a 200 "Webhook received" with this outcome.
fn assert_received(response: &TestResponse, outcome: &str) {
    assert_eq!(response.status, StatusCode::OK, "{}", text(response));
    assert_eq!(text(response), "Webhook received");
    assert_eq!(response.header("x-webhook-outcome"), Some(outcome));
}

async fn profile_item(app: &TestApp, user: &str) -> Option<Item> {
    app.table.get(&users::profile_key(user)).await.unwrap()
}

async fn version(app: &TestApp, user: &str) -> Option<i64> {
    profile_item(app, user).await.and_then(|item| item.get(users::PROFILE_VERSION)?.as_i64())
}

async fn partition(app: &TestApp, user: &str) -> Vec<Item> {
    app.table.query(&Query::new(users::partition(user), "").limit(1000)).await.unwrap().items
}

async fn me(app: &TestApp, user: &str) -> TestResponse {
    let token = app.token(user, &["5_questions"]);
    app.call(Method::GET, "/api/me", Some(&token), None, &[]).await
}

on_both_stores!(
    created_user_is_what_me_serves,
    every_rejection_is_400_and_writes_nothing,
    either_secret_verifies_during_a_rotation,
    a_duplicate_delivery_changes_nothing,
    an_older_update_does_not_overwrite_a_newer_one,
    a_deleted_user_is_not_resurrected_by_late_deliveries,
    delete_cascades_to_everything_the_user_owns,
    a_delete_that_fails_halfway_is_finished_by_the_retry,
    other_event_types_are_acknowledged_and_ignored,
    base64_encoded_lambda_bodies_verify_over_the_decoded_bytes,
    fifty_concurrent_deliveries_for_distinct_users_all_apply,
    one_delivery_raced_ten_times_applies_once,
    the_webhook_window_counts_what_an_attacker_can_send,
    a_delivery_at_a_cold_start_is_applied_only_once_inspected,
);

async fn created_user_is_what_me_serves(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2webhookAda";
    // The onboarding page polls on this 404 until the webhook lands.
    me(&app, user).await.assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    // Pretty-printed with unusual spacing: the signature covers these exact bytes, so a
    // re-serialised body would not verify.
    let body = serde_json::to_string_pretty(&user_event(
        "user.created",
        user,
        CREATED_AT + 12,
        Value::Null,
        Value::Null,
        "ada_l".into(),
    ))
    .unwrap()
    .replace(": ", " :  ")
    .into_bytes();
    assert_received(&deliver(&app, "msg_created_ada", body).await, "applied");

    let response = me(&app, user).await;
    assert_eq!(response.status, StatusCode::OK, "{}", text(&response));
    assert_eq!(
        response.json()["user"],
        json!({
            "id": user,
            "name": "ada_l",
            "email": format!("{user}@example.org"),
            "imageUrl": format!("https://img.clerk.com/{user}"),
            "createdAt": "2026-11-25T09:46:40Z",
            "updatedAt": "2026-11-25T09:46:40.012Z"
        })
    );

    // Names: what is set, never "null"/"undefined", else the username, else the email's local part.
    let cases = [
        ("user_2first", json!("Grace"), Value::Null, Value::Null, "Grace"),
        ("user_2last", Value::Null, json!("Hopper"), Value::Null, "Hopper"),
        ("user_2both", json!(" Grace "), json!("Hopper"), json!("gh"), "Grace Hopper"),
        ("user_2artefacts", json!("null"), json!("undefined"), Value::Null, "user_2artefacts"),
        ("user_2nothing", Value::Null, Value::Null, json!(""), "user_2nothing"),
    ];
    for (user, first, last, username, name) in cases {
        let body = user_event("user.created", user, CREATED_AT, first, last, username).to_string();
        assert_received(&deliver(&app, &format!("msg_{user}"), body.into_bytes()).await, "applied");
        let response = me(&app, user).await;
        assert_eq!(response.json()["user"]["name"], name, "{user}");
    }
}

async fn every_rejection_is_400_and_writes_nothing(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2rejected";
    let body = created(user);
    let id = "msg_rejected";
    let fresh = now();
    let header = |name: &str, headers: &[(&'static str, String)]| {
        headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap()
    };
    let without = |name: &str| -> Headers {
        signed(SECRET, id, fresh, &body).into_iter().filter(|(n, _)| *n != name).collect()
    };
    let with = |name: &'static str, value: &str| -> Headers {
        let mut headers = without(name);
        headers.push((name, value.to_owned()));
        headers
    };
    let mut one_byte_changed = body.clone();
    let at = one_byte_changed.iter().position(|b| *b == b'A').unwrap();
    one_byte_changed[at] = b'B';
    let other_body = created("user_2someoneelse");
    let good = signed(SECRET, id, fresh, &body);

    let cases: Vec<(&str, Headers, Vec<u8>, &str)> = vec![
        (
            "signature of another body",
            with("svix-signature", &header("svix-signature", &signed(SECRET, id, fresh, &other_body))),
            body.clone(),
            "Invalid webhook: no valid signature",
        ),
        (
            "wrong secret",
            signed(OTHER_SECRET, id, fresh, &body),
            body.clone(),
            "Invalid webhook: no valid signature",
        ),
        ("body changed by one byte", good.clone(), one_byte_changed, "Invalid webhook: no valid signature"),
        (
            "signed for another svix-id",
            with("svix-id", "msg_other"),
            body.clone(),
            "Invalid webhook: no valid signature",
        ),
        (
            "timestamp 6 minutes old",
            signed(SECRET, id, fresh - 360, &body),
            body.clone(),
            "Invalid webhook: timestamp too old",
        ),
        (
            "timestamp 6 minutes ahead",
            signed(SECRET, id, fresh + 360, &body),
            body.clone(),
            "Invalid webhook: timestamp too far in the future",
        ),
        ("missing svix-id", without("svix-id"), body.clone(), "Invalid webhook: missing svix-id header"),
        (
            "missing svix-timestamp",
            without("svix-timestamp"),
            body.clone(),
            "Invalid webhook: missing svix-timestamp header",
        ),
        (
            "missing svix-signature",
            without("svix-signature"),
            body.clone(),
            "Invalid webhook: missing svix-signature header",
        ),
        (
            "malformed svix-timestamp",
            with("svix-timestamp", "yesterday"),
            body.clone(),
            "Invalid webhook: malformed svix headers",
        ),
        (
            "malformed svix-signature",
            with("svix-signature", "garbage"),
            body.clone(),
            "Invalid webhook: no valid signature",
        ),
        (
            "unknown signature version",
            with("svix-signature", &header("svix-signature", &good).replacen("v1,", "v2,", 1)),
            body.clone(),
            "Invalid webhook: no valid signature",
        ),
        ("no headers at all", vec![], body.clone(), "Invalid webhook: missing svix-id header"),
    ];
    for (case, headers, body, expected) in cases {
        let response = post(&app, &headers, body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{case}: {}", text(&response));
        assert_eq!(text(&response), expected, "{case}");
        assert!(response.header("content-type").unwrap().starts_with("text/plain"), "{case}");
    }

    // Signed correctly, but not the documented envelope or not a usable user.
    let mut no_primary = user_event("user.created", user, CREATED_AT, "A".into(), "B".into(), Value::Null);
    no_primary["data"]["primary_email_address_id"] = Value::Null;
    let mut unknown_primary = no_primary.clone();
    unknown_primary["data"]["primary_email_address_id"] = "idn_nowhere".into();
    let mut no_id = user_event("user.updated", user, CREATED_AT, "A".into(), "B".into(), Value::Null);
    no_id["data"].as_object_mut().unwrap().remove("id");
    let mut bad_time = user_event("user.updated", user, CREATED_AT, "A".into(), "B".into(), Value::Null);
    bad_time["data"]["updated_at"] = "yesterday".into();
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "Invalid webhook: "),
        (b"[]".to_vec(), "Invalid webhook: "),
        (br#"{"hello": "world"}"#.to_vec(), "Invalid webhook: "),
        (json!({"type": "user.created", "object": "event"}).to_string().into_bytes(), "Invalid webhook: "),
        (
            json!({"type": "user.created", "object": "user", "data": {}}).to_string().into_bytes(),
            "Invalid webhook: ",
        ),
        (no_id.to_string().into_bytes(), "Invalid webhook: "),
        (bad_time.to_string().into_bytes(), "Invalid webhook: "),
        (no_primary.to_string().into_bytes(), "No primary email found"),
        (unknown_primary.to_string().into_bytes(), "No primary email found"),
        (
            json!({"type": "user.deleted", "object": "event", "data": {"deleted": true, "object": "user"}})
                .to_string()
                .into_bytes(),
            "No user ID found",
        ),
    ];
    for (body, expected) in bodies {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let response = deliver(&app, id, body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{shown}: {}", text(&response));
        assert!(text(&response).starts_with(expected), "{shown}: {}", text(&response));
    }

    // Not UTF-8: svix refuses to sign or verify it at all.
    let response = post(&app, &good, vec![0xff, 0xfe, b'{', b'}']).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(text(&response), "Invalid webhook: body is not UTF-8");

    assert!(partition(&app, user).await.is_empty(), "nothing written for the user");
    for id in [id, "msg_other"] {
        assert!(app.table.get(&webhooks::delivery_key(id)).await.unwrap().is_none(), "{id} not recorded");
    }
    // The very delivery the cases were made from is accepted afterwards: none was recorded.
    assert_received(&deliver(&app, id, body).await, "applied");
}

async fn either_secret_verifies_during_a_rotation(store: Store) {
    let app = webhook_app(store, &format!("{SECRET} {PREVIOUS_SECRET}")).await;
    let body = created("user_2rotated");
    let response = post(&app, &signed(PREVIOUS_SECRET, "msg_old_key", now(), &body), body.clone()).await;
    assert_received(&response, "applied");
    let body = named("user.updated", "user_2rotated", CREATED_AT + 1, "Ada", "King");
    let response = post(&app, &signed(SECRET, "msg_new_key", now(), &body), body.clone()).await;
    assert_received(&response, "applied");
    let body = named("user.updated", "user_2rotated", CREATED_AT + 2, "Ada", "Byron");
    let response = post(&app, &signed(OTHER_SECRET, "msg_no_key", now(), &body), body.clone()).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);

    // Svix sends one signature per active secret, space-separated: one matching is enough.
    let body = named("user.updated", "user_2rotated", CREATED_AT + 3, "Ada", "Lovelace");
    let timestamp = now();
    let mut headers = signed(SECRET, "msg_two_sigs", timestamp, &body);
    let other = Webhook::new(OTHER_SECRET).unwrap().sign("msg_two_sigs", timestamp, &body).unwrap();
    headers[2].1 = format!("{other} {}", headers[2].1);
    assert_received(&post(&app, &headers, body).await, "applied");
    assert_eq!(me(&app, "user_2rotated").await.json()["user"]["name"], "Ada Lovelace");
    assert_eq!(version(&app, "user_2rotated").await, Some(3));
}

async fn a_duplicate_delivery_changes_nothing(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2dup";
    assert_received(&deliver(&app, "msg_dup", created(user)).await, "applied");
    let before = profile_item(&app, user).await.unwrap();
    assert_eq!(before[users::PROFILE_VERSION], 1);

    // Svix's retry: same id and body, a new timestamp and signature.
    assert_received(&deliver(&app, "msg_dup", created(user)).await, "duplicate");
    // Even a different body under an applied id changes nothing: the id is the idempotency key.
    let newer = named("user.updated", user, CREATED_AT + 5_000, "Changed", "Name");
    assert_received(&deliver(&app, "msg_dup", newer).await, "duplicate");
    assert_eq!(profile_item(&app, user).await.unwrap(), before);

    let record = app.table.get(&webhooks::delivery_key("msg_dup")).await.unwrap().unwrap();
    assert_eq!(record["type"], "user.created");
    assert_eq!(record["userId"], user);
    assert_eq!(record["outcome"], "applied");
    let expires = record[EXPIRES_AT].as_i64().unwrap();
    let week = webhooks::DEDUPE_TTL.whole_seconds();
    assert!((now() + week - 5..=now() + week + 5).contains(&expires), "kept for 7 days: {expires}");
}

async fn an_older_update_does_not_overwrite_a_newer_one(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2order";
    assert_received(
        &deliver(&app, "msg_o1", named("user.created", user, CREATED_AT, "First", "Name")).await,
        "applied",
    );
    let newest = named("user.updated", user, CREATED_AT + 3_000, "Newest", "Name");
    assert_received(&deliver(&app, "msg_o3", newest).await, "applied");
    // Delivered late: an update made between the two.
    let middle = named("user.updated", user, CREATED_AT + 2_000, "Middle", "Name");
    assert_received(&deliver(&app, "msg_o2", middle.clone()).await, "stale");
    // And the creation, retried late.
    let late_create = named("user.created", user, CREATED_AT, "First", "Name");
    assert_received(&deliver(&app, "msg_o1_replayed", late_create).await, "stale");

    let me = me(&app, user).await.json();
    assert_eq!(me["user"]["name"], "Newest Name");
    assert_eq!(me["user"]["updatedAt"], "2026-11-25T09:46:43Z");
    let item = profile_item(&app, user).await.unwrap();
    assert_eq!(item[users::CLERK_UPDATED_AT], CREATED_AT + 3_000);
    assert_eq!(item[users::PROFILE_VERSION], 2);
    // The stale delivery is remembered, so its retries are duplicates.
    assert_received(&deliver(&app, "msg_o2", middle).await, "duplicate");
    // An update at the same instant re-applies (same data from Clerk's point of view).
    let same = named("user.updated", user, CREATED_AT + 3_000, "Newest", "Name");
    assert_received(&deliver(&app, "msg_o3_same_time", same).await, "applied");
}

async fn a_deleted_user_is_not_resurrected_by_late_deliveries(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2tomb";
    assert_received(&deliver(&app, "msg_t1", created(user)).await, "applied");
    assert_eq!(me(&app, user).await.status, StatusCode::OK);
    assert_received(&deliver(&app, "msg_t2", deleted(user)).await, "applied");
    me(&app, user).await.assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    // Late deliveries, even with a newer `updated_at`, do not bring the user back.
    let late_update = named("user.updated", user, CREATED_AT + 60_000, "Ghost", "User");
    assert_received(&deliver(&app, "msg_t3", late_update.clone()).await, "deleted");
    assert_received(&deliver(&app, "msg_t4", created(user)).await, "deleted");
    me(&app, user).await.assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    assert!(profile_item(&app, user).await.is_none());
    assert_received(&deliver(&app, "msg_t3", late_update).await, "duplicate");
    // The delete itself, retried.
    assert_received(&deliver(&app, "msg_t2", deleted(user)).await, "duplicate");

    let items = partition(&app, user).await;
    assert_eq!(items.len(), 1, "only the tombstone remains: {items:?}");
    assert_eq!(Key::of(&items[0]), Some(users::tombstone_key(user)));
    let expires = items[0][EXPIRES_AT].as_i64().unwrap();
    let ttl = users::TOMBSTONE_TTL.whole_seconds();
    assert!((now() + ttl - 5..=now() + ttl + 5).contains(&expires), "tombstone TTL: {expires}");
}

/// A user with a profile, job infos made through the API, children under one job, usage, and
/// another user whose data must survive.
async fn populate(app: &TestApp, user: &str, children: usize) -> Vec<String> {
    assert_received(&deliver(app, &format!("msg_create_{user}"), created(user)).await, "applied");
    let token = app.token(user, &[]);
    let mut jobs = Vec::new();
    for name in ["Backend", "Platform", "Data"] {
        let body = json!({"name": name, "title": null, "experienceLevel": "senior", "description": "Rust"});
        let response = app.call(Method::POST, "/api/job-infos", Some(&token), Some(body), &[]).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", text(&response));
        jobs.push(response.json()["id"].as_str().unwrap().to_owned());
    }
    let parent: uuid::Uuid = jobs[0].parse().unwrap();
    for _ in 0..children {
        let child = uuid::Uuid::now_v7();
        let item = darasa::questions::store::KIND.item(user, parent, child, &json!({})).unwrap();
        app.table.put(item, None).await.unwrap();
    }
    let usage = Update::new().add(users::QUESTIONS_GENERATED, 4).add(users::INTERVIEWS_STARTED, 1);
    app.table.update(&users::usage_key(user), usage, None).await.unwrap();
    jobs
}

async fn delete_cascades_to_everything_the_user_owns(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let (doomed, survivor) = ("user_2doomed", "user_2survivor");
    let jobs = populate(&app, doomed, 130).await;
    populate(&app, survivor, 2).await;
    let before = partition(&app, doomed).await.len();
    assert_eq!(before, 1 + 3 + 130 + 1, "profile, jobs, children, usage");

    assert_received(&deliver(&app, "msg_delete_doomed", deleted(doomed)).await, "applied");
    let left: Vec<Key> = partition(&app, doomed).await.iter().filter_map(Key::of).collect();
    assert_eq!(left, [users::tombstone_key(doomed)]);
    let token = app.token(doomed, &[]);
    for job in &jobs {
        let response = app.call(Method::GET, &format!("/api/job-infos/{job}"), Some(&token), None, &[]).await;
        response.assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    }
    let listed = app.call(Method::GET, "/api/job-infos", Some(&token), None, &[]).await.json();
    assert_eq!(listed["items"], json!([]));
    let me_doomed = me(&app, doomed).await;
    me_doomed.assert_problem(StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    // The other user is untouched.
    assert_eq!(partition(&app, survivor).await.len(), 1 + 3 + 2 + 1);
    assert_eq!(me(&app, survivor).await.status, StatusCode::OK);
    let record = app.table.get(&webhooks::delivery_key("msg_delete_doomed")).await.unwrap().unwrap();
    assert_eq!(record["outcome"], "applied");
}

/// A table whose `transact` fails once, on its `fail_at`-th call (0-based), as a storage outage
/// in the middle of a cascade would.
struct FailsOnce {
    inner: SharedTable,
    fail_at: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl Table for FailsOnce {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.fail_at {
            return Err(StoreError::Unavailable("injected outage".into()));
        }
        self.inner.transact(writes).await
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

async fn a_delete_that_fails_halfway_is_finished_by_the_retry(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2halfway";
    populate(&app, user, 60).await;
    let flaky: SharedTable =
        Arc::new(FailsOnce { inner: app.table.clone(), fail_at: 1, calls: AtomicUsize::new(0) });
    let flaky_app = TestApp::builder(store).table(flaky).webhook_secrets(SECRET).build().await;
    let body = deleted(user);
    let response = flaky_app.send(request(&signed(SECRET, "msg_halfway", now(), &body), body)).await;
    // A storage failure is a 5xx, so Svix retries; part of the partition is gone already.
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    let left = partition(&app, user).await.len();
    assert!(left > 1 && left < 1 + 3 + 60 + 1, "stopped halfway: {left} items left");
    assert!(app.table.get(&webhooks::delivery_key("msg_halfway")).await.unwrap().is_none());
    // The tombstone is already there: nothing can re-create the profile meanwhile.
    assert_received(&deliver(&app, "msg_meanwhile", created(user)).await, "deleted");

    assert_received(&deliver(&app, "msg_halfway", deleted(user)).await, "applied");
    let left: Vec<Key> = partition(&app, user).await.iter().filter_map(Key::of).collect();
    assert_eq!(left, [users::tombstone_key(user)]);
}

async fn other_event_types_are_acknowledged_and_ignored(store: Store) {
    let app = webhook_app(store, SECRET).await;
    for kind in ["session.created", "organization.created", "email.created"] {
        let body = json!({"type": kind, "object": "event", "data": {"id": "sess_1", "user_id": "user_2x"}});
        let id = format!("msg_{kind}");
        assert_received(&deliver(&app, &id, body.to_string().into_bytes()).await, "ignored");
        assert!(app.table.get(&webhooks::delivery_key(&id)).await.unwrap().is_none());
    }
    assert!(partition(&app, "user_2x").await.is_empty());

    // Unconfigured: 503 naming the variable.
    let unconfigured = TestApp::new(store).await;
    let body = created("user_2x");
    let response = post(&unconfigured, &signed(SECRET, "msg_x", now(), &body), body).await;
    response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
    assert!(text(&response).contains("CLERK_WEBHOOK_SIGNING_SECRET"));

    // Bodies above the JSON routes' 64 KiB limit (large metadata) are still accepted.
    let mut big =
        user_event("user.created", "user_2big", CREATED_AT, "Big".into(), "Meta".into(), Value::Null);
    big["data"]["public_metadata"] = json!({"notes": "x".repeat(200 * 1024)});
    assert_received(&deliver(&app, "msg_big", big.to_string().into_bytes()).await, "applied");
}

async fn base64_encoded_lambda_bodies_verify_over_the_decoded_bytes(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2lambda";
    let (state, _) = TestApp::builder(store).table(app.table.clone()).webhook_secrets(SECRET).state().await;
    let function = app::serve((app::functions::CLERK_WEBHOOK.routes)(), state);
    let invoke = |body: Vec<u8>, headers: Headers| {
        let headers: serde_json::Map<String, Value> =
            headers.into_iter().map(|(name, value)| (name.to_owned(), Value::String(value))).collect();
        let event = json!({
            "version": "2.0",
            "routeKey": "POST /api/webhooks/clerk",
            "rawPath": "/api/webhooks/clerk",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123",
                "domainName": "abc123.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "abc123",
                "http": {"method": "POST", "path": "/api/webhooks/clerk", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "Svix-Webhooks/1.0"},
                "requestId": "webhook-test", "routeKey": "POST /api/webhooks/clerk", "stage": "$default",
                "time": "26/Nov/2026:09:00:00 +0000", "timeEpoch": 1_795_683_600_000_i64
            },
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "isBase64Encoded": true
        });
        let function = function.clone();
        async move { darasa::local::invoke_lambda_event(function, &event.to_string()).await }
    };
    let body = created(user);
    let headers = signed(SECRET, "msg_lambda", now(), &body);
    let mut tampered = body.clone();
    tampered.push(b' ');
    let response = invoke(tampered, headers.clone()).await.unwrap();
    assert_eq!(response["statusCode"], 400, "{response:#}");
    let response = invoke(body, headers).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response:#}");
    assert_eq!(response["body"], "Webhook received");
    assert_eq!(me(&app, user).await.json()["user"]["name"], "Ada Lovelace");
}

async fn fifty_concurrent_deliveries_for_distinct_users_all_apply(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let users: Vec<String> = (0..50).map(|n| format!("user_2many{n:02}")).collect();
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let router = app.router.clone();
            let body = created(user);
            let request = request(&signed(SECRET, &format!("msg_many_{user}"), now(), &body), body);
            tokio::spawn(async move { router.oneshot(request).await.unwrap() })
        })
        .collect();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-webhook-outcome"], "applied");
    }
    for user in &users {
        assert_eq!(version(&app, user).await, Some(1), "{user}");
        assert_eq!(me(&app, user).await.json()["user"]["email"], format!("{user}@example.org"));
    }
}

async fn one_delivery_raced_ten_times_applies_once(store: Store) {
    let app = webhook_app(store, SECRET).await;
    let user = "user_2raced";
    let race = |body: Vec<u8>, id: &str| {
        let headers = signed(SECRET, id, now(), &body);
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let router = app.router.clone();
                let request = request(&headers, body.clone());
                tokio::spawn(async move { router.oneshot(request).await.unwrap() })
            })
            .collect();
        async move {
            let mut outcomes = Vec::new();
            for task in tasks {
                let response = task.await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                outcomes.push(response.headers()["x-webhook-outcome"].to_str().unwrap().to_owned());
            }
            outcomes.sort();
            outcomes
        }
    };
    let mut expected = vec!["applied".to_owned()];
    expected.extend(std::iter::repeat_n("duplicate".to_owned(), 9));

    assert_eq!(race(created(user), "msg_race_create").await, expected);
    assert_eq!(version(&app, user).await, Some(1), "applied exactly once");
    let update = named("user.updated", user, CREATED_AT + 10, "Raced", "Update");
    assert_eq!(race(update, "msg_race_update").await, expected);
    assert_eq!(version(&app, user).await, Some(2), "applied exactly once");
    assert_eq!(race(deleted(user), "msg_race_delete").await, expected);
    let left: Vec<Key> = partition(&app, user).await.iter().filter_map(Key::of).collect();
    assert_eq!(left, [users::tombstone_key(user)]);
}

/// The deployed function gets its secret from Secrets Manager (by ARN, with read access to that
/// secret only) and no table permission beyond what it uses.
#[test]
fn the_template_gives_the_webhook_function_its_secret_and_least_privilege() {
    let path = darasa_tests::events::repo("template.yaml");
    let template: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let yaml = |value: &serde_yaml::Value| serde_yaml::to_string(value).unwrap().trim().to_owned();
    assert_eq!(template["Parameters"]["ClerkWebhookSecretArn"]["Type"], "String");
    let function = &template["Resources"]["ClerkWebhookFunction"]["Properties"];
    let variables = &function["Environment"]["Variables"];
    assert_eq!(yaml(&variables["CLERK_WEBHOOK_SIGNING_SECRET_SECRET_ARN"]), "!Ref ClerkWebhookSecretArn");
    let event = function["Events"].as_mapping().unwrap().values().next().unwrap();
    assert_eq!(event["Properties"]["Path"], webhooks::ROUTE);
    assert_eq!(event["Properties"]["Method"], "POST");

    let statements: Vec<&serde_yaml::Value> = function["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|policy| policy["Statement"].as_sequence().unwrap())
        .collect();
    let actions = |statement: &serde_yaml::Value| -> Vec<String> {
        statement["Action"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
    };
    let secrets =
        statements.iter().find(|s| actions(s).iter().any(|a| a.starts_with("secretsmanager:"))).unwrap();
    assert_eq!(actions(secrets), ["secretsmanager:GetSecretValue"]);
    assert_eq!(yaml(&secrets["Resource"]), "!Ref ClerkWebhookSecretArn");
    // Over every statement on the table (the protection layer's windows have their own).
    let mut table_actions: Vec<String> =
        statements.iter().flat_map(|s| actions(s)).filter(|a| a.starts_with("dynamodb:")).collect();
    table_actions.sort();
    table_actions.dedup();
    assert_eq!(
        table_actions,
        [
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem"
        ]
    );
    assert_eq!(statements.len(), 3, "the table, the protection windows, the secret: no other permission");
}

/// At a cold start whose shield is still being built, a delivery is verified while the shield
/// inspects it and applied only once the shield allowed it: an attack in its query string is
/// refused with nothing applied or counted, the hit recorded against the sender.
async fn a_delivery_at_a_cold_start_is_applied_only_once_inspected(store: Store) {
    use darasa::protect::{Modes, Protection, WEBHOOK_WINDOW, window::Subject};
    use darasa_tests::app::number;
    let start = now() - now().rem_euclid(60);
    let clock = darasa_tests::clerk::TestClock::new(start + 1).shared();
    let protection = Arc::new(Protection::new(Modes::LIVE, clock));
    let app =
        TestApp::builder(store).webhook_secrets(SECRET).shared_protection(protection.clone()).build().await;
    let sender: std::net::SocketAddr = "52.215.16.242:443".parse().unwrap();
    let window = Subject::new(format!("CLIENT#{}", sender.ip()), WEBHOOK_WINDOW);
    let body = created("user_cold");
    let delivery = |query: &str| {
        let mut request = request(&signed(SECRET, "msg_cold", now(), &body), body.clone());
        *request.uri_mut() = format!("{}{query}", webhooks::ROUTE).parse().unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(sender));
        request
    };

    assert!(!protection.rules_built(true, false), "nothing has built the shield yet");
    let refused = app.send(delivery("?file=../../../etc/passwd")).await;
    refused.assert_problem(StatusCode::FORBIDDEN, "REQUEST_BLOCKED");
    assert!(app.table.get(&webhooks::delivery_key("msg_cold")).await.unwrap().is_none(), "not recorded");
    assert!(profile_item(&app, "user_cold").await.is_none(), "not applied");
    assert_eq!(number(&app, &window, &format!("count#{}", start * 1000)).await, 0);
    assert_eq!(number(&app, &window, &format!("shieldHits#{}", start * 1000)).await, 1);

    assert_received(&app.send(delivery("")).await, "applied");
    assert!(profile_item(&app, "user_cold").await.is_some());
}

/// The sender's window counts what an attacker can send (a request that fails verification, a
/// replay) and refuses it over the limit with nothing written, but never counts or refuses
/// Clerk's own new deliveries, so a burst of them is never turned away.
async fn the_webhook_window_counts_what_an_attacker_can_send(store: Store) {
    use darasa::protect::{Modes, Protection, WEBHOOK_WINDOW, window::Subject};
    use darasa_tests::app::number;
    // A clock stopped one second into the current minute: requests count in the seeded window.
    let start = now() - now().rem_euclid(60);
    let clock = darasa_tests::clerk::TestClock::new(start + 1).shared();
    let protection = Arc::new(Protection::new(Modes::LIVE, clock));
    let app = TestApp::builder(store).webhook_secrets(SECRET).shared_protection(protection).build().await;
    let from = |sender: &str, headers: &[(&str, String)], body: Vec<u8>| {
        let mut request = request(headers, body);
        let sender: std::net::SocketAddr = sender.parse().unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(sender));
        request
    };
    let count_name = format!("count#{}", start * 1000);
    let window = |sender: &str| Subject::new(format!("CLIENT#{sender}"), WEBHOOK_WINDOW);

    // A sender whose window is full.
    let (full, full_ip) = ("52.215.16.240:443", "52.215.16.240");
    let full_window = json!({ &count_name: WEBHOOK_WINDOW.limit });
    darasa_tests::app::seed_window(&app, &window(full_ip), full_window).await;
    let body = created("user_limited");
    let forged = signed("whsec_bm90IHRoZSBzZWNyZXQ=", "msg_forged", now(), &body);
    app.send(from(full, &forged, body.clone()))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
    assert!(app.table.get(&webhooks::delivery_key("msg_forged")).await.unwrap().is_none(), "not recorded");
    assert!(profile_item(&app, "user_limited").await.is_none(), "not applied");

    // Clerk's delivery from that sender is applied, and not counted.
    let genuine = signed(SECRET, "msg_limited", now(), &body);
    let response = app.send(from(full, &genuine, body.clone())).await;
    assert_received(&response, "applied");
    assert_eq!(response.header("ratelimit"), None, "not counted");
    let applied = profile_item(&app, "user_limited").await.expect("applied");
    assert_eq!(number(&app, &window(full_ip), &count_name).await, i64::from(WEBHOOK_WINDOW.limit));

    // Its replay is counted, so it is refused, and changes nothing.
    app.send(from(full, &genuine, body.clone()))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
    assert_eq!(profile_item(&app, "user_limited").await, Some(applied));

    // A sender with room: a replay and a forgery each take one count and get their usual answers.
    let (other, other_ip) = ("52.215.16.241:443", "52.215.16.241");
    let response = app.send(from(other, &genuine, body.clone())).await;
    assert_received(&response, "duplicate");
    assert_eq!(response.header("ratelimit"), Some("\"webhook\";r=1199;t=59"));
    let response = app.send(from(other, &forged, body)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", text(&response));
    assert_eq!(response.header("ratelimit"), Some("\"webhook\";r=1198;t=59"));
    assert_eq!(number(&app, &window(other_ip), &count_name).await, 2);
}
