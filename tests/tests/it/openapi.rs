//! The OpenAPI document against the code: it describes exactly the routes the functions serve
//! (the watch router, which the template test holds to `template.yaml`), every one of them is
//! answered by the app, and `docs/openapi.json` is what the code generates today.

use std::collections::BTreeSet;

use darasa_tests::app::{Store, TestApp};
use http::{Method, StatusCode};
use serde_json::Value;

fn watched_routes() -> BTreeSet<(String, String)> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(darasa_tests::events::repo("Cargo.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let router = metadata["metadata"]["lambda"]["watch"]["router"].as_object().expect("a watch router");
    let mut routes = BTreeSet::new();
    for (path, methods) in router {
        for route in methods.as_array().unwrap() {
            routes.insert((route["method"].as_str().unwrap().to_owned(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_document_describes_every_route_and_no_other() {
    let described: BTreeSet<(String, String)> = darasa::openapi::routes()
        .into_iter()
        .map(|(method, path)| (method.to_uppercase(), path.to_owned()))
        .collect();
    assert_eq!(described, watched_routes());
}

#[tokio::test]
async fn every_described_route_is_served() {
    let app = TestApp::new(Store::Embedded).await;
    let id = uuid::Uuid::now_v7().to_string();
    for (method, path) in darasa::openapi::routes() {
        let concrete =
            path.replace("{jobInfoId}", &id).replace("{questionId}", &id).replace("{interviewId}", &id);
        let method: Method = method.to_uppercase().parse().unwrap();
        let response = app.call(method.clone(), &concrete, None, None, &[]).await;
        assert!(
            response.status != StatusCode::NOT_FOUND && response.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {} {}",
            response.status,
            response.text()
        );
    }
}

#[test]
fn every_operation_names_its_errors_and_headers() {
    let document = darasa::openapi::document();
    assert_eq!(document["openapi"], "3.1.0");
    for (method, path) in darasa::openapi::routes() {
        let operation = &document["paths"][path][method];
        let responses = operation["responses"].as_object().unwrap();
        for status in ["403", "429", "500", "503"] {
            assert!(responses.contains_key(status), "{method} {path} lacks {status}");
        }
        if path != "/api/webhooks/clerk" {
            assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            assert_eq!(operation["security"], serde_json::json!([{"bearer": []}, {"session": []}]));
        }
        for (status, response) in responses {
            assert!(response["headers"]["x-request-id"].is_object(), "{method} {path} {status}");
        }
        assert!(responses["429"]["headers"]["Retry-After"].is_object(), "{method} {path}");
    }
}

/// `docs/openapi.json` is regenerated with `cargo run -q -p darasa-local -- openapi > docs/openapi.json`.
#[test]
fn the_committed_document_is_current() {
    let path = darasa_tests::events::repo("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = darasa::openapi::document_text();
    assert!(
        committed == current,
        "{} is out of date: run `cargo run -q -p darasa-local -- openapi > docs/openapi.json`",
        path.display()
    );
}
