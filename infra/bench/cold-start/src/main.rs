//! Cold-start benchmark (a program, not a test): a loopback Lambda Runtime API that starts each
//! binary fresh, hands it one event, and times exec -> the end of its response (and the first
//! response byte, and when it first asked for an event: the end of its init), with the CPU time
//! the binary had used by then (the rest was waiting). DynamoDB Local is
//! behind it. `infra/bench/cold-start.sh` builds the binaries and runs this; see
//! docs/performance.md.
//!
//! Usage: cold-start --runs N [--warm M] [--emulator-warmup W] [--jwks FILE] --table PREFIX
//!        --endpoint URL --env-json infra/env.json (each binary gets table PREFIX-<n>)
//!        NAME=BINARY=EVENT [NAME=BINARY=EVENT ...]
//! With `--warm M`, one more start per binary then answers M more invocations of the same event
//! (warm, one at a time, as Lambda sends them) and its peak RSS (VmHWM) is printed.
//! With `--emulator-warmup W`, before anything is timed one start of each binary answers W
//! invocations (on tables of their own): DynamoDB Local then runs its calls' code compiled, not
//! while its JIT compiler takes one of the machine's cores, which DynamoDB itself never does.
//! With `--jwks FILE`, the functions get Clerk's keys from this program (FILE served at
//! `/.well-known/jwks.json`) instead of infra/env.json's PEM, as deployed functions get them from
//! Clerk: each cold start then fetches them.
//! The first two entries named `hello` and `naive` (if given) are the baselines every row is
//! compared with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use tokio::sync::mpsc;

/// The longest one cold start may take before the run counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

struct Target {
    name: String,
    binary: PathBuf,
    event: String,
}

/// What one run measured, from just before exec.
#[derive(Clone, Copy)]
struct Sample {
    /// The first `GET /invocation/next`: init is over.
    init: Duration,
    /// The first byte of the response body.
    first_byte: Duration,
    /// The end of the response.
    end: Duration,
    /// CPU time the process's threads had run when the response ended: what of `end` was its
    /// own work rather than waiting (for the Runtime API, DynamoDB Local, a core).
    cpu: Duration,
}

#[derive(Default)]
struct Run {
    next_at: Option<Instant>,
    /// Events still to hand out; `next` waits for ever once none are left.
    remaining: usize,
}

#[derive(Clone)]
struct Api {
    event: Arc<String>,
    /// Signs webhook events anew for each invocation (infra/env.json's fixture secret).
    webhook_secret: Option<Arc<str>>,
    run: Arc<Mutex<Run>>,
    done: mpsc::UnboundedSender<Result<(Instant, Instant, u16), String>>,
    /// The JWKS document to serve, with `--jwks`.
    jwks: Option<Arc<String>>,
}

/// What every run shares.
struct Options {
    jwks: Option<Arc<String>>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut warm, mut table, mut endpoint, mut env_json) = (15usize, 0usize, None, None, None);
    let (mut emulator_warmup, mut jwks) = (0usize, None);
    let mut targets = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--warm" => warm = args.next().context("--warm M")?.parse()?,
            "--table" => table = args.next(),
            "--endpoint" => endpoint = args.next(),
            "--env-json" => env_json = args.next().map(PathBuf::from),
            "--emulator-warmup" => emulator_warmup = args.next().context("--emulator-warmup W")?.parse()?,
            "--jwks" => {
                let path = args.next().context("--jwks FILE")?;
                jwks = Some(Arc::new(
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?,
                ));
            }
            spec => {
                let mut parts = spec.splitn(3, '=');
                let (Some(name), Some(binary), Some(event)) = (parts.next(), parts.next(), parts.next())
                else {
                    bail!("expected NAME=BINARY=EVENT, got {spec}");
                };
                let event = std::fs::read_to_string(event).with_context(|| format!("reading {event}"))?;
                targets.push(Target { name: name.into(), binary: binary.into(), event });
            }
        }
    }
    let table = table.context("--table NAME")?;
    let endpoint = endpoint.context("--endpoint URL")?;
    let env = function_env(env_json.as_deref(), &table, &endpoint)?;
    let options = Options { jwks };

    // A table of its own for each binary: the events share one user, and the AI routes' per-user
    // window (100 a minute) would otherwise be spent by the binaries timed before it.
    let mut envs = Vec::new();
    for index in 0..targets.len() {
        envs.push(table_for(&env, &endpoint, &format!("{table}-{index}")).await?);
    }
    // One uncounted run of each first (page cache, DynamoDB Local's JIT; with --emulator-warmup,
    // many invocations on tables of their own), then the runs in rounds of one start per binary,
    // so every binary meets the emulator in the same state: it answers its first thousands of
    // calls more slowly, and timing one binary after another made the ratio depend on the order.
    for (index, (target, env)) in targets.iter().zip(&envs).enumerate() {
        if emulator_warmup > 0 {
            let warmup = table_for(env, &endpoint, &format!("{table}-{index}-w")).await?;
            if let Err(error) = cold_start(target, &warmup, emulator_warmup, &options).await {
                eprintln!("{}: warm-up: {error:#}", target.name);
            }
        } else {
            let _ = cold_start(target, env, 0, &options).await;
        }
    }
    let mut results: Vec<(String, u64, Vec<Sample>, Option<u16>)> = targets
        .iter()
        .map(|target| {
            let size = std::fs::metadata(&target.binary).map(|meta| meta.len()).unwrap_or(0);
            (target.name.clone(), size, Vec::new(), None)
        })
        .collect();
    for _ in 0..runs {
        for ((target, env), (_, _, samples, status)) in targets.iter().zip(&envs).zip(&mut results) {
            match cold_start(target, env, 0, &options).await {
                Ok((sample, code, _)) => {
                    samples.push(sample);
                    *status = Some(code);
                }
                Err(error) => eprintln!("{}: {error:#}", target.name),
            }
        }
    }

    let median_of = |name: &str| {
        results
            .iter()
            .find(|(n, ..)| n == name)
            .and_then(|(_, _, samples, _)| median(samples.iter().map(|s| s.end)))
    };
    let (hello, naive) = (median_of("hello"), median_of("naive"));
    println!(
        "{:<20} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "function",
        "status",
        "init p50",
        "1st byte",
        "end p50",
        "cpu p50",
        "end min",
        "end max",
        "/hello",
        "/naive",
        "size"
    );
    for (name, size, samples, status) in &results {
        let ends: Vec<Duration> = samples.iter().map(|s| s.end).collect();
        let (Some(end), Some(min), Some(max)) =
            (median(ends.iter().copied()), ends.iter().min().copied(), ends.iter().max().copied())
        else {
            println!("{name:<20} no successful run");
            continue;
        };
        let ratio = |base: Option<Duration>| {
            base.map_or("-".to_owned(), |base| format!("{:.2}x", end.as_secs_f64() / base.as_secs_f64()))
        };
        println!(
            "{:<20} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>6.2} MiB",
            name,
            status.map_or("-".into(), |s| s.to_string()),
            ms(median(samples.iter().map(|s| s.init)).unwrap_or_default()),
            ms(median(samples.iter().map(|s| s.first_byte)).unwrap_or_default()),
            ms(end),
            ms(median(samples.iter().map(|s| s.cpu)).unwrap_or_default()),
            ms(min),
            ms(max),
            ratio(hello),
            ratio(naive),
            *size as f64 / (1024.0 * 1024.0),
        );
    }
    println!(
        "({runs} rounds of one start per binary, after {}; times from exec; status is the last run's HTTP status{})",
        if emulator_warmup > 0 {
            format!("{emulator_warmup} warm-up invocations each")
        } else {
            "one warm-up each".to_owned()
        },
        if options.jwks.is_some() { "; Clerk's keys fetched from --jwks" } else { "" }
    );
    if warm > 0 {
        println!("peak RSS (VmHWM) after 1 invocation and after {} (one at a time, warm):", warm + 1);
        for (index, target) in targets.iter().enumerate() {
            let cold = table_for(&env, &endpoint, &format!("{table}-{index}-a")).await?;
            let cold = cold_start(target, &cold, 0, &options).await.map(|(.., rss)| rss);
            let loaded = table_for(&env, &endpoint, &format!("{table}-{index}-b")).await?;
            let loaded = cold_start(target, &loaded, warm, &options).await.map(|(.., rss)| rss);
            match (cold, loaded) {
                (Ok(cold), Ok(loaded)) => println!(
                    "{:<20} {:>6.1} MiB -> {:>6.1} MiB",
                    target.name,
                    cold as f64 / 1024.0,
                    loaded as f64 / 1024.0
                ),
                (Err(error), _) | (_, Err(error)) => println!("{:<20} {error:#}", target.name),
            }
        }
    }
    Ok(())
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn median(values: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut values: Vec<Duration> = values.collect();
    values.sort();
    values.get(values.len() / 2).copied()
}

/// The environment every function gets, and nothing else (the harness's own is not inherited, as a
/// Lambda function inherits nothing): infra/env.json's parameters and the webhook secret (both
/// fixtures, as `sam local invoke` gets them), the bench table on DynamoDB Local, and what Lambda
/// itself sets.
fn function_env(
    env_json: Option<&Path>,
    table: &str,
    endpoint: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    if let Some(path) = env_json {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        for section in json.as_object().into_iter().flat_map(|sections| sections.values()) {
            for (name, value) in section.as_object().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    env.insert(name.clone(), value.to_owned());
                }
            }
        }
    }
    for (name, value) in [
        ("TABLE_NAME", table),
        ("DYNAMODB_ENDPOINT", endpoint),
        // The naive baseline finds its endpoint the SDK's own way.
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
    ] {
        env.insert(name.into(), value.into());
    }
    Ok(env)
}

/// The user every `infra/events/` token is signed for.
const EVENTS_USER: &str = "user_events";

/// `env` with a new table `name` (created on `endpoint`, as deployed, and seeded) as TABLE_NAME; the
/// naive baseline's counter lives in it too.
async fn table_for(
    env: &BTreeMap<String, String>,
    endpoint: &str,
    name: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let table = darasa::store::dynamo::DynamoTable::connect(Some(endpoint), name).await;
    table.create_table_if_missing().await.map_err(|error| anyhow::anyhow!("creating the table: {error}"))?;
    seed_feedback_question(&table).await?;
    let mut env = env.clone();
    env.insert("TABLE_NAME".into(), name.into());
    Ok(env)
}

/// `generate-feedback`'s event names question `…e002` of the events' user: seeded here, with a job
/// of its own (not `…e001`, which `generate-question`'s event names and which stays absent, so that
/// function's answer is the same 403 on every run rather than five questions and then a quota), so
/// that generate-feedback streams a graded answer from the offline engine (no model key is
/// configured) instead of refusing: the one cold start here that streams a real answer.
async fn seed_feedback_question(table: &darasa::store::dynamo::DynamoTable) -> anyhow::Result<()> {
    let new: darasa::job_infos::NewJobInfo = serde_json::from_value(serde_json::json!({
        "name": "Cold starts", "title": "Backend engineer", "experienceLevel": "mid-level",
        "description": "Rust services on AWS Lambda and DynamoDB: idempotent writes, retries, conditional updates.",
    }))?;
    let job = darasa::job_infos::create(table, EVENTS_USER, new)
        .await
        .map_err(|error| anyhow::anyhow!("seeding a job: {error}"))?;
    let question: darasa::questions::Question = serde_json::from_value(serde_json::json!({
        "id": "0190b6b0-4a5e-7c3a-9f00-00000000e002", "jobInfoId": job.id,
        "text": "How do you make a DynamoDB write idempotent when a client retries it?",
        "difficulty": "medium", "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z",
        "version": 1,
    }))?;
    let key_points = ["an idempotency key", "a conditional write", "the stored result returned again"];
    let key_points: Vec<String> = key_points.iter().map(|point| (*point).to_owned()).collect();
    darasa::questions::insert(table, EVENTS_USER, &question, &key_points)
        .await
        .map_err(|error| anyhow::anyhow!("seeding the question: {error}"))
}

/// Starts the binary against a fresh Runtime API and times it up to the end of its first
/// response; then lets it answer `warm` more invocations and reads its peak RSS (KiB).
async fn cold_start(
    target: &Target,
    env: &BTreeMap<String, String>,
    warm: usize,
    options: &Options,
) -> anyhow::Result<(Sample, u16, u64)> {
    let (done, mut finished) = mpsc::unbounded_channel();
    let run = Arc::new(Mutex::new(Run { next_at: None, remaining: 1 + warm }));
    let webhook_secret = env.get("CLERK_WEBHOOK_SIGNING_SECRET").map(|secret| Arc::from(secret.as_str()));
    let api = Api {
        event: Arc::new(target.event.clone()),
        webhook_secret,
        run: run.clone(),
        done,
        jwks: options.jwks.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address: SocketAddr = listener.local_addr()?;
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(api);
    // The receiver keeps the kernel's defaults (no TCP_NODELAY, no quick ACK), as a server does.
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let mut env = env.clone();
    if options.jwks.is_some() {
        // Served by this run's own address; the PEM would win over the URL.
        env.remove("CLERK_JWT_KEY");
        env.insert("CLERK_JWKS_URL".into(), format!("http://{address}/.well-known/jwks.json"));
    }
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&target.binary)
        .env_clear()
        .envs(&env)
        .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", target.binary.display()))?;
    let outcome = tokio::time::timeout(RUN_TIMEOUT, finished.recv()).await;
    let cpu = child.id().map(cpu_time).unwrap_or_default();
    let mut warm_outcome = Ok(());
    for _ in 0..warm {
        match tokio::time::timeout(RUN_TIMEOUT, finished.recv()).await {
            Ok(Some(Ok(_))) => {}
            _ => {
                warm_outcome = Err(anyhow::anyhow!("a warm invocation failed"));
                break;
            }
        }
    }
    let rss = child.id().map(peak_rss_kib).unwrap_or(0);
    // Ended by its pid (the child handle), whatever happened.
    let _ = child.kill().await;
    server.abort();
    warm_outcome?;
    let (first_byte, end, status) = match outcome {
        Ok(Some(Ok(times))) => times,
        Ok(Some(Err(error))) => bail!("{error}"),
        Ok(None) => bail!("the Runtime API stopped"),
        Err(_) => bail!("no response within {RUN_TIMEOUT:?}"),
    };
    let next_at = run.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.next_at.unwrap_or(end);
    Ok((
        Sample {
            init: next_at.duration_since(started),
            first_byte: first_byte.duration_since(started),
            end: end.duration_since(started),
            cpu,
        },
        status,
        rss,
    ))
}

/// The CPU time a process's live threads have run (each thread's `schedstat`, in nanoseconds:
/// finer than `stat`'s clock ticks); zero if unreadable.
fn cpu_time(pid: u32) -> Duration {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    let nanos = threads
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// A process's peak resident set (VmHWM), in KiB; 0 if unreadable.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `GET /.well-known/jwks.json`: Clerk's keys, with `--jwks`.
async fn jwks(State(api): State<Api>) -> Response {
    match api.jwks {
        Some(keys) => ([("content-type", "application/json")], keys.as_str().to_owned()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /invocation/next`: the event as many times as the run asks; then waits until the process
/// is ended.
async fn next(State(api): State<Api>) -> Response {
    let hand_out = {
        let Ok(mut run) = api.run.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        run.next_at.get_or_insert_with(Instant::now);
        let left = run.remaining;
        run.remaining = left.saturating_sub(1);
        left > 0
    };
    if !hand_out {
        std::future::pending::<()>().await;
    }
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| now.as_millis() + 30_000)
        .unwrap_or_default();
    Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", "bench-0001")
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:bench")
        .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
        .body(Body::from(from_new_client(&api.event, api.webhook_secret.as_deref())))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The event with a source address no invocation had before: every function's events come from
/// one address, whose per-IP window (100 a minute) a run of all seven would otherwise exhaust,
/// timing cheap 429s instead of the route. Each cold start thus meets a new client, as most do.
/// A webhook event also gets a new Svix message id, signed now: the committed signature is older
/// than Svix's five minutes (answered 400), and a repeated id is answered as a duplicate.
fn from_new_client(event: &str, webhook_secret: Option<&str>) -> Vec<u8> {
    static CLIENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let Ok(mut event) = serde_json::from_str::<serde_json::Value>(event) else {
        return event.as_bytes().to_vec();
    };
    let n = CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let [_, a, b, c] = n.to_be_bytes();
    if let Some(http) = event.pointer_mut("/requestContext/http").and_then(serde_json::Value::as_object_mut) {
        http.insert("sourceIp".into(), format!("10.{a}.{b}.{c}").into());
    }
    if let Some(secret) = webhook_secret {
        sign_webhook(&mut event, secret, n);
    }
    serde_json::to_vec(&event).unwrap_or_default()
}

/// New `svix-id`, `svix-timestamp` and `svix-signature` headers over the event's body, if it has
/// Svix headers at all.
fn sign_webhook(event: &mut serde_json::Value, secret: &str, n: u32) {
    if event.pointer("/headers/svix-id").is_none() {
        return;
    }
    let body = event.get("body").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let id = format!("msg_bench_{}_{n}", std::process::id());
    let now = darasa::clock::unix_seconds();
    let Ok(headers) = darasa::webhooks::sign_headers(secret, &id, now, body.as_bytes()) else {
        return;
    };
    for (name, value) in headers {
        event["headers"][name] = value.into();
    }
}

/// `POST /invocation/{id}/response`: read to the end, noting the first byte; buffered or
/// streamed (`Lambda-Runtime-Function-Response-Mode: streaming`, a JSON prelude, eight NULs, the
/// body).
async fn response(State(api): State<Api>, mut body: Body) -> StatusCode {
    let mut first = None;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref()
                    && !data.is_empty()
                {
                    first.get_or_insert_with(Instant::now);
                    bytes.extend_from_slice(data);
                }
            }
            Err(error) => {
                let _ = api.done.send(Err(format!("reading the response: {error}")));
                return StatusCode::BAD_REQUEST;
            }
        }
    }
    let end = Instant::now();
    let _ = api.done.send(Ok((first.unwrap_or(end), end, status_of(&bytes))));
    StatusCode::ACCEPTED
}

/// The HTTP status the function answered: `statusCode` in the buffered JSON or the stream's
/// prelude (before its eight NULs).
fn status_of(bytes: &[u8]) -> u16 {
    let prelude = bytes.split(|&byte| byte == 0).next().unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(prelude)
        .ok()
        .and_then(|json| json.get("statusCode")?.as_u64())
        .and_then(|code| u16::try_from(code).ok())
        .unwrap_or(0)
}

async fn error(State(api): State<Api>, body: Body) -> StatusCode {
    let text = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let _ = api.done.send(Err(format!("the function reported an error: {}", String::from_utf8_lossy(&text))));
    StatusCode::ACCEPTED
}
