//! Choosing the next question for a job: which concept, about which technology, in which kind
//! (explain, compare, debug, design, trade-offs), given the level, the difficulty and what was
//! already asked. Rendering the chosen question is `compose`'s job.

use std::collections::{HashMap, HashSet};

use super::extract::Matcher;
use super::job::{Difficulty, JobProfile, Level};
use super::text::{self, stable_hash};
use super::vocabulary::{Concept, Kind, Scope, Vocabulary};

pub const QUESTION_FOOTER: &str = "*Written by Darasa's offline practice engine: no AI provider was used.*";

/// Technologies of a job that questions may be about (the rest are too minor to focus on).
const FOCUS_TECHNOLOGIES: usize = 8;
/// Share of a concept's signature a foreign question must contain to count as asking it.
const FOREIGN_MATCH: f64 = 0.6;
/// Characters of an earlier question worth reading: every question, ours or another model's, says
/// what it is about well before this.
const QUESTION_CHARS: usize = 4_000;
/// Subject overlap from which two concepts count as near duplicates.
const NEAR_DUPLICATE: f64 = 0.5;

/// A concept bound to what its placeholders stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub concept: usize,
    pub kind: Kind,
    pub technology: Option<usize>,
    pub other: Option<usize>,
}

/// What earlier questions of the job already covered.
#[derive(Debug, Default)]
pub struct History {
    asked: HashSet<(usize, Kind)>,
    /// Concepts asked before, in any kind, to keep near-duplicate subjects apart.
    asked_concepts: Vec<usize>,
    concept_uses: HashMap<usize, usize>,
    focus_uses: HashMap<usize, usize>,
}

impl History {
    pub fn read(previous: &[String], vocabulary: &Vocabulary, matcher: &Matcher) -> History {
        let mut history = History::default();
        for text in previous.iter().map(|text| head(text, QUESTION_CHARS)) {
            match identify(text, vocabulary) {
                Some((concept, kind)) => {
                    history.asked.insert((concept, kind));
                    *history.concept_uses.entry(concept).or_default() += 1;
                    history.asked_concepts.push(concept);
                }
                None => {
                    for concept in resembled_concepts(text, vocabulary) {
                        *history.concept_uses.entry(concept).or_default() += 1;
                        history.asked_concepts.push(concept);
                    }
                }
            }
            let lead = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
            for mention in matcher.find(lead) {
                *history.focus_uses.entry(mention.technology).or_default() += 1;
            }
        }
        history
    }
}

impl History {
    /// How close `concept` is to the nearest concept already asked (0 to 1), by the overlap of
    /// their subjects.
    fn nearness(&self, concept: usize, vocabulary: &Vocabulary) -> f64 {
        let Some(subject) = vocabulary.concepts.get(concept).map(|c| &c.subject) else { return 0.0 };
        self.asked_concepts
            .iter()
            .filter(|&&other| other != concept)
            .filter_map(|&other| vocabulary.concepts.get(other))
            .map(|other| {
                let shared = subject.intersection(&other.subject).count() as f64;
                shared / subject.len().min(other.subject.len()).max(1) as f64
            })
            .fold(0.0, f64::max)
    }
}

/// At most the first `chars` characters of `text`.
fn head(text: &str, chars: usize) -> &str {
    text.char_indices().nth(chars).map_or(text, |(end, _)| &text[..end])
}

/// The concept and kind of a question this engine wrote, found by its question sentence.
pub fn identify(question: &str, vocabulary: &Vocabulary) -> Option<(usize, Kind)> {
    let normalised = text::normalise(question);
    // Only this engine's questions carry its footer; others cannot match a template.
    if !normalised.contains(&text::normalise(QUESTION_FOOTER)) {
        return None;
    }
    vocabulary.concepts.iter().enumerate().find_map(|(index, concept)| {
        concept
            .asks
            .iter()
            .find(|ask| template_found(&normalised, &ask.fragments))
            .map(|ask| (index, ask.kind))
    })
}

/// Concepts a question written elsewhere is clearly about, by the stems they share.
pub fn resembled_concepts(question: &str, vocabulary: &Vocabulary) -> Vec<usize> {
    let stems = vocabulary.stems.stem_set(question);
    vocabulary
        .concepts
        .iter()
        .enumerate()
        .filter(|(_, concept)| resemblance(concept, &stems) >= FOREIGN_MATCH)
        .map(|(index, _)| index)
        .collect()
}

/// Share of the concept's signature stems found in `stems`.
pub fn resemblance(concept: &Concept, stems: &HashSet<String>) -> f64 {
    if concept.signature.is_empty() {
        return 0.0;
    }
    concept.signature.iter().filter(|s| stems.contains(*s)).count() as f64 / concept.signature.len() as f64
}

/// Whether `normalised` holds every literal part of a question template (its placeholders may
/// have been filled with anything).
fn template_found(normalised: &str, fragments: &[String]) -> bool {
    let meaningful = || fragments.iter().filter(|fragment| fragment.len() >= 4);
    meaningful().any(|f| f.len() >= 20) && meaningful().all(|f| normalised.contains(f.as_str()))
}

/// Kinds that suit a difficulty at a level, best first.
fn preferred_kinds(difficulty: Difficulty, level: Level) -> &'static [Kind] {
    use Kind::*;
    match (difficulty, level) {
        (Difficulty::Easy, Level::Junior) => &[Explain, Compare],
        (Difficulty::Easy, Level::Mid) => &[Explain, Compare, Debug],
        (Difficulty::Easy, Level::Senior) => &[Compare, Explain, Debug],
        (Difficulty::Medium, Level::Junior) => &[Debug, Explain, Compare],
        (Difficulty::Medium, Level::Mid) => &[Debug, Compare, Tradeoffs],
        (Difficulty::Medium, Level::Senior) => &[Tradeoffs, Debug, Design],
        (Difficulty::Hard, Level::Junior) => &[Design, Debug, Tradeoffs],
        (Difficulty::Hard, Level::Mid) => &[Design, Tradeoffs, Debug],
        (Difficulty::Hard, Level::Senior) => &[Design, Tradeoffs, Debug],
    }
}

/// The concept level (1 to 3) a question should sit at.
fn target_level(difficulty: Difficulty, level: Level) -> f64 {
    let base = match difficulty {
        Difficulty::Easy => 1.0,
        Difficulty::Medium => 2.0,
        Difficulty::Hard => 3.0,
    };
    base + match level {
        Level::Junior => -0.5,
        Level::Mid => 0.0,
        Level::Senior => 0.5,
    }
}

/// The best binding for the next question, or `None` when the vocabulary has no concepts.
pub fn choose(
    vocabulary: &Vocabulary,
    job: &JobProfile,
    difficulty: Difficulty,
    history: &History,
    seed: u64,
) -> Option<Binding> {
    let fresh = best(vocabulary, job, difficulty, history, seed, true);
    // Past fifty questions every concept and kind may be spent: repeat the least-used then.
    fresh.or_else(|| best(vocabulary, job, difficulty, history, seed, false))
}

fn best(
    vocabulary: &Vocabulary,
    job: &JobProfile,
    difficulty: Difficulty,
    history: &History,
    seed: u64,
    skip_asked: bool,
) -> Option<Binding> {
    let kinds = preferred_kinds(difficulty, job.level);
    let target = target_level(difficulty, job.level);
    let heaviest = job.wanted.first().map_or(1.0, |w| w.weight.max(1.0));
    let mut scored: Vec<(f64, Binding)> = Vec::new();
    for (concept_index, technology, relevance) in bound_concepts(vocabulary, job, heaviest) {
        let Some(concept) = vocabulary.concepts.get(concept_index) else { continue };
        for ask in &concept.asks {
            let kind = &ask.kind;
            if skip_asked && history.asked.contains(&(concept_index, *kind)) {
                continue;
            }
            let other = if ask.text.contains("{other}") || concept.topic.contains("{other}") {
                match technology.and_then(|t| compare_partner(vocabulary, job, t)) {
                    Some(partner) => Some(partner),
                    None => continue,
                }
            } else {
                None
            };
            let kind_fit = kinds.iter().position(|k| k == kind).map_or(-3.0, |rank| -0.8 * rank as f64);
            let level_fit = -1.2 * (f64::from(concept.level) - target).abs();
            let repeats = *history.concept_uses.get(&concept_index).unwrap_or(&0) as f64;
            let near = history.nearness(concept_index, vocabulary);
            let near_penalty = if near >= NEAR_DUPLICATE { 3.0 * near } else { 0.0 };
            let fatigue = match concept.scope {
                Scope::General => 0.0,
                _ => technology.map_or(0.0, |t| *history.focus_uses.get(&t).unwrap_or(&0) as f64),
            };
            let asked_again = if history.asked.contains(&(concept_index, *kind)) { 10.0 } else { 0.0 };
            let jitter = (stable_hash(&[&seed.to_string(), &concept.id, &format!("{kind:?}")]) % 1000) as f64
                / 1000.0
                * 0.9;
            let score =
                relevance + kind_fit + level_fit - 2.5 * repeats - near_penalty - 0.9 * fatigue - asked_again
                    + jitter;
            scored.push((score, Binding { concept: concept_index, kind: *kind, technology, other }));
        }
    }
    scored.into_iter().max_by(|(a, _), (b, _)| a.total_cmp(b)).map(|(_, binding)| binding)
}

/// Every concept the job makes relevant, with the technology it would be about and how much
/// that technology matters to the job (specific concepts rank above their category's pack).
fn bound_concepts(
    vocabulary: &Vocabulary,
    job: &JobProfile,
    heaviest: f64,
) -> Vec<(usize, Option<usize>, f64)> {
    let mut bound = Vec::new();
    let mut seen = HashSet::new();
    for wanted in job.wanted.iter().take(FOCUS_TECHNOLOGIES) {
        let share = 3.0 * wanted.weight / heaviest;
        let category = vocabulary.category_of(wanted.technology);
        for (index, concept) in vocabulary.concepts.iter().enumerate() {
            let relevance = match concept.scope {
                Scope::Technology(t) if t == wanted.technology => share + 0.6,
                Scope::Category(c) if Some(c) == category => share,
                _ => continue,
            };
            if seen.insert(index) {
                bound.push((index, Some(wanted.technology), relevance));
            }
        }
    }
    let lead = job.wanted.first().map(|w| w.technology);
    // General concepts fill in when the job names little, and stay behind its own material.
    let general_relevance = if job.wanted.is_empty() { 2.0 } else { 0.6 };
    for (index, concept) in vocabulary.concepts.iter().enumerate() {
        if concept.scope == Scope::General {
            bound.push((index, lead, general_relevance));
        }
    }
    bound
}

/// What to compare `technology` with: another technology of the job in the same category, else
/// the first alternative the vocabulary lists.
fn compare_partner(vocabulary: &Vocabulary, job: &JobProfile, technology: usize) -> Option<usize> {
    let category = vocabulary.category_of(technology);
    job.wanted
        .iter()
        .map(|w| w.technology)
        .find(|&t| t != technology && vocabulary.category_of(t) == category)
        .or_else(|| {
            vocabulary
                .technologies
                .get(technology)?
                .alternatives
                .iter()
                .find_map(|id| vocabulary.technology_index(id))
        })
}
