use std::collections::BTreeMap;

use crate::ai::brief::{InterviewBrief, TranscriptLine};

use super::*;

const HEADINGS: [&str; 7] = [
    "Communication Clarity",
    "Confidence and Emotional State",
    "Response Quality",
    "Pacing and Timing",
    "Engagement and Interaction",
    "Role Fit & Alignment",
    "Overall Strengths & Areas for Improvement",
];

fn line(interviewee: bool, text: &str, emotions: &[(&str, f64)]) -> TranscriptLine {
    let emotions = (!emotions.is_empty())
        .then(|| emotions.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect::<BTreeMap<_, _>>());
    TranscriptLine { interviewee, text: text.into(), emotions }
}

fn transcript(answers: &[&str], emotions: &[(&str, f64)]) -> Vec<TranscriptLine> {
    let questions = [
        "Thanks for joining. Can you tell me about yourself and your recent work?",
        "Tell me about a time you designed a service with DynamoDB and AWS Lambda.",
        "How do you handle on-call incidents?",
        "Do you have any questions for me?",
    ];
    let mut lines = Vec::new();
    for (question, answer) in questions.iter().zip(answers) {
        lines.push(line(false, question, &[]));
        lines.push(line(true, answer, emotions));
    }
    lines
}

const CLEAN: [&str; 4] = [
    "Thank you. I am a backend engineer with six years of experience, the last four building payment \
     services in Rust on AWS. Recently I led the rewrite of our authorisation service, which cut p99 \
     latency from 420 to 95 milliseconds.",
    "At Ledgerly we needed a settlement pipeline. I designed it around AWS Lambda functions triggered by \
     SQS, with DynamoDB single-table design keyed by merchant and date. As a result we processed three \
     million transactions a day and cut read costs by 35 percent.",
    "First I acknowledge the page and check the dashboards and recent deploys. I mitigate quickly, for \
     example by rolling back, then find the root cause and write a blameless postmortem with follow-up \
     actions.",
    "Yes, how does the team decide what goes on the roadmap? And what does success look like in the first \
     six months?",
];

const FILLERS: [&str; 4] = [
    "Um, so, basically I am, like, a backend engineer, you know, and I actually did, um, some Rust stuff, \
     sort of, and uh, I mean, AWS things, basically, like, yeah.",
    "Uh, so I think, um, we had, like, DynamoDB and, you know, basically Lambda and, um, I guess it was \
     sort of fine, actually, I mean, it worked, uh, mostly, like.",
    "Um, I guess I would, like, maybe look at the logs, you know, and, uh, basically fix it, sort of, I \
     mean, probably.",
    "Um, no, I think, uh, that's it, basically.",
];

fn review(lines: Vec<TranscriptLine>) -> String {
    let job = super::job("backend-rust-aws");
    engine().review_interview(&InterviewBrief { job, candidate: "Amara".into(), transcript: lines })
}

fn section_score(review: &str, heading: &str) -> u8 {
    let line = review.lines().find(|l| l.starts_with(&format!("## {heading}: "))).unwrap();
    line.rsplit(": ").next().unwrap().trim_end_matches("/10").parse().unwrap()
}

fn assert_shape(review: &str) {
    let first = review.lines().next().unwrap();
    let overall: u8 =
        first.strip_prefix("**Overall rating: ").unwrap().strip_suffix("/10**").unwrap().parse().unwrap();
    assert!((1..=10).contains(&overall));
    let headings: Vec<&str> = review.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings.len(), 7, "{review}");
    for (found, expected) in headings.iter().zip(HEADINGS) {
        assert!(found.starts_with(&format!("## {expected}: ")), "{found}");
        assert!((1..=10).contains(&section_score(review, expected)));
    }
    assert!(!review.lines().any(|l| l.starts_with("# ")));
    assert!(review.lines().any(|l| l.starts_with('*') && l.contains("offline by Darasa's practice engine")));
    assert!(!review.contains("We are a fintech company"), "the job description must not be repeated");
}

#[test]
fn reviews_have_the_seven_rated_sections() {
    let calm = [("Calmness", 0.6), ("Determination", 0.4), ("Anxiety", 0.05), ("Interest", 0.3)];
    for lines in [
        transcript(&CLEAN, &calm),
        transcript(&FILLERS, &[("Anxiety", 0.5), ("Doubt", 0.4)]),
        transcript(&CLEAN, &[]),
    ] {
        assert_shape(&review(lines));
    }
}

#[test]
fn filler_heavy_answers_score_lower_on_clarity() {
    let clean = review(transcript(&CLEAN, &[]));
    let fillers = review(transcript(&FILLERS, &[]));
    assert!(section_score(&fillers, HEADINGS[0]) < section_score(&clean, HEADINGS[0]), "{fillers}");
    assert!(fillers.contains("filler words per 100 words"), "{fillers}");
}

#[test]
fn emotions_are_described_never_printed() {
    let anxious = review(transcript(&FILLERS, &[("Anxiety", 0.55), ("Awkwardness", 0.3), ("Calmness", 0.1)]));
    let calm = review(transcript(&CLEAN, &[("Calmness", 0.6), ("Concentration", 0.5), ("Anxiety", 0.05)]));
    assert!(anxious.contains("anxious"), "{anxious}");
    assert!(calm.contains("calm"), "{calm}");
    assert!(section_score(&calm, HEADINGS[1]) > section_score(&anxious, HEADINGS[1]));
    for text in [&anxious, &calm] {
        assert!(!text.contains("0.55") && !text.contains("0.6") && !text.contains("0.05"), "{text}");
    }
}

#[test]
fn the_review_quotes_the_candidate_and_counts_questions_back() {
    let text = review(transcript(&CLEAN, &[]));
    assert!(text.contains("how does the team decide what goes on the roadmap"), "{text}");
    assert!(text.contains("DynamoDB") && text.contains("AWS Lambda"), "{text}");
    assert!(text.contains("you") || text.contains("You"));
}

#[test]
fn empty_and_one_sided_transcripts_are_reviewed_without_panicking() {
    let empty = review(Vec::new());
    assert_shape(&empty);
    assert!(empty.starts_with("**Overall rating: 1/10**"));
    let interviewer_only =
        review(vec![line(false, "Hello? Are you there?", &[]), line(false, "Let's try again later.", &[])]);
    assert_shape(&interviewer_only);
    let candidate_only = review(vec![line(
        true,
        "Hi, I am ready whenever you are. I have six years of Rust experience.",
        &[("Joy", f64::NAN)],
    )]);
    assert_shape(&candidate_only);
    assert!(section_score(&candidate_only, HEADINGS[2]) <= 3);
}
