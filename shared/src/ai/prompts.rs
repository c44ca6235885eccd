//! Our prompts, written from what the original asks of the model (original-app §8): one new
//! technical question at a requested difficulty for the user's job, and graded feedback on an
//! answer in a fixed Markdown shape. The wording is ours. User-supplied text (the job
//! description, a question) goes inside a fence longer than any backtick run it contains, so it
//! cannot close its own block.

use super::{ModelRequest, Output, Part, Turn};
use crate::job_infos::JobInfo;
use crate::questions::{Difficulty, Question};

/// The request for a new question: the job in the system instruction, each previous question of
/// the job as a (difficulty, question) pair of turns so the model does not repeat itself, then
/// the requested difficulty.
pub fn question_request(job: &JobInfo, previous: &[Question], difficulty: Difficulty) -> ModelRequest {
    let mut turns = Vec::with_capacity(previous.len() * 2 + 1);
    for question in previous {
        turns.push(Turn::user(question.difficulty.as_str()));
        turns.push(Turn::model(question.text.clone()));
    }
    turns.push(Turn::user(difficulty.as_str()));
    ModelRequest { system: question_system(job), turns, output: None }
}

/// The job as every prompt states it: title (left out when missing, never "null"), level, and
/// the description fenced; `quote` renders the short values.
pub fn job_lines(job: &JobInfo, quote: impl Fn(&str) -> String) -> String {
    let mut lines = String::new();
    if let Some(title) = job.title.as_deref().map(str::trim).filter(|title| !title.is_empty()) {
        lines.push_str(&format!("Job title: {}\n", quote(title)));
    }
    lines.push_str(&format!("Experience level: {}\n", quote(job.experience_level.as_str())));
    lines.push_str(&format!("Job description:\n{}\n", fenced(&job.description)));
    lines
}

fn question_system(job: &JobInfo) -> String {
    let job_lines = job_lines(job, inline_code);
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

/// The request for feedback: the question in the system instruction, the candidate's answer as
/// the user's message.
pub fn feedback_request(question: &str, answer: &str) -> ModelRequest {
    ModelRequest { system: feedback_system(question), turns: vec![Turn::user(answer)], output: None }
}

fn feedback_system(question: &str) -> String {
    format!(
        "You are an experienced technical interviewer. A candidate practising for an interview \
         answered this question:\n\
         \n\
         {question}\n\
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

/// The request for a resume analysis (original-app §8.4): the job and the rules in the system
/// instruction; the resume as the user's message, either a file Gemini reads inline (PDF, text)
/// or the text we extracted (DOCX). The reply is JSON per `resumes::analysis_schema`.
pub fn resume_request(job: &JobInfo, resume: Part) -> ModelRequest {
    let resume = match resume {
        Part::Text(text) => {
            Part::Text(format!("My resume (the text of my Word document):\n{}", fenced(&text)))
        }
        file @ Part::File { .. } => file,
    };
    ModelRequest {
        system: resume_system(job),
        turns: vec![Turn { role: super::Role::User, parts: vec![resume] }],
        output: Some(Output {
            mime_type: "application/json".into(),
            schema: Some(crate::resumes::analysis_schema()),
        }),
    }
}

fn resume_system(job: &JobInfo) -> String {
    let job_lines = job_lines(job, inline_code);
    format!(
        "You are an experienced recruiter and hiring advisor. The user's message is their resume; \
         review it against the job below and tell them how to improve it for this job.\n\
         \n\
         {job_lines}\
         \n\
         Assess five categories, each with a score from 1 to 10, a short summary and a list of \
         specific feedback items (each a strength, a minor improvement or a major improvement, \
         with a short name and a message):\n\
         - ats: how easily applicant tracking systems read it: a simple layout, standard section \
         headings, no graphics, tables or columns, consistent formatting;\n\
         - jobMatch: how well the skills, technologies, experience and achievements fit the job \
         description and the experience level;\n\
         - writingAndFormatting: clarity, grammar, structure and tone; suggest better wording \
         that fits the job description;\n\
         - keywordCoverage: which important keywords of the job description are present and \
         which are missing;\n\
         - other: anything else that matters: contact details, outdated technologies, red \
         flags, unexplained gaps.\n\
         Then give an overall score from 1 to 10.\n\
         \n\
         Rules:\n\
         - Reply only with JSON that follows the response schema, nothing else.\n\
         - Speak to the candidate as \"you\".\n\
         - Be honest and specific; critical feedback is welcome when it helps.\n\
         - Judge only what the resume says; do not invent experience.\n\
         \n\
         Stop as soon as the JSON object is complete."
    )
}

/// `text` in a fenced block whose fence is longer than any backtick run inside it.
pub fn fenced(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    format!("{fence}\n{}\n{fence}", text.trim_end())
}

/// `text` as inline code, safe for backticks inside it.
fn inline_code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    format!("{ticks}{}{ticks}", text.trim())
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::Role;
    use crate::job_infos::ExperienceLevel;

    fn job(title: Option<&str>) -> JobInfo {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        JobInfo {
            id: uuid::Uuid::now_v7(),
            user_id: "user_a".into(),
            name: "n".into(),
            title: title.map(str::to_owned),
            experience_level: ExperienceLevel::MidLevel,
            description: "Rust, ```DynamoDB```".into(),
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn fences_outgrow_backticks_inside() {
        assert_eq!(fenced("a"), "```\na\n```");
        assert_eq!(fenced("x ```y``` z"), "````\nx ```y``` z\n````");
        assert_eq!(inline_code("senior"), "`senior`");
        assert_eq!(inline_code("a`b"), "``a`b``");
    }

    #[test]
    fn question_prompt_carries_the_job_and_the_history() {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let previous = Question {
            id: uuid::Uuid::now_v7(),
            job_info_id: uuid::Uuid::now_v7(),
            text: "What is ownership?".into(),
            difficulty: Difficulty::Easy,
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
    }

    #[test]
    fn resume_prompt_carries_the_job_the_file_and_the_schema() {
        let file = Part::File { mime_type: "application/pdf".into(), data: b"%PDF-1.4".to_vec() };
        let request = resume_request(&job(Some("Backend Engineer")), file.clone());
        assert!(request.system.contains("````\nRust, ```DynamoDB```\n````"));
        assert!(request.system.contains("Job title: `Backend Engineer`"));
        for key in crate::resumes::CATEGORIES {
            assert!(request.system.contains(&format!("- {key}: ")), "{key}");
        }
        assert_eq!(request.turns, [Turn { role: Role::User, parts: vec![file] }]);
        let output = request.output.unwrap();
        assert_eq!(output.mime_type, "application/json");
        assert_eq!(output.schema, Some(crate::resumes::analysis_schema()));
        // Extracted text is fenced, so a resume cannot close its own block.
        let text = resume_request(&job(None), Part::Text("a ```b```".into()));
        assert!(text.turns[0].text().ends_with("````\na ```b```\n````"), "{}", text.turns[0].text());
        assert!(!text.system.contains("Job title"));
    }

    #[test]
    fn feedback_prompt_asks_for_the_original_shape() {
        let request = feedback_request("Explain `Send`.", "It marks thread-safe types");
        assert!(request.system.contains("```\nExplain `Send`.\n```"));
        assert!(request.system.contains("## Feedback (Rating: <grade>/10)"));
        assert!(request.system.contains("\n---\n## Correct Answer\n"));
        assert_eq!(request.turns, [Turn::user("It marks thread-safe types")]);
    }
}
