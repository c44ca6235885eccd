//! Bot rules: which kind of client a User-Agent says it is. The signatures are the public
//! crawler-user-agents list (`data/crawler-user-agents.json`, MIT, see `data/README.md`) plus two
//! small files of ours: `data/bot-categories.tsv` re-files list entries whose tags don't give the
//! category we act on, and `data/bot-patterns.tsv` adds clients the list misses.
//!
//! This only reads what the client claims. It does not verify that a "Googlebot" comes from
//! Google's addresses; whoever acts on `BotCategory::allowed` should know that.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

mod patterns;

use patterns::{LiteralIndex, Plan};

/// Derived from `crawler-user-agents.json` by `infra/scripts/refresh-bot-list.sh`: the JSON itself is
/// only read by the tests, so it costs neither binary size nor cold-start time.
const LIST: &str = include_str!("data/crawler-user-agents.tsv");
const OUR_CATEGORIES: &str = include_str!("data/bot-categories.tsv");
const OUR_PATTERNS: &str = include_str!("data/bot-patterns.tsv");

/// What we do with a kind of bot is decided elsewhere; `allowed` is the product's default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BotCategory {
    SearchEngine,
    /// Uptime and health checkers.
    Monitor,
    /// Link unfurlers of chat and social apps.
    Preview,
    /// AI crawlers and assistants fetching on a user's behalf.
    Ai,
    /// HTTP libraries, command-line tools, scrapers, scanners and headless browsers.
    Automated,
    /// Any other crawler the list knows (SEO, ads, feeds, archives, research).
    Other,
}

impl BotCategory {
    /// The bots the product let through when it sat behind Arcjet.
    pub fn allowed(self) -> bool {
        matches!(self, BotCategory::SearchEngine | BotCategory::Monitor | BotCategory::Preview)
    }

    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BotCategory::SearchEngine => "search_engine",
            BotCategory::Monitor => "monitor",
            BotCategory::Preview => "preview",
            BotCategory::Ai => "ai",
            BotCategory::Automated => "automated",
            BotCategory::Other => "other",
        }
    }

    fn parse(name: &str) -> Option<Classification> {
        let category = match name {
            "search_engine" => BotCategory::SearchEngine,
            "monitor" => BotCategory::Monitor,
            "preview" => BotCategory::Preview,
            "ai" => BotCategory::Ai,
            "automated" => BotCategory::Automated,
            "other" => BotCategory::Other,
            "not_bot" => return Some(Classification::NotBot),
            _ => return None,
        };
        Some(Classification::Bot(category))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotVerdict {
    /// No User-Agent header, or an empty one: no browser does that.
    Missing,
    NotBot,
    Bot {
        /// The signature that matched: the list's pattern or ours, with its regex escapes undone
        /// when it is plain text.
        name: String,
        category: BotCategory,
    },
}

impl BotVerdict {
    pub fn category(&self) -> Option<BotCategory> {
        match self {
            BotVerdict::Bot { category, .. } => Some(*category),
            BotVerdict::Missing | BotVerdict::NotBot => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Classification {
    Bot(BotCategory),
    /// Our override for a list entry that names a client we trust.
    NotBot,
}

struct Signature {
    name: Cow<'static, str>,
    classification: Classification,
    /// When several signatures match, the longest pattern is the most specific one.
    specificity: usize,
}

/// A regex compiled the first time its gate text shows up in a User-Agent.
struct GatedRegex {
    source: &'static str,
    signature: usize,
    compiled: OnceLock<Option<Regex>>,
}

impl GatedRegex {
    fn is_match(&self, user_agent: &[u8]) -> bool {
        self.compiled
            .get_or_init(|| compile(self.source))
            .as_ref()
            .is_some_and(|regex| regex.is_match(user_agent))
    }
}

/// ASCII only: User-Agents are ASCII, and Unicode classes would multiply the automaton. A pattern
/// that doesn't compile never matches; the tests compile every shipped one.
fn compile(source: &str) -> Option<Regex> {
    RegexBuilder::new(source).unicode(false).build().ok()
}

#[derive(Debug, Clone, Copy)]
enum Hit {
    Signature(usize),
    Gate(usize),
}

/// Compiled signatures. Build one per process and share it (it is `Send + Sync`): construction
/// costs about a millisecond, `classify` a microsecond or two. A User-Agent that contains a
/// regex's gate text compiles that regex once, for the life of the process; there are 24.
pub struct BotRules {
    signatures: Vec<Signature>,
    index: LiteralIndex<Hit>,
    gated: Vec<GatedRegex>,
    /// Regexes without three plain bytes to gate on run on every User-Agent. The shipped data
    /// has none (a test keeps it so); they are compiled up front.
    ungated: Vec<(Regex, usize)>,
}

/// `category<TAB>pattern` lines; `#` starts a comment. The pattern is taken verbatim after the
/// tab: some of the list's patterns begin or end with a space on purpose.
fn tsv_lines(text: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('\t'))
        .map(|(category, pattern)| (category.trim(), pattern))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tag {
    SearchEngine,
    Monitoring,
    SocialPreview,
    AiCrawler,
    HttpLibrary,
    BrowserAutomation,
    Scanner,
    /// `seo`, `advertising`, `feed-reader`, `archiver`, `academic`, and any tag added later.
    Unmapped,
}

impl Tag {
    fn parse(tag: &str) -> Tag {
        match tag {
            "search-engine" => Tag::SearchEngine,
            "monitoring" => Tag::Monitoring,
            "social-preview" => Tag::SocialPreview,
            "ai-crawler" => Tag::AiCrawler,
            "http-library" => Tag::HttpLibrary,
            "browser-automation" => Tag::BrowserAutomation,
            "scanner" => Tag::Scanner,
            _ => Tag::Unmapped,
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// An entry with several tags gets the first category of this order that one of its tags gives:
/// a denied reading beats an allowed one (an AI search crawler is an AI crawler to us).
fn category_from_tags(tags: &str) -> BotCategory {
    const PRECEDENCE: [(BotCategory, &[Tag]); 5] = [
        (BotCategory::Ai, &[Tag::AiCrawler]),
        (BotCategory::Automated, &[Tag::HttpLibrary, Tag::BrowserAutomation, Tag::Scanner]),
        (BotCategory::SearchEngine, &[Tag::SearchEngine]),
        (BotCategory::Monitor, &[Tag::Monitoring]),
        (BotCategory::Preview, &[Tag::SocialPreview]),
    ];
    // Each entry's tags read once, as a set of bits, for the five lookups (every cold start
    // classifies ~1,500 entries).
    let present = tags.split(',').fold(0u16, |present, tag| present | Tag::parse(tag).bit());
    PRECEDENCE
        .iter()
        .find(|(_, wanted)| wanted.iter().any(|tag| present & tag.bit() != 0))
        .map_or(BotCategory::Other, |(category, _)| *category)
}

impl Default for BotRules {
    fn default() -> Self {
        Self::new()
    }
}

impl BotRules {
    pub fn new() -> BotRules {
        let overrides: Vec<(&str, Classification)> = tsv_lines(OUR_CATEGORIES)
            .filter_map(|(category, pattern)| Some((pattern, BotCategory::parse(category)?)))
            .collect();
        let from_list = tsv_lines(LIST).map(|(tags, pattern)| {
            let classification = overrides
                .iter()
                .find(|(overridden, _)| *overridden == pattern)
                .map_or(Classification::Bot(category_from_tags(tags)), |(_, ours)| *ours);
            (pattern, classification)
        });
        let ours = tsv_lines(OUR_PATTERNS)
            .filter_map(|(category, pattern)| Some((pattern, BotCategory::parse(category)?)));
        Self::compile(from_list.chain(ours))
    }

    fn compile(patterns: impl Iterator<Item = (&'static str, Classification)>) -> BotRules {
        let mut signatures = Vec::with_capacity(2_000);
        let mut literals = Vec::with_capacity(2_000);
        let mut gated = Vec::new();
        let mut ungated = Vec::new();

        for (pattern, classification) in patterns {
            let signature = signatures.len();
            let mut name = None;
            for branch in patterns::branches(pattern) {
                match patterns::plan(branch) {
                    Plan::Literal(text, pin) => {
                        name.get_or_insert_with(|| text.clone());
                        literals.push((text, pin, Hit::Signature(signature)));
                    }
                    Plan::Regex { gate: Some(gate) } => {
                        literals.push((Cow::Owned(gate), patterns::Pin::Anywhere, Hit::Gate(gated.len())));
                        gated.push(GatedRegex { source: branch, signature, compiled: OnceLock::new() });
                    }
                    Plan::Regex { gate: None } => {
                        if let Some(regex) = compile(branch) {
                            ungated.push((regex, signature));
                        }
                    }
                }
            }
            // A pattern that is one plain text is named by that text, unescaped; others by
            // their source.
            let name = match name {
                Some(text) if !pattern.contains('|') => text,
                _ => Cow::Borrowed(pattern),
            };
            signatures.push(Signature { specificity: name.len(), name, classification });
        }

        BotRules { signatures, index: LiteralIndex::build(literals), gated, ungated }
    }

    /// How many signatures compiled: worth logging once at start-up.
    pub fn signature_count(&self) -> usize {
        self.signatures.len()
    }

    pub fn classify(&self, user_agent: Option<&str>) -> BotVerdict {
        self.classify_bytes(user_agent.map(str::as_bytes))
    }

    /// Reads the request's User-Agent as bytes, so a header that isn't UTF-8 is still classified.
    pub fn classify_header(&self, headers: &http::HeaderMap) -> BotVerdict {
        self.classify_bytes(headers.get(http::header::USER_AGENT).map(http::HeaderValue::as_bytes))
    }

    fn classify_bytes(&self, user_agent: Option<&[u8]>) -> BotVerdict {
        let Some(user_agent) = user_agent.filter(|ua| !ua.trim_ascii().is_empty()) else {
            return BotVerdict::Missing;
        };
        let mut best: Option<&Signature> = None;
        let mut consider = |index: usize| {
            if let Some(candidate) = self.signatures.get(index)
                && best.is_none_or(|current| candidate.specificity > current.specificity)
            {
                best = Some(candidate);
            }
        };

        self.index.for_each_match(user_agent, |hit| match hit {
            Hit::Signature(index) => consider(index),
            Hit::Gate(gate) => {
                if let Some(regex) = self.gated.get(gate)
                    && regex.is_match(user_agent)
                {
                    consider(regex.signature);
                }
            }
        });
        for (regex, index) in &self.ungated {
            if regex.is_match(user_agent) {
                consider(*index);
            }
        }

        match best {
            None => BotVerdict::NotBot,
            Some(Signature { classification: Classification::NotBot, .. }) => BotVerdict::NotBot,
            Some(Signature { name, classification: Classification::Bot(category), .. }) => {
                BotVerdict::Bot { name: name.to_string(), category: *category }
            }
        }
    }
}

#[cfg(test)]
mod tests;
