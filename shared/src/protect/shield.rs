//! Shield: blocks requests whose path, query string or header values carry an attack pattern
//! (SQL injection, XSS, path traversal, command injection, JNDI lookups, remote file inclusion)
//! or probe for files a scanner hopes to find. It replaces Arcjet's shield with rules of our own
//! (`shield/rules.rs`), covering the attack classes of the OWASP Core Rule Set.
//!
//! Bodies are never read: ours are job descriptions and interview answers, full of honest SQL,
//! HTML and shell. Everything else is decoded first (`shield/decode.rs`), so an encoding layer
//! does not hide an attack, then matched against one compiled set of rules per location.

use std::fmt;

use http::header::COOKIE;
use http::{HeaderMap, Uri};
use regex::bytes::{RegexSet, RegexSetBuilder};

mod decode;
mod rules;

use decode::normalize;
use rules::{RULES, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttackClass {
    SqlInjection,
    CrossSiteScripting,
    PathTraversal,
    CommandInjection,
    Jndi,
    RemoteFileInclusion,
    ScannerProbe,
}

impl AttackClass {
    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackClass::SqlInjection => "sql_injection",
            AttackClass::CrossSiteScripting => "cross_site_scripting",
            AttackClass::PathTraversal => "path_traversal",
            AttackClass::CommandInjection => "command_injection",
            AttackClass::Jndi => "jndi",
            AttackClass::RemoteFileInclusion => "remote_file_inclusion",
            AttackClass::ScannerProbe => "scanner_probe",
        }
    }
}

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
    /// which rules matched and whether they apply where the value was found.
    rules: Option<RegexSet>,
}

impl Default for Shield {
    fn default() -> Self {
        Self::new()
    }
}

impl Shield {
    pub fn new() -> Shield {
        // Inputs are lower-cased ASCII by `normalize`, so neither case folding nor Unicode classes
        // are needed, and leaving both out keeps the automaton small. The rules are constant and
        // a test compiles them; a set that failed anyway would only make the shield inert.
        let rules = RegexSetBuilder::new(RULES.iter().map(|rule| rule.pattern)).unicode(false).build().ok();
        Shield { rules }
    }

    /// The first rule, in table order, that applies at `scope` and matches.
    fn first_match(&self, scope: Scope, text: &[u8]) -> Option<&'static rules::Rule> {
        let set = self.rules.as_ref()?;
        if !set.is_match(text) {
            return None;
        }
        set.matches(text).iter().filter_map(|index| RULES.get(index)).find(|rule| rule.scope.contains(scope))
    }

    pub fn inspect(&self, parts: &http::request::Parts) -> Option<ShieldHit> {
        self.inspect_head(&parts.uri, &parts.headers)
    }

    /// For callers holding a whole `Request`: `shield.inspect_head(req.uri(), req.headers())`.
    pub fn inspect_head(&self, uri: &Uri, headers: &HeaderMap) -> Option<ShieldHit> {
        self.inspect_path(uri.path())
            .or_else(|| uri.query().and_then(|query| self.inspect_query(query)))
            .or_else(|| self.inspect_headers(headers))
    }

    fn inspect_path(&self, path: &str) -> Option<ShieldHit> {
        let text = normalize(path.as_bytes(), false);
        if let Some(rule) = self.first_match(Scope::PATH, &text) {
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
    fn inspect_query(&self, query: &str) -> Option<ShieldHit> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .find_map(|pair| self.first_match(Scope::QUERY, &normalize(pair.as_bytes(), true)))
            .map(|rule| hit(rule, Location::Query))
    }

    /// Cookies one at a time: `;` separates them, and must not read as a SQL or shell separator.
    fn inspect_headers(&self, headers: &HeaderMap) -> Option<ShieldHit> {
        headers.iter().find_map(|(name, value)| {
            let value = value.as_bytes();
            let rule = if name == COOKIE {
                value
                    .split(|&byte| byte == b';')
                    .map(<[u8]>::trim_ascii)
                    .filter(|cookie| !cookie.is_empty() && !is_token_cookie(cookie))
                    .find_map(|cookie| self.first_match(Scope::HEADER, &normalize(cookie, false)))
            } else if is_signed_token(value) {
                None
            } else {
                self.first_match(Scope::HEADER, &normalize(value, false))
            };
            rule.map(|rule| hit(rule, Location::Header(name.as_str().to_owned())))
        })
    }
}

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
