//! Resume analysis end to end against the fake Gemini: real small PDF, DOCX and text files made
//! here, multipart bodies built by hand (including truncated and oversized ones), the original's
//! checks in its order and words, what the model is sent (schema, inline file and its type),
//! the JSON streamed back as plain text, validation before storing, the stored analyses listed
//! under their job and deleted with it.

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use darasa::resumes::{self, MAX_BODY, MAX_FILE};
use darasa::store::Query;
use darasa::users;
use darasa_tests::app::{Store, TestApp};
use darasa_tests::documents::{docx, legacy_doc, pdf};
use darasa_tests::events::repo;
use darasa_tests::fixtures::{ALICE, BOB, DESCRIPTION, FREE, create_job};
use darasa_tests::gemini::{FakeGemini, Gate, Piece, Reply, stream_events, test_policy};
use darasa_tests::multipart::{Field, content_type, file, form};
use darasa_tests::on_both_stores;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const PAID: &[&str] = &["unlimited_resume_analysis"];

const TEXT_RESUME: &str = "Jane Doe\nSenior Rust engineer\n- Built a payments ledger on DynamoDB\n";

/// A response whose body may have ended with an error (a cut stream).
struct Outcome {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// Whether the body ended cleanly.
    complete: bool,
}

impl Outcome {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn assert_plain(&self, status: StatusCode, body: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.text(), body);
        assert_eq!(self.header("content-type"), Some("text/plain; charset=utf-8"));
    }
}

async fn send(app: &TestApp, request: Request<Body>) -> Outcome {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    let mut complete = true;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    Outcome { status: parts.status, headers: parts.headers, body: bytes, complete }
}

fn upload_request(token: Option<&str>, body: Vec<u8>) -> http::request::Builder {
    let mut builder = Request::post(resumes::PATH)
        .header("content-type", content_type())
        .header("content-length", body.len().to_string());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder
}

async fn upload(app: &TestApp, token: Option<&str>, body: Vec<u8>) -> Outcome {
    send(app, upload_request(token, body.clone()).body(Body::from(body)).unwrap()).await
}

// ---- the model's side ----

fn category(score: f64, kind: &str) -> Value {
    json!({"score": score, "summary": "Mostly fine.", "feedback": [
        {"type": "strength", "name": "Clear headings", "message": "You use standard section names."},
        {"type": kind, "name": "Quantify", "message": "Add numbers to your achievements."}]})
}

fn analysis(overall: f64) -> Value {
    json!({
        "overallScore": overall,
        "ats": category(8.0, "minor-improvement"),
        "jobMatch": category(7.0, "major-improvement"),
        "writingAndFormatting": category(6.5, "minor-improvement"),
        "keywordCoverage": category(5.0, "major-improvement"),
        "other": category(9.0, "strength"),
    })
}

/// `text` as three streamed deltas.
fn streamed(text: &str, finish: &str) -> Reply {
    let (a, rest) = text.split_at(text.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    Reply::stream(&[a, b, c], finish)
}

async fn setup(store: Store) -> (TestApp, FakeGemini) {
    let fake = FakeGemini::start().await;
    let app = TestApp::builder(store).model(fake.model(test_policy())).build().await;
    (app, fake)
}

async fn stored(app: &TestApp, user: &str, job: Uuid) -> Vec<resumes::ResumeAnalysis> {
    resumes::list(app.table.as_ref(), user, job, 100, None).await.unwrap().0
}

async fn resume_items(app: &TestApp, user: &str) -> usize {
    app.table.query(&Query::new(users::partition(user), "RESUME#").limit(1000)).await.unwrap().items.len()
}

/// Whatever part of the sent request carries the resume.
fn resume_part(request: &darasa_tests::gemini::Recorded) -> Value {
    let contents = request.body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1, "one user message: {contents:?}");
    assert_eq!(contents[0]["role"], "user");
    let parts = contents[0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "{parts:?}");
    parts[0].clone()
}

on_both_stores!(a_pdf_is_analysed_streamed_stored_listed_and_deleted_with_its_job);

async fn a_pdf_is_analysed_streamed_stored_listed_and_deleted_with_its_job(store: Store) {
    let (app, fake) = setup(store).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    let resume = pdf("Jane Doe - Senior Rust engineer");
    let reply = serde_json::to_string_pretty(&analysis(7.5)).unwrap();
    fake.push(streamed(&reply, "STOP"));

    let job_id = job.to_string();
    let body = form(&[file("jane.pdf", "application/pdf", &resume), Field::Text("jobInfoId", &job_id)]);
    let response = upload(&app, Some(&token), body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.complete);
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(response.header("x-vercel-ai-data-stream"), None, "a text stream, not a data stream");
    assert_eq!(response.text(), reply, "the JSON text exactly as generated, no framing");

    // What the model was sent: the file inline as a PDF, the original's schema, JSON output.
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].path.ends_with(":streamGenerateContent"), "{}", sent[0].path);
    let inline = &resume_part(&sent[0])["inlineData"];
    assert_eq!(inline["mimeType"], "application/pdf");
    assert_eq!(STANDARD.decode(inline["data"].as_str().unwrap()).unwrap(), resume);
    let config = &sent[0].body["generationConfig"];
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["responseSchema"], resumes::analysis_schema());
    assert_eq!(config["responseSchema"]["propertyOrdering"][0], "overallScore");
    let system = sent[0].system();
    for needle in [DESCRIPTION, "`senior`", "`Backend Engineer`", "keywordCoverage"] {
        assert!(system.contains(needle), "{needle} missing from {system}");
    }

    // Stored (without the file), with the model, counted for /api/me.
    let analyses = stored(&app, ALICE, job).await;
    assert_eq!(analyses.len(), 1);
    let record = &analyses[0];
    assert_eq!(serde_json::to_value(&record.analysis).unwrap()["overallScore"], 7.5);
    assert_eq!(record.model, "gemini-2.5-flash");
    assert_eq!(record.file_name.as_deref(), Some("jane.pdf"));
    assert_eq!(record.mime_type, "application/pdf");
    assert_eq!(record.size, resume.len() as u64);
    assert_eq!(users::get_usage(app.table.as_ref(), ALICE).await.unwrap().resume_analyses, 1);
    let item = app.table.get(&resumes::key(ALICE, record.id)).await.unwrap().unwrap();
    assert!(!item.values().any(|value| value.as_str().is_some_and(|text| text.contains("Jane Doe"))));

    // Listed under the job (newest first, paged), only for its owner.
    fake.push(streamed(&analysis(4.0).to_string(), "STOP"));
    let body = form(&[file("jane.pdf", "application/pdf", &resume), Field::Text("jobInfoId", &job_id)]);
    assert_eq!(upload(&app, Some(&token), body).await.status, StatusCode::OK);
    let path = format!("/api/job-infos/{job}/resume-analyses");
    let listed = app.call(Method::GET, &path, Some(&token), None, &[]).await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.json()["items"].as_array().unwrap().clone();
    let scores: Vec<f64> =
        items.iter().map(|item| item["analysis"]["overallScore"].as_f64().unwrap()).collect();
    assert_eq!(scores, [4.0, 7.5]);
    assert_eq!(items[1]["analysis"]["ats"]["feedback"][1]["type"], "minor-improvement");
    assert_eq!(items[1]["model"], "gemini-2.5-flash");
    assert_eq!(items[1]["jobInfoId"], job_id);
    let first = app.call(Method::GET, &format!("{path}?limit=1"), Some(&token), None, &[]).await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .call(Method::GET, &format!("{path}?limit=1&cursor={cursor}"), Some(&token), None, &[])
        .await
        .json();
    assert_eq!(second["items"][0]["analysis"]["overallScore"], 7.5);
    let bob = app.token(BOB, PAID);
    app.call(Method::GET, &path, Some(&bob), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
    app.call(Method::GET, &path, None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");

    // Deleted with the job.
    assert_eq!(resume_items(&app, ALICE).await, 2);
    let deleted = app.call(Method::DELETE, &format!("/api/job-infos/{job}"), Some(&token), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(resume_items(&app, ALICE).await, 0);
    app.call(Method::GET, &path, Some(&token), None, &[])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "JOB_INFO_NOT_FOUND");
}

#[tokio::test]
async fn docx_text_is_extracted_and_text_files_go_inline() {
    let (app, fake) = setup(Store::Embedded).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await.to_string();
    fake.always(streamed(&analysis(6.0).to_string(), "STOP"));

    // DOCX: its text, extracted here, as a text part; no file for Gemini to choke on.
    let word = docx(&["Jane Doe", "Senior Rust engineer &amp; AWS"]);
    for declared in [resumes::sniff::DOCX_MIME, resumes::sniff::DOC_MIME] {
        let body = form(&[Field::Text("jobInfoId", &job), file("jane.docx", declared, &word)]);
        let response = upload(&app, Some(&token), body).await;
        assert_eq!(response.status, StatusCode::OK, "{declared}: {}", response.text());
        let part = resume_part(fake.requests().last().unwrap());
        assert!(part.get("inlineData").is_none(), "{part}");
        let text = part["text"].as_str().unwrap();
        assert!(text.contains("Jane Doe\nSenior Rust engineer & AWS\n"), "{text}");
    }

    // Text: inline, as text/plain, byte for byte.
    let body =
        form(&[file("jane.txt", "text/plain", TEXT_RESUME.as_bytes()), Field::Text("jobInfoId", &job)]);
    assert_eq!(upload(&app, Some(&token), body).await.status, StatusCode::OK);
    let inline = resume_part(fake.requests().last().unwrap())["inlineData"].clone();
    assert_eq!(inline["mimeType"], "text/plain");
    assert_eq!(STANDARD.decode(inline["data"].as_str().unwrap()).unwrap(), TEXT_RESUME.as_bytes());

    let mimes: Vec<String> =
        stored(&app, ALICE, job.parse().unwrap()).await.into_iter().map(|record| record.mime_type).collect();
    assert_eq!(mimes, ["text/plain", resumes::sniff::DOCX_MIME, resumes::sniff::DOCX_MIME]);
}

// One scenario on purpose: what it checks is the order of the checks, which split tests would
// not show.
#[tokio::test]
async fn checks_come_in_the_originals_order_and_nothing_reaches_the_model() {
    let (app, fake) = setup(Store::Embedded).await;
    let alice = app.token(ALICE, PAID);
    let alice_free = app.token(ALICE, FREE);
    let bob = app.token(BOB, PAID);
    let job = create_job(&app, &alice).await.to_string();
    let text = TEXT_RESUME.as_bytes();
    let good = || form(&[file("cv.txt", "text/plain", text), Field::Text("jobInfoId", &job)]);

    // 401 first, whatever the body.
    upload(&app, None, good()).await.assert_plain(StatusCode::UNAUTHORIZED, "You are not logged in");

    // 1. Missing fields (even without the plan: the original checks the form first).
    let invalid = "Invalid request";
    for body in [
        form(&[Field::Text("jobInfoId", &job)]),
        form(&[file("cv.txt", "text/plain", text)]),
        form(&[file("cv.txt", "text/plain", text), Field::Text("jobInfoId", "  ")]),
        form(&[]),
    ] {
        upload(&app, Some(&alice_free), body).await.assert_plain(StatusCode::BAD_REQUEST, invalid);
    }
    // Not multipart, a truncated body, a body without its closing boundary, a repeated file.
    let json =
        app.call(Method::POST, resumes::PATH, Some(&alice), Some(json!({"jobInfoId": job})), &[]).await;
    assert_eq!(
        (json.status, String::from_utf8_lossy(&json.body).as_ref()),
        (StatusCode::BAD_REQUEST, invalid)
    );
    let whole = good();
    for cut in [whole.len() / 2, whole.len() - 10, 40] {
        upload(&app, Some(&alice), whole[..cut].to_vec())
            .await
            .assert_plain(StatusCode::BAD_REQUEST, invalid);
    }
    let twice = form(&[
        file("a.txt", "text/plain", text),
        file("b.txt", "text/plain", text),
        Field::Text("jobInfoId", &job),
    ]);
    upload(&app, Some(&alice), twice).await.assert_plain(StatusCode::BAD_REQUEST, invalid);

    // 2. Too large: by Content-Length before reading anything, by the file while streaming, and by
    // the whole body when no length is declared.
    let too_large = resumes::TOO_LARGE;
    let mut claimed = upload_request(Some(&alice), good()).body(Body::from(good())).unwrap();
    claimed.headers_mut().insert("content-length", (MAX_BODY + 1).into());
    send(&app, claimed).await.assert_plain(StatusCode::PAYLOAD_TOO_LARGE, too_large);
    let big = vec![b'a'; MAX_FILE + 1];
    let body = form(&[file("cv.txt", "text/plain", &big), Field::Text("jobInfoId", &job)]);
    assert!(body.len() < MAX_BODY, "under the body cap: the file cap answers");
    upload(&app, Some(&alice), body).await.assert_plain(StatusCode::PAYLOAD_TOO_LARGE, too_large);
    let padding = vec![b'p'; MAX_BODY];
    let body = form(&[
        Field::Text("padding", std::str::from_utf8(&padding).unwrap()),
        Field::Text("jobInfoId", &job),
    ]);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed_body = Request::post(resumes::PATH)
        .header("content-type", content_type())
        .header("authorization", format!("Bearer {alice}"))
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    send(&app, streamed_body).await.assert_plain(StatusCode::PAYLOAD_TOO_LARGE, too_large);
    // Exactly at the file cap is fine as far as size goes (it is text, so it reaches the model).
    let at_cap = vec![b'a'; MAX_FILE];
    fake.push(Reply::stream(&["{}"], "STOP"));
    let body = form(&[file("cv.txt", "text/plain", &at_cap), Field::Text("jobInfoId", &job)]);
    assert_eq!(upload(&app, Some(&alice), body).await.status, StatusCode::OK);
    assert_eq!(fake.requests().len(), 1);

    // 3. Type: declared outside the original's list, unrecognised content, a lie, a legacy .doc,
    // an empty file.
    let unsupported = resumes::UNSUPPORTED_TYPE;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    for (declared, bytes) in [
        (Some("image/png"), png.clone()),
        (Some("application/octet-stream"), text.to_vec()),
        (None, text.to_vec()),
        (Some("application/pdf"), png.clone()),
        (Some("text/plain"), b"nul\0inside".to_vec()),
    ] {
        let body = form(&[
            Field::File { name: "resumeFile", file_name: "cv", content_type: declared, bytes: &bytes },
            Field::Text("jobInfoId", &job),
        ]);
        upload(&app, Some(&alice), body).await.assert_plain(StatusCode::BAD_REQUEST, unsupported);
    }
    let renamed = form(&[file("cv.pdf", "application/pdf", text), Field::Text("jobInfoId", &job)]);
    upload(&app, Some(&alice), renamed).await.assert_plain(
        StatusCode::BAD_REQUEST,
        "The file's content does not match its type: it was sent as a PDF but is a text file",
    );
    let real_pdf = pdf("Jane");
    let renamed = form(&[file("cv.txt", "text/plain", &real_pdf), Field::Text("jobInfoId", &job)]);
    upload(&app, Some(&alice), renamed).await.assert_plain(
        StatusCode::BAD_REQUEST,
        "The file's content does not match its type: it was sent as a text file but is a PDF",
    );
    let word = docx(&["Jane"]);
    let renamed = form(&[file("cv.pdf", "application/pdf", &word), Field::Text("jobInfoId", &job)]);
    assert_eq!(upload(&app, Some(&alice), renamed).await.status, StatusCode::BAD_REQUEST);
    let doc = legacy_doc();
    let legacy = form(&[file("cv.doc", resumes::sniff::DOC_MIME, &doc), Field::Text("jobInfoId", &job)]);
    upload(&app, Some(&alice), legacy)
        .await
        .assert_plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, resumes::LEGACY_DOC);
    let empty = form(&[file("cv.txt", "text/plain", b""), Field::Text("jobInfoId", &job)]);
    upload(&app, Some(&alice), empty).await.assert_plain(StatusCode::BAD_REQUEST, resumes::EMPTY_FILE);
    // A Word document without text, or a broken one, is told as such.
    let blank = docx(&[]);
    let body = form(&[file("cv.docx", resumes::sniff::DOCX_MIME, &blank), Field::Text("jobInfoId", &job)]);
    upload(&app, Some(&alice), body)
        .await
        .assert_plain(StatusCode::BAD_REQUEST, "This Word document contains no text");

    // 4. Ownership before 5. the plan: another user's job, an unknown id, junk.
    let not_yours = "You do not have permission to do this";
    for (token, job_id) in [
        (&bob, job.clone()),
        (&bob, Uuid::now_v7().to_string()),
        (&alice_free, "not-a-uuid".to_owned()),
        (&alice_free, Uuid::now_v7().to_string()),
    ] {
        let body = form(&[file("cv.txt", "text/plain", text), Field::Text("jobInfoId", &job_id)]);
        upload(&app, Some(token), body).await.assert_plain(StatusCode::FORBIDDEN, not_yours);
    }
    upload(&app, Some(&alice_free), good()).await.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");

    // Only the one at-cap request reached the model, and it stored nothing (its reply was `{}`).
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(resume_items(&app, ALICE).await, 0);
    assert_eq!(users::get_usage(app.table.as_ref(), ALICE).await.unwrap().resume_analyses, 0);
}

on_both_stores!(without_a_key_the_offline_engine_analyses_after_the_same_checks);

/// With no provider configured the offline engine analyses the resume, after the same checks,
/// and its analysis is validated and stored as a hosted model's is.
async fn without_a_key_the_offline_engine_analyses_after_the_same_checks(store: Store) {
    let app = TestApp::new(store).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    let job_id = job.to_string();
    let missing = form(&[Field::Text("jobInfoId", &job_id)]);
    upload(&app, Some(&token), missing).await.assert_plain(StatusCode::BAD_REQUEST, "Invalid request");
    let text =
        form(&[file("cv.txt", "text/plain", TEXT_RESUME.as_bytes()), Field::Text("jobInfoId", &job_id)]);
    let free = app.token(ALICE, FREE);
    upload(&app, Some(&free), text.clone()).await.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");

    let response = upload(&app, Some(&token), text).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let analysis: Value = serde_json::from_str(&response.text()).unwrap();
    let analyses = stored(&app, ALICE, job).await;
    assert_eq!(analyses.len(), 1);
    assert_eq!(analyses[0].model, "darasa-offline-1");
    assert_eq!(serde_json::to_value(&analyses[0].analysis).unwrap(), analysis, "stored as streamed");

    // A scanned PDF gives the engine no text to read: 400, nothing stored.
    let scanned = std::fs::read(repo("tests/fixtures/documents/scanned.pdf")).unwrap();
    let body = form(&[file("scan.pdf", "application/pdf", &scanned), Field::Text("jobInfoId", &job_id)]);
    let response = upload(&app, Some(&token), body).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.text());
    assert!(response.text().contains("no text to read"), "{}", response.text());
    assert_eq!(stored(&app, ALICE, job).await.len(), 1);
}

#[tokio::test]
async fn invalid_or_cut_replies_are_streamed_but_not_stored() {
    let (app, fake) = setup(Store::Embedded).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    let job_id = job.to_string();
    let body =
        || form(&[file("cv.txt", "text/plain", TEXT_RESUME.as_bytes()), Field::Text("jobInfoId", &job_id)]);

    // Complete replies that are not a valid analysis: the client gets the text (it validates with
    // the same schema), nothing is stored.
    let mut unknown_type = analysis(7.0);
    unknown_type["ats"]["feedback"][0]["type"] = json!("neutral");
    let mut missing = analysis(7.0);
    missing.as_object_mut().unwrap().remove("other");
    let mut low = analysis(7.0);
    low["jobMatch"]["score"] = json!(-2);
    for reply in [
        "this is not JSON at all".to_owned(),
        analysis(12.0).to_string(),
        low.to_string(),
        unknown_type.to_string(),
        missing.to_string(),
    ] {
        fake.push(streamed(&reply, "STOP"));
        let response = upload(&app, Some(&token), body()).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.complete);
        assert_eq!(response.text(), reply);
    }
    assert!(stored(&app, ALICE, job).await.is_empty());

    // A stream cut mid-reply, or ending without a finish reason: the body ends in an error after
    // what was sent, and nothing is stored.
    let text = analysis(7.0).to_string();
    let (head, tail) = text.split_at(text.len() / 2);
    let events = stream_events(&[head, tail], "STOP");
    fake.push(Reply::sse(&events[..1]).then(Piece::Cut));
    let cut = upload(&app, Some(&token), body()).await;
    assert_eq!(cut.status, StatusCode::OK);
    assert!(!cut.complete, "a cut reply must not look complete");
    assert!(head.starts_with(&cut.text()), "only what the model sent: {}", cut.text());
    fake.push(Reply::sse(&stream_events(&[head, tail], "STOP")[..1]));
    let unfinished = upload(&app, Some(&token), body()).await;
    assert!(!unfinished.complete);
    // A reply the model stopped for safety, and an error before streaming.
    fake.push(Reply::stream(&[head], "SAFETY"));
    assert!(!upload(&app, Some(&token), body()).await.complete);
    // A failure before any text is still a plain-text error status, without the provider's words.
    fake.push(Reply::error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."));
    upload(&app, Some(&token), body())
        .await
        .assert_plain(StatusCode::BAD_GATEWAY, "The AI model could not handle this request");
    fake.push(Reply::unavailable());
    fake.push(Reply::unavailable());
    fake.push(Reply::unavailable());
    let busy = upload(&app, Some(&token), body()).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{}", busy.text());
    assert!(!busy.text().contains("overloaded"), "{}", busy.text());
    assert!(stored(&app, ALICE, job).await.is_empty());
    assert_eq!(users::get_usage(app.table.as_ref(), ALICE).await.unwrap().resume_analyses, 0);

    // And a valid one after all that is stored.
    fake.push(streamed(&text, "STOP"));
    assert!(upload(&app, Some(&token), body()).await.complete);
    assert_eq!(stored(&app, ALICE, job).await.len(), 1);
}

#[tokio::test]
async fn the_analysis_reaches_the_client_while_the_model_is_still_writing() {
    let (app, fake) = setup(Store::Embedded).await;
    let token = app.token(ALICE, PAID);
    let job = create_job(&app, &token).await;
    let text = serde_json::to_string_pretty(&analysis(8.0)).unwrap();
    let split = text.find('\n').unwrap() + 1;
    let (head, tail) = text.split_at(split);
    let gate = Gate::new();
    fake.push(Reply::stream(&[head, tail], "STOP").insert(1, Piece::Wait(gate.clone())));

    let job_id = job.to_string();
    let body =
        form(&[file("cv.txt", "text/plain", TEXT_RESUME.as_bytes()), Field::Text("jobInfoId", &job_id)]);
    let request = upload_request(Some(&token), body.clone()).body(Body::from(body)).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("the first piece arrives before the model finished")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(first, head.as_bytes());
    assert!(!gate.is_open());
    assert!(stored(&app, ALICE, job).await.is_empty(), "nothing stored before the reply is complete");
    gate.open();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!([&first[..], &rest[..]].concat(), text.as_bytes());
    assert_eq!(stored(&app, ALICE, job).await.len(), 1, "stored before the body ended");
}

/// `infra/events/analyze-resume.json` (a base64 multipart body, as a function URL delivers it)
/// through the Lambda adapter, with a paid user's token and the fake Gemini: the file the model
/// gets is the one in the event, and the reply comes back whole.
#[tokio::test]
async fn the_committed_event_runs_through_the_lambda_adapter_with_a_model() {
    let path = darasa_tests::events::repo("infra/events/analyze-resume.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event["isBase64Encoded"], true);
    let raw = STANDARD.decode(event["body"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let job_id = "0190b6b0-4a5e-7c3a-9f00-00000000e001";
    assert!(text.contains("name=\"resumeFile\"") && text.contains(job_id), "{text}");
    let file_start =
        text.find("Content-Type: text/plain\r\n\r\n").unwrap() + "Content-Type: text/plain\r\n\r\n".len();
    let file_end = file_start + text[file_start..].find("\r\n--").unwrap();
    let resume_text = &text[file_start..file_end];

    let (app, fake) = setup(Store::Embedded).await;
    let at = time::OffsetDateTime::now_utc();
    let job = darasa::job_infos::JobInfo {
        id: job_id.parse().unwrap(),
        user_id: "user_events".into(),
        name: "Event job".into(),
        title: None,
        experience_level: darasa::job_infos::ExperienceLevel::Senior,
        description: DESCRIPTION.into(),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    darasa::job_infos::insert(app.table.as_ref(), &job).await.unwrap();
    let token = app.token("user_events", PAID);
    event["headers"]["authorization"] = Value::String(format!("Bearer {token}"));
    let reply = analysis(6.0).to_string();
    fake.push(streamed(&reply, "STOP"));

    let response = darasa::local::invoke_lambda_event(app.router.clone(), &event.to_string()).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response:#}");
    assert_eq!(response["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response["body"], reply);
    let inline = resume_part(&fake.requests()[0])["inlineData"].clone();
    assert_eq!(inline["mimeType"], "text/plain");
    assert_eq!(STANDARD.decode(inline["data"].as_str().unwrap()).unwrap(), resume_text.as_bytes());
    assert_eq!(stored(&app, "user_events", job.id).await[0].file_name.as_deref(), Some("amina-resume.txt"));
}
