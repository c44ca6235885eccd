use crate::ai::brief::{GradeBrief, QuestionBrief};

use super::*;

fn rating(feedback: &str) -> u8 {
    let first = feedback.lines().next().unwrap();
    let number = first.strip_prefix("## Feedback (Rating: ").unwrap().strip_suffix("/10)").unwrap();
    number.parse().unwrap()
}

fn correct_answer(feedback: &str) -> String {
    feedback.split("\n---\n## Correct Answer\n").nth(1).unwrap().to_owned()
}

fn grade(question: &str, key_points: &[String], answer: &str) -> String {
    engine().grade(&GradeBrief {
        question: question.into(),
        key_points: key_points.to_vec(),
        answer: answer.into(),
    })
}

/// A question of each kind for every fixture job.
fn sample_questions() -> Vec<super::super::GeneratedQuestion> {
    let mut questions = Vec::new();
    for (_, job) in jobs() {
        let mut previous = Vec::new();
        for difficulty in ["easy", "medium", "hard"] {
            let q = engine().question(&QuestionBrief {
                job: job.clone(),
                difficulty: difficulty.into(),
                previous: previous.clone(),
            });
            previous.push(q.text.clone());
            questions.push(q);
        }
    }
    questions
}

#[test]
fn the_output_has_the_products_exact_shape() {
    for question in sample_questions().iter().take(6) {
        for answer in [
            "idk",
            "A decent answer that mentions a few relevant ideas but not very many of them at all really.",
        ] {
            let feedback = grade(&question.text, &question.key_points, answer);
            assert!(feedback.starts_with("## Feedback (Rating: "), "{feedback}");
            assert!((1..=10).contains(&rating(&feedback)));
            assert_eq!(feedback.matches("\n---\n").count(), 1, "{feedback}");
            assert_eq!(feedback.matches("## Correct Answer").count(), 1);
            assert_eq!(feedback.lines().filter(|l| l.starts_with("## ")).count(), 2, "{feedback}");
            assert!(
                feedback
                    .lines()
                    .any(|l| l.starts_with('*') && l.contains("offline by Darasa's practice engine"))
            );
        }
    }
}

#[test]
fn the_engines_own_correct_answer_scores_at_least_eight() {
    for question in sample_questions() {
        let model = correct_answer(&grade(&question.text, &question.key_points, "no idea"));
        let feedback = grade(&question.text, &question.key_points, &model);
        assert!(rating(&feedback) >= 8, "{}\n{model}\n{feedback}", question.text);
        // Without stored key points the engine recognises its own question.
        let without_points = grade(&question.text, &[], &model);
        assert!(rating(&without_points) >= 8, "{without_points}");
    }
}

#[test]
fn non_answers_score_at_most_three() {
    let questions = sample_questions();
    let question = &questions[1];
    let unrelated = "My favourite holiday was a week of hiking in the mountains with my family, eating \
                     well and sleeping late every single day, far from any screens or notifications \
                     whatsoever.";
    for answer in [
        "I don't know",
        "idk",
        "no idea",
        "pass",
        "Not sure, sorry.",
        "it depends",
        unrelated,
        question.text.as_str(),
    ] {
        for points in [&question.key_points[..], &[]] {
            let feedback = grade(&question.text, points, answer);
            assert!(rating(&feedback) <= 3, "{answer}: {feedback}");
        }
    }
}

#[test]
fn adding_covered_key_points_never_lowers_the_rating() {
    for question in sample_questions() {
        let mut answer = String::from("Here is how I would approach it.");
        let mut last = rating(&grade(&question.text, &question.key_points, &answer));
        for point in &question.key_points {
            answer.push_str(&format!("\n\n{point}, because it matters in production."));
            let now = rating(&grade(&question.text, &question.key_points, &answer));
            assert!(now >= last, "{last} -> {now} after adding '{point}'\n{answer}");
            last = now;
        }
        assert!(last >= 7, "all points covered but rated {last}: {answer}");
    }
}

#[test]
fn a_middling_answer_lands_in_the_middle_and_names_points() {
    let questions = sample_questions();
    let question = &questions[0];
    let half: Vec<&String> = question.key_points.iter().take(question.key_points.len() / 2).collect();
    let answer = format!(
        "I think the main things are these. {} That is roughly how I would handle it in practice.",
        half.iter().map(|p| format!("{p}.")).collect::<Vec<_>>().join(" ")
    );
    let feedback = grade(&question.text, &question.key_points, &answer);
    assert!((3..=7).contains(&rating(&feedback)), "{feedback}");
    assert!(feedback.contains("**What you did well**") && feedback.contains("**What you missed**"));
    assert!(feedback.contains(question.key_points.last().unwrap().trim_end_matches('.')), "{feedback}");
}

#[test]
fn synonyms_and_stems_count_as_coverage() {
    let question = "**Fundamentals: indexes and query plans in PostgreSQL**\n\nHow does an index make a \
                    query in PostgreSQL faster, and what does it cost?";
    let points = vec!["Indexes slow down writes and take space, so add them deliberately".to_owned()];
    let covered = grade(
        question,
        &points,
        "Every extra index adds overhead to inserts and updates and uses disk space, so I only add one \
         when a slow query needs it. For example, a composite index for the dashboard query.",
    );
    assert!(covered.contains("You covered"), "{covered}");
}

#[test]
fn foreign_questions_without_points_are_graded_from_the_vocabulary_or_their_terms() {
    let known =
        "Explain how Kafka consumer groups divide partitions and what happens when a consumer is slow.";
    let good = "Kafka splits a topic into partitions. Within a consumer group each partition is assigned \
                to one consumer, which commits offsets after processing. If a consumer is slow and exceeds \
                max.poll.interval, the group rebalances and lag grows; for example we fixed this by \
                processing smaller batches and adding partitions.";
    let feedback = grade(known, &[], good);
    assert!(rating(&feedback) >= 6, "{feedback}");
    assert!(feedback.contains("taken from the offline vocabulary"), "{feedback}");
    let unknown = "Describe how you would plan a garden irrigation schedule for drought conditions.";
    let feedback = grade(
        unknown,
        &[],
        "I would water early in the morning because evaporation is lowest, group plants by their water \
         needs, use drip irrigation for beds, and check soil moisture weekly, for example with a cheap \
         probe, so the schedule adapts.",
    );
    assert!(feedback.contains("question's own terms"), "{feedback}");
    assert!(correct_answer(&feedback).contains("shape a strong answer takes"));
}
