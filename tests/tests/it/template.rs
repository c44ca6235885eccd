//! `template.yaml` against the code: the table mirrors `store::schema`, every function is
//! deployed from its binary, and every route the template sends to a function is one it serves.
//! Also what every function must get (its architecture, log group, alarms, reserved concurrency,
//! protection switches, model settings), the outputs the web app needs, the variables
//! `infra/env.json` passes to `sam local invoke`, and `cargo lambda watch`'s router.

use std::collections::{BTreeSet, HashMap};

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
    assert_eq!(properties["DeletionProtectionEnabled"], true);
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
        hardened(&template, function);

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

/// What every function gets beyond its routes: the stack's architecture, its own log group with
/// the retention parameter, a 5xx and a throttle alarm, reserved concurrency from its class's
/// parameter, and (for the functions that use a model) the provider settings.
fn hardened(template: &Value, function: &app::Function) {
    let name = function.name;
    let logical = function.logical_id();
    let resource = &template["Resources"][logical.as_str()];
    let properties = &resource["Properties"];

    assert!(properties["Architectures"].is_null(), "{name} takes the Globals' architecture");
    let log_group_id = format!("{}LogGroup", stem(function));
    assert_eq!(reference(&properties["LoggingConfig"]["LogGroup"]), Some(log_group_id.as_str()), "{name}");
    let log_group = &template["Resources"][log_group_id.as_str()];
    assert_eq!(log_group["Type"], "AWS::Logs::LogGroup", "{name}");
    assert_eq!(reference(&log_group["Properties"]["RetentionInDays"]), Some("LogRetentionDays"));

    for alarm in ["ErrorsAlarm", "ThrottlesAlarm"] {
        let alarm_id = format!("{}{alarm}", stem(function));
        let alarm = &template["Resources"][alarm_id.as_str()];
        assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm", "{alarm_id}");
        let text = serde_yaml::to_string(&alarm["Properties"]).unwrap();
        assert!(text.contains(&format!("!Ref {logical}\n")), "{alarm_id} watches {logical}: {text}");
        for actions in ["AlarmActions", "OKActions"] {
            let condition =
                tagged(&alarm["Properties"][actions], "If").unwrap_or_else(|| panic!("{alarm_id}"));
            assert_eq!(condition[0], "HasAlarmTopic", "{alarm_id} notifies only when a topic is given");
        }
    }
    let errors =
        serde_yaml::to_string(&template["Resources"][format!("{}ErrorsAlarm", stem(function)).as_str()])
            .unwrap();
    assert!(errors.contains("Namespace: Darasa") && errors.contains("Namespace: AWS/Lambda"), "{name}");

    let (condition, parameter) = if function.streaming {
        ("ReserveAiConcurrency", "AiFunctionConcurrency")
    } else if function.needs.webhooks {
        ("ReserveWebhookConcurrency", "WebhookConcurrency")
    } else {
        ("ReserveJsonConcurrency", "JsonFunctionConcurrency")
    };
    let reserved =
        tagged(&properties["ReservedConcurrentExecutions"], "If").unwrap_or_else(|| panic!("{name}"));
    assert_eq!((reserved[0].as_str(), reference(&reserved[1])), (Some(condition), Some(parameter)), "{name}");
    assert_eq!(reference(&reserved[2]), Some("AWS::NoValue"));
    assert!(template["Parameters"][parameter]["Default"].as_u64().is_some_and(|n| n > 0));

    let variables = &properties["Environment"]["Variables"];
    for protect in ["PROTECT_SHIELD", "PROTECT_BOTS", "PROTECT_RATE_LIMIT"] {
        assert!(variables[protect].is_null(), "{name} keeps the Globals' {protect}");
    }
    for model_variable in MODEL_VARIABLES {
        assert_eq!(
            !variables[*model_variable].is_null(),
            function.needs.model,
            "{name}: {model_variable} is set exactly where a model is used"
        );
    }
    let policies = serde_yaml::to_string(&properties["Policies"]).unwrap();
    // Every route goes through the protection layer, which keeps its windows (updated) and
    // buckets (put) in the table; the routes that call a model also take and return a lease.
    let mut required = vec!["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"];
    if function.needs.model {
        required.push("dynamodb:DeleteItem");
    }
    // `GET /api/me` and the export read the profile and usage in one call (`Table::get_many`).
    if function.name == app::functions::ME.name {
        required.push("dynamodb:BatchGetItem");
    }
    for action in required {
        assert!(policies.contains(&format!("- {action}\n")), "{name} may not {action}: {policies}");
    }
    assert_eq!(policies.contains("HasOpenAiKey"), function.needs.model, "{name}");
    assert_eq!(policies.contains("HasGeminiKey"), function.needs.model, "{name}");
}

/// The model settings of the functions that use one (besides the secret ARNs).
const MODEL_VARIABLES: &[&str] = &["AI_PROVIDER", "GEMINI_MODEL", "OPENAI_BASE_URL", "OPENAI_MODEL"];

#[test]
fn every_function_shares_the_stack_settings() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    let architectures = globals["Architectures"].as_sequence().unwrap();
    assert_eq!(architectures.iter().map(reference).collect::<Vec<_>>(), [Some("Architecture")]);
    let architecture = &template["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "x86_64");
    assert_eq!(names_of(&architecture["AllowedValues"]), ["x86_64", "arm64"]);
    assert_eq!(template["Parameters"]["LogRetentionDays"]["Default"], 30);

    let variables = &globals["Environment"]["Variables"];
    for (variable, parameter) in [
        ("PROTECT_SHIELD", "ProtectShield"),
        ("PROTECT_BOTS", "ProtectBots"),
        ("PROTECT_RATE_LIMIT", "ProtectRateLimit"),
    ] {
        assert_eq!(reference(&variables[variable]), Some(parameter));
        let parameter = &template["Parameters"][parameter];
        assert_eq!(parameter["Default"], "live");
        assert_eq!(names_of(&parameter["AllowedValues"]), ["live", "dry-run", "off"]);
    }
    assert_eq!(
        names_of(&template["Parameters"]["AiProvider"]["AllowedValues"]),
        ["", "gemini", "openai", "offline"]
    );
    assert_eq!(template["Parameters"]["AiProvider"]["Default"], "");
    assert_eq!(template["Parameters"]["OpenAiApiKeySecretArn"]["Default"], "");
}

#[test]
fn outputs_give_every_url_the_web_app_and_clerk_need() {
    let template = template();
    let outputs = &template["Outputs"];
    assert!(tagged(&outputs["ApiUrl"]["Value"], "Sub").is_some());
    let webhook = tagged(&outputs["ClerkWebhookEndpoint"]["Value"], "Sub").unwrap();
    assert!(webhook.as_str().unwrap().ends_with("/api/webhooks/clerk"));
    for function in app::FUNCTIONS.iter().filter(|function| function.streaming) {
        let stem = stem(function);
        let url = tagged(&outputs[format!("{stem}Url").as_str()]["Value"], "GetAtt").unwrap();
        assert_eq!(url.as_str(), Some(format!("{}Url.FunctionUrl", function.logical_id()).as_str()));
        let endpoint = tagged(&outputs[format!("{stem}Endpoint").as_str()]["Value"], "Sub").unwrap();
        let endpoint = endpoint.as_str().unwrap();
        let served = AI_PATHS.iter().find(|path| endpoint.ends_with(&path[1..])).expect("an AI route");
        assert_eq!(endpoint, format!("${{{}Url.FunctionUrl}}{}", function.logical_id(), &served[1..]));
    }
}

/// `sam local invoke --env-vars infra/env.json` only passes variables the template declares on
/// the function: every one the file sets must be declared there.
#[test]
fn env_json_sets_only_declared_variables() {
    let template = template();
    let env: HashMap<String, HashMap<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(repo_path("infra/env.json")).unwrap()).unwrap();
    let globals = declared(&template["Globals"]["Function"]);
    for function in app::FUNCTIONS {
        let logical = function.logical_id();
        let own = declared(&template["Resources"][logical.as_str()]);
        for (section, variables) in &env {
            if section != "Parameters" && *section != logical {
                continue;
            }
            for variable in variables.keys() {
                if section == "Parameters" {
                    assert!(
                        globals.contains(variable),
                        "{variable} (env.json Parameters) is not in the Globals"
                    );
                } else {
                    assert!(
                        globals.contains(variable) || own.contains(variable),
                        "{variable} (env.json {section}) is not declared on {logical}"
                    );
                }
            }
        }
    }
    for section in env.keys().filter(|section| *section != "Parameters") {
        assert!(app::FUNCTIONS.iter().any(|function| function.logical_id() == *section), "{section}");
    }
}

/// `cargo lambda watch` (infra/watch.env) trusts the same fixtures as `sam local invoke`
/// (infra/env.json), so the events' tokens work under both.
#[test]
fn watch_env_matches_env_json() {
    let env: HashMap<String, HashMap<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(repo_path("infra/env.json")).unwrap()).unwrap();
    let watch = std::fs::read_to_string(repo_path("infra/watch.env")).unwrap();
    let watch: HashMap<&str, String> = watch
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim(), value.trim().trim_matches('\'').replace("\\n", "\n")))
        .collect();
    let fixtures = env["Parameters"].iter().chain(&env["ClerkWebhookFunction"]);
    for (name, value) in fixtures.filter(|(name, _)| name.as_str() != "DYNAMODB_ENDPOINT") {
        assert_eq!(watch.get(name.as_str()).map(String::as_str), value.as_str(), "{name}");
    }
}

/// `[workspace.metadata.lambda.watch.router]` sends every path and method to the binary that
/// serves it when deployed, and nothing else.
#[tokio::test]
async fn the_watch_router_matches_the_deployed_routes() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(repo_path("Cargo.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let router = metadata["metadata"]["lambda"]["watch"]["router"].as_object().expect("a watch router");
    let mut watched = BTreeSet::new();
    for (path, routes) in router {
        for route in routes.as_array().expect("method and function per route") {
            let method = route["method"].as_str().unwrap().to_owned();
            watched.insert((path.clone(), method, route["function"].as_str().unwrap().to_owned()));
        }
    }

    let template = template();
    let mut deployed = BTreeSet::new();
    for function in app::FUNCTIONS {
        let resource = &template["Resources"][function.logical_id().as_str()];
        if function.streaming {
            let (state, _dir) = TestApp::builder(Store::Embedded).state().await;
            let routes = app::serve((function.routes)(), state);
            for path in AI_PATHS {
                let request = http::Request::post(*path).body(axum::body::Body::empty()).unwrap();
                let response = tower::ServiceExt::oneshot(routes.clone(), request).await.unwrap();
                if response.status() == StatusCode::UNAUTHORIZED {
                    deployed.insert((path.to_string(), "POST".to_owned(), function.name.to_owned()));
                }
            }
            continue;
        }
        for event in resource["Properties"]["Events"].as_mapping().unwrap().values() {
            let properties = &event["Properties"];
            deployed.insert((
                properties["Path"].as_str().unwrap().to_owned(),
                properties["Method"].as_str().unwrap().to_owned(),
                function.name.to_owned(),
            ));
        }
    }
    assert_eq!(watched, deployed);
}

/// `JobInfosFunction` -> `JobInfos`: how the function's log group, alarms and outputs are named.
fn stem(function: &app::Function) -> String {
    function.logical_id().trim_end_matches("Function").to_owned()
}

fn repo_path(path: &str) -> std::path::PathBuf {
    darasa_tests::events::repo(path)
}

/// The target of `!Ref target`.
fn reference(value: &Value) -> Option<&str> {
    tagged(value, "Ref").and_then(Value::as_str)
}

/// The argument of intrinsic `!tag argument`.
fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

/// A list of strings (YAML scalars as written).
fn names_of(list: &Value) -> Vec<String> {
    list.as_sequence()
        .unwrap()
        .iter()
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
        })
        .collect()
}

/// The environment variables a function resource (or the Globals' `Function`) declares.
fn declared(resource: &Value) -> BTreeSet<String> {
    let variables = match &resource["Properties"] {
        Value::Null => &resource["Environment"]["Variables"],
        properties => &properties["Environment"]["Variables"],
    };
    variables
        .as_mapping()
        .map(|variables| variables.keys().filter_map(|key| key.as_str()).map(str::to_owned).collect())
        .unwrap_or_default()
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

/// The variables naming the secrets `function` reads, sorted: the function table's, and for a
/// function that uses a model, the OpenAI key's as well (the template offers both providers).
fn secret_arns(function: &app::Function) -> Vec<String> {
    let mut names: Vec<String> = function.secrets().iter().map(|name| format!("{name}_SECRET_ARN")).collect();
    if function.needs.model {
        names.push("OPENAI_API_KEY_SECRET_ARN".to_owned());
    }
    names.sort();
    names.dedup();
    names
}
