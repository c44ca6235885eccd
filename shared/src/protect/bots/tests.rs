use std::sync::LazyLock;

use super::*;

static RULES: LazyLock<BotRules> = LazyLock::new(BotRules::new);

fn category_of(user_agent: &str) -> Option<BotCategory> {
    RULES.classify(Some(user_agent)).category()
}

const SEARCH_ENGINES: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
];

const MONITORS: &[&str] = &[
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) PingdomTMS/22.04 Safari/534.34",
    "Amazon-Route53-Health-Check-Service (ref 4b2b6c6c-0f64-4a5e-8f4b-6c5b0d1e2f3a; report http://amzn.to/1vsZADi)",
    "Datadog/Synthetics",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 \
     DatadogSynthetics",
    "ELB-HealthChecker/2.0",
];

const PREVIEWS: &[&str] = &[
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
];

const AI: &[&str] = &[
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; \
     +https://perplexity.ai/perplexitybot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot",
];

const AUTOMATED: &[&str] = &[
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "Python/3.12 aiohttp/3.9.5",
    "python-httpx/0.27.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "okhttp/4.12.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Java/17.0.9",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "node-fetch",
    "axios/1.6.7",
    "undici",
    "node",
    "libwww-perl/6.72",
    "HTTPie/3.2.2",
    "PostmanRuntime/7.36.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.29 \
     Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 \
     Safari/537.36 Selenium",
    "Grafana k6/0.50.0",
    "sqlmap/1.8#stable (https://sqlmap.org)",
];

const BROWSERS: &[&str] = &[
    // Chrome on Windows, macOS, Linux
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 \
     Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    // Firefox
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    // Safari
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 \
     Safari/605.1.15",
    // Edge
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 \
     Safari/537.36 Edg/124.0.2478.80",
    // Opera
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 \
     Safari/537.36 OPR/110.0.0.0",
    // iOS Safari, iPad Safari, Chrome on iOS, Firefox on iOS
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_7_8 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 \
     Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     FxiOS/126.0 Mobile/15E148 Safari/605.1.15",
    // Android Chrome, Samsung Internet, Firefox for Android
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile \
     Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) \
     SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:126.0) Gecko/126.0 Firefox/126.0",
    // In-app browsers keep the platform's UA and add their own token.
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.109;FBBV/587044311;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;\
     FBSV/17.4;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile \
     Safari/537.36 Instagram 330.0.0.40.92 Android",
];

fn assert_all(user_agents: &[&str], expected: BotCategory) {
    for user_agent in user_agents {
        assert_eq!(category_of(user_agent), Some(expected), "{user_agent}");
    }
}

#[test]
fn search_engines_are_search_engines() {
    assert_all(SEARCH_ENGINES, BotCategory::SearchEngine);
}

#[test]
fn uptime_and_health_checkers_are_monitors() {
    assert_all(MONITORS, BotCategory::Monitor);
}

#[test]
fn link_unfurlers_are_previews() {
    assert_all(PREVIEWS, BotCategory::Preview);
}

#[test]
fn ai_crawlers_are_ai_even_when_also_tagged_search() {
    assert_all(AI, BotCategory::Ai);
}

#[test]
fn libraries_tools_and_headless_browsers_are_automated() {
    assert_all(AUTOMATED, BotCategory::Automated);
}

#[test]
fn only_search_engines_monitors_and_previews_are_allowed() {
    for user_agent in SEARCH_ENGINES.iter().chain(MONITORS).chain(PREVIEWS) {
        assert!(category_of(user_agent).is_some_and(BotCategory::allowed), "{user_agent}");
    }
    for user_agent in AI.iter().chain(AUTOMATED) {
        assert!(category_of(user_agent).is_some_and(|category| !category.allowed()), "{user_agent}");
    }
}

#[test]
fn browsers_are_not_bots() {
    for user_agent in BROWSERS {
        assert_eq!(RULES.classify(Some(user_agent)), BotVerdict::NotBot, "{user_agent}");
    }
}

#[test]
fn clerks_webhook_sender_is_not_a_bot() {
    assert_eq!(RULES.classify(Some("Svix-Webhooks/1.77.0")), BotVerdict::NotBot);
}

#[test]
fn absent_or_blank_user_agent_is_missing() {
    assert_eq!(RULES.classify(None), BotVerdict::Missing);
    assert_eq!(RULES.classify(Some("")), BotVerdict::Missing);
    assert_eq!(RULES.classify(Some("   ")), BotVerdict::Missing);
    assert_eq!(RULES.classify_header(&http::HeaderMap::new()), BotVerdict::Missing);
}

#[test]
fn the_header_is_read_even_when_not_utf8() {
    let mut headers = http::HeaderMap::new();
    let value = http::HeaderValue::from_bytes(b"curl/8.5.0 \xff").unwrap();
    headers.insert(http::header::USER_AGENT, value);
    assert_eq!(RULES.classify_header(&headers).category(), Some(BotCategory::Automated));
}

#[test]
fn the_verdict_names_the_signature_without_regex_escapes() {
    let verdict =
        RULES.classify(Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"));
    assert_eq!(verdict, BotVerdict::Bot { name: "Googlebot/".into(), category: BotCategory::SearchEngine });
}

#[test]
fn the_most_specific_signature_wins() {
    // LinkedIn's unfurler names Apache-HttpClient too, but not at the start, where that
    // library's own signature is pinned.
    assert_eq!(category_of(PREVIEWS[4]), Some(BotCategory::Preview));
    // Google's ads crawler also contains `Googlebot`-like text; the longer pattern decides.
    assert_eq!(category_of("AdsBot-Google (+http://www.google.com/adsbot.html)"), Some(BotCategory::Other));
}

#[test]
fn plain_text_patterns_become_literals_and_the_rest_gated_regexes() {
    use patterns::{Pin, Plan, plan};
    assert_eq!(plan(r"Googlebot\/"), Plan::Literal("Googlebot/".into(), Pin::Anywhere));
    assert_eq!(plan("^curl"), Plan::Literal("curl".into(), Pin::Start));
    assert_eq!(plan("SSL Labs$"), Plan::Literal("SSL Labs".into(), Pin::End));
    assert_eq!(plan("^node$"), Plan::Literal("node".into(), Pin::Whole));
    assert_eq!(plan(" DVbot"), Plan::Literal(" DVbot".into(), Pin::Anywhere));
    assert_eq!(plan("[wW]get"), Plan::Regex { gate: Some("get".into()) });
    assert_eq!(
        plan(r"BlogTraffic\/\d\.\d+ Feed-Fetcher"),
        Plan::Regex { gate: Some(" Feed-Fetcher".into()) }
    );
    assert_eq!(plan("AdsBot-Google([^-]|$)"), Plan::Regex { gate: Some("AdsBot-Google".into()) });
    assert_eq!(plan(r"^(Grafana )?k6\/"), Plan::Regex { gate: Some("k6/".into()) });
    assert_eq!(plan("colou?r"), Plan::Regex { gate: Some("colo".into()) });
    assert_eq!(plan("Pingdom.com"), Plan::Regex { gate: Some("Pingdom".into()) });
    assert_eq!(plan("(?i)curl"), Plan::Regex { gate: None });
    assert_eq!(patterns::branches("Chirp|gotosocial"), ["Chirp", "gotosocial"]);
    assert_eq!(patterns::branches("(a|b)c|[|]d"), ["(a|b)c", "[|]d"]);
}

#[test]
fn a_regex_is_compiled_only_when_its_gate_text_appears() {
    let rules = BotRules::compile([("[wW]get", Classification::Bot(BotCategory::Automated))].into_iter());
    assert_eq!(rules.classify(Some(BROWSERS[0])), BotVerdict::NotBot);
    assert!(rules.gated.iter().all(|regex| regex.compiled.get().is_none()));
    assert_eq!(rules.classify(Some("wget/1.0")).category(), Some(BotCategory::Automated));
    assert!(rules.gated.iter().all(|regex| regex.compiled.get().is_some()));
}

#[test]
fn browsers_never_reach_a_regex() {
    let rules = BotRules::new();
    for user_agent in BROWSERS {
        rules.classify(Some(user_agent));
    }
    let compiled: Vec<&str> =
        rules.gated.iter().filter(|regex| regex.compiled.get().is_some()).map(|regex| regex.source).collect();
    assert!(compiled.is_empty(), "browsers compiled {compiled:?}");
}

#[derive(serde::Deserialize)]
struct UpstreamEntry {
    pattern: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    instances: Vec<String>,
}

fn upstream() -> Vec<UpstreamEntry> {
    serde_json::from_str(include_str!("../data/crawler-user-agents.json")).unwrap()
}

#[test]
fn the_derived_list_matches_the_upstream_json() {
    let expected: Vec<String> =
        upstream().iter().map(|entry| format!("{}\t{}", entry.tags.join(","), entry.pattern)).collect();
    let derived: Vec<String> = tsv_lines(LIST).map(|(tags, pattern)| format!("{tags}\t{pattern}")).collect();
    assert!(expected.len() > 1_000, "the list shrank to {}", expected.len());
    assert!(derived == expected, "crawler-user-agents.tsv is stale: run infra/scripts/refresh-bot-list.sh");
}

#[test]
fn the_shipped_data_compiles_whole() {
    let list = tsv_lines(LIST).count();
    let ours = tsv_lines(OUR_PATTERNS).count();
    assert_eq!(RULES.signature_count(), list + ours);
    for (category, pattern) in tsv_lines(OUR_PATTERNS).chain(tsv_lines(OUR_CATEGORIES)) {
        assert!(BotCategory::parse(category).is_some(), "unknown category {category:?} for {pattern}");
    }
    for regex in &RULES.gated {
        assert!(compile(regex.source).is_some(), "{} does not compile", regex.source);
    }
    assert!(RULES.ungated.is_empty(), "ungated regexes run on every request; give them a gate");
}

#[test]
fn every_category_override_names_a_pattern_the_list_has() {
    for (_, pattern) in tsv_lines(OUR_CATEGORIES) {
        assert!(tsv_lines(LIST).any(|(_, listed)| listed == pattern), "{pattern} is no longer in the list");
    }
}

#[test]
fn every_example_the_list_gives_is_recognised() {
    let not_bots: Vec<&str> = tsv_lines(OUR_CATEGORIES)
        .filter(|(category, _)| *category == "not_bot")
        .map(|(_, pattern)| pattern)
        .collect();
    let mut missed = Vec::new();
    for entry in upstream().iter().filter(|entry| !not_bots.contains(&entry.pattern.as_str())) {
        for instance in &entry.instances {
            if RULES.classify(Some(instance)).category().is_none() {
                missed.push(format!("{} <- {instance}", entry.pattern));
            }
        }
    }
    assert!(missed.is_empty(), "{} examples not recognised:\n{}", missed.len(), missed.join("\n"));
}
