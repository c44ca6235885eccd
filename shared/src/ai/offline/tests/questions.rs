use std::collections::HashSet;

use crate::ai::brief::QuestionBrief;

use super::super::questions::identify;
use super::*;

/// Five questions for `job`, each asked with the earlier ones as history.
fn five_questions(job: &JobBrief, difficulties: &[&str]) -> Vec<super::super::GeneratedQuestion> {
    let mut previous: Vec<String> = Vec::new();
    let mut questions = Vec::new();
    for difficulty in difficulties.iter().cycle().take(5) {
        let brief = QuestionBrief {
            job: job.clone(),
            difficulty: (*difficulty).to_owned(),
            previous: previous.clone(),
        };
        let question = engine().question(&brief);
        previous.push(question.text.clone());
        questions.push(question);
    }
    questions
}

#[test]
fn five_questions_per_job_are_different_concepts_or_kinds() {
    let vocabulary = vocabulary();
    for (name, job) in jobs() {
        for difficulties in [&["easy"][..], &["medium"], &["hard"], &["easy", "medium", "hard"]] {
            let questions = five_questions(&job, difficulties);
            let identities: HashSet<_> = questions
                .iter()
                .map(|q| {
                    identify(&q.text, vocabulary).unwrap_or_else(|| panic!("{name}: unidentified {}", q.text))
                })
                .collect();
            assert_eq!(identities.len(), 5, "{name} {difficulties:?}");
            // Different concepts should also be different subjects, not the same topic reworded.
            let concepts: Vec<usize> = identities.iter().map(|(concept, _)| *concept).collect();
            for (i, a) in concepts.iter().enumerate() {
                for b in &concepts[i + 1..] {
                    let (a, b) = (&vocabulary.concepts[*a], &vocabulary.concepts[*b]);
                    let shared = a.subject.intersection(&b.subject).count();
                    let smaller = a.subject.len().min(b.subject.len()).max(1);
                    assert!(a.id == b.id || shared * 2 < smaller, "{name}: {} and {} overlap", a.id, b.id);
                }
            }
            let texts: HashSet<&String> = questions.iter().map(|q| &q.text).collect();
            assert_eq!(texts.len(), 5, "{name}");
        }
    }
}

#[test]
fn every_question_mentions_something_from_its_job() {
    let (vocabulary, matcher) = (vocabulary(), matcher());
    for (name, job) in jobs() {
        let mut job_terms: Vec<String> = matcher
            .find(&format!("{}\n{}", job.title.clone().unwrap_or_default(), job.description))
            .iter()
            .map(|m| vocabulary.technologies[m.technology].name.to_lowercase())
            .collect();
        job_terms.extend(job.title.iter().map(|t| t.to_lowercase()));
        for question in five_questions(&job, &["easy", "medium", "hard"]) {
            let text = question.text.to_lowercase();
            assert!(job_terms.iter().any(|term| text.contains(term.as_str())), "{name}: {}", question.text);
        }
    }
}

#[test]
fn questions_are_deterministic_and_well_formed() {
    let fresh = Engine::new();
    for (name, job) in jobs() {
        for difficulty in ["easy", "medium", "hard"] {
            let brief = QuestionBrief { job: job.clone(), difficulty: difficulty.into(), previous: vec![] };
            let first = engine().question(&brief);
            assert_eq!(first, fresh.question(&brief), "{name}");
            assert!(first.text.starts_with("**"), "{name}: {}", first.text);
            let last = first.text.trim_end().lines().last().unwrap();
            assert!(last.starts_with('*') && last.contains("offline practice engine"), "{last}");
            assert!((3..=6).contains(&first.key_points.len()), "{name}");
            assert!(!first.text.contains("{tech}") && !first.text.contains("{other}"), "{}", first.text);
            assert!(first.key_points.iter().all(|p| !p.contains('{')), "{:?}", first.key_points);
        }
    }
}

#[test]
fn senior_hard_questions_lean_to_design_and_junior_easy_to_explaining() {
    let vocabulary = vocabulary();
    let mut job = job("backend-rust-aws");
    let ask = |job: &JobBrief, difficulty: &str| {
        let q = engine().question(&QuestionBrief {
            job: job.clone(),
            difficulty: difficulty.into(),
            previous: vec![],
        });
        identify(&q.text, vocabulary).unwrap()
    };
    let (concept, kind) = ask(&job, "hard");
    assert!(vocabulary.concepts[concept].level >= 2, "{kind:?}");
    assert!(matches!(
        kind,
        super::super::vocabulary::Kind::Design | super::super::vocabulary::Kind::Tradeoffs
    ));
    job.experience_level = "junior".into();
    let (concept, _) = ask(&job, "easy");
    assert_eq!(vocabulary.concepts[concept].level, 1);
}

#[test]
fn questions_from_another_model_in_history_steer_away_from_their_subject() {
    let job = job("backend-rust-aws");
    let brief = QuestionBrief { job: job.clone(), difficulty: "easy".into(), previous: vec![] };
    let first = engine().question(&brief);
    // The same subject asked in other words by another model counts as asked.
    let reworded = format!("Tell me about this: {}", first.key_points.join(". "));
    let after = engine().question(&QuestionBrief { previous: vec![reworded], ..brief });
    assert_ne!(first.key_points, after.key_points);
}

#[test]
fn a_job_with_no_known_technology_gets_general_questions() {
    let questions = five_questions(&job("general-no-tech"), &["easy", "medium"]);
    for question in &questions {
        assert!(
            question.text.contains("Software Engineer") || question.text.contains("software engineer"),
            "{}",
            question.text
        );
        assert!(!question.text.contains("Rust") && !question.text.contains("Swift "), "{}", question.text);
    }
}

#[test]
fn odd_inputs_still_give_a_question() {
    for job in [
        JobBrief::default(),
        JobBrief {
            title: Some("   ".into()),
            experience_level: "principal".into(),
            description: "🦀".repeat(5000),
        },
    ] {
        let question = engine().question(&QuestionBrief {
            job,
            difficulty: "impossible".into(),
            previous: vec![String::new(); 60],
        });
        assert!(!question.text.is_empty() && !question.key_points.is_empty());
    }
}
