//! A resume review in the product's analysis JSON: an overall score and five categories (ats,
//! jobMatch, writingAndFormatting, keywordCoverage, other), each with a score, a summary and
//! feedback items that name what was found. This module compares the job's keywords with the
//! resume, scores keyword coverage and assembles the JSON; `resume_scores` scores the rest.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::ai::brief::ResumeBrief;

use super::extract::Matcher;
use super::job::{JobProfile, Wanted};
use super::resume_facts::{self, ResumeFacts};
use super::resume_scores::{self, Category, Keywords, Tone, listed};
use super::vocabulary::Vocabulary;

/// How much each category weighs in the overall score.
const WEIGHTS: [(&str, f64); 5] = [
    ("ats", 0.2),
    ("jobMatch", 0.3),
    ("writingAndFormatting", 0.2),
    ("keywordCoverage", 0.2),
    ("other", 0.1),
];
/// Terms taken from a job ad that names nothing in the vocabulary.
const FALLBACK_TERMS: usize = 12;
/// How much a practice or duty counts against a technology when matching keywords.
const PRACTICE_WEIGHT: f64 = 0.5;

/// A category as the schema writes it.
fn category_output(category: &Category) -> CategoryOutput<'_> {
    let feedback = category
        .feedback
        .iter()
        .map(|(tone, name, message)| {
            let kind = match tone {
                Tone::Strength => "strength",
                Tone::Minor => "minor-improvement",
                Tone::Major => "major-improvement",
            };
            FeedbackOutput { kind, name, message }
        })
        .collect();
    CategoryOutput { score: category.score, summary: &category.summary, feedback }
}

/// The analysis as the schema orders it: serde writes fields in declaration order, which the
/// streamed JSON keeps (a client rendering partial JSON shows the categories in this order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOutput<'a> {
    overall_score: f64,
    ats: CategoryOutput<'a>,
    job_match: CategoryOutput<'a>,
    writing_and_formatting: CategoryOutput<'a>,
    keyword_coverage: CategoryOutput<'a>,
    other: CategoryOutput<'a>,
}

#[derive(Serialize)]
struct CategoryOutput<'a> {
    score: f64,
    summary: &'a str,
    feedback: Vec<FeedbackOutput<'a>>,
}

#[derive(Serialize)]
struct FeedbackOutput<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    message: &'a str,
}

/// The analysis JSON text.
pub fn review(brief: &ResumeBrief, vocabulary: &Vocabulary, matcher: &Matcher) -> String {
    let job = JobProfile::read(&brief.job, matcher, vocabulary);
    let facts = resume_facts::measure(&brief.text, &vocabulary.language);
    let in_resume: Vec<usize> = matcher.find(&brief.text).into_iter().map(|m| m.technology).collect();
    let keywords = compare_keywords(brief, &job, &facts, &in_resume, vocabulary, matcher);
    let categories = [
        resume_scores::ats(&facts, &brief.format),
        resume_scores::job_match(&job, &facts, &keywords),
        resume_scores::writing(&facts, job.level),
        keyword_coverage(&keywords),
        resume_scores::other(&facts, &job, &in_resume, &keywords, vocabulary),
    ];
    let overall: f64 =
        categories.iter().zip(WEIGHTS).map(|(category, (_, weight))| category.score * weight).sum();
    let [ats, job_match, writing, keywords, other] = &categories;
    let output = ReviewOutput {
        overall_score: resume_scores::round(overall.clamp(0.0, 10.0)),
        ats: category_output(ats),
        job_match: category_output(job_match),
        writing_and_formatting: category_output(writing),
        keyword_coverage: category_output(keywords),
        other: category_output(other),
    };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string(&output).unwrap_or_default()
}

fn compare_keywords(
    brief: &ResumeBrief,
    job: &JobProfile,
    facts: &ResumeFacts,
    in_resume: &[usize],
    vocabulary: &Vocabulary,
    matcher: &Matcher,
) -> Keywords {
    let shown_in_use: HashSet<usize> =
        matcher.find(&facts.outside_skills).into_iter().map(|m| m.technology).collect();
    let title_techs: HashSet<usize> =
        matcher.find(brief.job.title.as_deref().unwrap_or("")).into_iter().map(|m| m.technology).collect();
    if job.wanted.is_empty() {
        return compare_plain_terms(brief, vocabulary);
    }
    let name = |t: usize| vocabulary.technologies.get(t).map_or_else(String::new, |t| t.name.clone());
    // Practices and duties are rarely named word for word on a resume: they count half.
    let practice = |t: usize| {
        vocabulary.category_of(t).and_then(|c| vocabulary.categories.get(c)).is_some_and(|c| c.common_noun)
    };
    let weight = |w: &Wanted| if practice(w.technology) { PRACTICE_WEIGHT * w.weight } else { w.weight };
    // Technologies first, then practices, each in the job's order of emphasis.
    let mut wanted: Vec<&Wanted> = job.wanted.iter().collect();
    wanted.sort_by_key(|w| practice(w.technology));
    let total: f64 = wanted.iter().map(|w| weight(w)).sum();
    let mut keywords = Keywords {
        found: Vec::new(),
        missing: Vec::new(),
        only_listed: Vec::new(),
        missing_from_title: Vec::new(),
        share: 0.0,
        plain_terms: false,
        categories_covered: 0.0,
    };
    let mut found_weight = 0.0;
    for wanted in wanted {
        if in_resume.contains(&wanted.technology) {
            found_weight += weight(wanted);
            keywords.found.push(name(wanted.technology));
            if !shown_in_use.contains(&wanted.technology) && facts.section_text.contains_key("skills") {
                keywords.only_listed.push(name(wanted.technology));
            }
        } else {
            keywords.missing.push(name(wanted.technology));
            if title_techs.contains(&wanted.technology) {
                keywords.missing_from_title.push(name(wanted.technology));
            }
        }
    }
    keywords.share = if total > 0.0 { found_weight / total } else { 0.0 };
    let job_categories: HashSet<usize> =
        job.wanted.iter().filter_map(|w| vocabulary.category_of(w.technology)).collect();
    let resume_categories: HashSet<usize> =
        in_resume.iter().filter_map(|&t| vocabulary.category_of(t)).collect();
    keywords.categories_covered =
        job_categories.intersection(&resume_categories).count() as f64 / job_categories.len().max(1) as f64;
    keywords
}

/// For a job ad that names no known technology: its most repeated meaningful words.
fn compare_plain_terms(brief: &ResumeBrief, vocabulary: &Vocabulary) -> Keywords {
    let stems = &vocabulary.stems;
    let ignored: HashSet<String> = vocabulary.language.job_ad_words.iter().map(|w| stems.stem(w)).collect();
    let mut counts: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for word in super::text::words(&brief.job.description) {
        if word.len() < 3 || stems.is_stopword(&word) || word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let stem = stems.stem(&word);
        if ignored.contains(&stem) {
            continue;
        }
        counts.entry(stem).or_insert((0, word)).0 += 1;
    }
    let mut ranked: Vec<(String, usize, String)> = counts.into_iter().map(|(s, (n, w))| (s, n, w)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(FALLBACK_TERMS);
    let resume = stems.stem_set(&brief.text);
    let (found, missing): (Vec<_>, Vec<_>) =
        ranked.into_iter().partition(|(stem, _, _)| resume.contains(stem));
    let share = found.len() as f64 / (found.len() + missing.len()).max(1) as f64;
    Keywords {
        found: found.into_iter().map(|(_, _, w)| w).collect(),
        missing: missing.into_iter().map(|(_, _, w)| w).collect(),
        only_listed: Vec::new(),
        missing_from_title: Vec::new(),
        share,
        plain_terms: true,
        categories_covered: share,
    }
}

fn keyword_coverage(keywords: &Keywords) -> Category {
    let total = keywords.found.len() + keywords.missing.len();
    let score = 1.0 + 9.0 * keywords.share;
    let what = if keywords.plain_terms { "key terms of the job ad" } else { "keywords from the job" };
    let summary = if total == 0 {
        "The job description gave no keywords to compare against.".to_owned()
    } else {
        format!(
            "Found {} of {total} {what}{}.",
            keywords.found.len(),
            if keywords.missing.is_empty() { ", all of them" } else { "" }
        )
    };
    let mut category = Category::new(if total == 0 { 5.0 } else { score }, summary);
    if total > 0 {
        let tone = if keywords.share >= 0.85 {
            Tone::Strength
        } else if keywords.share >= 0.5 {
            Tone::Minor
        } else {
            Tone::Major
        };
        let mut message = format!("Found {} of {total} {what}", keywords.found.len());
        if !keywords.found.is_empty() {
            message.push_str(&format!(": {}", listed(&keywords.found)));
        }
        if !keywords.missing.is_empty() {
            message.push_str(&format!("; missing: {}", listed(&keywords.missing)));
        }
        message.push('.');
        category.add(tone, "Job keywords", message);
    }
    if !keywords.missing.is_empty() {
        category.add(
            Tone::Major,
            "Missing keywords",
            format!(
                "Add {} where you have really used them, in \
            the words the job uses; tracking systems match exact terms.",
                listed(&keywords.missing)
            ),
        );
    }
    if !keywords.only_listed.is_empty() {
        category.add(
            Tone::Minor,
            "Keywords only in a list",
            format!(
                "{} appear only in a skills list; \
            mention them in an experience bullet to show how you used them.",
                listed(&keywords.only_listed)
            ),
        );
    }
    if keywords.plain_terms {
        category.add(
            Tone::Minor,
            "Job ad names no known technology",
            "The job description names no \
            technology the offline vocabulary knows, so its most repeated terms were compared instead."
                .to_owned(),
        );
    }
    category
}
