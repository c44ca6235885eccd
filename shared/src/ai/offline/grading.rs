//! Grading an answer: which rubric it is judged against (the question's key points, points
//! derived from the vocabulary, or the question's own terms), which points it covers (by stems
//! and synonyms), and the rating that follows from coverage, structure, length and relevance.
//! Every part of the rating only grows as an answer gains content, so adding a covered point
//! never lowers it.

use std::collections::HashSet;

use super::compose::fill;
use super::extract::{Matcher, Mention};
use super::questions::{identify, resemblance};
use super::text::{self, contains_sequence};
use super::vocabulary::{Kind, Scope, Vocabulary};

/// A point is fully covered when this share of its own wording appears.
const PHRASE_FULL: f64 = 0.6;
const PHRASE_PARTIAL: f64 = 0.34;
/// Fewer new stems than this beyond the question's own words means the question was copied.
const MIN_NOVEL_STEMS: usize = 6;
/// Share of the key points at which coverage counts as complete: a strong answer may leave one
/// point of five implicit.
const FULL_COVERAGE: f64 = 0.8;
/// Words at which length stops adding to the rating.
const FULL_LENGTH: f64 = 120.0;
/// Shared stems with the question and points at which relevance is full.
const FULL_RELEVANCE: f64 = 8.0;
/// Resemblance needed to derive points from a concept of a technology the question names, and
/// from a general concept.
const DERIVE_WITH_TECHNOLOGY: f64 = 0.15;
const DERIVE_GENERAL: f64 = 0.35;

/// What the answer is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The key points stored with the question.
    Given,
    /// Points from the vocabulary concept the question is about.
    Derived,
    /// No points: the question's own terms.
    QuestionTerms,
}

#[derive(Debug)]
pub struct RubricPoint {
    pub text: String,
    pub hints: Vec<String>,
    terms: Vec<Vec<String>>,
    phrase: Vec<String>,
}

#[derive(Debug)]
pub struct Rubric {
    pub points: Vec<RubricPoint>,
    pub source: Source,
    /// The vocabulary concept behind the question, with the kind when the engine wrote it.
    pub concept: Option<(usize, Option<Kind>)>,
    /// Technologies the question names, for the model answer.
    pub technologies: Vec<String>,
    question_stems: HashSet<String>,
    /// Question stems that say what it is about (not "explain", "would", ...).
    topical_stems: HashSet<String>,
}

impl Rubric {
    pub fn build(
        question: &str,
        key_points: &[String],
        vocabulary: &Vocabulary,
        matcher: &Matcher,
    ) -> Rubric {
        let stems = &vocabulary.stems;
        let question_stems = stems.stem_set(question);
        let generic: HashSet<String> = vocabulary
            .language
            .generic_question_words
            .iter()
            .map(|w| stems.stem(&w.to_lowercase()))
            .collect();
        let topical_stems = question_stems.iter().filter(|s| !generic.contains(*s)).cloned().collect();
        let mentions = matcher.find(question);
        let technologies: Vec<String> = mentions
            .iter()
            .filter_map(|m| vocabulary.technologies.get(m.technology))
            .map(|t| t.name.clone())
            .collect();
        let focus = technologies.first().cloned().unwrap_or_default();
        let mut rubric = Rubric {
            points: Vec::new(),
            source: Source::QuestionTerms,
            concept: identify(question, vocabulary).map(|(c, k)| (c, Some(k))),
            technologies,
            question_stems,
            topical_stems,
        };
        if !key_points.is_empty() {
            rubric.source = Source::Given;
            for key_point in key_points {
                let known = known_point(key_point, vocabulary, rubric.concept.map(|(c, _)| c));
                if rubric.concept.is_none() {
                    rubric.concept = known.map(|(concept, _)| (concept, None));
                }
                let (terms, hints) = known
                    .and_then(|(c, p)| vocabulary.concepts.get(c)?.points.get(p))
                    .map_or((Vec::new(), Vec::new()), |p| (p.terms.clone(), p.hints.clone()));
                rubric.points.push(RubricPoint {
                    phrase: phrase_stems(key_point, vocabulary),
                    text: key_point.clone(),
                    hints,
                    terms,
                });
            }
            return rubric;
        }
        if rubric.concept.is_none() {
            rubric.concept = derive_concept(&rubric.question_stems, &mentions, vocabulary).map(|c| (c, None));
        }
        if let Some(concept) = rubric.concept.and_then(|(c, _)| vocabulary.concepts.get(c)) {
            rubric.source = Source::Derived;
            for point in &concept.points {
                let text = fill(&point.text, &focus, "");
                rubric.points.push(RubricPoint {
                    phrase: phrase_stems(&text, vocabulary),
                    text,
                    hints: point.hints.clone(),
                    terms: point.terms.clone(),
                });
            }
        }
        rubric
    }
}

/// Which concept point a stored key point is, trying the question's concept first.
fn known_point(key_point: &str, vocabulary: &Vocabulary, preferred: Option<usize>) -> Option<(usize, usize)> {
    let normalised = text::normalise(key_point);
    let matches_template = |fragments: &[String]| match fragments {
        [whole] => *whole == normalised,
        [first, .., last] => {
            normalised.starts_with(first.as_str())
                && normalised.ends_with(last.as_str())
                && fragments.iter().all(|f| normalised.contains(f.as_str()))
        }
        [] => false,
    };
    let search = |index: usize| {
        let concept = vocabulary.concepts.get(index)?;
        concept.points.iter().position(|p| matches_template(&p.fragments)).map(|p| (index, p))
    };
    preferred.and_then(search).or_else(|| (0..vocabulary.concepts.len()).find_map(search))
}

fn derive_concept(
    question_stems: &HashSet<String>,
    mentions: &[Mention],
    vocabulary: &Vocabulary,
) -> Option<usize> {
    let named: Vec<usize> = mentions.iter().map(|m| m.technology).collect();
    let categories: Vec<usize> = named.iter().filter_map(|&t| vocabulary.category_of(t)).collect();
    let best_of = |filter: &dyn Fn(Scope) -> bool| {
        vocabulary
            .concepts
            .iter()
            .enumerate()
            .filter(|(_, c)| filter(c.scope))
            .map(|(i, c)| (resemblance(c, question_stems), i))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    let about_named = best_of(&|scope| match scope {
        Scope::Technology(t) => named.contains(&t),
        Scope::Category(c) => categories.contains(&c),
        Scope::General => false,
    });
    if let Some((_, index)) = about_named.filter(|(score, _)| *score >= DERIVE_WITH_TECHNOLOGY) {
        return Some(index);
    }
    best_of(&|_| true).filter(|(score, _)| *score >= DERIVE_GENERAL).map(|(_, index)| index)
}

fn phrase_stems(text: &str, vocabulary: &Vocabulary) -> Vec<String> {
    let mut stems = vocabulary.stems.content_stems(text);
    let mut seen = HashSet::new();
    stems.retain(|s| seen.insert(s.clone()));
    stems
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Full,
    Partial,
    Missed,
}

impl Coverage {
    fn value(self) -> f64 {
        match self {
            Coverage::Full => 1.0,
            Coverage::Partial => 0.5,
            Coverage::Missed => 0.0,
        }
    }
}

/// Why a rating was held down regardless of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    NonAnswer,
    /// A few words: cannot be a real attempt.
    TooShort,
    /// Too brief to be complete, however right.
    Brief,
    CopiedQuestion,
    OffTopic,
}

impl Cap {
    pub fn limit(self) -> u8 {
        match self {
            Cap::CopiedQuestion | Cap::OffTopic => 2,
            Cap::NonAnswer | Cap::TooShort => 3,
            Cap::Brief => 5,
        }
    }
}

/// Measurable qualities of an answer.
#[derive(Debug, Default)]
pub struct AnswerFacts {
    pub words: usize,
    pub laid_out: bool,
    pub has_example: bool,
    pub has_code: bool,
    pub has_reasoning: bool,
}

#[derive(Debug)]
pub struct Grade {
    pub rating: u8,
    pub coverage: Vec<Coverage>,
    pub cap: Option<Cap>,
    pub facts: AnswerFacts,
    /// Share of the question's topical terms the answer used (0 to 1).
    pub question_overlap: f64,
}

pub fn grade(answer: &str, rubric: &Rubric, vocabulary: &Vocabulary) -> Grade {
    let stems = &vocabulary.stems;
    let sequence = stems.content_stems(answer);
    let answer_set: HashSet<String> = sequence.iter().cloned().collect();
    let coverage: Vec<Coverage> =
        rubric.points.iter().map(|p| point_coverage(p, &sequence, &answer_set)).collect();
    let facts = answer_facts(answer, vocabulary);
    let topical_shared = rubric.topical_stems.iter().filter(|s| answer_set.contains(*s)).count();
    let question_overlap = topical_shared as f64 / (0.4 * rubric.topical_stems.len() as f64).max(3.0);
    let question_overlap = question_overlap.min(1.0);
    let point_share = if coverage.is_empty() {
        0.0
    } else {
        coverage.iter().map(|c| c.value()).sum::<f64>() / coverage.len() as f64
    };
    let coverage_share = match rubric.source {
        Source::Given => point_share,
        // Derived points may not be exactly what the question asks: its own terms count too.
        Source::Derived => point_share.max(0.85 * question_overlap),
        Source::QuestionTerms => question_overlap,
    };
    let coverage_share = (coverage_share / FULL_COVERAGE).min(1.0);
    let relevant: HashSet<&String> =
        rubric.question_stems.iter().chain(rubric.points.iter().flat_map(|p| &p.phrase)).collect();
    let relevance =
        (answer_set.iter().filter(|s| relevant.contains(s)).count() as f64 / FULL_RELEVANCE).min(1.0);
    let structure = if facts.laid_out { 0.4 } else { 0.0 }
        + if facts.has_example || facts.has_code { 0.35 } else { 0.0 }
        + if facts.has_reasoning { 0.25 } else { 0.0 };
    let length = ((facts.words as f64 - 10.0) / (FULL_LENGTH - 10.0)).clamp(0.0, 1.0);
    let raw = 1.0 + 6.0 * coverage_share + 1.2 * structure + 0.9 * length + 0.9 * relevance;
    let mut rating = raw.round().clamp(1.0, 10.0) as u8;
    let novel = answer_set.iter().filter(|s| !rubric.question_stems.contains(*s)).count();
    let caps = caps_for(answer, &facts, novel, coverage_share, relevance, vocabulary);
    if let Some(limit) = caps.iter().map(|cap| cap.limit()).min() {
        rating = rating.min(limit);
    }
    // Caps are pushed most telling first: "you did not answer" explains more than "too short".
    let cap = caps.first().copied();
    Grade { rating, coverage, cap, facts, question_overlap }
}

fn point_coverage(point: &RubricPoint, sequence: &[String], answer_set: &HashSet<String>) -> Coverage {
    let phrase_share = if point.phrase.is_empty() {
        0.0
    } else {
        point.phrase.iter().filter(|s| answer_set.contains(*s)).count() as f64 / point.phrase.len() as f64
    };
    let term_hits = point.terms.iter().filter(|term| contains_sequence(sequence, term)).count();
    if phrase_share >= PHRASE_FULL || term_hits >= 2 || (term_hits == 1 && phrase_share >= PHRASE_PARTIAL) {
        Coverage::Full
    } else if term_hits == 1 || phrase_share >= PHRASE_PARTIAL {
        Coverage::Partial
    } else {
        Coverage::Missed
    }
}

fn answer_facts(answer: &str, vocabulary: &Vocabulary) -> AnswerFacts {
    let language = &vocabulary.language;
    let lower = format!(" {} ", text::words(answer).join(" "));
    let has_phrase = |phrases: &[String]| {
        phrases.iter().any(|p| {
            let words = text::words(p).join(" ");
            !words.is_empty() && lower.contains(&format!(" {words} "))
        })
    };
    let paragraphs = answer.split("\n\n").filter(|p| !p.trim().is_empty()).count();
    let list_lines = answer
        .lines()
        .map(str::trim_start)
        .filter(|line| {
            line.starts_with("- ")
                || line.starts_with("* ")
                || line.starts_with("• ")
                || line
                    .split_once(['.', ')'])
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .count();
    AnswerFacts {
        words: text::word_count(answer),
        laid_out: paragraphs >= 2 || list_lines >= 2,
        has_example: has_phrase(&language.example_markers),
        has_code: answer.contains('`') || answer.lines().filter(|l| l.starts_with("    ")).count() >= 2,
        has_reasoning: has_phrase(&language.reasoning_markers),
    }
}

/// The caps that apply, most telling first. Each condition only switches off as an answer gains
/// words, stems or coverage, which keeps the rating monotone.
fn caps_for(
    answer: &str,
    facts: &AnswerFacts,
    novel_stems: usize,
    coverage: f64,
    relevance: f64,
    vocabulary: &Vocabulary,
) -> Vec<Cap> {
    let lower = format!(" {} ", text::words(answer).join(" "));
    let non_answer_words: usize = vocabulary
        .language
        .non_answers
        .iter()
        .map(|p| text::words(p).join(" "))
        .filter(|p| !p.is_empty())
        .map(|p| lower.matches(&format!(" {p} ")).count() * p.split(' ').count())
        .sum();
    let effective_words = facts.words.saturating_sub(non_answer_words);
    let mut caps = Vec::new();
    if effective_words < 12 {
        caps.push(if non_answer_words > 0 { Cap::NonAnswer } else { Cap::TooShort });
    }
    if coverage < 0.05 && relevance < 0.25 {
        caps.push(Cap::OffTopic);
    }
    if novel_stems < MIN_NOVEL_STEMS {
        caps.push(Cap::CopiedQuestion);
    }
    if effective_words < 30 {
        caps.push(Cap::Brief);
    }
    caps
}
