//! Benchmark program (not a test): how much the streamed AI routes add to the model's own
//! timing. A loopback fake Gemini streams a reply of `CHUNKS` text deltas `PAUSE` apart; we time
//! (a) that reply fetched straight from the fake (the baseline: its own first byte and end), and
//! (b) the same reply through the router served over HTTP (`axum::serve`, as the local host does),
//! from request to the first `0:` text part (time to first byte) and to the end of the stream
//! (for generate-question that includes storing the question and its quota count). The
//! difference is what our side costs: token check, reads, the upstream request, re-encoding.
//! Run it with `infra/bench/run.sh` (which also starts DynamoDB Local) or
//! `cargo bench -p darasa-tests --bench ai_stream`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use darasa::store::SharedTable;
use darasa_tests::app::issuer;
use darasa_tests::gemini::{FAKE_KEY, FAKE_MODEL, FakeGemini, Piece, Reply, chunk, test_policy};
use darasa_tests::loopback::LoopbackServer;
use serde_json::{Value, json};

const CHUNKS: usize = 20;
const PAUSE: Duration = Duration::from_millis(5);
const REQUESTS: usize = 60;
const WARMUP: usize = 5;
const USER: &str = "user_bench";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = FakeGemini::start().await;
    fake.always(reply());
    let client = darasa::http_client::builder().build().unwrap();
    println!(
        "fake Gemini reply: {CHUNKS} SSE text deltas {PAUSE:?} apart; {REQUESTS} sequential requests after {WARMUP} warm-up"
    );

    let direct_url = format!("{}/v1beta/models/{FAKE_MODEL}:streamGenerateContent?alt=sse", fake.base_url());
    let direct = measure(
        REQUESTS,
        || client.post(&direct_url).header("x-goog-api-key", FAKE_KEY).json(&json!({"contents": []})),
        b"data:",
    )
    .await;
    direct.print("baseline: straight from the fake (first SSE event / end)");

    let dir = tempfile::tempdir().expect("temp dir");
    let embedded: SharedTable = Arc::new(
        darasa::store::embedded::EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded store"),
    );
    through_router("embedded store (redb)", embedded, &fake, &client, &direct).await;
    match std::env::var(darasa_tests::dynamodb::ENDPOINT_VARIABLE) {
        Ok(_) => {
            let dynamo: SharedTable = Arc::new(darasa_tests::dynamodb::test_table().await);
            through_router("DynamoDB Local", dynamo, &fake, &client, &direct).await;
        }
        Err(_) => {
            println!("DynamoDB Local: skipped (DARASA_TEST_DYNAMODB_ENDPOINT unset; use infra/bench/run.sh)")
        }
    }
}

fn reply() -> Reply {
    let events: Vec<Value> =
        (0..CHUNKS).map(|n| chunk(Some(&format!("word{n} ")), (n + 1 == CHUNKS).then_some("STOP"))).collect();
    let sse = Reply::sse(&events);
    let mut pieces = Vec::new();
    for (n, piece) in sse.pieces.iter().enumerate() {
        if n > 0 {
            pieces.push(Piece::Sleep(PAUSE));
        }
        pieces.push(piece.clone());
    }
    Reply { pieces, ..sse }
}

async fn through_router(
    label: &str,
    table: SharedTable,
    fake: &FakeGemini,
    client: &reqwest::Client,
    direct: &Stats,
) {
    let state = darasa::AppState::new(table.clone(), darasa_tests::app::verifier())
        .with_model(fake.model(test_policy()));
    let server = LoopbackServer::start(darasa::app::serve(darasa::app::all_routes(), state)).await;
    let token = issuer().mint(
        USER,
        &["unlimited_questions"],
        3_600,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let new: darasa::job_infos::NewJobInfo = serde_json::from_value(json!({
        "name": "Bench", "title": "Engineer", "experienceLevel": "mid-level",
        "description": "Rust, AWS Lambda and DynamoDB. ".repeat(20),
    }))
    .expect("valid job");
    let job = darasa::job_infos::create(table.as_ref(), USER, new).await.expect("seed job");
    let question = darasa::questions::Question::new(
        job.id,
        "What is a lifetime?".into(),
        darasa::questions::Difficulty::Easy,
    );
    darasa::questions::insert(table.as_ref(), USER, &question, &[]).await.expect("seed question");

    let generate_url = format!("{}/api/ai/questions/generate-question", server.url());
    let body = json!({"prompt": "medium", "jobInfoId": job.id});
    let stats = measure(REQUESTS, || client.post(&generate_url).bearer_auth(&token).json(&body), b"0:").await;
    stats.print(&format!("{label}: generate-question through the router (first 0: part / end, stored)"));
    stats.compare(direct);

    let feedback_url = format!("{}/api/ai/questions/generate-feedback", server.url());
    let body = json!({"prompt": "It is how long a reference is valid.", "questionId": question.id});
    let stats = measure(REQUESTS, || client.post(&feedback_url).bearer_auth(&token).json(&body), b"0:").await;
    stats.print(&format!("{label}: generate-feedback through the router (first 0: part / end)"));
    stats.compare(direct);
}

struct Stats {
    first_p50: Duration,
    first_p95: Duration,
    total_p50: Duration,
    total_p95: Duration,
}

impl Stats {
    fn print(&self, label: &str) {
        println!(
            "{label}\n  first byte p50 {:>9.2?}  p95 {:>9.2?}\n  total      p50 {:>9.2?}  p95 {:>9.2?}",
            self.first_p50, self.first_p95, self.total_p50, self.total_p95
        );
    }

    fn compare(&self, baseline: &Stats) {
        println!(
            "  vs baseline: first byte +{:.2?} (x{:.2}) p50, total +{:.2?} (x{:.2}) p50",
            self.first_p50.saturating_sub(baseline.first_p50),
            self.first_p50.as_secs_f64() / baseline.first_p50.as_secs_f64(),
            self.total_p50.saturating_sub(baseline.total_p50),
            self.total_p50.as_secs_f64() / baseline.total_p50.as_secs_f64(),
        );
    }
}

/// Times `count` sequential streamed requests: until the first line starting with `marker`
/// arrives, and until the body ends.
async fn measure(count: usize, request: impl Fn() -> reqwest::RequestBuilder, marker: &[u8]) -> Stats {
    let mut firsts = Vec::with_capacity(count);
    let mut totals = Vec::with_capacity(count);
    for n in 0..WARMUP + count {
        let started = Instant::now();
        let mut response = request().send().await.expect("request");
        assert!(response.status().is_success(), "status {}", response.status());
        let mut received = Vec::new();
        let mut first = None;
        while let Some(chunk) = response.chunk().await.expect("body") {
            received.extend_from_slice(&chunk);
            if first.is_none() && has_line_starting(&received, marker) {
                first = Some(started.elapsed());
            }
        }
        let total = started.elapsed();
        let first =
            first.unwrap_or_else(|| panic!("no {:?} line in {}", marker, String::from_utf8_lossy(&received)));
        if n >= WARMUP {
            firsts.push(first);
            totals.push(total);
        }
    }
    firsts.sort();
    totals.sort();
    let at = |samples: &[Duration], pct: usize| samples[(samples.len() * pct / 100).min(samples.len() - 1)];
    Stats {
        first_p50: at(&firsts, 50),
        first_p95: at(&firsts, 95),
        total_p50: at(&totals, 50),
        total_p95: at(&totals, 95),
    }
}

/// Whether a complete line (ended by `\n`) starts with `marker`.
fn has_line_starting(bytes: &[u8], marker: &[u8]) -> bool {
    let mut start = 0;
    while let Some(offset) = bytes[start..].iter().position(|b| *b == b'\n') {
        if bytes[start..].starts_with(marker) {
            return true;
        }
        start += offset + 1;
    }
    false
}
