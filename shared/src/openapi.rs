//! The OpenAPI 3.1 document of every route (`openapi` feature: the local host serves it at
//! `GET /api/openapi.json` and writes `docs/openapi.json`; no Lambda binary carries it).
//!
//! Schemas are derived (utoipa's `ToSchema`) from the very types the handlers deserialize and
//! answer; the operations are listed here, one entry per route, with every status a route can
//! answer and, for problem+json errors, the `code` values of each. A test holds the operations
//! to the function table's routes and the committed file to this output; Schemathesis holds the
//! running API to it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::error::Problem;
use crate::{attempts, hume, interviews, job_infos, plans, protect, questions, resumes, users};

/// The document, as `GET /api/openapi.json` answers it.
pub fn document() -> Value {
    let mut paths = Map::new();
    for operation in operations() {
        let method = operation.method;
        let item = paths.entry(operation.path).or_insert_with(|| json!({}));
        item[method] = operation.into_json();
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Darasa API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "AI job-interview practice: job infos, generated questions and graded answers, \
                voice interviews, resume analysis. JSON routes answer errors as `application/problem+json` \
                with a stable `code`; the three AI routes keep the original web client's plain-text errors \
                and stream formats. Every answer carries `x-request-id`; answers the rate limits counted \
                carry `RateLimit` and `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers). \
                docs/api.md describes each route in prose.",
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "the local host (`cargo run --release`)"}],
        "tags": [
            {"name": "job-infos"}, {"name": "questions"}, {"name": "practice"}, {"name": "interviews"},
            {"name": "resumes"}, {"name": "me"}, {"name": "webhooks"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "headers": headers(),
            "securitySchemes": {
                "bearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A Clerk session token (RS256; issuer, expiry and authorized parties checked).",
                },
                "session": {
                    "type": "apiKey", "in": "cookie", "name": "__session",
                    "description": "The same Clerk session token in Clerk's `__session` cookie, as the browser sends it.",
                },
            },
        },
    })
}

/// The document as pretty JSON with a final newline: what `docs/openapi.json` holds.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// Every (method, path) the document describes, for the test that holds it to the router.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    operations().into_iter().map(|operation| (operation.method, operation.path)).collect()
}

fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The named schemas: the handlers' types, the list pages, the export.
fn schemas() -> Value {
    let mut derived = Vec::new();
    add::<job_infos::JobInfo>(&mut derived);
    add::<job_infos::NewJobInfo>(&mut derived);
    add::<job_infos::JobInfoChanges>(&mut derived);
    add::<questions::QuestionView>(&mut derived);
    add::<questions::Question>(&mut derived);
    add::<questions::Practice>(&mut derived);
    add::<questions::generate::GenerateQuestion>(&mut derived);
    add::<attempts::Attempt>(&mut derived);
    add::<attempts::grade::GenerateFeedback>(&mut derived);
    add::<attempts::progress::Progress>(&mut derived);
    add::<interviews::Interview>(&mut derived);
    add::<interviews::InterviewChanges>(&mut derived);
    add::<interviews::routes::TranscriptBody>(&mut derived);
    add::<hume::AccessToken>(&mut derived);
    add::<resumes::ResumeAnalysis>(&mut derived);
    add::<users::Me>(&mut derived);
    add::<plans::Quota>(&mut derived);
    add::<protect::routes::ArcjetReport>(&mut derived);
    add::<Problem<'static>>(&mut derived);
    let mut schemas: BTreeMap<String, Value> = derived
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    refine(&mut schemas);
    for (name, item) in [
        ("JobInfoPage", "JobInfo"),
        ("QuestionPage", "QuestionView"),
        ("AttemptPage", "Attempt"),
        ("InterviewPage", "Interview"),
        ("ResumeAnalysisPage", "ResumeAnalysis"),
    ] {
        schemas.insert(name.into(), page(item));
    }
    schemas.insert("Export".into(), export_schema());
    json!(schemas)
}

/// What the types alone cannot say: the rules the domain checks beyond shape, so a body the
/// schema accepts is one the route accepts.
fn refine(schemas: &mut BTreeMap<String, Value>) {
    // Trimmed, at least one non-space character (Python's `\S` is a subset of Rust's).
    let text = |max: usize| json!({"type": "string", "maxLength": max, "pattern": "\\S"});
    let optional_title = json!({"type": ["string", "null"], "maxLength": job_infos::MAX_TITLE});
    if let Some(new) = schemas.get_mut("NewJobInfo") {
        new["properties"]["name"] = text(job_infos::MAX_NAME);
        new["properties"]["description"] = text(job_infos::MAX_DESCRIPTION);
        new["properties"]["title"] = optional_title.clone();
        new["additionalProperties"] = json!(false);
    }
    if let Some(changes) = schemas.get_mut("JobInfoChanges") {
        changes["properties"]["name"] = text(job_infos::MAX_NAME);
        changes["properties"]["description"] = text(job_infos::MAX_DESCRIPTION);
        changes["properties"]["title"] = optional_title;
        changes["properties"]["experienceLevel"] = json!({"$ref": "#/components/schemas/ExperienceLevel"});
        changes["additionalProperties"] = json!(false);
        changes["minProperties"] = json!(1);
        changes["description"] =
            json!("At least one field; an absent field is unchanged, a null or blank title clears it.");
    }
    if let Some(changes) = schemas.get_mut("InterviewChanges") {
        changes["properties"]["duration"] = json!({"type": "string", "pattern": "^[0-9]{2}:[0-5][0-9]:[0-5][0-9]$", "description": "HH:MM:SS"});
        changes["properties"]["humeChatId"] = json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$",
            "description": "Hume's chat id; set once, after Hume confirms the chat started after the interview was created."});
        changes["additionalProperties"] = json!(false);
        changes["minProperties"] = json!(1);
    }
    if let Some(body) = schemas.get_mut("GenerateQuestion") {
        body["properties"]["jobInfoId"] = json!({"type": "string", "minLength": 1});
    }
    if let Some(body) = schemas.get_mut("GenerateFeedback") {
        body["properties"]["prompt"] = json!({"type": "string", "maxLength": questions::MAX_ANSWER,
            "pattern": "\\S", "description": "The candidate's answer."});
        body["properties"]["questionId"] = json!({"type": "string", "minLength": 1});
    }
    // Examples: what the examples phase sends first, and what a reader copies.
    let examples = [
        (
            "NewJobInfo",
            json!({"name": "Backend", "title": "Senior Rust Engineer", "experienceLevel": "senior",
            "description": "Build payment services in Rust on AWS Lambda with DynamoDB."}),
        ),
        ("JobInfoChanges", json!({"title": null, "experienceLevel": "mid-level"})),
        ("InterviewChanges", json!({"duration": "00:12:34"})),
        (
            "GenerateQuestion",
            json!({"prompt": "medium", "jobInfoId": "01938a2e-7c4f-7d2a-9b1e-3f5a6c7d8e9f"}),
        ),
        (
            "GenerateFeedback",
            json!({"prompt": "An index trades write cost for logarithmic lookups.",
            "questionId": "01938a2e-7c4f-7d2a-9b1e-3f5a6c7d8e9f"}),
        ),
    ];
    for (name, example) in examples {
        if let Some(schema) = schemas.get_mut(name) {
            schema["examples"] = json!([example]);
        }
    }
    if let Some(problem) = schemas.get_mut("Problem") {
        problem["properties"]["type"] = json!({"type": "string", "const": "about:blank"});
        problem["properties"]["requestId"]["description"] = json!("Only on 5xx: quote it when reporting.");
    }
}

/// One page of a list of `item`.
fn page(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "nextCursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page. A page holds at most \
                    `limit` items and at most 2 MiB of them, so it may hold fewer while more follow.",
            },
        },
    })
}

/// `GET /api/me/export`: items as stored, without their key attributes.
fn export_schema() -> Value {
    let items = json!({"type": "array", "items": {"type": "object"}});
    json!({
        "type": "object",
        "required": ["format", "exportedAt", "userId", "profile", "usage", "jobInfos", "questions", "attempts",
            "interviews", "resumeAnalyses", "progress"],
        "properties": {
            "format": {"type": "string", "const": "darasa-export/1"},
            "exportedAt": {"type": "string", "format": "date-time"},
            "userId": {"type": "string"},
            "profile": {"type": ["object", "null"]},
            "usage": {"type": ["object", "null"]},
            "jobInfos": items, "questions": items, "attempts": items, "interviews": items,
            "resumeAnalyses": items, "progress": items,
        },
    })
}

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// A Clerk session token (bearer or `__session` cookie).
    Session,
    /// Clerk's webhook: Svix-signed, no session.
    Svix,
}

/// How an operation answers errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Errors {
    /// `application/problem+json` with a `code`.
    Problem,
    /// The original's plain text (the AI routes).
    Plain,
}

struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    caller: Caller,
    errors: Errors,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: BTreeMap<u16, Value>,
    /// problem+json codes by status, merged with the common ones.
    codes: BTreeMap<u16, Vec<&'static str>>,
    /// Plain-text error bodies by status.
    plain: BTreeMap<u16, Vec<&'static str>>,
    /// The OpenAPI links from a success answer to later operations (stateful testing).
    links: Vec<(u16, &'static str, Value)>,
}

fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        description: None,
        caller: Caller::Session,
        errors: Errors::Problem,
        parameters: Vec::new(),
        body: None,
        responses: BTreeMap::new(),
        codes: BTreeMap::new(),
        plain: BTreeMap::new(),
        links: Vec::new(),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

impl Operation {
    fn describe(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    fn caller(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    fn plain(mut self) -> Self {
        self.errors = Errors::Plain;
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn param(mut self, parameter: Value) -> Self {
        self.parameters.push(parameter);
        self
    }

    /// A UUID path parameter; a malformed one is `400 INVALID_ID`, an unknown one `404 not_found`.
    fn id_param(self, name: &'static str, not_found: &'static str) -> Self {
        self.param(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
            .codes(400, &["INVALID_ID"])
            // An empty id leaves a path no route has.
            .codes(404, &[not_found, "ROUTE_NOT_FOUND"])
    }

    /// `?limit=1..100&cursor=…`.
    fn paged(self) -> Self {
        self.param(json!({"name": "limit", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": crate::http::MAX_PAGE, "default": crate::http::DEFAULT_PAGE}}))
            .param(json!({"name": "cursor", "in": "query", "required": false,
                "description": "`nextCursor` of the previous page of this very list; another list's is 400 INVALID_CURSOR.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}}))
            .codes(400, &["INVALID_QUERY", "INVALID_CURSOR"])
    }

    fn if_none_match(self) -> Self {
        self.param(json!({"name": "If-None-Match", "in": "header", "required": false,
            "description": "ETags the client holds (weak comparison); the current one gives 304.",
            "schema": {"type": "string"}}))
    }

    fn if_match(self) -> Self {
        self.param(json!({"name": "If-Match", "in": "header", "required": false,
            "description": "RFC 9110: `*`, or entity-tags of which one must be current (strong comparison: a weak \
                or foreign tag fails the precondition, 412). A field that is not an entity-tag list is 400 INVALID_IF_MATCH.",
            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}}))
        .codes(400, &["INVALID_IF_MATCH"])
        .codes(412, &["PRECONDITION_FAILED"])
    }

    /// A JSON body of schema `name`, with the JSON body errors.
    fn json_body(mut self, name: &str, limit: usize) -> Self {
        self.body =
            Some(json!({"required": true, "content": {"application/json": {"schema": schema_ref(name)}},
            "description": format!("At most {limit} bytes.")}));
        if self.errors == Errors::Problem {
            self.codes(400, &["MALFORMED_JSON", "INVALID_BODY", "UNREADABLE_BODY"])
                .codes(413, &["PAYLOAD_TOO_LARGE"])
                .codes(415, &["UNSUPPORTED_MEDIA_TYPE"])
        } else {
            self.texts(413, &["The request body is too large"])
        }
    }

    fn codes(mut self, status: u16, codes: &[&'static str]) -> Self {
        let entry = self.codes.entry(status).or_default();
        for code in codes {
            if !entry.contains(code) {
                entry.push(code);
            }
        }
        self
    }

    fn texts(mut self, status: u16, texts: &[&'static str]) -> Self {
        self.plain.entry(status).or_default().extend_from_slice(texts);
        self
    }

    fn ok(
        mut self,
        status: u16,
        description: &str,
        content: Option<(&str, Value)>,
        headers: &[&str],
    ) -> Self {
        let mut response = json!({"description": description});
        if let Some((media_type, schema)) = content {
            response["content"] = json!({media_type: {"schema": schema}});
        }
        for name in headers {
            response["headers"][*name] = header_ref(name);
        }
        self.responses.insert(status, response);
        self
    }

    fn json_ok(self, status: u16, description: &str, schema: &str, headers: &[&str]) -> Self {
        self.ok(status, description, Some(("application/json", schema_ref(schema))), headers)
    }

    fn link(mut self, status: u16, name: &'static str, link: Value) -> Self {
        self.links.push((status, name, link));
        self
    }

    fn into_json(self) -> Value {
        let mut responses = Map::new();
        let mut codes = self.codes.clone();
        let mut plain = self.plain.clone();
        // What every route can answer: the protection layer, storage, a bug.
        match self.errors {
            Errors::Problem => {
                codes.entry(403).or_default().extend(["REQUEST_BLOCKED", "BOT_DENIED"]);
                codes.entry(429).or_default().push("RATE_LIMIT");
                codes.entry(500).or_default().push("INTERNAL");
                codes.entry(503).or_default().push("UNAVAILABLE");
                if self.caller == Caller::Session {
                    codes.entry(401).or_default().push("UNAUTHENTICATED");
                }
            }
            Errors::Plain => {
                plain.entry(401).or_default().push("You are not logged in");
                plain.entry(403).or_default().push("Forbidden");
                plain.entry(429).or_default().push("RATE_LIMIT");
                plain.entry(500).or_default().push("a generic sentence quoting no cause");
                plain
                    .entry(503)
                    .or_default()
                    .push("storage or the model unavailable, or no model configured");
            }
        }
        for (status, mut response) in self.responses {
            for (at, name, link) in &self.links {
                if *at == status {
                    response["links"][*name] = link.clone();
                }
            }
            if !response["headers"].is_object() {
                response["headers"] = json!({});
            }
            response["headers"]["x-request-id"] = header_ref("x-request-id");
            response["headers"]["RateLimit"] = header_ref("RateLimit");
            response["headers"]["RateLimit-Policy"] = header_ref("RateLimit-Policy");
            responses.insert(status.to_string(), response);
        }
        let statuses: std::collections::BTreeSet<u16> = codes.keys().chain(plain.keys()).copied().collect();
        for status in statuses {
            let mut content = Map::new();
            if let Some(codes) = codes.get(&status) {
                content.insert(
                    "application/problem+json".into(),
                    json!({"schema": {"allOf": [
                        schema_ref("Problem"),
                        {"properties": {"code": {"enum": codes}}},
                    ]}}),
                );
            }
            if let Some(texts) = plain.get(&status) {
                content.insert("text/plain".into(), json!({"schema": {"type": "string"},
                    "description": format!("One of: {}", texts.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))}));
            }
            let mut headers = json!({"x-request-id": header_ref("x-request-id")});
            if status == 429 || status == 503 {
                headers["Retry-After"] = header_ref("Retry-After");
            }
            if status == 429 {
                headers["RateLimit"] = header_ref("RateLimit");
            }
            let description = axum::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("Error");
            responses.insert(
                status.to_string(),
                json!({"description": description, "headers": headers, "content": content}),
            );
        }
        let mut operation = json!({
            "operationId": self.id,
            "tags": [self.tag],
            "summary": self.summary,
            "parameters": self.parameters,
            "responses": responses,
        });
        if let Some(description) = self.description {
            operation["description"] = json!(description);
        }
        if let Some(body) = self.body {
            operation["requestBody"] = body;
        }
        operation["security"] = match self.caller {
            Caller::Session => json!([{"bearer": []}, {"session": []}]),
            Caller::Svix => json!([]),
        };
        operation
    }
}

/// What `http::if_match` parses: nothing (no condition), `*`, or 1 to 100 entity-tags separated
/// by commas (empty list elements allowed, as RFC 9110's list rule asks of recipients).
const IF_MATCH_PATTERN: &str = "^([ \\t]*|[ \\t]*\\*[ \\t]*|[ \\t,]*(W/)?\"[!#-~]*\"([ \\t]*,[ \\t,]*(W/)?\"[!#-~]*\"){0,99}[ \\t]*(,[ \\t,]*)?)$";

/// The AI SDK data stream the two question routes answer (`useCompletion`'s protocol).
const DATA_STREAM: &str = "An AI SDK v4 data stream (the Vercel AI SDK's data-stream protocol, \
    `X-Vercel-AI-Data-Stream: v1`): one part per line, `f:{messageId}`, then `0:\"text\"` parts as the \
    model writes, `e:`/`d:` finish parts, then `2:[{...}]` with the stored id; a failure during \
    generation ends the stream with `3:\"message\"` and stores nothing.";

fn operations() -> Vec<Operation> {
    let job = "jobInfoId";
    let job_link = json!({"operationId": "getJobInfo", "parameters": {"jobInfoId": "$response.body#/id"}});
    let job_body_limit =
        crate::http::json_limit(job_infos::MAX_NAME + job_infos::MAX_TITLE + job_infos::MAX_DESCRIPTION);
    let json_limit = crate::http::JSON_BODY_LIMIT;
    vec![
        // Job infos.
        op("post", "/api/job-infos", "createJobInfo", "job-infos", "Create a job info")
            .json_body("NewJobInfo", job_body_limit)
            .codes(400, &["INVALID_JOB_INFO"])
            .json_ok(201, "Created", "JobInfo", &["ETag", "Location"])
            .link(201, "GetJobInfo", job_link.clone())
            .link(201, "UpdateJobInfo", json!({"operationId": "updateJobInfo", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "DeleteJobInfo", json!({"operationId": "deleteJobInfo", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "ListQuestions", json!({"operationId": "listQuestions", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "CreateInterview", json!({"operationId": "createInterview", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "ListInterviews", json!({"operationId": "listInterviews", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "GetProgress", json!({"operationId": "getProgress", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "ListResumeAnalyses", json!({"operationId": "listResumeAnalyses", "parameters": {"jobInfoId": "$response.body#/id"}}))
            .link(201, "GenerateQuestion", json!({"operationId": "generateQuestion", "requestBody": {"prompt": "easy", "jobInfoId": "$response.body#/id"}})),
        op("get", "/api/job-infos", "listJobInfos", "job-infos", "The caller's job infos, newest updatedAt first")
            .paged()
            .json_ok(200, "One page", "JobInfoPage", &[]),
        op("get", "/api/job-infos/{jobInfoId}", "getJobInfo", "job-infos", "One job info")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .if_none_match()
            .json_ok(200, "The job info", "JobInfo", &["ETag"])
            .ok(304, "Not modified: the client's copy is current", None, &["ETag"]),
        op("patch", "/api/job-infos/{jobInfoId}", "updateJobInfo", "job-infos", "Change a job info")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .if_match()
            .json_body("JobInfoChanges", job_body_limit)
            .codes(400, &["INVALID_JOB_INFO"])
            .json_ok(200, "The changed job info", "JobInfo", &["ETag"]),
        op("delete", "/api/job-infos/{jobInfoId}", "deleteJobInfo", "job-infos",
            "Delete a job info and its questions, attempts, interviews, resume analyses and progress")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .if_match()
            .ok(204, "Deleted", None, &[]),
        op("get", "/api/job-infos/{jobInfoId}/progress", "getProgress", "practice", "The job's practice progress")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .json_ok(200, "Counters by difficulty and a 30-day trend", "Progress", &[]),
        // Questions and practice.
        op("get", "/api/job-infos/{jobInfoId}/questions", "listQuestions", "questions", "The job's questions, oldest first")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .paged()
            .json_ok(200, "One page", "QuestionPage", &[])
            .link(200, "GetQuestion", json!({"operationId": "getQuestion", "parameters": {"questionId": "$response.body#/items/0/id"}}))
            .link(200, "ListAttempts", json!({"operationId": "listAttempts", "parameters": {"questionId": "$response.body#/items/0/id"}}))
            .link(200, "GenerateFeedback", json!({"operationId": "generateFeedback",
                "requestBody": {"prompt": "An index makes lookups logarithmic.", "questionId": "$response.body#/items/0/id"}})),
        op("get", "/api/questions/{questionId}", "getQuestion", "questions", "One question with its practice counters")
            .id_param("questionId", "QUESTION_NOT_FOUND")
            .if_none_match()
            .json_ok(200, "The question", "QuestionView", &["ETag"])
            .link(200, "ListAttempts", json!({"operationId": "listAttempts", "parameters": {"questionId": "$response.body#/id"}}))
            .ok(304, "Not modified", None, &["ETag"]),
        op("get", "/api/questions/{questionId}/attempts", "listAttempts", "practice", "The caller's graded answers to a question, newest first")
            .id_param("questionId", "QUESTION_NOT_FOUND")
            .paged()
            .json_ok(200, "One page", "AttemptPage", &[]),
        op("post", "/api/ai/questions/generate-question", "generateQuestion", "questions", "Generate a question (streamed)")
            .describe("Reserves one unit of the plan's question quota, streams the model's question and stores it.")
            .plain()
            .json_body("GenerateQuestion", json_limit)
            .texts(400, &[questions::generate::QUESTION_ERROR])
            .texts(403, &[crate::http::plain::PLAN_LIMIT, "You do not have permission to do this"])
            .ok(200, DATA_STREAM, Some(("text/plain", json!({"type": "string"}))), &["X-Vercel-AI-Data-Stream"]),
        op("post", "/api/ai/questions/generate-feedback", "generateFeedback", "practice", "Grade an answer (streamed) and keep it as an attempt")
            .plain()
            .json_body("GenerateFeedback", crate::http::json_limit(questions::MAX_ANSWER))
            .texts(400, &[questions::FEEDBACK_ERROR])
            .texts(403, &["You do not have permission to do this"])
            .ok(200, DATA_STREAM, Some(("text/plain", json!({"type": "string"}))), &["X-Vercel-AI-Data-Stream"]),
        // Resumes.
        op("post", "/api/ai/resumes/analyze", "analyzeResume", "resumes", "Analyse a resume against a job (streamed JSON text)")
            .plain()
            .body(json!({"required": true, "content": {"multipart/form-data": {
                "schema": {"type": "object", "required": ["resumeFile", "jobInfoId"], "properties": {
                    "resumeFile": {"type": "string", "format": "binary",
                        "description": format!("PDF, DOCX or UTF-8 text, at most {} bytes; the type is read from the content.", resumes::routes::MAX_FILE)},
                    "jobInfoId": {"type": "string", "description": "The caller's job info id."},
                }},
                "encoding": {"resumeFile": {"contentType": "application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document, text/plain"}},
            }}, "description": format!("At most {} bytes in all.", resumes::routes::MAX_BODY)}))
            .texts(400, &[resumes::routes::INVALID_REQUEST, resumes::routes::UNSUPPORTED_TYPE,
                "The file's content does not match its type: it was sent as … but is …"])
            .texts(403, &[crate::http::plain::PLAN_LIMIT, "You do not have permission to do this"])
            .texts(413, &[resumes::routes::TOO_LARGE])
            .texts(415, &["Legacy .doc files cannot be read; save it as .docx or PDF"])
            .texts(502, &["a short reason: the model failed before any text"])
            .texts(504, &["a short reason: the model timed out before any text"])
            .ok(200, "The analysis JSON as the model writes it, no framing (`text/plain; charset=utf-8`); \
                a complete reply parses as the Analysis schema.",
                Some(("text/plain", json!({"type": "string"}))), &[]),
        op("get", "/api/job-infos/{jobInfoId}/resume-analyses", "listResumeAnalyses", "resumes", "The job's resume analyses, newest first")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .paged()
            .json_ok(200, "One page", "ResumeAnalysisPage", &[]),
        // Interviews.
        op("post", "/api/job-infos/{jobInfoId}/interviews", "createInterview", "interviews", "Create an interview")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .codes(403, &["PLAN_LIMIT"])
            .json_ok(201, "Created", "Interview", &["ETag", "Location"])
            .link(201, "GetInterview", json!({"operationId": "getInterview", "parameters": {"interviewId": "$response.body#/id"}}))
            .link(201, "UpdateInterview", json!({"operationId": "updateInterview", "parameters": {"interviewId": "$response.body#/id"}}))
            .link(201, "DeleteInterview", json!({"operationId": "deleteInterview", "parameters": {"interviewId": "$response.body#/id"}}))
            .link(201, "GetTranscript", json!({"operationId": "getTranscript", "parameters": {"interviewId": "$response.body#/id"}}))
            .link(201, "GenerateInterviewFeedback", json!({"operationId": "generateInterviewFeedback", "parameters": {"interviewId": "$response.body#/id"}})),
        op("get", "/api/job-infos/{jobInfoId}/interviews", "listInterviews", "interviews", "The job's interviews, newest first")
            .id_param(job, "JOB_INFO_NOT_FOUND")
            .param(json!({"name": "status", "in": "query", "required": false,
                "description": "`started` (default): only those with a Hume chat; `all` adds the unstarted.",
                "schema": {"type": "string", "enum": ["started", "all"]}}))
            .paged()
            .json_ok(200, "One page", "InterviewPage", &[]),
        op("get", "/api/interviews/{interviewId}", "getInterview", "interviews", "One interview")
            .id_param("interviewId", "INTERVIEW_NOT_FOUND")
            .if_none_match()
            .json_ok(200, "The interview", "Interview", &["ETag"])
            .ok(304, "Not modified", None, &["ETag"]),
        op("patch", "/api/interviews/{interviewId}", "updateInterview", "interviews", "Set the Hume chat id and/or the duration")
            .id_param("interviewId", "INTERVIEW_NOT_FOUND")
            .if_match()
            .json_body("InterviewChanges", json_limit)
            .codes(400, &["INVALID_INTERVIEW"])
            .codes(403, &["PLAN_LIMIT"])
            .codes(409, &["HUME_CHAT_ALREADY_SET", "HUME_CHAT_NOT_THIS_INTERVIEW", "HUME_CHAT_TAKEN", "CONCURRENT_UPDATE"])
            .codes(502, &["HUME_ERROR"])
            .json_ok(200, "The changed interview", "Interview", &["ETag"])
            .link(200, "GetTranscript", json!({"operationId": "getTranscript", "parameters": {"interviewId": "$response.body#/id"}}))
            .link(200, "GenerateInterviewFeedback", json!({"operationId": "generateInterviewFeedback", "parameters": {"interviewId": "$response.body#/id"}})),
        op("delete", "/api/interviews/{interviewId}", "deleteInterview", "interviews", "Delete an interview")
            .id_param("interviewId", "INTERVIEW_NOT_FOUND")
            .if_match()
            .ok(204, "Deleted", None, &[]),
        op("get", "/api/interviews/{interviewId}/transcript", "getTranscript", "interviews", "The interview's transcript from Hume")
            .id_param("interviewId", "INTERVIEW_NOT_FOUND")
            .codes(404, &["TRANSCRIPT_NOT_FOUND"])
            .codes(502, &["HUME_ERROR"])
            .json_ok(200, "The condensed transcript", "TranscriptBody", &[]),
        op("post", "/api/interviews/{interviewId}/feedback", "generateInterviewFeedback", "interviews", "Write (or read back) the interview's AI feedback")
            .id_param("interviewId", "INTERVIEW_NOT_FOUND")
            .param(json!({"name": "regenerate", "in": "query", "required": false, "schema": {"type": "boolean", "default": false}}))
            .codes(400, &["INVALID_QUERY"])
            .codes(409, &["INTERVIEW_NOT_STARTED", "CONCURRENT_UPDATE"])
            .codes(502, &["AI_ERROR", "HUME_ERROR"])
            .json_ok(200, "The interview with its feedback", "Interview", &["ETag"]),
        op("post", "/api/hume/access-token", "humeAccessToken", "interviews", "A Hume access token for the browser's voice connection")
            .codes(403, &["PLAN_LIMIT"])
            .codes(502, &["HUME_ERROR"])
            .json_ok(200, "The token", "AccessToken", &["Cache-Control"]),
        // The caller.
        op("get", "/api/me", "getMe", "me", "The caller's profile, plan features and quotas")
            .codes(404, &["USER_NOT_FOUND"])
            .json_ok(200, "The caller", "Me", &[]),
        op("get", "/api/me/export", "exportMe", "me", "Everything held about the caller, as one JSON document")
            .json_ok(200, "The export (streamed; a failure after the start truncates it)", "Export",
                &["Content-Disposition", "Cache-Control"]),
        op("get", "/api/arcjet", "getProtection", "me", "What the protection layer decided for this request, and the caller's limits")
            .json_ok(200, "The decision and limits", "ArcjetReport", &[]),
        // Clerk.
        op("post", "/api/webhooks/clerk", "clerkWebhook", "webhooks", "Clerk's webhook (Svix-signed)")
            .describe("No session: the Svix signature over the exact body is verified with the webhook secret. \
                Answers are text; 5xx only when storage fails, so Svix retries. Only what is not a genuine new \
                delivery (forged, malformed, a replay) counts against the sender's rate-limit window.")
            .caller(Caller::Svix)
            .body(json!({"required": true, "description": "A Clerk event (`user.created`, `user.updated`, `user.deleted`; \
                others are acknowledged and ignored), exactly as Svix signed it.",
                "content": {"application/json": {"schema": {"type": "object"}}}}))
            .param(json!({"name": "svix-id", "in": "header", "required": true, "schema": {"type": "string"}}))
            .param(json!({"name": "svix-timestamp", "in": "header", "required": true,
                "description": "Unix seconds; within 5 minutes of now.", "schema": {"type": "string"}}))
            .param(json!({"name": "svix-signature", "in": "header", "required": true,
                "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures.", "schema": {"type": "string"}}))
            .ok(200, "Webhook received", Some(("text/plain", json!({"type": "string", "const": "Webhook received"}))),
                &["x-webhook-outcome"])
            .texts(400, &["a short reason: unsigned, mis-signed, stale, not a Clerk event, no primary email"])
            .texts(413, &["Failed to buffer the request body: length limit exceeded"])
            .codes(503, &[]),
    ]
}

/// The response headers the operations name.
fn headers() -> Value {
    json!({
        "x-request-id": {"description": "The request's id (Lambda's, else the client's `x-request-id`, else a new one).",
            "required": true, "schema": {"type": "string"}},
        "ETag": {"description": "The resource's version as a strong entity-tag, e.g. `\"3\"`.", "required": true,
            "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"}},
        "Location": {"required": true, "schema": {"type": "string"}},
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        "RateLimit": {"description": "The nearest limit: `\"ip\";r=<remaining>;t=<seconds to the window's end>`.",
            "schema": {"type": "string"}},
        "RateLimit-Policy": {"description": "Every window this request counted in, e.g. `\"ip\";q=100;w=60`.",
            "schema": {"type": "string"}},
        "X-Vercel-AI-Data-Stream": {"required": true, "schema": {"type": "string", "const": "v1"}},
        "Cache-Control": {"schema": {"type": "string"}},
        "Content-Disposition": {"schema": {"type": "string"}},
        "x-webhook-outcome": {"required": true,
            "schema": {"type": "string", "enum": ["applied", "duplicate", "stale", "deleted", "ignored"]}},
    })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    /// The schema's `If-Match` pattern accepts exactly what the parser accepts, so the fuzzer's
    /// valid values are valid and its invalid ones are refused.
    #[test]
    fn the_if_match_pattern_is_the_parser() {
        let pattern = regex::Regex::new(IF_MATCH_PATTERN).unwrap();
        let many = vec!["\"1\""; 100].join(",");
        let too_many = vec!["\"1\""; 101].join(",");
        for sample in [
            "*",
            " * ",
            "\"1\"",
            "W/\"1\"",
            "\"a\", W/\"b\"",
            ",\"1\",, \"2\" ,",
            "\"\"",
            "\"!#~\"",
            &many,
            "",
            ",",
            "1",
            "W/1",
            "\"1",
            "\"1\" \"2\"",
            "*, \"1\"",
            "\"a b\"",
            "w/\"1\"",
            "\"1\"x",
            &too_many,
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_MATCH, HeaderValue::from_str(sample).unwrap());
            let parsed = crate::http::if_match(&headers).is_ok();
            assert_eq!(pattern.is_match(sample), parsed, "{sample:?}");
        }
    }
}
