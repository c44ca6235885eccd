//! The interview-feedback prompt, written from what the original asks (`docs/original.md`):
//! feedback in seven rated categories from the transcript and the interviewee's emotion cues.

use crate::ai::brief::{Brief, InterviewBrief, TranscriptLine};
use crate::ai::prompt::{earliest_within, job_lines};
use crate::ai::{ModelRequest, Turn};
use crate::hume::TranscriptMessage;
use crate::job_infos::JobInfo;

/// The most the feedback may spend: seven rated sections and room to think.
pub const MAX_OUTPUT_TOKENS: u32 = 8_192;
/// The transcript a prompt carries, in characters of its messages (the earliest first: about an
/// hour of conversation).
pub const MAX_TRANSCRIPT_CHARS: usize = 60_000;

/// The feedback request: the interviewee, the job and the transcript format in the system
/// instruction; the transcript JSON as the user's message.
pub fn feedback_request(user_name: &str, job: &JobInfo, transcript: &[TranscriptMessage]) -> ModelRequest {
    let transcript = earliest_within(transcript, MAX_TRANSCRIPT_CHARS, |message| message.text.len());
    let text = serde_json::to_string(transcript).unwrap_or_else(|_| "[]".into());
    let brief = InterviewBrief {
        job: job.brief(),
        candidate: user_name.trim().to_owned(),
        transcript: transcript
            .iter()
            .map(|message| TranscriptLine {
                interviewee: message.speaker == "interviewee",
                text: message.text.clone(),
                emotions: message.emotion_features.clone(),
            })
            .collect(),
    };
    ModelRequest {
        system: feedback_system(user_name, &brief),
        turns: vec![Turn::user(text)],
        output: None,
        brief: Some(Brief::Interview(brief)),
        max_output_tokens: Some(MAX_OUTPUT_TOKENS),
    }
}

fn feedback_system(user_name: &str, brief: &InterviewBrief) -> String {
    let job_lines = job_lines(&brief.job, str::to_owned);
    let name = user_name.trim();
    let name = if name.is_empty() { "the candidate" } else { name };
    format!(
        "You are an experienced interview coach. {name} has just finished a mock voice interview \
         for the job below, and you review how it went.\n\
         \n\
         {job_lines}\
         \n\
         The user's message is the interview transcript as a JSON array, in order. Each entry has \
         `speaker` (\"interviewer\", the AI interviewer, or \"interviewee\", {name}), `text` (what \
         was said) and, for some interviewee entries, `emotionFeatures`: scores from 0 to 1 of \
         the emotions detected in the interviewee's voice while saying it.\n\
         \n\
         Write feedback in Markdown. Start with an overall rating out of 10 on its own line, then \
         one section per category, each heading carrying its rating, e.g. \
         \"## Communication Clarity: 8/10\":\n\
         1. Communication Clarity\n\
         2. Confidence and Emotional State (use the emotion scores as cues)\n\
         3. Response Quality\n\
         4. Pacing and Timing\n\
         5. Engagement and Interaction\n\
         6. Role Fit & Alignment (against the job and its experience level)\n\
         7. Overall Strengths & Areas for Improvement\n\
         \n\
         Rules:\n\
         - Point to specific moments of the interview to support each judgement.\n\
         - Never quote the raw emotion scores; describe what they suggest.\n\
         - No level-1 heading, and do not repeat the job description.\n\
         - Speak to {name} directly as \"you\".\n\
         \n\
         Stop when the last category is done."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_infos::ExperienceLevel;

    #[test]
    fn prompt_never_prints_null_for_a_missing_title() {
        let mut job =
            JobInfo { experience_level: ExperienceLevel::Junior, ..JobInfo::example(None, "Kotlin apps") };
        let transcript =
            [TranscriptMessage { speaker: "interviewee", text: "Hi".into(), emotion_features: None }];
        let request = feedback_request("Amina", &job, &transcript);
        assert!(!request.system.contains("null"));
        assert!(!request.system.contains("Job title"));
        assert!(request.system.contains("Amina") && request.system.contains("Experience level: junior"));
        assert!(request.system.contains("```\nKotlin apps\n```"));
        assert_eq!(request.turns, [Turn::user(r#"[{"speaker":"interviewee","text":"Hi"}]"#)]);
        job.title = Some("Android Engineer".into());
        assert!(feedback_request("Amina", &job, &transcript).system.contains("Job title: Android Engineer"));
    }
}
