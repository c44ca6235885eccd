//! Benchmark program (not a test): what the protection layer adds to a request. The same
//! authenticated `GET /api/job-infos` (20 job infos) goes through two routers over one store, one
//! with every rule `live` and one with every rule `off`, in alternating rounds so both see the
//! same machine load; printed as p50/p99 of each and the ratio live/off, on the embedded store and,
//! when `DARASA_TEST_DYNAMODB_ENDPOINT` is set, on DynamoDB Local.
//!
//! First every request comes from its own client address (as many clients would): a new client's
//! window item is written on each one and nobody reaches the limit, so the figure is the cost of
//! the whole layer (shield over path, query and headers, bot rules on a browser's user agent, one
//! conditional write), never a cheap denial. Then 50 returning clients send them, as browser
//! sessions do. Either way a request costs the shield, the bot rules and one conditional write.
//! Last, each part timed alone.
//!
//! Run: `cargo bench -p darasa-tests --bench protection` (with DynamoDB Local started as
//! `infra/bench/run.sh` starts it for the DynamoDB figures).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use darasa::AppState;
use darasa::protect::window::{Standing, Subject};
use darasa::protect::{IP_WINDOW, Mode, Modes, Protection};
use darasa::store::SharedTable;
use darasa_tests::app::{issuer, now};
use darasa_tests::fixtures::{BROWSER, seed_job_infos};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const ROUNDS: usize = 10;
const PER_ROUND: usize = 200;
const WARMUP: usize = 200;
const PARTS: usize = 2_000;
const JOB_INFOS: usize = 20;
const USER: &str = "user_bench_protect";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let token = issuer().mint(USER, &["5_questions"], 3_600, now());

    let dir = tempfile::tempdir().expect("temp dir");
    let embedded: SharedTable = Arc::new(
        darasa::store::embedded::EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded store"),
    );
    compare("embedded store (redb)", embedded, &token).await;

    match std::env::var("DARASA_TEST_DYNAMODB_ENDPOINT") {
        Ok(_) => {
            compare("DynamoDB Local", Arc::new(darasa_tests::dynamodb::test_table().await), &token).await
        }
        Err(_) => println!("DynamoDB Local: skipped (DARASA_TEST_DYNAMODB_ENDPOINT unset)"),
    }
}

/// Seeds `table`, then times the route with protection live and off, alternating rounds.
async fn compare(label: &str, table: SharedTable, token: &str) {
    seed_job_infos(table.as_ref(), USER, JOB_INFOS).await;
    let live = router(table.clone(), Modes::LIVE);
    // The same rules without the rate limit: splits what the rules cost from what the window does.
    let rules = router(table.clone(), Modes { rate_limit: Mode::Off, ..Modes::LIVE });
    let table_for_parts = table.clone();
    let off = router(table, Modes::OFF);

    let mut client = 0u32;
    // Warm all three (the shield's and the bot list's compiled rules are built on first use).
    sample(&live, token, WARMUP, &mut client, None).await;
    sample(&off, token, WARMUP, &mut client, None).await;
    sample(&rules, token, WARMUP, &mut client, None).await;
    // First every request from a new client (the window's previous count is read each time), then
    // from a few returning ones (as a browser session sends them: read once a minute per client).
    for (clients, pool) in [("a new client each request", None), ("50 returning clients", Some(50))] {
        let (mut live_samples, mut off_samples, mut rules_samples) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            live_samples.extend(sample(&live, token, PER_ROUND, &mut client, pool).await);
            off_samples.extend(sample(&off, token, PER_ROUND, &mut client, pool).await);
            rules_samples.extend(sample(&rules, token, PER_ROUND, &mut client, pool).await);
        }
        let (live, off, rules) =
            (percentiles(live_samples), percentiles(off_samples), percentiles(rules_samples));
        println!(
            "{label}, {clients}: {} requests each, alternating rounds of {PER_ROUND}",
            ROUNDS * PER_ROUND
        );
        println!("  protection off:  p50 {:?}, p99 {:?}", off.0, off.1);
        println!("  shield and bot rules live, rate limit off: p50 {:?}, p99 {:?}", rules.0, rules.1);
        println!("  protection live: p50 {:?}, p99 {:?}", live.0, live.1);
        println!(
            "  added: p50 {:?} (x{:.2} of off), p99 x{:.2}",
            live.0.saturating_sub(off.0),
            live.0.as_secs_f64() / off.0.as_secs_f64(),
            live.1.as_secs_f64() / off.1.as_secs_f64()
        );
    }
    breakdown(table_for_parts, token).await;
}

/// Where the added time goes: each part of the layer timed alone (medians), as the request above
/// meets it (a new client each time, so the window read and write are never skipped).
async fn breakdown(table: SharedTable, token: &str) {
    let protection = Protection::new(Modes::LIVE, darasa::clock::system());
    let request = Request::get("/api/job-infos")
        .header("authorization", format!("Bearer {token}"))
        .header("user-agent", BROWSER)
        .body(())
        .expect("request");
    let (uri, headers) = (request.uri(), request.headers());
    let shield = median(PARTS, || {
        let started = Instant::now();
        std::hint::black_box(protection.shield().inspect_head(uri, headers));
        started.elapsed()
    });
    let bots = median(PARTS, || {
        let started = Instant::now();
        std::hint::black_box(protection.bots().classify(Some(BROWSER)));
        started.elapsed()
    });
    let mut windows = Vec::with_capacity(PARTS);
    for n in 0..PARTS {
        let subject = Subject::new(format!("CLIENT#bench-{n}"), IP_WINDOW);
        let started = Instant::now();
        let now_ms = protection.clock.now_ms();
        let standing = protection.limiter().hit(table.as_ref(), IP_WINDOW, &subject, now_ms).await;
        windows.push(started.elapsed());
        assert!(matches!(standing, Ok(Standing::Allowed { .. })), "{standing:?}");
    }
    windows.sort();
    println!(
        "  parts (medians of {PARTS}): shield {:?}, bot rules {:?}, rate-limit window of a new client (one conditional write) {:?}",
        shield,
        bots,
        windows[PARTS / 2]
    );
}

fn median(count: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut samples: Vec<Duration> = (0..count).map(|_| run()).collect();
    samples.sort();
    samples[count / 2]
}

fn router(table: SharedTable, modes: Modes) -> Router {
    let protection = Arc::new(Protection::new(modes, darasa::clock::system()));
    let state = AppState::new(table, darasa_tests::app::verifier()).with_protection(protection);
    darasa::app::serve((darasa::app::functions::JOB_INFOS.routes)(), state)
}

/// Times `count` sequential requests, each from a new client address, or from one of `pool`
/// addresses in turn (the 2 000 timed live requests give each of 50 addresses 40: under the limit).
async fn sample(
    router: &Router,
    token: &str,
    count: usize,
    client: &mut u32,
    pool: Option<u32>,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        *client += 1;
        let [_, a, b, c] = pool.map_or(*client, |pool| (1 << 23) | (*client % pool)).to_be_bytes();
        let mut request = Request::get("/api/job-infos")
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", BROWSER)
            .body(Body::empty())
            .expect("request");
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, a, b, c], 40_000))));
        let started = Instant::now();
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert!(response.status().is_success(), "{}", response.status());
        let _ = response.into_body().collect().await.expect("body");
        samples.push(started.elapsed());
    }
    samples
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}
