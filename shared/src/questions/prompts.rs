//! The questions' prompts, written from what the original asks of the model: one new technical
//! question at a requested difficulty for the user's job, and graded feedback on an answer in a
//! fixed Markdown shape (`docs/original.md`). The wording is ours.

use super::{Difficulty, Question};
use crate::ai::brief::{Brief, GradeBrief, QuestionBrief};
use crate::ai::prompt::{fenced, inline_code, job_lines, latest_within};
use crate::ai::{ModelRequest, Turn};
use crate::job_infos::JobInfo;

/// The most a reply may spend: a question is a few hundred words; the rest is room for a thinking
/// model's reasoning.
pub const QUESTION_MAX_OUTPUT_TOKENS: u32 = 4_096;
/// Feedback is a grade, comments and a complete answer.
pub const FEEDBACK_MAX_OUTPUT_TOKENS: u32 = 8_192;
/// The previous questions a prompt carries, in characters (the most recent first).
pub const MAX_HISTORY_CHARS: usize = 40_000;

/// The request for a new question: the job in the system instruction, each previous question of
/// the job as a (difficulty, question) pair of turns so the model does not repeat itself, then
/// the requested difficulty.
pub fn question_request(job: &JobInfo, previous: &[Question], difficulty: Difficulty) -> ModelRequest {
    let previous = latest_within(previous, MAX_HISTORY_CHARS, |question| question.text.len());
    let mut turns = Vec::with_capacity(previous.len() * 2 + 1);
    for question in previous {
        turns.push(Turn::user(question.difficulty.as_str()));
        turns.push(Turn::model(question.text.clone()));
    }
    turns.push(Turn::user(difficulty.as_str()));
    let job = job.brief();
    let brief = QuestionBrief {
        difficulty: difficulty.as_str().to_owned(),
        previous: previous.iter().map(|question| question.text.clone()).collect(),
        job,
    };
    ModelRequest {
        system: question_system(&brief),
        turns,
        output: None,
        brief: Some(Brief::Question(brief)),
        max_output_tokens: Some(QUESTION_MAX_OUTPUT_TOKENS),
    }
}

fn question_system(brief: &QuestionBrief) -> String {
    let job_lines = job_lines(&brief.job, inline_code);
    format!(
        "You help a candidate practise for a technical job interview by writing interview \
         questions for the job below.\n\
         \n\
         {job_lines}\
         \n\
         Each user message is a difficulty: \"easy\", \"medium\" or \"hard\". Answer it with one \
         new technical interview question that a real interviewer for this job could ask.\n\
         \n\
         Rules:\n\
         - Draw on the skills, tools and technologies the job description asks for; a question \
         about just one of them is fine.\n\
         - Pitch it at the experience level above and at the requested difficulty.\n\
         - Prefer a practical problem from the day-to-day work of this job over trivia or \
         definitions.\n\
         - Never repeat or reword a question you already wrote in this conversation.\n\
         - Write only the question: no answer, solution, hints or introduction, and never more \
         than one question.\n\
         - Format it as Markdown, with code blocks for any code.\n\
         \n\
         Stop as soon as the question is written."
    )
}

/// The request for feedback: the question (and, when known, the points a complete answer
/// covers) in the system instruction, the candidate's answer as the user's message.
pub fn feedback_request(question: &str, key_points: &[String], answer: &str) -> ModelRequest {
    ModelRequest {
        system: feedback_system(question, key_points),
        turns: vec![Turn::user(answer)],
        output: None,
        brief: Some(Brief::Grade(GradeBrief {
            question: question.to_owned(),
            key_points: key_points.to_vec(),
            answer: answer.to_owned(),
        })),
        max_output_tokens: Some(FEEDBACK_MAX_OUTPUT_TOKENS),
    }
}

fn feedback_system(question: &str, key_points: &[String]) -> String {
    let key_points = if key_points.is_empty() {
        String::new()
    } else {
        let points: String = key_points.iter().map(|point| format!("- {point}\n")).collect();
        format!("\nA complete answer covers these points:\n{points}")
    };
    format!(
        "You are an experienced technical interviewer. A candidate practising for an interview \
         answered this question:\n\
         \n\
         {question}\n\
         {key_points}\
         \n\
         The user's message is the candidate's answer. Grade it from 1 to 10:\n\
         - 10: complete and correct;\n\
         - 7 to 9: mostly correct, with small gaps or inaccuracies;\n\
         - 4 to 6: partly correct, missing important points;\n\
         - 1 to 3: largely wrong, off topic or empty.\n\
         Grade only what the candidate wrote: the model answer you give afterwards must not \
         change the grade.\n\
         \n\
         Reply in Markdown with exactly this structure, nothing before or after it:\n\
         \n\
         ## Feedback (Rating: <grade>/10)\n\
         <concise, constructive feedback: what was right, what was missing or wrong, and how to \
         improve>\n\
         ---\n\
         ## Correct Answer\n\
         <a complete, correct answer to the question>\n\
         \n\
         Speak to the candidate as \"you\". Stop as soon as the correct answer is complete.",
        question = fenced(question)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::Role;

    fn job(title: Option<&str>) -> JobInfo {
        JobInfo::example(title, "Rust, ```DynamoDB```")
    }

    #[test]
    fn question_prompt_carries_the_job_and_the_history() {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let previous = Question {
            id: uuid::Uuid::now_v7(),
            job_info_id: uuid::Uuid::now_v7(),
            text: "What is ownership?".into(),
            difficulty: Difficulty::Easy,
            model: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let request = question_request(&job(Some("Backend Engineer")), &[previous], Difficulty::Hard);
        assert!(request.system.contains("Job title: `Backend Engineer`"));
        assert!(request.system.contains("Experience level: `mid-level`"));
        assert!(request.system.contains("````\nRust, ```DynamoDB```\n````"));
        let turns: Vec<(Role, String)> = request.turns.iter().map(|t| (t.role, t.text())).collect();
        assert_eq!(
            turns,
            [
                (Role::User, "easy".to_owned()),
                (Role::Model, "What is ownership?".to_owned()),
                (Role::User, "hard".to_owned())
            ]
        );
        assert!(!question_request(&job(None), &[], Difficulty::Easy).system.contains("Job title"));
        let Some(Brief::Question(brief)) = request.brief else { panic!("a question brief") };
        assert_eq!((brief.difficulty.as_str(), brief.previous.len()), ("hard", 1));
    }

    #[test]
    fn feedback_prompt_asks_for_the_original_shape() {
        let request = feedback_request("Explain `Send`.", &[], "It marks thread-safe types");
        assert!(request.system.contains("```\nExplain `Send`.\n```"));
        assert!(request.system.contains("## Feedback (Rating: <grade>/10)"));
        assert!(request.system.contains("\n---\n## Correct Answer\n"));
        assert_eq!(request.turns, [Turn::user("It marks thread-safe types")]);
    }
}
