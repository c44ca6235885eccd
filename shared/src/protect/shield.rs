//! Shield: blocks requests whose path, query string or header values carry an attack pattern
//! (SQL injection, XSS, path traversal, command injection, JNDI lookups, remote file inclusion)
//! or probe for files a scanner hopes to find. It replaces Arcjet's shield with rules of our own
//! (`shield/rules.rs`), covering the attack classes of the OWASP Core Rule Set.
//!
//! Bodies are never read: ours are job descriptions and interview answers, full of honest SQL,
//! HTML and shell. Everything else is decoded first (`shield/decode.rs`), so an encoding layer
//! does not hide an attack, then matched against one compiled set of rules per location.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use http::header::COOKIE;
use http::{HeaderMap, Uri};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Input, MatchKind, PatternSet};

mod decode;
mod prebuilt;
mod rules;

use decode::normalize;
pub use rules::AttackClass;
use rules::{RULES, Scope};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    Path,
    Query,
    /// The header's name, lower-case as `http` keeps it.
    Header(String),
}

/// `path`, `query`, `header:user-agent`: for logs.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Path => f.write_str("path"),
            Location::Query => f.write_str("query"),
            Location::Header(name) => write!(f, "header:{name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShieldHit {
    pub class: AttackClass,
    pub location: Location,
    /// The rule's stable id, e.g. `sqli-union-select`.
    pub rule: &'static str,
}

/// The rules' NFA, written by `shared/build.rs` with `prebuilt::encode`.
const PREBUILT_RULES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shield-rules.nfa"));

/// A path segment starting with a dot: `/.vscode/`, `/.idea/`, `/.travis.yml`. Scanners try
/// hundreds; the only one this API serves is `/.well-known/`. The named dotfile rules report the
/// common ones more precisely; this catches the rest.
const HIDDEN_PATH_RULE: &str = "probe-hidden-path";
const ALLOWED_DOT_SEGMENT: &[u8] = b".well-known";

/// Compiled rules. Build one per process and share it (it is `Send + Sync`).
pub struct Shield {
    /// Every rule in one set, whatever its scope: compiling each location's rules separately
    /// would compile the shared ones three times, and construction is the expensive part. A
    /// clean value costs one pass; only a value that matches something pays for sorting out
    /// which rules matched and whether they apply where the value was found. Only "which rules
    /// match" is ever asked, never where, so the set is one forward lazy DFA: no reverse automaton
    /// and no other engine is built (a third less work at every cold start than `meta::Regex`).
    rules: Option<DFA>,
    /// The set's search state (mostly the lazy DFA's states, built as the inputs need them),
    /// kept between requests. `warm` leaves one that has seen a browser's request, so a cold
    /// start's first request does not build those states itself. An inspection never waits, so
    /// there are never more than the threads that inspect at once. (regex-automata's own `Pool`
    /// gives its first user's cache to that thread alone: the priming thread's, here.)
    caches: Mutex<Vec<Cache>>,
}

impl Default for Shield {
    fn default() -> Self {
        Self::new()
    }
}

impl Shield {
    pub fn new() -> Shield {
        // The rules' NFA as the build compiled it (`prebuilt`); compiled here only if that could
        // not be read back, which a test rules out. The rules are constant and a test compiles
        // them; a set that failed anyway would only make the shield inert. Every pattern's matches
        // are reported (`MatchKind::All`), and the cache is cleared as often as an input needs
        // rather than giving up, so a search never fails (each builds at most one state per byte,
        // and an input is a path, a query pair or a header: a few KB at most).
        let rules = prebuilt::decode(PREBUILT_RULES)
            .or_else(|| prebuilt::compile(&RULES.iter().map(|rule| rule.pattern).collect::<Vec<_>>()))
            .and_then(|nfa| {
                DFA::builder()
                    .configure(DFA::config().match_kind(MatchKind::All).minimum_cache_clear_count(None))
                    .build_from_nfa(nfa)
                    .ok()
            });
        Shield { rules, caches: Mutex::default() }
    }

    /// Inspects a request a browser could send, leaving the search state it built for the next
    /// request: during a cold start's init, so the first request finds it ready.
    pub fn warm(&self) {
        let mut headers = HeaderMap::new();
        for (name, value) in WARM_HEADERS {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        let uri = Uri::from_static("/api/job-infos/00000000-0000-4000-8000-000000000000?limit=20&cursor=abc");
        let _ = self.inspect_head(&uri, &headers);
    }

    /// A search state of the set: one kept from an earlier request, else a new one.
    fn cache(&self) -> Option<Cache> {
        let rules = self.rules.as_ref()?;
        let kept = self.caches.lock().unwrap_or_else(PoisonError::into_inner).pop();
        Some(kept.unwrap_or_else(|| rules.create_cache()))
    }

    fn keep(&self, cache: Option<Cache>) {
        if let Some(cache) = cache {
            self.caches.lock().unwrap_or_else(PoisonError::into_inner).push(cache);
        }
    }

    /// The first rule, in table order, that applies at `scope` and matches.
    fn first_match(
        &self,
        cache: &mut Option<Cache>,
        scope: Scope,
        text: &[u8],
    ) -> Option<&'static rules::Rule> {
        let (set, cache) = (self.rules.as_ref()?, cache.as_mut()?);
        // A clean value stops at its first byte past any possible match; only a match pays for
        // the overlapping search that names every rule it hit.
        let input = Input::new(text).earliest(true);
        if !matches!(set.try_search_fwd(cache, &input), Ok(Some(_))) {
            return None;
        }
        let mut matched = PatternSet::new(set.pattern_len());
        set.try_which_overlapping_matches(cache, &Input::new(text), &mut matched).ok()?;
        matched.iter().filter_map(|id| RULES.get(id.as_usize())).find(|rule| rule.scope.contains(scope))
    }

    pub fn inspect(&self, parts: &http::request::Parts) -> Option<ShieldHit> {
        self.inspect_head(&parts.uri, &parts.headers)
    }

    /// For callers holding a whole `Request`: `shield.inspect_head(req.uri(), req.headers())`.
    pub fn inspect_head(&self, uri: &Uri, headers: &HeaderMap) -> Option<ShieldHit> {
        let mut cache = self.cache();
        let hit = self
            .inspect_path(&mut cache, uri.path())
            .or_else(|| uri.query().and_then(|query| self.inspect_query(&mut cache, query)))
            .or_else(|| self.inspect_headers(&mut cache, headers));
        self.keep(cache);
        hit
    }

    fn inspect_path(&self, cache: &mut Option<Cache>, path: &str) -> Option<ShieldHit> {
        let text = normalize(path.as_bytes(), false);
        if let Some(rule) = self.first_match(cache, Scope::PATH, &text) {
            return Some(hit(rule, Location::Path));
        }
        let hidden = text.split(|&byte| byte == b'/' || byte == b'\\').any(|segment| {
            segment.len() > 1 && segment.first() == Some(&b'.') && segment != ALLOWED_DOT_SEGMENT
        });
        hidden.then_some(ShieldHit {
            class: AttackClass::ScannerProbe,
            location: Location::Path,
            rule: HIDDEN_PATH_RULE,
        })
    }

    /// Pairs one at a time: an `&` the rules see was sent encoded, and a value's start is the
    /// start of the text (`?cmd=...`, `?file=http://...`).
    fn inspect_query(&self, cache: &mut Option<Cache>, query: &str) -> Option<ShieldHit> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .find_map(|pair| self.first_match(cache, Scope::QUERY, &normalize(pair.as_bytes(), true)))
            .map(|rule| hit(rule, Location::Query))
    }

    /// Cookies one at a time: `;` separates them, and must not read as a SQL or shell separator.
    fn inspect_headers(&self, cache: &mut Option<Cache>, headers: &HeaderMap) -> Option<ShieldHit> {
        headers.iter().find_map(|(name, value)| {
            let value = value.as_bytes();
            let rule = if name == COOKIE {
                value
                    .split(|&byte| byte == b';')
                    .map(<[u8]>::trim_ascii)
                    .filter(|cookie| !cookie.is_empty() && !is_token_cookie(cookie))
                    .find_map(|cookie| self.first_match(cache, Scope::HEADER, &normalize(cookie, false)))
            } else if is_signed_token(value) {
                None
            } else {
                self.first_match(cache, Scope::HEADER, &normalize(value, false))
            };
            rule.map(|rule| hit(rule, Location::Header(name.as_str().to_owned())))
        })
    }
}

/// What `Shield::warm` sends: the headers a browser's API call carries (the token is skipped by
/// `is_signed_token` either way), so their bytes' states are built before the first request.
const WARM_HEADERS: &[(&str, &str)] = &[
    ("host", "abcdef1234.execute-api.us-east-1.amazonaws.com"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("origin", "https://app.darasa.example"),
    ("referer", "https://app.darasa.example/app/job-infos"),
    ("content-type", "application/json"),
    ("x-forwarded-for", "203.0.113.7"),
    ("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678"),
];

/// A JSON Web Token, bare or after `Bearer `: three base64url segments. Its alphabet has no
/// quote, space, slash, bracket or `$`, so it cannot carry any rule's structure, only, by
/// chance, a bare keyword; we verify its signature anyway; and Clerk's session token, sent as
/// both the Authorization header and the `__session` cookie, is half the bytes of a typical
/// request.
fn is_signed_token(value: &[u8]) -> bool {
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &value[7..],
        _ => value,
    };
    // A plain loop: this runs on every header value, and at `opt-level = "z"` the same check
    // written with iterator adapters cost more than lower-casing and matching the bytes.
    let (mut dots, mut segment_len) = (0, 0);
    for &byte in token {
        if byte == b'.' && segment_len > 0 {
            dots += 1;
            segment_len = 0;
        } else if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            segment_len += 1;
        } else {
            return false;
        }
    }
    dots == 2 && segment_len > 0
}

/// `name=<JSON Web Token>`, with a plain name.
fn is_token_cookie(cookie: &[u8]) -> bool {
    let Some(equals) = cookie.iter().position(|&byte| byte == b'=') else {
        return false;
    };
    let (name, value) = (&cookie[..equals], &cookie[equals + 1..]);
    name.iter().all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
        && is_signed_token(value)
}

fn hit(rule: &'static rules::Rule, location: Location) -> ShieldHit {
    ShieldHit { class: rule.class, location, rule: rule.name }
}

#[cfg(test)]
mod tests;
