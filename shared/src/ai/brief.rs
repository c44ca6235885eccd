//! Briefs: what an AI request asks, in neutral, structured terms. Every request carries one beside
//! its prose prompt, so an engine that does not read prose (the offline engine) can still answer
//! it. Nothing here knows a resource: the resources fill these in from their own types.

use std::collections::BTreeMap;

/// The job being practised for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobBrief {
    /// The job title, when the user gave one.
    pub title: Option<String>,
    /// `junior`, `mid-level` or `senior`.
    pub experience_level: String,
    /// The job description as the user wrote it (free text, up to 20 000 characters).
    pub description: String,
}

/// Write one new technical interview question for the job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuestionBrief {
    pub job: JobBrief,
    /// `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// The markdown texts of the questions already asked for this job, oldest first (at most 50).
    /// A new question must not repeat any of them.
    pub previous: Vec<String>,
}

/// Grade a candidate's answer to a question.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GradeBrief {
    /// The question's markdown text.
    pub question: String,
    /// What a complete answer covers, when the question was stored with them (questions the
    /// offline engine wrote carry them; others have none).
    pub key_points: Vec<String>,
    /// The candidate's answer (trimmed, 1..=20 000 characters).
    pub answer: String,
}

/// Review a resume against the job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResumeBrief {
    pub job: JobBrief,
    /// The resume's text as extracted from the upload (PDF, DOCX or plain text): lines as
    /// they appear in the document, may be messy (PDF extraction loses some layout).
    pub text: String,
    /// `pdf`, `docx` or `text`: what the upload was.
    pub format: String,
}

/// Review a finished voice mock interview.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterviewBrief {
    pub job: JobBrief,
    /// The interviewee's display name (may be empty).
    pub candidate: String,
    /// The conversation in order.
    pub transcript: Vec<TranscriptLine>,
}

/// One message of a voice interview.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TranscriptLine {
    /// True when the interviewee said it, false for the AI interviewer.
    pub interviewee: bool,
    pub text: String,
    /// Emotion scores (0..1 by name, e.g. "Joy", "Anxiety", "Calmness", "Confusion",
    /// "Determination", "Interest", "Boredom", "Concentration", "Doubt", "Awkwardness") that
    /// the voice service detected in the interviewee's voice for this message, when present.
    pub emotions: Option<BTreeMap<String, f64>>,
}

/// What a request asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Brief {
    Question(QuestionBrief),
    Grade(GradeBrief),
    Resume(ResumeBrief),
    Interview(InterviewBrief),
}
