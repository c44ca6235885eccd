//! Access lines: one JSON line per request on stdout, in CloudWatch Embedded Metric Format, so
//! CloudWatch Logs turns each line into metrics (latency, 5xx, rate-limit denials, model tokens
//! per function and route) without any API call, and Logs Insights can query the same line by
//! request id, route or user. This module owns the middleware that writes the line, the
//! per-request `Meter` that extractors and model adapters report into (the caller's user id, the
//! tokens a model spent), and the line's shape.
//!
//! A line carries the route template (never the concrete path or query), the method, status,
//! timings, ids and counts: never a header, a token, a body or anything a user wrote.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric the lines carry.
pub const NAMESPACE: &str = "Darasa";
/// `on` prints access lines outside Lambda (the local host); `off` silences them in Lambda.
pub const SWITCH_VARIABLE: &str = "DARASA_ACCESS_LOG";
/// The `Route` of a request no route matched (a 404): one value, so unknown paths cannot mint
/// a metric each.
pub const UNMATCHED_ROUTE: &str = "(unmatched)";

/// Tokens one request's model calls spent, summed over its calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AiTokens {
    pub input: u64,
    pub output: u64,
    pub thinking: u64,
}

/// What the code serving a request reported about it.
#[derive(Debug, Default)]
struct Reported {
    user_id: Option<String>,
    ai: Option<AiUsage>,
}

#[derive(Debug, Default)]
struct AiUsage {
    model: String,
    calls: u64,
    tokens: AiTokens,
}

/// One request's reports, shared between its handler and its (possibly streamed) body.
#[derive(Debug, Clone, Default)]
struct Meter(Arc<Mutex<Reported>>);

impl Meter {
    fn with<R>(&self, f: impl FnOnce(&mut Reported) -> R) -> R {
        // A panic elsewhere must not cost the request its line.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

tokio::task_local! {
    static METER: Meter;
}

/// Reports the verified caller of the request being served (no-op outside one).
pub fn record_user(user_id: &str) {
    let _ = METER.try_with(|meter| meter.with(|reported| reported.user_id = Some(user_id.to_owned())));
}

/// Reports one model call's token usage for the request being served (no-op outside one).
/// Model adapters call it once per call, so a reply that took several calls is summed.
pub fn record_ai_usage(model: &str, tokens: AiTokens) {
    let _ = METER.try_with(|meter| {
        meter.with(|reported| {
            let usage = reported.ai.get_or_insert_with(AiUsage::default);
            if usage.model.is_empty() {
                usage.model = model.to_owned();
            }
            usage.calls += 1;
            usage.tokens.input += tokens.input;
            usage.tokens.output += tokens.output;
            usage.tokens.thinking += tokens.thinking;
        })
    });
}

/// Where access lines go.
#[derive(Clone)]
enum Sink {
    Off,
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The access-line writer a router's middleware uses: which function the lines name, and where
/// they go.
#[derive(Clone)]
pub struct AccessLog {
    function: Cow<'static, str>,
    sink: Sink,
}

static PROCESS: OnceLock<AccessLog> = OnceLock::new();

impl AccessLog {
    /// Writes nothing (the tests' default).
    pub fn off() -> Self {
        Self { function: Cow::Borrowed("-"), sink: Sink::Off }
    }

    /// One line per request on stdout, which Lambda forwards to the function's log group.
    pub fn stdout(function: impl Into<Cow<'static, str>>) -> Self {
        Self { function: function.into(), sink: Sink::Stdout }
    }

    /// Keeps the lines in memory, for tests that read them.
    pub fn memory(function: impl Into<Cow<'static, str>>) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Self { function: function.into(), sink: Sink::Memory(lines.clone()) }, lines)
    }

    /// The process's writer: the one `init_lambda` set, else stdout as `local` when
    /// `DARASA_ACCESS_LOG=on`, else off.
    pub fn process() -> Self {
        PROCESS
            .get_or_init(|| match switch() {
                Some(true) => Self::stdout("local"),
                _ => Self::off(),
            })
            .clone()
    }

    fn is_off(&self) -> bool {
        matches!(self.sink, Sink::Off)
    }

    fn write(&self, mut line: String) {
        match &self.sink {
            Sink::Off => {}
            Sink::Stdout => {
                use std::io::Write as _;
                line.push('\n');
                // One write of the whole line, so concurrent requests never interleave inside one.
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Memory(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).push(line),
        }
    }
}

/// A Lambda function's start-up: its lines go to stdout named after the deployed function
/// (`AWS_LAMBDA_FUNCTION_NAME`, unique per stack, so two stacks in one account never share a
/// metric), unless `DARASA_ACCESS_LOG=off`. Call it before building the router.
pub fn init_lambda(binary: &'static str) {
    let log = match switch() {
        Some(false) => AccessLog::off(),
        _ => AccessLog::stdout(
            std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .ok()
                .filter(|name| !name.is_empty())
                .map_or(Cow::Borrowed(binary), Cow::Owned),
        ),
    };
    let _ = PROCESS.set(log);
}

fn switch() -> Option<bool> {
    let value = std::env::var(SWITCH_VARIABLE).ok()?;
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "stdout" => Some(true),
        "off" | "0" | "false" => Some(false),
        _ => None,
    }
}

/// The middleware (`axum::middleware::from_fn_with_state(log, telemetry::access_log)`). It must
/// sit inside the request-id layer (it quotes the id) and outside every other layer (so it sees
/// the answers they give, e.g. a rate limiter's 429).
pub async fn access_log(State(log): State<AccessLog>, request: Request, next: Next) -> Response {
    if log.is_off() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let request_id = crate::request_id::current();
    let lambda_request_id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty());
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let method = request.method().to_string();
    let meter = Meter::default();
    let response = METER.scope(meter.clone(), next.run(request)).await;
    let entry = Entry {
        log,
        unix_ms: unix_ms(),
        started,
        head: started.elapsed(),
        request: RequestFacts {
            route,
            method,
            status: response.status().as_u16(),
            request_id,
            lambda_request_id,
        },
        meter,
    };
    let (parts, body) = response.into_parts();
    if body.is_end_stream() || body.size_hint().exact().is_some() {
        entry.finish(Ending::Buffered);
        return Response::from_parts(parts, body);
    }
    // A streamed answer (the AI routes): its handler has returned but the model is still
    // writing, so the line waits for the body's end, and the body is polled inside the meter so
    // the model's usage reported while streaming is counted.
    Response::from_parts(parts, Body::new(MeteredBody { inner: body, entry: Some(entry) }))
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_millis() as u64).unwrap_or(0)
}

/// What the line says about the request itself.
#[derive(Debug, Clone)]
struct RequestFacts {
    route: Option<String>,
    method: String,
    status: u16,
    request_id: Option<String>,
    lambda_request_id: Option<String>,
}

/// A request whose line is not written yet.
struct Entry {
    log: AccessLog,
    unix_ms: u64,
    started: Instant,
    /// Until the response head.
    head: Duration,
    request: RequestFacts,
    meter: Meter,
}

/// How the response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Whole when the handler returned.
    Buffered,
    /// Streamed to its end.
    Streamed(Duration),
    /// Streamed, then dropped before its end (the client went away, or the body failed).
    Aborted(Duration),
}

impl Entry {
    fn finish(self, ending: Ending) {
        let line = self.meter.with(|reported| {
            access_line(&self.log.function, self.unix_ms, self.head, ending, &self.request, reported)
        });
        self.log.write(line);
    }
}

/// The EMF document for one request.
fn access_line(
    function: &str,
    unix_ms: u64,
    head: Duration,
    ending: Ending,
    request: &RequestFacts,
    reported: &Reported,
) -> String {
    let status = request.status;
    let mut root = Map::new();
    let mut metrics = vec![
        metric("Latency", "Milliseconds"),
        metric("Errors", "Count"),
        metric("ClientErrors", "Count"),
        metric("RateLimited", "Count"),
    ];
    root.insert("Event".into(), json!("access"));
    root.insert("Function".into(), json!(function));
    root.insert("Route".into(), json!(request.route.as_deref().unwrap_or(UNMATCHED_ROUTE)));
    root.insert("Method".into(), json!(request.method));
    root.insert("Status".into(), json!(status));
    root.insert("Latency".into(), json!(millis(head)));
    root.insert("Errors".into(), json!(u8::from(status >= 500)));
    root.insert("ClientErrors".into(), json!(u8::from((400..500).contains(&status))));
    root.insert("RateLimited".into(), json!(u8::from(status == 429)));
    root.insert("RequestId".into(), json!(request.request_id));
    if let Some(id) = &request.lambda_request_id {
        root.insert("LambdaRequestId".into(), json!(id));
    }
    root.insert("UserId".into(), json!(reported.user_id));
    match ending {
        Ending::Buffered => {}
        Ending::Streamed(total) | Ending::Aborted(total) => {
            metrics.push(metric("StreamDuration", "Milliseconds"));
            root.insert("StreamDuration".into(), json!(millis(total)));
            root.insert("Streamed".into(), json!(true));
            if matches!(ending, Ending::Aborted(_)) {
                root.insert("Aborted".into(), json!(true));
            }
        }
    }
    if let Some(ai) = &reported.ai {
        for (name, value) in [
            ("AiInputTokens", ai.tokens.input),
            ("AiOutputTokens", ai.tokens.output),
            ("AiThinkingTokens", ai.tokens.thinking),
            ("AiCalls", ai.calls),
        ] {
            metrics.push(metric(name, "Count"));
            root.insert(name.into(), json!(value));
        }
        root.insert("AiModel".into(), json!(ai.model));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": unix_ms,
            "CloudWatchMetrics": [
                { "Namespace": NAMESPACE, "Dimensions": [["Function", "Route"]], "Metrics": metrics },
                // Per function as well, for the template's 5xx alarms (an alarm names one metric,
                // not every route's).
                { "Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": [metric("Errors", "Count")] },
            ],
        }),
    );
    Value::Object(root).to_string()
}

fn metric(name: &str, unit: &str) -> Value {
    json!({ "Name": name, "Unit": unit })
}

/// Milliseconds, to the microsecond.
fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1000.0
}

/// A streamed body that writes its request's line when it ends (or is dropped), polled inside
/// the request's meter.
struct MeteredBody {
    inner: Body,
    entry: Option<Entry>,
}

impl MeteredBody {
    fn end(&mut self, ending: impl FnOnce(Duration) -> Ending) {
        if let Some(entry) = self.entry.take() {
            let total = entry.started.elapsed();
            entry.finish(ending(total));
        }
    }
}

impl http_body::Body for MeteredBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = match &this.entry {
            Some(entry) => METER.sync_scope(entry.meter.clone(), || Pin::new(&mut this.inner).poll_frame(cx)),
            None => Pin::new(&mut this.inner).poll_frame(cx),
        };
        match &polled {
            Poll::Ready(None) => this.end(Ending::Streamed),
            Poll::Ready(Some(Err(_))) => this.end(Ending::Aborted),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.end(Ending::Aborted);
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::{get, post};
    use futures::StreamExt as _;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.secret-session-token.sig";
    const RESUME: &str = "Jane Doe, 12 Secret Street, jane@example.com";

    fn router(log: AccessLog) -> Router {
        let routes = Router::new()
            .route(
                "/api/job-infos/{jobInfoId}",
                get(|| async {
                    record_user("user_123");
                    "{}"
                }),
            )
            .route(
                "/api/ai/resumes/analyze",
                post(|body: String| async move {
                    record_user("user_123");
                    let stream = futures::stream::iter([body.len()]).then(|_| async {
                        // As an adapter reports usage while the body streams.
                        record_ai_usage("gemini-2.5-flash", AiTokens { input: 120, output: 40, thinking: 7 });
                        record_ai_usage("gemini-2.5-flash", AiTokens { input: 10, output: 5, thinking: 0 });
                        Ok::<_, std::convert::Infallible>("{\"overallScore\":7}")
                    });
                    Body::from_stream(stream)
                }),
            )
            .route("/api/limited", get(|| async { axum::http::StatusCode::TOO_MANY_REQUESTS }));
        crate::http::with_layers(crate::http::with_fallbacks(routes), log)
    }

    async fn send(log: AccessLog, request: axum::http::Request<Body>) -> axum::http::Response<Body> {
        let response = router(log).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        axum::http::Response::from_parts(parts, Body::from(bytes))
    }

    fn only_line(lines: &Arc<Mutex<Vec<String>>>) -> Value {
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
        assert!(!lines[0].contains('\n'));
        serde_json::from_str(&lines[0]).unwrap()
    }

    #[tokio::test]
    async fn a_json_request_is_one_emf_line_with_its_route_template() {
        let (log, lines) = AccessLog::memory("darasa-JobInfosFunction-abc");
        let request =
            axum::http::Request::get("/api/job-infos/0190b6b0-4a5e-7c3a-9f00-00000000e001?cursor=abc")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("x-request-id", "req-1")
                .body(Body::empty())
                .unwrap();
        let response = send(log, request).await;
        assert_eq!(response.status(), 200);
        let line = only_line(&lines);
        assert_eq!(line["Function"], "darasa-JobInfosFunction-abc");
        assert_eq!(line["Route"], "/api/job-infos/{jobInfoId}");
        assert_eq!((line["Method"].as_str(), line["Status"].as_u64()), (Some("GET"), Some(200)));
        assert_eq!((line["RequestId"].as_str(), line["UserId"].as_str()), (Some("req-1"), Some("user_123")));
        assert_eq!((line["Errors"].as_u64(), line["RateLimited"].as_u64()), (Some(0), Some(0)));
        assert!(line["Latency"].as_f64().unwrap() >= 0.0);
        assert!(line.get("AiOutputTokens").is_none() && line.get("StreamDuration").is_none());

        let emf = &line["_aws"];
        assert!(emf["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        let directive = &emf["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function", "Route"]]));
        assert_eq!(emf["CloudWatchMetrics"][1]["Dimensions"], json!([["Function"]]));
        assert_every_metric_has_its_value(&line);
        let text = line.to_string();
        for secret in [TOKEN, "secret-session-token", "cursor", "0190b6b0"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
    }

    #[tokio::test]
    async fn a_streamed_ai_request_is_written_at_the_end_with_its_tokens() {
        let (log, lines) = AccessLog::memory("analyze-resume");
        let request = axum::http::Request::post("/api/ai/resumes/analyze")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(RESUME))
            .unwrap();
        let response = router(log).oneshot(request).await.unwrap();
        assert!(lines.lock().unwrap().is_empty(), "the line waits for the body");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{\"overallScore\":7}");
        let line = only_line(&lines);
        assert_eq!(line["Route"], "/api/ai/resumes/analyze");
        assert_eq!(line["Streamed"], true);
        assert!(line.get("Aborted").is_none());
        assert_eq!(
            [&line["AiInputTokens"], &line["AiOutputTokens"], &line["AiThinkingTokens"], &line["AiCalls"]],
            [&json!(130), &json!(45), &json!(7), &json!(2)]
        );
        assert_eq!(line["AiModel"], "gemini-2.5-flash");
        assert_every_metric_has_its_value(&line);
        let text = line.to_string();
        for secret in [TOKEN, RESUME, "Jane", "overallScore"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
    }

    #[tokio::test]
    async fn a_dropped_stream_still_writes_its_line() {
        let (log, lines) = AccessLog::memory("analyze-resume");
        let request = axum::http::Request::post("/api/ai/resumes/analyze").body(Body::from("x")).unwrap();
        drop(router(log).oneshot(request).await.unwrap());
        let line = only_line(&lines);
        assert_eq!(line["Aborted"], true);
    }

    #[tokio::test]
    async fn denials_and_unknown_routes_count_without_minting_routes() {
        let (log, lines) = AccessLog::memory("f");
        send(log.clone(), axum::http::Request::get("/api/limited").body(Body::empty()).unwrap()).await;
        send(log, axum::http::Request::get("/api/nope/123").body(Body::empty()).unwrap()).await;
        let lines: Vec<Value> =
            lines.lock().unwrap().iter().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!((lines[0]["RateLimited"].as_u64(), lines[0]["ClientErrors"].as_u64()), (Some(1), Some(1)));
        assert_eq!(
            (lines[1]["Status"].as_u64(), lines[1]["Route"].as_str()),
            (Some(404), Some(UNMATCHED_ROUTE))
        );
        assert_eq!(lines[1]["UserId"], Value::Null);
    }

    #[tokio::test]
    async fn off_writes_nothing_and_reports_outside_a_request_are_ignored() {
        record_user("nobody");
        record_ai_usage("m", AiTokens::default());
        let response = router(AccessLog::off())
            .oneshot(axum::http::Request::get("/api/limited").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
    }

    /// EMF requires every declared metric to be a number at the root.
    fn assert_every_metric_has_its_value(line: &Value) {
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(line[name].is_number(), "{name} is declared but has no value");
            }
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    assert!(line[dimension.as_str().unwrap()].is_string());
                }
            }
        }
    }
}
