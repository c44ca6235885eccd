use super::super::grading::{Coverage, Rubric, grade};
use super::super::vocabulary::Scope;
use super::*;

fn names_found(text: &str) -> Vec<String> {
    matcher().find(text).iter().map(|m| vocabulary().technologies[m.technology].name.clone()).collect()
}

#[test]
fn embedded_data_loads_and_is_substantial() {
    let vocabulary = super::super::concepts::load_vocabulary().unwrap();
    assert!((250..=400).contains(&vocabulary.technologies.len()), "{}", vocabulary.technologies.len());
    assert!(vocabulary.concepts.len() >= 150);
    let specific: std::collections::HashSet<usize> = vocabulary
        .concepts
        .iter()
        .filter_map(|c| match c.scope {
            Scope::Technology(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(specific.len() >= 80, "{} technologies have their own concepts", specific.len());
    assert!(!vocabulary.language.stopwords.is_empty() && !vocabulary.templates.leads.is_empty());
}

#[test]
fn every_concept_point_is_covered_by_its_own_wording() {
    let (vocabulary, matcher) = (vocabulary(), matcher());
    for concept in &vocabulary.concepts {
        let points: Vec<String> = concept.points.iter().map(|p| p.text.replace("{tech}", "Rust")).collect();
        let rubric = Rubric::build("", &points, vocabulary, matcher);
        for (point, text) in rubric.points.iter().zip(&points) {
            let single = Rubric::build("", std::slice::from_ref(&point.text), vocabulary, matcher);
            assert_eq!(grade(text, &single, vocabulary).coverage, [Coverage::Full], "{}: {text}", concept.id);
        }
        assert!(concept.asks.iter().all(|ask| ask.text.len() >= 40), "{}", concept.id);
    }
}

#[test]
fn names_in_context_are_found() {
    let found = names_found(
        "We write services in Go and Rust, use k8s, postgres and Node.js, deploy with CI/CD to AWS Lambda, \
         and build iOS apps in Swift and SwiftUI. Experience with C++ and C# is a plus.",
    );
    for expected in [
        "Go",
        "Rust",
        "Kubernetes",
        "PostgreSQL",
        "Node.js",
        "CI/CD",
        "AWS Lambda",
        "Swift",
        "SwiftUI",
        "C++",
        "C#",
    ] {
        assert!(found.contains(&expected.to_owned()), "{expected} not in {found:?}");
    }
}

#[test]
fn ordinary_english_does_not_trigger_short_names() {
    for sentence in [
        "We go to great lengths to help customers.",
        "Go to our careers page to learn more.",
        "She rides a rust-free bike.",
        "Rust-free frames are our speciality.",
        "We promise swift delivery.",
        "Swift delivery is guaranteed.",
        "The spring season is our busiest time.",
        "Teams react quickly to feedback.",
        "Please rest before the interview.",
        "He moved to Spring Street after the Series C round.",
    ] {
        assert_eq!(names_found(sentence), Vec::<String>::new(), "{sentence}");
    }
}

#[test]
fn the_no_tech_job_fixture_names_nothing() {
    let job = job("general-no-tech");
    assert_eq!(names_found(&job.description), Vec::<String>::new());
}
