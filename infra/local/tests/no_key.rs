//! The local host as a new user runs it: `darasa-local serve` started as a process with no AI
//! provider configured (an empty environment), driven over loopback HTTP as the web client
//! drives it. The offline engine writes the questions, grades the answers, reviews resumes sent
//! as PDF, DOCX and text, and reviews an interview whose transcript comes from a loopback fake
//! of Hume; every quota and storage rule applies as with a hosted model.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use darasa_tests::data_stream::{self, Part};
use darasa_tests::hume::{FAKE_API_KEY, FAKE_SECRET_KEY, FakeHume, event};
use darasa_tests::multipart::{Field, content_type, file, form};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_darasa-local");
const MODEL: &str = "darasa-offline-1";
/// The user of `infra/events/clerk/user.created.json`.
const CLERK_USER: &str = "user_2pQx7rLmVb3dKcN9TzWnYe4HsJf";
const FEATURES: &str = "5_questions,1_interview,unlimited_resume_analysis";

/// A running `darasa-local serve`, killed (by its pid) when dropped, even when a test fails.
struct LocalHost {
    child: Child,
    base: String,
    /// The start-up banner, line by line.
    banner: Vec<String>,
    data_dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for LocalHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalHost {
    /// Starts the host on a free loopback port with only `env` set (no AI key in it).
    fn start(env: &[(&str, String)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BINARY)
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn,lopdf=error")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start darasa-local");
        let stdout = child.stdout.take().unwrap();
        // Drain stdout for the process's whole life: a closed pipe would fail its later prints.
        let (lines, banner_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut host = LocalHost { child, base: String::new(), banner: Vec::new(), data_dir, http: client() };
        while !host.banner.iter().any(|line| line.trim_start().starts_with("protection:")) {
            let line = banner_lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no start-up banner; so far: {:?}", host.banner));
            if let Some(url) = line.strip_prefix("Darasa API on ") {
                host.base = url.to_owned();
            }
            host.banner.push(line);
        }
        host
    }

    /// The banner line that starts with `label`.
    fn banner(&self, label: &str) -> &str {
        self.banner.iter().map(|line| line.trim_start()).find(|line| line.starts_with(label)).unwrap()
    }

    /// A session token from the host's dev issuer, minted by the CLI as the README shows.
    fn token(&self, user: &str) -> String {
        let output = Command::new(BINARY)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(["token", "--user", user, "--features", FEATURES])
            .env_clear()
            .output()
            .expect("run darasa-local token");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Delivers a Clerk event to the host, signed as Svix signs it, with the CLI's `webhook`.
    fn deliver(&self, event: &str) {
        let output = Command::new(BINARY)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("webhook")
            .arg(fixtures().join("../../infra/events/clerk").join(event))
            .args(["--url", &self.base])
            .env_clear()
            .output()
            .expect("run darasa-local webhook");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Posts to a streamed AI route; the status and each body chunk as it arrived.
    async fn stream(&self, path: &str, token: &str, body: Value) -> (StatusCode, Vec<String>) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        chunks(response).await
    }

    async fn analyze(&self, token: &str, job_id: &str, resume: Field<'_>) -> (StatusCode, String) {
        let response = self
            .http
            .post(format!("{}/api/ai/resumes/analyze", self.base))
            .bearer_auth(token)
            .header("content-type", content_type())
            .body(form(&[resume, Field::Text("jobInfoId", job_id)]))
            .send()
            .await
            .unwrap();
        let (status, chunks) = chunks(response).await;
        (status, chunks.concat())
    }
}

fn client() -> reqwest::Client {
    darasa::http_client::builder().user_agent("darasa-e2e-test/1.0").no_proxy().build().unwrap()
}

async fn chunks(mut response: reqwest::Response) -> (StatusCode, Vec<String>) {
    let status = response.status();
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    (status, chunks)
}

fn fixtures() -> PathBuf {
    darasa_tests::events::repo("tests/fixtures")
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap()
}

/// A fixture job (`title:`, `level:`, a blank line, the description) as the create route's body.
fn job_body(name: &str) -> Value {
    let text = String::from_utf8(fixture(&format!("jobs/{name}.txt"))).unwrap();
    let (head, description) = text.split_once("\n\n").unwrap();
    let field = |key: &str| head.lines().find_map(|line| line.strip_prefix(key)).map(str::trim);
    json!({
        "name": name,
        "title": field("title:"),
        "experienceLevel": field("level:").unwrap_or("mid-level"),
        "description": description,
    })
}

async fn create_job(host: &LocalHost, token: &str, name: &str) -> String {
    let (status, job) = host.json(reqwest::Method::POST, "/api/job-infos", token, Some(job_body(name))).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    job["id"].as_str().unwrap().to_owned()
}

fn rating(feedback: &str) -> u8 {
    let first = feedback.lines().next().unwrap();
    first
        .strip_prefix("## Feedback (Rating: ")
        .and_then(|rest| rest.strip_suffix("/10)"))
        .unwrap()
        .parse()
        .unwrap()
}

fn score(analysis: &Value, category: &str) -> f64 {
    analysis[category]["score"].as_f64().unwrap_or_else(|| panic!("no {category} score in {analysis}"))
}

#[tokio::test]
async fn questions_and_feedback_work_with_no_key_at_all() {
    let host = LocalHost::start(&[]);
    assert!(host.banner("ai:").contains("offline"), "{:?}", host.banner);
    let token = host.token("user_e2e_questions");
    let job = create_job(&host, &token, "backend-rust-aws").await;

    // Five questions for one job: five different questions, streamed in several parts.
    let mut questions = Vec::new();
    for difficulty in ["easy", "medium", "hard", "medium", "easy"] {
        let body = json!({"prompt": difficulty, "jobInfoId": job});
        let (status, chunks) = host.stream("/api/ai/questions/generate-question", &token, body).await;
        assert_eq!(status, StatusCode::OK);
        let parts = data_stream::parse(&chunks.concat()).unwrap();
        assert_eq!(data_stream::error(&parts), None, "{parts:?}");
        let texts = parts.iter().filter(|part| matches!(part, Part::Text(_))).count();
        assert!(texts >= 3, "a question streams in several parts, got {texts}");
        let text = data_stream::text(&parts);
        assert!(text.contains("offline practice engine"), "labelled: {text}");
        questions.push((data_stream::question_id(&parts).expect("stored question's id"), text));
    }
    let mut texts: Vec<&String> = questions.iter().map(|(_, text)| text).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 5, "five different questions: {texts:#?}");

    // The sixth is over the free plan's quota, exactly as with a hosted model.
    let body = json!({"prompt": "easy", "jobInfoId": job});
    let (status, chunks) = host.stream("/api/ai/questions/generate-question", &token, body).await;
    assert_eq!((status, chunks.concat().as_str()), (StatusCode::FORBIDDEN, "PLAN_LIMIT"));

    // Stored with the engine as its model; the key points it grades with stay private.
    let (question_id, question_text) = &questions[1];
    let (status, stored) =
        host.json(reqwest::Method::GET, &format!("/api/questions/{question_id}"), &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["model"], MODEL);
    assert_eq!(stored["text"].as_str(), Some(question_text.as_str()));
    assert!(stored.get("keyPoints").is_none(), "{stored}");

    // A non-answer scores low; answering with the engine's own correct answer scores higher.
    let grade = |answer: &str| {
        let body = json!({"prompt": answer, "questionId": question_id});
        async { host.stream("/api/ai/questions/generate-feedback", &token, body).await }
    };
    let (status, chunks) = grade("I don't know.").await;
    assert_eq!(status, StatusCode::OK);
    let feedback = data_stream::text(&data_stream::parse(&chunks.concat()).unwrap());
    let low = rating(&feedback);
    assert!(low <= 3, "{feedback}");
    let (_, correct) = feedback.split_once("\n---\n## Correct Answer\n").expect("the original's shape");
    let (_, chunks) = grade(correct).await;
    let better = data_stream::text(&data_stream::parse(&chunks.concat()).unwrap());
    assert!(rating(&better) > low, "{better}");
}

#[tokio::test]
async fn resumes_as_pdf_docx_and_text_are_scored_against_the_job() {
    let host = LocalHost::start(&[]);
    let token = host.token("user_e2e_resumes");
    let job = create_job(&host, &token, "backend-rust-aws").await;

    let strong_pdf = fixture("documents/backend-strong.pdf");
    let weak_pdf = fixture("documents/weak.pdf");
    let strong_docx = fixture("documents/backend-strong.docx");
    let strong_text = fixture("resumes/backend-strong.txt");
    let docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let mut analyses = Vec::new();
    for resume in [
        file("amara.pdf", "application/pdf", &strong_pdf),
        file("john.pdf", "application/pdf", &weak_pdf),
        file("amara.docx", docx_type, &strong_docx),
        file("amara.txt", "text/plain", &strong_text),
    ] {
        let (status, body) = host.analyze(&token, &job, resume).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let analysis: Value = serde_json::from_str(&body).expect("the analysis JSON");
        assert!(analysis["overallScore"].as_f64().is_some(), "{analysis}");
        analyses.push(analysis);
    }
    let [strong, weak, docx, text] = <[Value; 4]>::try_from(analyses).unwrap();
    for category in ["keywordCoverage", "jobMatch", "overallScore"] {
        let value = |analysis: &Value| match category {
            "overallScore" => analysis[category].as_f64().unwrap(),
            _ => score(analysis, category),
        };
        assert!(value(&strong) > value(&weak), "{category}: {} vs {}", value(&strong), value(&weak));
    }
    // The same resume in three formats: the same facts, the same keyword coverage.
    assert_eq!(score(&docx, "keywordCoverage"), score(&text, "keywordCoverage"));
    assert_eq!(score(&strong, "keywordCoverage"), score(&text, "keywordCoverage"));
    let summary = strong["keywordCoverage"]["summary"].as_str().unwrap().to_lowercase();
    assert!(summary.contains("dynamodb") || strong.to_string().contains("DynamoDB"), "names what it found");

    // Stored for the job, each naming the engine as its model.
    let (status, page) =
        host.json(reqwest::Method::GET, &format!("/api/job-infos/{job}/resume-analyses"), &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let stored = page["items"].as_array().expect("a page of analyses");
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|analysis| analysis["model"] == MODEL), "{page}");

    // A scanned resume has no text for the engine to read: a clear 400, nothing stored.
    let scanned = fixture("documents/scanned.pdf");
    let (status, body) = host.analyze(&token, &job, file("scan.pdf", "application/pdf", &scanned)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("no text"), "{body}");
}

#[tokio::test]
async fn an_interview_is_reviewed_from_its_transcript() {
    let hume = FakeHume::start().await;
    let host = LocalHost::start(&[
        ("HUME_API_KEY", FAKE_API_KEY.to_owned()),
        ("HUME_SECRET_KEY", FAKE_SECRET_KEY.to_owned()),
        ("HUME_BASE_URL", hume.base_url()),
    ]);
    // Interview feedback addresses the candidate by name: the user arrives as Clerk sends it.
    host.deliver("user.created.json");
    let token = host.token(CLERK_USER);
    let job = create_job(&host, &token, "backend-rust-aws").await;
    let (status, interview) = host
        .json(reqwest::Method::POST, &format!("/api/job-infos/{job}/interviews"), &token, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{interview}");
    let id = interview["id"].as_str().unwrap();

    hume.chat(
        "chat-e2e",
        vec![
            event("AGENT_MESSAGE", "AGENT", Some("Tell me about a DynamoDB table you designed."), None),
            event(
                "USER_MESSAGE",
                "USER",
                Some("I modelled a ledger in DynamoDB with single-table design, keyed by merchant, which cut read costs by 35%."),
                Some("{\"Calmness\": 0.6, \"Determination\": 0.4}"),
            ),
            event("AGENT_MESSAGE", "AGENT", Some("How did you keep payments idempotent?"), None),
            event(
                "USER_MESSAGE",
                "USER",
                Some("Um, like, every request carried an idempotency key stored with a conditional write, so retries never charged twice."),
                Some("{\"Anxiety\": 0.3, \"Concentration\": 0.5}"),
            ),
        ],
    );
    let patch = json!({"humeChatId": "chat-e2e", "duration": "00:12:30"});
    let (status, started) =
        host.json(reqwest::Method::PATCH, &format!("/api/interviews/{id}"), &token, Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{started}");

    let (status, reviewed) =
        host.json(reqwest::Method::POST, &format!("/api/interviews/{id}/feedback"), &token, None).await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    let feedback = reviewed["feedback"].as_str().expect("stored feedback");
    assert!(feedback.starts_with("**Overall rating: "), "{feedback}");
    assert_eq!(feedback.lines().filter(|line| line.starts_with("## ")).count(), 7, "{feedback}");
    assert!(feedback.contains("offline by Darasa's practice engine"), "{feedback}");
    assert!(feedback.to_lowercase().contains("filler"), "counts the filler words: {feedback}");

    // Stored: asked again, the same review comes back without another transcript read.
    let reads = hume.chat_requests().len();
    let (_, again) =
        host.json(reqwest::Method::POST, &format!("/api/interviews/{id}/feedback"), &token, None).await;
    assert_eq!(again["feedback"], reviewed["feedback"]);
    assert_eq!(hume.chat_requests().len(), reads);
}
