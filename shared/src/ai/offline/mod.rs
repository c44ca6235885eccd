//! The offline engine: a deterministic, network-free stand-in for the AI provider that writes
//! interview questions, grades answers, reviews resumes and reviews mock interviews from the
//! embedded vocabulary under `data/`. Every output is a pure function of its brief; any
//! variety comes from a stable hash of the input.

mod answer;
mod compose;
mod concepts;
mod extract;
mod grading;
mod interview;
mod interview_report;
mod job;
mod model;
mod questions;
mod resume;
mod resume_facts;
mod resume_scores;
mod text;
mod vocabulary;

pub use model::OfflineModel;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use crate::ai::brief::{GradeBrief, InterviewBrief, QuestionBrief, ResumeBrief};

use extract::Matcher;
use job::{Difficulty, JobProfile};
use vocabulary::Vocabulary;

/// A question and the points a complete answer covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedQuestion {
    /// Markdown.
    pub text: String,
    pub key_points: Vec<String>,
}

/// The parsed vocabulary and the matcher compiled from it.
pub struct Engine {
    vocabulary: Vocabulary,
    matcher: Matcher,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    pub const MODEL_NAME: &'static str = "darasa-offline-1";

    /// Parses the embedded data. The data is checked by the tests, so it always loads; were it
    /// ever malformed the engine would still answer, from its built-in fallbacks.
    pub fn new() -> Engine {
        let vocabulary = concepts::load_vocabulary().unwrap_or_else(|_| Vocabulary::empty());
        let matcher = Matcher::new(&vocabulary);
        Engine { vocabulary, matcher }
    }

    /// One engine per process, built on first use.
    pub fn shared() -> &'static Engine {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        ENGINE.get_or_init(Engine::new)
    }

    /// A new question for the job that repeats none of `brief.previous`.
    pub fn question(&self, brief: &QuestionBrief) -> GeneratedQuestion {
        let job = JobProfile::read(&brief.job, &self.matcher, &self.vocabulary);
        let difficulty = Difficulty::parse(&brief.difficulty);
        let history = questions::History::read(&brief.previous, &self.vocabulary, &self.matcher);
        let seed = job::seed(&brief.job, &[difficulty.as_str(), &brief.previous.len().to_string()]);
        match questions::choose(&self.vocabulary, &job, difficulty, &history, seed) {
            Some(binding) => compose::question(&self.vocabulary, &job, binding, seed),
            None => compose::fallback_question(&job, difficulty),
        }
    }

    /// Markdown feedback in the product's shape: rating, feedback, `---`, correct answer.
    pub fn grade(&self, brief: &GradeBrief) -> String {
        let rubric =
            grading::Rubric::build(&brief.question, &brief.key_points, &self.vocabulary, &self.matcher);
        let grade = grading::grade(&brief.answer, &rubric, &self.vocabulary);
        answer::render(&grade, &rubric, &self.vocabulary)
    }

    /// The resume analysis as JSON text (overall score and five categories, in the schema's
    /// key order).
    pub fn review_resume(&self, brief: &ResumeBrief) -> String {
        resume::review(brief, &self.vocabulary, &self.matcher)
    }

    /// Markdown review of a voice mock interview from its transcript.
    pub fn review_interview(&self, brief: &InterviewBrief) -> String {
        let facts = interview::measure(brief, &self.vocabulary, &self.matcher);
        interview_report::render(&facts)
    }
}
