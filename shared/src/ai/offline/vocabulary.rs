//! The engine's knowledge: loads and checks the embedded JSON under `data/` and holds it in the
//! forms the rest of the engine reads (concepts are compiled by `concepts`).
//!
//! # Data format (for whoever extends the files; no programming needed)
//!
//! `vocabulary.json`
//! - `categories`: `{ "id", "name" (for readers of the file), "common_noun": bool }`. A
//!   common-noun category (practices, duties, architecture styles) has names that read in lower
//!   case mid-sentence ("code review"), and its multi-word aliases match by stem ("designed
//!   APIs" finds "API design").
//! - `technologies`: one entry per technology, practice or duty:
//!   `{ "id", "name", "category", "aliases": [...], "guarded": [...], "context": [...],
//!   "alternatives": [ids], "outdated": bool }`. Only `id`, `name` and `category` are required.
//!   `aliases` are other spellings matched case-insensitively on whole words (a trailing plural
//!   "s" is allowed). The `name` is an alias too, unless `guarded` is given: guarded spellings
//!   are names that are also ordinary English ("Go", "Swift", "Spring", "React"); they match
//!   only with exactly that capitalisation, not inside a hyphenated word, and only with another
//!   technology or a context word (a generic one from `language.json`, or one of the entry's
//!   `context` words) within three words. `alternatives` feed "compare" questions; `outdated`
//!   marks technologies a resume should not lead with.
//! - `domains`: `{ "name" (a phrase such as "a payments platform"), "terms": [...] }`, the kind
//!   of product a job ad describes, used to set the scene of a question.
//!
//! `concepts.json` holds `general` (a list of concepts for any software job) and `packs` (a
//! category id mapped to the concepts that fit every technology of that category);
//! `technology-concepts.json` maps a technology id to the concepts specific to it. A concept:
//! `{ "id", "topic", "level" (1 fundamentals, 2 applied, 3 advanced), "ask": { kind: question },
//! "points": { key point: "term, term, ..." }, "answer": "a few sentences of model answer" }`.
//! Kinds are `explain`, `compare`, `debug`, `design` and `tradeoffs`. A concept has 3 to 6
//! points; the terms after each point are the words that show an answer covers it (stems and
//! synonyms are matched, so "indexes" finds "index"). In `topic`, `ask` and `points`, `{tech}`
//! stands for the technology the question is about and `{other}` (compare questions in packs)
//! for another technology of the same category.
//!
//! `templates.json` holds the wording around a question and a model answer; `language.json` the
//! word lists (stopwords, fillers, hedges, action verbs, section headings, emotions...). Their
//! keys are described where they are read.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::text::Stems;

/// The shape of a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Explain,
    Compare,
    Debug,
    Design,
    Tradeoffs,
}

#[derive(Debug, Deserialize)]
pub struct Category {
    pub id: String,
    /// Names in this category are ordinary nouns ("on-call", "microservices") and read in lower
    /// case inside a sentence.
    #[serde(default)]
    pub common_noun: bool,
}

#[derive(Debug, Deserialize)]
pub struct Technology {
    pub id: String,
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub guarded: Vec<String>,
    #[serde(default)]
    pub context: Vec<String>,
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub outdated: bool,
}

#[derive(Debug, Deserialize)]
pub struct Domain {
    pub name: String,
    pub terms: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct VocabularyFile {
    pub(super) categories: Vec<Category>,
    pub(super) technologies: Vec<Technology>,
    pub(super) domains: Vec<Domain>,
}

/// Wording around questions and model answers (`templates.json`). Placeholders: `{topic}`,
/// `{role}`, `{a_role}` (with its article), `{domain}`, `{techs}` and, in answer intros,
/// `{setting}`.
#[derive(Debug, Default, Deserialize)]
pub struct Templates {
    /// The bold first line of a question, per kind.
    pub leads: BTreeMap<Kind, String>,
    /// Scene-setting sentences, per kind; one is picked by hash.
    pub scenarios: BTreeMap<Kind, Vec<String>>,
    /// A sentence that pitches the question at `junior`, `mid-level` or `senior`.
    pub level_notes: BTreeMap<String, Vec<String>>,
    /// "What to address" bullets, per kind.
    pub address: BTreeMap<Kind, Vec<String>>,
    /// Constraints added to design and trade-off questions.
    pub constraints: Vec<String>,
    /// The first sentence of a model answer, per kind.
    pub answer_intros: BTreeMap<Kind, String>,
    /// The last paragraph of a model answer, per kind.
    pub answer_closings: BTreeMap<Kind, String>,
    /// Scene used when the job ad names no recognisable product.
    pub fallback_domain: String,
}

/// Word lists (`language.json`).
#[derive(Debug, Default, Deserialize)]
pub struct Language {
    pub stopwords: Vec<String>,
    /// Words that make a guarded name a technology even at the start of a sentence.
    pub context_strong: Vec<String>,
    /// Words that do so in the middle of a sentence.
    pub context_weak: Vec<String>,
    /// Groups of interchangeable terms for grading.
    pub synonyms: Vec<Vec<String>>,
    pub non_answers: Vec<String>,
    pub example_markers: Vec<String>,
    pub reasoning_markers: Vec<String>,
    /// Words too common in any question to show an answer is on topic.
    pub generic_question_words: Vec<String>,
    pub fillers: Vec<String>,
    pub hedges: Vec<String>,
    pub action_verbs: Vec<String>,
    pub weak_openers: Vec<String>,
    pub cliches: Vec<String>,
    /// Section name mapped to the headings that introduce it.
    pub section_headings: BTreeMap<String, Vec<String>>,
    pub personal_details: Vec<String>,
    pub positive_emotions: Vec<String>,
    pub negative_emotions: Vec<String>,
    pub leadership_signals: Vec<String>,
    pub result_markers: Vec<String>,
    /// Words every job ad uses, left out when a job's own terms stand in for keywords.
    pub job_ad_words: Vec<String>,
    /// Emotion name (as the voice service spells it) mapped to how a person would say it.
    pub emotion_words: BTreeMap<String, String>,
    /// Phrases of courtesy that show engagement with the interviewer.
    pub courtesies: Vec<String>,
}

/// Where a concept applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    General,
    Category(usize),
    Technology(usize),
}

/// A question a concept can be asked as.
#[derive(Debug)]
pub struct Ask {
    pub kind: Kind,
    pub text: String,
    /// `text::template_fragments` of the text.
    pub fragments: Vec<String>,
}

/// A key point with the stem sequences that show an answer covers it.
#[derive(Debug)]
pub struct Point {
    pub text: String,
    /// `text::template_fragments` of the text.
    pub fragments: Vec<String>,
    /// The terms as written, to suggest wording to a candidate who missed the point.
    pub hints: Vec<String>,
    pub terms: Vec<Vec<String>>,
}

#[derive(Debug)]
pub struct Concept {
    pub id: String,
    pub scope: Scope,
    pub topic: String,
    pub level: u8,
    pub asks: Vec<Ask>,
    pub points: Vec<Point>,
    pub answer: String,
    /// Stems of the topic and questions, to recognise the concept in a question another model
    /// wrote.
    pub signature: HashSet<String>,
    /// Stems of the topic without its own technology's name, to tell when two concepts are about
    /// the same subject ("rendering performance in {tech}" and "React rendering performance").
    pub subject: HashSet<String>,
}

/// Everything under `data/`, checked and compiled.
pub struct Vocabulary {
    pub categories: Vec<Category>,
    pub technologies: Vec<Technology>,
    pub domains: Vec<Domain>,
    pub concepts: Vec<Concept>,
    pub templates: Templates,
    pub language: Language,
    pub stems: Stems,
}

impl Vocabulary {
    /// An empty vocabulary: the engine still answers (from built-in fallbacks), just blandly.
    pub fn empty() -> Vocabulary {
        Vocabulary {
            categories: Vec::new(),
            technologies: Vec::new(),
            domains: Vec::new(),
            concepts: Vec::new(),
            templates: Templates::default(),
            language: Language::default(),
            stems: Stems::new(&[]),
        }
    }

    pub fn technology_index(&self, id: &str) -> Option<usize> {
        self.technologies.iter().position(|t| t.id == id)
    }

    /// A technology's name as it reads inside a sentence: "code review", but "CI/CD" and "Rust".
    pub fn name_in_sentence(&self, technology: usize) -> Option<String> {
        let entry = self.technologies.get(technology)?;
        let common =
            self.category_of(technology).and_then(|c| self.categories.get(c)).is_some_and(|c| c.common_noun);
        // Only a plainly capitalised first word is lowered: "Code review" but not "DevOps" or "CI/CD".
        let first_word = entry.name.split([' ', '-']).next().unwrap_or("");
        let plain_capital = first_word.chars().skip(1).all(|c| !c.is_uppercase());
        if common && plain_capital {
            let mut chars = entry.name.chars();
            let lowered: String =
                chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
            Some(lowered)
        } else {
            Some(entry.name.clone())
        }
    }

    pub fn category_of(&self, technology: usize) -> Option<usize> {
        let id = &self.technologies.get(technology)?.category;
        self.categories.iter().position(|c| &c.id == id)
    }
}
