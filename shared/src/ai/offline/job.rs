//! What the engine reads out of a job: the technologies it asks for, weighted by where they
//! appear (the title counts more than the description), the kind of product it describes, the
//! role and the experience level.

use crate::ai::brief::JobBrief;

use super::extract::Matcher;
use super::text;
use super::vocabulary::Vocabulary;

/// A title mention outweighs several mentions in the description.
const TITLE_WEIGHT: f64 = 3.0;
/// A technology repeated all over an ad is important, but not endlessly more so.
const MAX_COUNTED_MENTIONS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    Junior,
    #[default]
    Mid,
    Senior,
}

impl Level {
    pub fn parse(text: &str) -> Level {
        let lower = text.trim().to_lowercase();
        if lower.starts_with("junior") || lower.starts_with("entry") {
            Level::Junior
        } else if lower.starts_with("senior") || lower.starts_with("lead") || lower.starts_with("staff") {
            Level::Senior
        } else {
            Level::Mid
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Junior => "junior",
            Level::Mid => "mid-level",
            Level::Senior => "senior",
        }
    }

    /// Years of experience usually expected at this level (inclusive lower, exclusive upper).
    pub fn expected_years(self) -> (f64, f64) {
        match self {
            Level::Junior => (0.0, 3.0),
            Level::Mid => (2.0, 6.0),
            Level::Senior => (5.0, 40.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn parse(text: &str) -> Difficulty {
        match text.trim().to_lowercase().as_str() {
            "easy" => Difficulty::Easy,
            "hard" => Difficulty::Hard,
            _ => Difficulty::Medium,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
}

/// A technology the job asks for and how much it matters (title mentions count triple).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wanted {
    pub technology: usize,
    pub weight: f64,
}

#[derive(Debug, Clone)]
pub struct JobProfile {
    /// Heaviest first; ties keep the order of the ad.
    pub wanted: Vec<Wanted>,
    /// The kind of product, as a phrase ("a payments platform").
    pub domain: Option<String>,
    /// The role as the title names it, or a neutral one.
    pub role: String,
    pub level: Level,
}

impl JobProfile {
    pub fn read(job: &JobBrief, matcher: &Matcher, vocabulary: &Vocabulary) -> JobProfile {
        let title = job.title.as_deref().unwrap_or("").trim();
        let mut wanted: Vec<(Wanted, usize)> = Vec::new();
        let title_mentions = matcher.find(title);
        let description_mentions = matcher.find(&job.description);
        let weighted = title_mentions
            .iter()
            .map(|m| (m, TITLE_WEIGHT, 0))
            .chain(description_mentions.iter().map(|m| (m, 1.0, 1_000_000)));
        for (mention, factor, order_offset) in weighted {
            let weight = factor * mention.count.min(MAX_COUNTED_MENTIONS) as f64;
            match wanted.iter_mut().find(|(w, _)| w.technology == mention.technology) {
                Some((w, _)) => w.weight += weight,
                None => wanted
                    .push((Wanted { technology: mention.technology, weight }, order_offset + mention.first)),
            }
        }
        wanted.sort_by(|(a, first_a), (b, first_b)| b.weight.total_cmp(&a.weight).then(first_a.cmp(first_b)));
        JobProfile {
            wanted: wanted.into_iter().map(|(w, _)| w).collect(),
            domain: detect_domain(&format!("{title}\n{}", job.description), vocabulary),
            role: role_from_title(title),
            level: Level::parse(&job.experience_level),
        }
    }
}

/// The product a job ad describes. One stray word ("swift delivery") is not enough: a domain
/// needs two mentions, or one of its multi-word phrases.
fn detect_domain(text: &str, vocabulary: &Vocabulary) -> Option<String> {
    let stems = vocabulary.stems.content_stems(text);
    let mut best: Option<(usize, &str)> = None;
    for domain in &vocabulary.domains {
        let evidence: usize = domain
            .terms
            .iter()
            .map(|term| {
                let needle = vocabulary.stems.content_stems(term);
                if needle.is_empty() {
                    return 0;
                }
                let hits = stems.windows(needle.len()).filter(|window| *window == needle.as_slice()).count();
                hits * needle.len().min(2)
            })
            .sum();
        if evidence >= 2 && best.is_none_or(|(most, _)| evidence > most) {
            best = Some((evidence, &domain.name));
        }
    }
    best.map(|(_, name)| name.to_owned())
}

/// The title trimmed to its role: "Senior Backend Engineer (Rust, AWS) - Remote" reads as
/// "Senior Backend Engineer".
fn role_from_title(title: &str) -> String {
    let cut = title.split(['(', '|', ',', ';']).next().unwrap_or("");
    let cut = cut.split(" - ").next().unwrap_or("").split(" – ").next().unwrap_or("");
    let words: Vec<&str> = cut.split_whitespace().take(6).collect();
    if words.is_empty() { "software engineer".to_owned() } else { words.join(" ") }
}

/// "a" or "an" before `word`, by its first letter (good enough for role names).
pub fn with_article(word: &str) -> String {
    let vowel = word.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c));
    let acronym_vowel_sound = word.starts_with("SRE") || word.starts_with("ML ") || word.starts_with("SDE");
    if vowel || acronym_vowel_sound { format!("an {word}") } else { format!("a {word}") }
}

/// A stable seed for one request's choices.
pub fn seed(job: &JobBrief, extra: &[&str]) -> u64 {
    let mut parts =
        vec![job.title.as_deref().unwrap_or(""), job.experience_level.as_str(), job.description.as_str()];
    parts.extend_from_slice(extra);
    text::stable_hash(&parts)
}
