//! Measurable facts of a resume's extracted text: sections, contact details, bullets and how
//! they open, quantified achievements, dates and gaps, layout signals that trip applicant
//! tracking systems, and phrases recruiters skip. Scoring them is the job of `resume` and
//! `resume_scores`.

use std::collections::{BTreeMap, BTreeSet};

use super::text::{self, fragment};
use super::vocabulary::Language;

/// Bullet markers seen in extracted resumes (symbol fonts become private-use characters).
const BULLETS: &[char] = &['•', '-', '*', '▪', '◦', '‣', '–', '·', '●', '■', '○', '➢', '►', '\u{f0b7}'];
const MONTHS: &[&str] = &[
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// A line longer than this in extracted text usually means columns were merged.
pub const LONG_LINE: usize = 180;
/// Bullets longer than this (words) read as paragraphs.
const LONG_BULLET: usize = 35;

#[derive(Debug, Default)]
pub struct ResumeFacts {
    pub words: usize,
    /// Canonical names of the sections found, in document order.
    pub sections: Vec<String>,
    /// The text of each section, by canonical name.
    pub section_text: BTreeMap<String, String>,
    /// Every line outside the skills section, where a skill shows as used rather than listed.
    pub outside_skills: String,
    /// Every line outside the education section, where employment dates are.
    pub outside_education: String,
    pub all_caps_headings: usize,
    pub email: bool,
    pub phone: bool,
    pub linkedin: bool,
    pub github: bool,
    pub website: bool,
    pub bullet_lines: usize,
    pub bullet_markers: BTreeSet<char>,
    pub quantified: Vec<String>,
    pub action_openers: usize,
    pub weak_openers: Vec<String>,
    pub long_bullets: usize,
    pub first_person: usize,
    pub date_styles: BTreeSet<&'static str>,
    pub tab_lines: usize,
    pub wide_gap_lines: usize,
    pub long_lines: usize,
    pub odd_characters: usize,
    pub years_claimed: Option<u32>,
    pub years_span: Option<i32>,
    pub gaps: Vec<(i32, i32)>,
    pub cliches: Vec<String>,
    pub personal_details: Vec<String>,
    pub references_line: bool,
    pub leadership: Vec<String>,
}

pub fn measure(text: &str, language: &Language) -> ResumeFacts {
    let mut facts = ResumeFacts { words: text::word_count(text), ..ResumeFacts::default() };
    let headings = heading_lookup(language);
    let mut current: Option<String> = None;
    for raw in text.lines() {
        layout_signals(raw, &mut facts);
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(section) = heading_of(line, &headings) {
            if line.chars().any(char::is_alphabetic) && !line.chars().any(char::is_lowercase) {
                facts.all_caps_headings += 1;
            }
            if !facts.sections.contains(&section) {
                facts.sections.push(section.clone());
            }
            current = Some(section);
            continue;
        }
        if let Some(section) = &current {
            let body = facts.section_text.entry(section.clone()).or_default();
            body.push_str(line);
            body.push('\n');
        }
        if current.as_deref() != Some("skills") {
            facts.outside_skills.push_str(line);
            facts.outside_skills.push('\n');
        }
        if current.as_deref() != Some("education") {
            facts.outside_education.push_str(line);
            facts.outside_education.push('\n');
        }
        contact_signals(line, &mut facts);
        if let Some(marker) = line.chars().next().filter(|c| BULLETS.contains(c)) {
            let content = line.trim_start_matches(|c: char| BULLETS.contains(&c) || c.is_whitespace());
            facts.bullet_lines += 1;
            facts.bullet_markers.insert(marker);
            bullet_signals(content, language, &mut facts);
        }
    }
    let lower_words = format!(" {} ", text::words(text).join(" "));
    let found = |phrases: &[String]| -> Vec<String> {
        phrases
            .iter()
            .filter(|p| lower_words.contains(&format!(" {} ", text::words(p).join(" "))))
            .cloned()
            .collect()
    };
    facts.cliches = found(&language.cliches);
    facts.personal_details = found(&language.personal_details);
    facts.leadership = found(&language.leadership_signals);
    facts.references_line = lower_words.contains(" references available ");
    facts.years_claimed = claimed_years(text);
    let experience =
        facts.section_text.get("experience").cloned().unwrap_or_else(|| facts.outside_education.clone());
    dates(&experience, &mut facts);
    facts.date_styles = date_styles(text);
    facts
}

fn heading_lookup(language: &Language) -> Vec<(String, String)> {
    let mut lookup = Vec::new();
    for (section, names) in &language.section_headings {
        for name in names {
            lookup.push((text::words(name).join(" "), section.clone()));
        }
    }
    lookup
}

/// The section a line introduces, when it is a short line naming a standard heading.
fn heading_of(line: &str, headings: &[(String, String)]) -> Option<String> {
    let words = text::words(line.trim_start_matches('#').trim_end_matches(':'));
    if words.is_empty() || words.len() > 4 || line.len() > 40 {
        return None;
    }
    let joined = words.join(" ");
    headings.iter().find(|(name, _)| *name == joined).map(|(_, section)| section.clone())
}

fn layout_signals(line: &str, facts: &mut ResumeFacts) {
    if line.matches('\t').count() >= 2 {
        facts.tab_lines += 1;
    }
    let trimmed = line.trim();
    if trimmed.contains("    ") && trimmed.split("    ").filter(|cell| !cell.trim().is_empty()).count() >= 2 {
        facts.wide_gap_lines += 1;
    }
    if line.chars().count() > LONG_LINE {
        facts.long_lines += 1;
    }
    facts.odd_characters += line
        .chars()
        .filter(|&c| {
            let code = c as u32;
            (0xE000..=0xF8FF).contains(&code)
                || c == '\u{FFFD}'
                || (0x2500..=0x257F).contains(&code)
                || (0x1F300..=0x1FAFF).contains(&code)
                || (c.is_control() && c != '\t')
        })
        .count();
}

fn contact_signals(line: &str, facts: &mut ResumeFacts) {
    let lower = line.to_lowercase();
    for token in
        lower.split(|c: char| c.is_whitespace() || matches!(c, '|' | ',' | ';' | '(' | ')' | '<' | '>'))
    {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric());
        if let Some((user, host)) = token.split_once('@')
            && !user.is_empty()
            && host.contains('.')
        {
            facts.email = true;
        } else if token.contains("linkedin.com") || token == "linkedin" {
            facts.linkedin = true;
        } else if token.contains("github.com") || token.contains("gitlab.com") {
            facts.github = true;
        } else if token.starts_with("http") || token.starts_with("www.") {
            facts.website = true;
        }
    }
    if has_phone(line) {
        facts.phone = true;
    }
}

fn has_phone(line: &str) -> bool {
    let mut digits = 0;
    for c in line.chars().chain(std::iter::once('|')) {
        if c.is_ascii_digit() {
            digits += 1;
        } else if !matches!(c, ' ' | '-' | '(' | ')' | '+' | '.') {
            if (9..=15).contains(&digits) {
                return true;
            }
            digits = 0;
        }
    }
    false
}

fn bullet_signals(content: &str, language: &Language, facts: &mut ResumeFacts) {
    let words = text::words(content);
    let Some(first) = words.first() else { return };
    if language.action_verbs.iter().any(|verb| verb == first) {
        facts.action_openers += 1;
    }
    let opening = words.iter().take(3).cloned().collect::<Vec<_>>().join(" ");
    if language.weak_openers.iter().any(|weak| opening.starts_with(&text::words(weak).join(" "))) {
        facts.weak_openers.push(fragment(content, 8));
    }
    if words.len() > LONG_BULLET {
        facts.long_bullets += 1;
    }
    facts.first_person += words.iter().filter(|w| matches!(w.as_str(), "i" | "my" | "me")).count();
    if is_quantified(&words) {
        facts.quantified.push(fragment(content, 10));
    }
}

fn is_year(word: &str) -> bool {
    word.len() == 4 && word.parse::<i32>().is_ok_and(|y| (1950..=2099).contains(&y))
}

/// A number that is not a year or part of a date.
fn is_quantified(words: &[String]) -> bool {
    words.iter().enumerate().any(|(i, word)| {
        let numeric = word.chars().next().is_some_and(|c| c.is_ascii_digit());
        let in_date = i > 0 && MONTHS.contains(&words[i - 1].as_str());
        numeric && !is_year(word) && !in_date
    })
}

fn claimed_years(text: &str) -> Option<u32> {
    let words = text::words(text);
    words
        .windows(2)
        .filter(|pair| matches!(pair[1].as_str(), "years" | "yrs" | "year"))
        .filter_map(|pair| pair[0].parse::<u32>().ok())
        .filter(|years| *years <= 45)
        .max()
}

/// Employment ranges ("Mar 2019 – Present", "2017-2019") give the span of experience and gaps.
fn dates(experience: &str, facts: &mut ResumeFacts) {
    let words = text::words(experience);
    let latest = words.iter().filter(|w| is_year(w)).filter_map(|w| w.parse::<i32>().ok()).max();
    let mut ranges: Vec<(i32, i32)> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(start) = word.parse::<i32>().ok().filter(|_| is_year(word)) else { continue };
        let end = words[i + 1..].iter().take(3).find_map(|next| {
            if is_year(next) {
                next.parse::<i32>().ok()
            } else if matches!(next.as_str(), "present" | "current" | "now" | "today") {
                latest
            } else {
                None
            }
        });
        if let Some(end) = end.filter(|end| *end >= start) {
            ranges.push((start, end));
        }
    }
    if ranges.is_empty() {
        return;
    }
    ranges.sort_unstable();
    let first = ranges[0].0;
    let mut reach = ranges[0].1;
    for &(start, end) in &ranges[1..] {
        if start - reach >= 2 {
            facts.gaps.push((reach, start));
        }
        reach = reach.max(end);
    }
    facts.years_span = Some(reach - first);
}

fn date_styles(text: &str) -> BTreeSet<&'static str> {
    let mut styles = BTreeSet::new();
    let words = text::words(text);
    for pair in words.windows(2) {
        if MONTHS.contains(&pair[0].as_str()) && is_year(&pair[1]) {
            styles.insert("month name and year (Jan 2020)");
        }
    }
    for token in text.split_whitespace() {
        let token = token.trim_matches(|c: char| !c.is_ascii_digit());
        if let Some((a, b)) = token.split_once('/') {
            if a.len() <= 2 && a.parse::<u8>().is_ok() && is_year(b) {
                styles.insert("numeric month (01/2020)");
            }
        } else if let Some((a, b)) = token.split_once('-')
            && is_year(a)
            && b.len() == 2
            && b.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        {
            styles.insert("ISO (2020-01)");
        }
    }
    styles
}
