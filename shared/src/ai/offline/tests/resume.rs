use serde_json::Value;

use crate::ai::brief::ResumeBrief;

use super::*;

const CATEGORIES: [&str; 5] = ["ats", "jobMatch", "writingAndFormatting", "keywordCoverage", "other"];

fn review(job: &str, resume_text: &str) -> Value {
    parsed(&engine().review_resume(&ResumeBrief {
        job: super::job(job),
        text: resume_text.into(),
        format: "pdf".into(),
    }))
}

/// The analysis text parsed, after checking its keys come in the schema's order (a client
/// rendering partial JSON shows them as they arrive).
fn parsed(text: &str) -> Value {
    let mut order = vec!["\"overallScore\":"];
    let quoted: Vec<String> = CATEGORIES.iter().map(|key| format!("\"{key}\":")).collect();
    order.extend(quoted.iter().map(String::as_str));
    let positions: Vec<usize> = order.iter().map(|key| text.find(key).unwrap_or(usize::MAX)).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "keys out of order: {text}");
    assert!(text.starts_with("{\"overallScore\":"), "{text}");
    serde_json::from_str(text).unwrap()
}

fn score(analysis: &Value, path: &str) -> f64 {
    match path {
        "overallScore" => analysis["overallScore"].as_f64().unwrap(),
        category => analysis[category]["score"].as_f64().unwrap(),
    }
}

fn assert_schema(analysis: &Value) {
    let object = analysis.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = vec!["overallScore"];
    expected.extend(CATEGORIES);
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let in_range =
        |v: &Value| v.as_f64().is_some_and(|s| (0.0..=10.0).contains(&s) && (s * 10.0).fract() == 0.0);
    assert!(in_range(&object["overallScore"]));
    for key in CATEGORIES {
        let category = object[key].as_object().unwrap();
        let mut fields: Vec<&str> = category.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["feedback", "score", "summary"], "{key}");
        assert!(in_range(&category["score"]), "{key}");
        assert!(!category["summary"].as_str().unwrap().is_empty());
        for item in category["feedback"].as_array().unwrap() {
            let item = item.as_object().unwrap();
            let mut fields: Vec<&str> = item.keys().map(String::as_str).collect();
            fields.sort_unstable();
            assert_eq!(fields, ["message", "name", "type"]);
            assert!(
                ["strength", "minor-improvement", "major-improvement"]
                    .contains(&item["type"].as_str().unwrap())
            );
            assert!(
                !item["name"].as_str().unwrap().is_empty() && !item["message"].as_str().unwrap().is_empty()
            );
        }
    }
}

#[test]
fn every_fixture_pair_gives_a_valid_analysis() {
    for (job_name, _) in jobs() {
        for resume_name in ["backend-strong", "weak", "frontend-match", "messy-data", "ios-junior"] {
            assert_schema(&review(&job_name, &resume(resume_name)));
        }
    }
    assert_schema(&parsed(&engine().review_resume(&ResumeBrief::default())));
}

#[test]
fn the_jobs_keywords_raise_coverage_and_overall() {
    let with = resume("backend-strong");
    let mut without = with.clone();
    for keyword in [
        "Rust",
        "Tokio",
        "Axum",
        "AWS Lambda",
        "API Gateway",
        "DynamoDB",
        "SQS",
        "EventBridge",
        "Terraform",
        "GitHub Actions",
        "OpenTelemetry",
        "CloudWatch",
        "Kafka",
        "event-driven",
        "idempotency",
        "on-call",
        "Mentored",
        "mentored",
    ] {
        without = without.replace(keyword, "internal tooling");
    }
    let (with, without) = (review("backend-rust-aws", &with), review("backend-rust-aws", &without));
    assert!(score(&with, "keywordCoverage") > score(&without, "keywordCoverage"), "{with:#}\n{without:#}");
    assert!(score(&with, "overallScore") > score(&without, "overallScore"));
}

#[test]
fn a_matching_resume_beats_a_weak_one_and_feedback_names_findings() {
    let strong = review("backend-rust-aws", &resume("backend-strong"));
    let weak = review("backend-rust-aws", &resume("weak"));
    for key in ["overallScore", "jobMatch", "keywordCoverage", "writingAndFormatting", "other"] {
        assert!(score(&strong, key) > score(&weak, key), "{key}: {strong:#} {weak:#}");
    }
    let coverage = serde_json::to_string(&strong["keywordCoverage"]).unwrap();
    assert!(
        coverage.contains("Found") && coverage.contains("Rust") && coverage.contains("DynamoDB"),
        "{coverage}"
    );
    let weak_text = serde_json::to_string(&weak).unwrap();
    assert!(weak_text.contains("team player") || weak_text.contains("hard-working"), "{weak_text}");
    assert!(weak_text.contains("References"), "{weak_text}");
    assert!(serde_json::to_string(&strong["other"]).unwrap().contains("Scored offline"));
}

#[test]
fn a_resume_for_another_job_matches_its_own_job_better() {
    let frontend = resume("frontend-match");
    assert!(
        score(&review("frontend-react", &frontend), "jobMatch")
            > score(&review("backend-rust-aws", &frontend), "jobMatch")
    );
}

#[test]
fn messy_formatting_is_detected() {
    let messy = review("data-engineer", &resume("messy-data"));
    let clean = review("frontend-react", &resume("frontend-match"));
    assert!(score(&messy, "ats") < score(&clean, "ats"), "{messy:#}");
    let ats = serde_json::to_string(&messy["ats"]).unwrap();
    assert!(ats.contains("Tables detected") || ats.contains("Columns detected"), "{ats}");
    assert!(ats.contains("Inconsistent dates"), "{ats}");
    let other = serde_json::to_string(&messy["other"]).unwrap();
    assert!(other.contains("date of birth") || other.contains("marital status"), "{other}");
}
