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
use darasa_tests::app::{issuer, now};
use darasa_tests::fixtures::{BROWSER, seed_job_infos};
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
    let cached = seeded_router(embedded.clone(), darasa_tests::app::verifier()).await;
    let embedded_stats = latency("embedded store (redb)", &cached, &token).await;
    embedded_stats.ratio_to(&baseline);
    // The same, every request verifying the token's signature (the verified-token cache off).
    let uncached_verifier = Arc::new(
        darasa::auth::Verifier::new(
            issuer().auth_config(),
            darasa::http_client::builder().build().unwrap(),
            darasa::clock::system(),
        )
        .expect("verifier")
        .with_token_cache_capacity(0),
    );
    let uncached = router_on(embedded, uncached_verifier);
    let uncached_stats = latency("embedded store, token cache off", &uncached, &token).await;
    uncached_stats.ratio_to(&baseline);

    match std::env::var("DARASA_TEST_DYNAMODB_ENDPOINT") {
        Ok(_) => {
            let dynamo: SharedTable = Arc::new(darasa_tests::dynamodb::test_table().await);
            let router = seeded_router(dynamo, darasa_tests::app::verifier()).await;
            let stats = latency("DynamoDB Local", &router, &token).await;
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

async fn seeded_router(table: SharedTable, verifier: Arc<darasa::auth::Verifier>) -> Router {
    seed_job_infos(table.as_ref(), USER, JOB_INFOS).await;
    router_on(table, verifier)
}

fn router_on(table: SharedTable, verifier: Arc<darasa::auth::Verifier>) -> Router {
    let routes = (darasa::app::functions::JOB_INFOS.routes)();
    darasa::app::serve(routes, AppState::new(table, verifier))
}

/// p50/p99 of `REQUESTS` sequential requests after a warm-up.
async fn latency(label: &str, router: &Router, token: &str) -> Stats {
    let mut samples = Vec::with_capacity(REQUESTS);
    for n in 0..WARMUP + REQUESTS {
        // As a browser sends it, each from its own address: the protection layer (live, as
        // deployed) passes every one, none of them near a rate limit.
        let mut request = Request::get("/api/job-infos")
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", BROWSER)
            .body(Body::empty())
            .expect("request");
        let [_, a, b, c] = u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
        let client = std::net::SocketAddr::from(([10, a, b, c], 40_000));
        request.extensions_mut().insert(axum::extract::ConnectInfo(client));
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
        // wrk's thousands of requests a second from one user would otherwise be answered 429.
        .env("PROTECT_RATE_LIMIT", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the local host");
    let pid = child.id().expect("pid");
    let base = format!("http://127.0.0.1:{port}");
    let client = darasa::http_client::builder().build().unwrap();
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
    warm_rates(&base, &token).await;
    let _ = child.kill().await;
}

/// The local host's warm throughput with wrk (16 connections, 2 threads, 5 s each): an unrouted
/// 404 against the authenticated list of 20 job infos, alternated three times in this one run.
/// Both carry a browser's User-Agent, as the web app's requests do: without one, the local host's
/// bot rule (dry-run there) logs every request, which measures the log instead.
async fn warm_rates(base: &str, token: &str) {
    if std::process::Command::new("wrk").arg("--version").output().is_err() {
        println!("warm rates: skipped (wrk not installed; `apt-get install wrk`)");
        return;
    }
    let rate = |path: &str, auth: bool| {
        let mut command = std::process::Command::new("wrk");
        command.args(["-t2", "-c16", "-d5s", "-H", &format!("User-Agent: {BROWSER}")]);
        if auth {
            command.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let output = command.arg(format!("{base}{path}")).output().expect("run wrk");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let non_2xx =
            text.lines().find(|line| line.contains("Non-2xx")).map(str::trim).unwrap_or("").to_owned();
        let rate: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("Requests/sec:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0);
        (rate, non_2xx)
    };
    for round in 1..=3 {
        let (unrouted, _) = rate("/api/no-such-route", false);
        let (list, non_2xx) = rate("/api/job-infos", true);
        println!(
            "warm rates (wrk -t2 -c16 -d5s), round {round}: unrouted 404 {unrouted:.0} req/s; authenticated list of {JOB_INFOS} job infos {list:.0} req/s {non_2xx}; ratio {:.2}x",
            list / unrouted
        );
    }
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
