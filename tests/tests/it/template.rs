//! `template.yaml` against the code: the table mirrors `store::schema`, every function is
//! deployed from its binary, and every route the template sends to a function is one it serves.

use std::path::Path;

use darasa::app::{self, AppState};
use darasa::store::{EXPIRES_AT, Index, PK, SK};
use darasa_tests::app::{Store, TestApp};
use http::{Method, StatusCode};
use serde_yaml::Value;

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_sequence().unwrap().iter().map(|entry| entry[field].as_str().unwrap().to_owned()).collect()
}

#[test]
fn table_mirrors_the_schema_in_code() {
    let template = template();
    let table = &template["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(properties["TimeToLiveSpecification"]["AttributeName"], EXPIRES_AT);
    assert_eq!(properties["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(names(&properties["KeySchema"], "AttributeName"), [PK, SK]);

    let mut defined = names(&properties["AttributeDefinitions"], "AttributeName");
    defined.sort();
    let mut expected: Vec<String> =
        [PK, SK].into_iter().chain(Index::ALL.iter().map(|i| i.attribute())).map(str::to_owned).collect();
    expected.sort();
    assert_eq!(defined, expected);

    let indexes = properties["LocalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), Index::ALL.len());
    for index in Index::ALL {
        let entry = indexes.iter().find(|entry| entry["IndexName"] == index.name()).unwrap();
        assert_eq!(names(&entry["KeySchema"], "AttributeName"), [PK, index.attribute()]);
        assert_eq!(entry["Projection"]["ProjectionType"], "ALL");
    }
}

#[tokio::test]
async fn every_function_is_deployed_and_serves_its_template_routes() {
    let template = template();
    assert_eq!(template["Globals"]["Function"]["Runtime"], "provided.al2023");
    assert_eq!(template["Globals"]["Function"]["LoggingConfig"]["LogFormat"], "JSON");
    let app = TestApp::new(Store::Embedded).await;
    for (name, router) in app::FUNCTIONS {
        let resource = &template["Resources"][app::logical_id(name).as_str()];
        assert_eq!(resource["Type"], "AWS::Serverless::Function", "{name} is missing from template.yaml");
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(resource["Metadata"]["BuildProperties"]["Binary"], *name);
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../functions/{name}/src/main.rs")).exists()
        );

        let state: AppState =
            AppState::new(app.table.clone(), test_verifier()).with_webhooks(test_webhooks());
        let function = app::serve(router(), state);
        if let Some((_, path)) = STREAMING.iter().find(|(function, _)| function == name) {
            // Reached through its function URL (HTTP APIs buffer): no API events, a streaming URL
            // without IAM auth (the function verifies the Clerk token), and the route it serves.
            let url = &resource["Properties"]["FunctionUrlConfig"];
            assert_eq!(url["InvokeMode"], "RESPONSE_STREAM", "{name}");
            assert_eq!(url["AuthType"], "NONE", "{name}");
            assert!(resource["Properties"]["Events"].is_null(), "{name}: an HTTP API route would buffer");
            let request = http::Request::post(*path).body(axum::body::Body::empty()).unwrap();
            let response = tower::ServiceExt::oneshot(function.clone(), request).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}: POST {path}");
            continue;
        }
        let events = resource["Properties"]["Events"].as_mapping().unwrap();
        assert!(!events.is_empty());
        for event in events.values() {
            let properties = &event["Properties"];
            let path = properties["Path"]
                .as_str()
                .unwrap()
                .replace("{jobInfoId}", &uuid::Uuid::now_v7().to_string())
                .replace("{questionId}", &uuid::Uuid::now_v7().to_string())
                .replace("{interviewId}", &uuid::Uuid::now_v7().to_string());
            let method: Method = properties["Method"].as_str().unwrap().parse().unwrap();
            let request = http::Request::builder()
                .method(method.clone())
                .uri(&path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(function.clone(), request).await.unwrap();
            // Unauthenticated: the route exists in this function (not 404/405) and wants a token;
            // public routes (the webhook) refuse an unsigned request instead.
            let expected =
                if PUBLIC.contains(name) { StatusCode::BAD_REQUEST } else { StatusCode::UNAUTHORIZED };
            assert_eq!(response.status(), expected, "{name}: {method} {path}");
        }
    }
}

/// Functions that stream through a function URL, with the route each serves.
const STREAMING: &[(&str, &str)] = &[
    ("generate-question", "/api/ai/questions/generate-question"),
    ("generate-feedback", "/api/ai/questions/generate-feedback"),
    ("analyze-resume", "/api/ai/resumes/analyze"),
];

/// Functions whose routes take no session token (they verify something else).
const PUBLIC: &[&str] = &["clerk-webhook"];

fn test_webhooks() -> std::sync::Arc<darasa::webhooks::WebhookVerifier> {
    let secret = "whsec_ZGFyYXNhIHRlbXBsYXRlIHRlc3Q=";
    std::sync::Arc::new(darasa::webhooks::WebhookVerifier::from_secrets(secret).unwrap())
}

fn test_verifier() -> std::sync::Arc<darasa::auth::Verifier> {
    let config = darasa_tests::app::issuer().auth_config();
    std::sync::Arc::new(
        darasa::auth::Verifier::new(
            config,
            reqwest::Client::new(),
            std::sync::Arc::new(darasa::auth::SystemClock),
        )
        .unwrap(),
    )
}
