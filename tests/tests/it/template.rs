//! `template.yaml` against the code: the table mirrors `store::schema`, every function is
//! deployed from its binary, and every route the template sends to a function is one it serves.

use darasa::app;
use darasa::store::{EXPIRES_AT, Index, PK, SK};
use darasa_tests::app::{Store, TestApp};
use http::{Method, StatusCode};
use serde_yaml::Value;

fn template() -> Value {
    let path = darasa_tests::events::repo("template.yaml");
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
    for function in app::FUNCTIONS {
        let name = function.name;
        let resource = &template["Resources"][function.logical_id().as_str()];
        assert_eq!(resource["Type"], "AWS::Serverless::Function", "{name} is missing from template.yaml");
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(resource["Metadata"]["BuildProperties"]["Binary"], name);
        assert!(darasa_tests::events::repo(&format!("functions/{name}/src/main.rs")).exists());
        assert_eq!(secret_variables(resource), secret_arns(function), "{name}: the secrets it reads");

        let (state, _dir) = TestApp::builder(Store::Embedded).webhook_secrets(WEBHOOK_SECRET).state().await;
        let routes = app::serve((function.routes)(), state);
        if function.streaming {
            // Reached through its function URL (HTTP APIs buffer): no API events, a streaming URL
            // without IAM auth (the function verifies the Clerk token), and an AI route it serves.
            let url = &resource["Properties"]["FunctionUrlConfig"];
            assert_eq!(url["InvokeMode"], "RESPONSE_STREAM", "{name}");
            assert_eq!(url["AuthType"], "NONE", "{name}");
            assert!(resource["Properties"]["Events"].is_null(), "{name}: an HTTP API route would buffer");
            let mut served = Vec::new();
            for path in AI_PATHS {
                let request = http::Request::post(*path).body(axum::body::Body::empty()).unwrap();
                let response = tower::ServiceExt::oneshot(routes.clone(), request).await.unwrap();
                if response.status() == StatusCode::UNAUTHORIZED {
                    served.push(*path);
                }
            }
            assert_eq!(served.len(), 1, "{name} serves one streamed AI route: {served:?}");
            continue;
        }
        assert!(resource["Properties"]["FunctionUrlConfig"].is_null(), "{name} buffers through the HTTP API");
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
            let response = tower::ServiceExt::oneshot(routes.clone(), request).await.unwrap();
            // Unauthenticated: the route exists in this function (not 404/405) and wants a token;
            // the webhook (which needs no token) refuses an unsigned request instead.
            let expected =
                if function.needs.webhooks { StatusCode::BAD_REQUEST } else { StatusCode::UNAUTHORIZED };
            assert_eq!(response.status(), expected, "{name}: {method} {path}");
        }
    }
}

/// The streamed AI routes (each function serving one through its URL).
const AI_PATHS: &[&str] = &[
    "/api/ai/questions/generate-question",
    "/api/ai/questions/generate-feedback",
    "/api/ai/resumes/analyze",
];

const WEBHOOK_SECRET: &str = "whsec_ZGFyYXNhIHRlbXBsYXRlIHRlc3Q=";

/// The `*_SECRET_ARN` variables a function resource sets, sorted.
fn secret_variables(resource: &Value) -> Vec<String> {
    let mut names: Vec<String> = resource["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .map(|variables| variables.keys().filter_map(|key| key.as_str()).map(str::to_owned).collect())
        .unwrap_or_default();
    names.retain(|name| name.ends_with("_SECRET_ARN"));
    names.sort();
    names
}

/// The variables naming the secrets `function` reads, sorted.
fn secret_arns(function: &app::Function) -> Vec<String> {
    let mut names: Vec<String> = function.secrets().iter().map(|name| format!("{name}_SECRET_ARN")).collect();
    names.sort();
    names
}
