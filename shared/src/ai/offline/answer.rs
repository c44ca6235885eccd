//! The text of a grading: feedback that names the key points covered and missed, and the model
//! answer built from the rubric, in the product's fixed shape
//! (`## Feedback (Rating: n/10)`, feedback, `---`, `## Correct Answer`, answer).

use super::grading::{Cap, Coverage, Grade, Rubric, Source};
use super::text::{capitalise, join_and};
use super::vocabulary::{Kind, Vocabulary};

const GRADE_FOOTER: &str = "*Graded offline by Darasa's practice engine from key-point coverage, structure \
                            and length: no AI provider was used.*";

/// The steps of a strong answer, for questions nothing in the vocabulary covers.
const OUTLINE: [(&str, &str); 5] = [
    (
        "Frame it.",
        "Restate the problem in one sentence and name the assumptions you make (scale, users, constraints).",
    ),
    (
        "Explain the core idea.",
        "Define the key terms of the question and how the mechanism works, because the interviewer wants to \
         see you understand it, not recite it.",
    ),
    (
        "Walk through an example.",
        "Use a concrete case, for example a request, a data set or an incident you handled, and follow it \
         step by step.",
    ),
    (
        "Weigh the trade-offs.",
        "Say what your approach costs (performance, complexity, money, risk) and when you would choose \
         differently.",
    ),
    ("Close with verification.", "Explain how you would test or monitor it so you know it works."),
];

/// Terms suggested for a missed point.
const HINTS_SHOWN: usize = 3;

pub fn render(grade: &Grade, rubric: &Rubric, vocabulary: &Vocabulary) -> String {
    format!(
        "## Feedback (Rating: {}/10)\n{}\n---\n## Correct Answer\n{}\n",
        grade.rating,
        feedback(grade, rubric),
        model_answer(rubric, vocabulary)
    )
}

fn emphasised(points: &[&str]) -> String {
    join_and(&points.iter().map(|p| format!("*{}*", p.trim_end_matches('.'))).collect::<Vec<_>>())
}

fn feedback(grade: &Grade, rubric: &Rubric) -> String {
    let mut out = String::new();
    let covered: Vec<&str> = points_with(grade, rubric, Coverage::Full);
    let partial: Vec<&str> = points_with(grade, rubric, Coverage::Partial);
    out.push_str(&summary_line(grade, rubric, covered.len(), partial.len()));
    out.push_str("\n\n**What you did well**\n");
    let mut strengths = Vec::new();
    if !covered.is_empty() {
        strengths.push(format!("You covered {}.", emphasised(&covered)));
    }
    if !partial.is_empty() {
        strengths.push(format!("You touched on {}.", emphasised(&partial)));
    }
    if grade.facts.laid_out {
        strengths.push("You organised the answer into clear paragraphs or steps.".to_owned());
    }
    if grade.facts.has_example || grade.facts.has_code {
        strengths.push("You grounded it in a concrete example, which interviewers look for.".to_owned());
    }
    if grade.facts.has_reasoning {
        strengths.push("You explained why, not only what.".to_owned());
    }
    if rubric.source == Source::QuestionTerms && grade.question_overlap >= 0.5 {
        strengths.push("You stayed on the question's own subject throughout.".to_owned());
    }
    if strengths.is_empty() {
        strengths.push(
            match grade.cap {
                Some(Cap::NonAnswer) => "Saying you do not know is better than bluffing in a real interview.",
                _ => "You made a start: keep going and build it into a full answer.",
            }
            .to_owned(),
        );
    }
    for line in strengths {
        out.push_str(&format!("- {line}\n"));
    }
    out.push_str("\n**What you missed**\n");
    let mut gaps = Vec::new();
    for (point, coverage) in rubric.points.iter().zip(&grade.coverage) {
        let hints: Vec<String> = point.hints.iter().take(HINTS_SHOWN).map(|h| format!("\"{h}\"")).collect();
        let hint =
            if hints.is_empty() { String::new() } else { format!(" (words such as {})", join_and(&hints)) };
        match coverage {
            Coverage::Missed => gaps.push(format!("*{}*{hint}.", point.text.trim_end_matches('.'))),
            Coverage::Partial => gaps.push(format!(
                "You mentioned *{}* only in passing: say what it means here and why it matters.",
                point.text.trim_end_matches('.')
            )),
            Coverage::Full => {}
        }
    }
    gaps.extend(quality_gaps(grade));
    if gaps.is_empty() {
        gaps.push("Nothing important: to polish it, keep it tight and lead with your conclusion.".to_owned());
    }
    for line in gaps {
        out.push_str(&format!("- {line}\n"));
    }
    if rubric.source == Source::QuestionTerms {
        out.push_str(
            "\nThis question came without key points and the offline vocabulary does not cover it, so the \
             rating rests on how closely you addressed the question's own terms and on the shape of your \
             answer, not on checked facts.\n",
        );
    } else if rubric.source == Source::Derived {
        out.push_str(
            "\nThis question came without key points, so they were taken from the offline vocabulary's \
             material on the same subject.\n",
        );
    }
    out.push('\n');
    out.push_str(GRADE_FOOTER);
    out
}

fn points_with<'a>(grade: &Grade, rubric: &'a Rubric, wanted: Coverage) -> Vec<&'a str> {
    rubric
        .points
        .iter()
        .zip(&grade.coverage)
        .filter(|(_, c)| **c == wanted)
        .map(|(p, _)| p.text.as_str())
        .collect()
}

fn summary_line(grade: &Grade, rubric: &Rubric, full: usize, partial: usize) -> String {
    match grade.cap {
        Some(Cap::NonAnswer) => {
            return "You did not attempt an answer this time. That is fine while practising: read the model \
                    answer below, then try again in your own words."
                .to_owned();
        }
        Some(Cap::TooShort) => {
            return "Your answer is only a few words, too short to show what you know.".to_owned();
        }
        Some(Cap::CopiedQuestion) => {
            return "Your answer mostly repeats the question; it needs your own explanation.".to_owned();
        }
        Some(Cap::OffTopic) => {
            return "Your answer does not address this question: it shares almost nothing with its subject."
                .to_owned();
        }
        _ => {}
    }
    let verdict = match grade.rating {
        9..=10 => "A strong answer.",
        7..=8 => "A good answer with a few gaps.",
        5..=6 => "A partial answer: the basics are there, but important points are missing.",
        _ => "A weak answer so far: most of what the interviewer is listening for is missing.",
    };
    if rubric.points.is_empty() {
        return verdict.to_owned();
    }
    let partial_note = if partial > 0 { format!(" and touched on {partial} more") } else { String::new() };
    format!("{verdict} You covered {full} of {} key points{partial_note}.", rubric.points.len())
}

fn quality_gaps(grade: &Grade) -> Vec<String> {
    let mut gaps = Vec::new();
    if grade.cap == Some(Cap::Brief) {
        gaps.push(format!(
            "At {} words the answer is too brief to be complete; aim for a few short paragraphs.",
            grade.facts.words
        ));
    }
    if !grade.facts.laid_out && grade.facts.words >= 60 {
        gaps.push("Break the answer into steps or short paragraphs so it is easy to follow.".to_owned());
    }
    if !grade.facts.has_example && !grade.facts.has_code && grade.cap.is_none() {
        gaps.push("Add a concrete example (a number, a snippet or a situation you handled).".to_owned());
    }
    if !grade.facts.has_reasoning && grade.cap.is_none() {
        gaps.push("Say why each choice is right here, and what it costs.".to_owned());
    }
    gaps
}

fn model_answer(rubric: &Rubric, vocabulary: &Vocabulary) -> String {
    let templates = &vocabulary.templates;
    let concept = rubric.concept.and_then(|(c, kind)| Some((vocabulary.concepts.get(c)?, kind)));
    let focus = rubric.technologies.first().cloned().unwrap_or_default();
    let Some((concept, kind)) = concept else {
        return outline_answer(rubric, &setting(&rubric.technologies, ""));
    };
    let kind = kind.unwrap_or(Kind::Explain);
    let topic = super::compose::fill(&concept.topic, &focus, "another option");
    let setting = setting(&rubric.technologies, &topic);
    let intro = templates
        .answer_intros
        .get(&kind)
        .map_or("A complete answer on {topic}{setting} covers the points below.", String::as_str)
        .replace("{topic}", &topic)
        .replace("{setting}", &setting);
    let mut out =
        format!("{intro}\n\n{}\n\n", super::compose::fill(&concept.answer, &focus, "another option"));
    for point in &rubric.points {
        out.push_str(&format!("- **{}.**\n", capitalise(point.text.trim_end_matches('.'))));
    }
    if let Some(closing) = templates.answer_closings.get(&kind) {
        out.push('\n');
        out.push_str(closing);
    }
    out
}

/// " in a stack built on A and B": the question's technologies the topic does not already name.
fn setting(technologies: &[String], topic: &str) -> String {
    let extra: Vec<String> =
        technologies.iter().filter(|t| !topic.contains(t.as_str())).take(3).cloned().collect();
    if extra.is_empty() { String::new() } else { format!(" in a stack built on {}", join_and(&extra)) }
}

/// An outline for a question the vocabulary cannot answer: the shape of a strong answer.
fn outline_answer(rubric: &Rubric, setting: &str) -> String {
    let mut out = format!(
        "The offline engine has no worked material on this exact question{setting}, so this is the shape a \
         strong answer takes rather than a checked solution.\n\n"
    );
    if rubric.points.is_empty() {
        for (number, (step, detail)) in OUTLINE.iter().enumerate() {
            out.push_str(&format!("{}. **{step}** {detail}\n", number + 1));
        }
    } else {
        out.push_str("A complete answer covers each of these, with the reasoning behind it:\n\n");
        for point in &rubric.points {
            out.push_str(&format!("- **{}.**\n", capitalise(point.text.trim_end_matches('.'))));
        }
        out.push_str(
            "\nFor each point, explain why it matters in this situation and give a concrete example, so \
             the interviewer hears judgement rather than a list.\n",
        );
    }
    out
}
