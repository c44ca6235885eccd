//! Benchmark program (not a test): in-process latency of an authenticated `GET /api/job-infos`
//! through the router, on the embedded store and on DynamoDB Local, against a baseline measured
//! in the same run (the same router stack answering a constant, without token or store); and the
//! local host's peak memory under that load. Run it with `infra/bench/run.sh`, which starts
//! DynamoDB Local, builds the release binaries and prints their sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use darasa::AppState;
use darasa::store::SharedTable;
use darasa_tests::app::issuer;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const REQUESTS: usize = 2_000;
const WARMUP: usize = 200;
const JOB_INFOS: usize = 20;
const USER: &str = "user_bench";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let token = issuer().mint(USER, &["5_questions"], 3_600, now());
    let baseline =
        latency("baseline: same layers, constant JSON, no auth/store", &baseline_router(), "").await;

    let dir = tempfile::tempdir().expect("temp dir");
    let embedded: SharedTable = Arc::new(
        darasa::store::embedded::EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded store"),
    );
    let embedded_stats = latency("embedded store (redb)", &seeded_router(embedded).await, &token).await;
    embedded_stats.ratio_to(&baseline);

    match std::env::var("DARASA_TEST_DYNAMODB_ENDPOINT") {
        Ok(_) => {
            let dynamo: SharedTable = Arc::new(darasa_tests::dynamodb::test_table().await);
            let stats = latency("DynamoDB Local", &seeded_router(dynamo).await, &token).await;
            stats.ratio_to(&baseline);
        }
        Err(_) => {
            println!("DynamoDB Local: skipped (DARASA_TEST_DYNAMODB_ENDPOINT unset; use infra/bench/run.sh)")
        }
    }

    match std::env::var("DARASA_BENCH_LOCAL_BIN") {
        Ok(binary) => local_host_memory(&binary).await,
        Err(_) => {
            println!("local host memory: skipped (DARASA_BENCH_LOCAL_BIN unset; use infra/bench/run.sh)")
        }
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn ratio_to(&self, baseline: &Stats) {
        println!(
            "  ratio to baseline: p50 x{:.1}, p99 x{:.1}",
            self.p50.as_secs_f64() / baseline.p50.as_secs_f64(),
            self.p99.as_secs_f64() / baseline.p99.as_secs_f64()
        );
    }
}

fn baseline_router() -> Router {
    let routes =
        Router::new().route("/api/job-infos", get(|| async { axum::Json(serde_json::json!({"items": []})) }));
    darasa::http::with_common_layers(routes)
}

async fn seeded_router(table: SharedTable) -> Router {
    for n in 0..JOB_INFOS {
        let new: darasa::job_infos::NewJobInfo = serde_json::from_value(serde_json::json!({
            "name": format!("Job {n}"), "title": "Engineer", "experienceLevel": "mid-level",
            "description": "Rust, AWS Lambda and DynamoDB. ".repeat(20),
        }))
        .expect("valid job");
        darasa::job_infos::create(table.as_ref(), USER, new).await.expect("seed");
    }
    let routes = (darasa::app::functions::JOB_INFOS.routes)();
    darasa::app::serve(routes, AppState::new(table, darasa_tests::app::verifier()))
}

/// p50/p99 of `REQUESTS` sequential requests after a warm-up.
async fn latency(label: &str, router: &Router, token: &str) -> Stats {
    let mut samples = Vec::with_capacity(REQUESTS);
    for n in 0..WARMUP + REQUESTS {
        let request = Request::get("/api/job-infos")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let started = Instant::now();
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert!(response.status().is_success(), "{label}: {}", response.status());
        let _ = response.into_body().collect().await.expect("body");
        if n >= WARMUP {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let stats = Stats { p50: samples[samples.len() / 2], p99: samples[samples.len() * 99 / 100] };
    println!("{label}: {REQUESTS} requests, p50 {:?}, p99 {:?}", stats.p50, stats.p99);
    stats
}

/// Starts the release local host on a free port, loads it with the same request from 8 clients,
/// and reads its peak resident memory (VmHWM) before and after.
async fn local_host_memory(binary: &str) {
    let data = tempfile::tempdir().expect("temp dir");
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut child = tokio::process::Command::new(binary)
        .args([
            "--data-dir",
            &data.path().to_string_lossy(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("TABLE_NAME")
        .env_remove("CLERK_ISSUER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the local host");
    let pid = child.id().expect("pid");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/api/job-infos")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "local host did not start");
    let token = String::from_utf8(
        std::process::Command::new(binary)
            .args(["--data-dir", &data.path().to_string_lossy(), "token", "--user", USER])
            .output()
            .expect("mint a token")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_owned();
    for n in 0..JOB_INFOS {
        let body = serde_json::json!({"name": format!("Job {n}"), "experienceLevel": "senior", "description": "Rust"});
        let response = client
            .post(format!("{base}/api/job-infos"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("seed");
        assert_eq!(response.status(), 201);
    }
    let idle = peak_kib(pid);
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..REQUESTS / 8 {
                    let response =
                        client.get(format!("{base}/api/job-infos")).bearer_auth(&token).send().await;
                    assert!(response.expect("request").status().is_success());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("load task");
    }
    let elapsed = started.elapsed();
    let loaded = peak_kib(pid);
    println!(
        "local host (embedded store): {REQUESTS} requests from 8 clients in {elapsed:?} ({:.0} req/s); peak RSS idle {idle} KiB, under load {loaded} KiB (x{:.2})",
        REQUESTS as f64 / elapsed.as_secs_f64(),
        loaded as f64 / idle as f64
    );
    let _ = child.kill().await;
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
