//! The resume-analysis prompt, written from what the original asks (`docs/original.md`): the job
//! and the five categories in the system instruction, the resume as the user's message, the reply
//! as JSON per the analysis schema.

use super::analysis::analysis_schema;
use crate::ai::brief::{Brief, ResumeBrief};
use crate::ai::prompt::{at_most, fenced, inline_code, job_lines};
use crate::ai::{ModelRequest, Output, Part, Role, Turn};
use crate::job_infos::JobInfo;

/// The most the analysis may spend: five categories of feedback as JSON and room to think.
pub const MAX_OUTPUT_TOKENS: u32 = 8_192;
/// The resume text a prompt carries, in characters: several times a long resume.
pub const MAX_RESUME_CHARS: usize = 60_000;

/// The request: the job and the rules in the system instruction; the resume as the user's
/// message, either a file the model reads inline (PDF, text) or the text we extracted (always
/// for a DOCX; for a PDF when the model reads text only). `format` is the upload's kind (`pdf`,
/// `docx`, `text`); `text` is the resume's text where it is known, for the brief.
pub fn resume_request(job: &JobInfo, resume: Part, format: &str, text: Option<String>) -> ModelRequest {
    let resume = match resume {
        Part::Text(text) => {
            let source = match format {
                "docx" => "my Word document",
                "pdf" => "my PDF",
                _ => "my text file",
            };
            Part::Text(format!(
                "My resume (the text of {source}):\n{}",
                fenced(at_most(&text, MAX_RESUME_CHARS))
            ))
        }
        file @ Part::File { .. } => file,
    };
    let brief = ResumeBrief { job: job.brief(), text: text.unwrap_or_default(), format: format.to_owned() };
    ModelRequest {
        system: resume_system(job),
        turns: vec![Turn { role: Role::User, parts: vec![resume] }],
        output: Some(Output { mime_type: "application/json".into(), schema: Some(analysis_schema()) }),
        brief: Some(Brief::Resume(brief)),
        max_output_tokens: Some(MAX_OUTPUT_TOKENS),
    }
}

fn resume_system(job: &JobInfo) -> String {
    let job_lines = job_lines(&job.brief(), inline_code);
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

#[cfg(test)]
mod tests {
    use super::super::analysis::CATEGORIES;
    use super::*;

    fn job(title: Option<&str>) -> JobInfo {
        JobInfo::example(title, "Rust, ```DynamoDB```")
    }

    #[test]
    fn resume_prompt_carries_the_job_the_file_and_the_schema() {
        let file = Part::File { mime_type: "application/pdf".into(), data: b"%PDF-1.4".to_vec() };
        let request = resume_request(&job(Some("Backend Engineer")), file.clone(), "pdf", None);
        assert!(request.system.contains("````\nRust, ```DynamoDB```\n````"));
        assert!(request.system.contains("Job title: `Backend Engineer`"));
        for key in CATEGORIES {
            assert!(request.system.contains(&format!("- {key}: ")), "{key}");
        }
        assert_eq!(request.turns, [Turn { role: Role::User, parts: vec![file] }]);
        let output = request.output.unwrap();
        assert_eq!(output.mime_type, "application/json");
        assert_eq!(output.schema, Some(analysis_schema()));
        // Extracted text is fenced, so a resume cannot close its own block.
        let text =
            resume_request(&job(None), Part::Text("a ```b```".into()), "docx", Some("a ```b```".into()));
        assert!(text.turns[0].text().ends_with("````\na ```b```\n````"), "{}", text.turns[0].text());
        assert!(!text.system.contains("Job title"));
        let Some(Brief::Resume(brief)) = text.brief else { panic!("a resume brief") };
        assert_eq!((brief.text.as_str(), brief.format.as_str()), ("a ```b```", "docx"));
    }
}
