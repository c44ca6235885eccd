//! The analysis the model returns: the original's schema (an overall score and five categories,
//! each a score, a summary and feedback items), as the response schema a model is given and as
//! the types a finished reply must parse into before it is stored.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The longest analysis JSON accepted from the model (characters).
pub const MAX_ANALYSIS_TEXT: usize = 200_000;

/// The original's analysis schema: an overall score and five categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    pub overall_score: f64,
    pub ats: Category,
    pub job_match: Category,
    pub writing_and_formatting: Category,
    pub keyword_coverage: Category,
    pub other: Category,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Category {
    pub score: f64,
    pub summary: String,
    pub feedback: Vec<Feedback>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    #[serde(rename = "type")]
    pub kind: FeedbackKind,
    pub name: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackKind {
    Strength,
    MinorImprovement,
    MajorImprovement,
}

/// The category keys, in the original's order.
pub const CATEGORIES: [&str; 5] = ["ats", "jobMatch", "writingAndFormatting", "keywordCoverage", "other"];

/// The response schema Gemini is given (its OpenAPI subset): the original's zod schema as
/// `@ai-sdk/google` converts it, every field required, keys in the original's order.
pub fn analysis_schema() -> Value {
    let score = |description: &str| json!({"type": "NUMBER", "description": description, "minimum": 0, "maximum": 10});
    let feedback = json!({
        "type": "OBJECT",
        "properties": {
            "type": {"type": "STRING", "enum": ["strength", "minor-improvement", "major-improvement"]},
            "name": {"type": "STRING", "description": "Name of the feedback"},
            "message": {"type": "STRING", "description": "Description of the feedback"},
        },
        "required": ["type", "name", "message"],
        "propertyOrdering": ["type", "name", "message"],
    });
    let category = |description: &str| {
        json!({
            "type": "OBJECT",
            "description": description,
            "properties": {
                "score": score("Score of the category from 1-10"),
                "summary": {"type": "STRING", "description": "Short summary of the category"},
                "feedback": {
                    "type": "ARRAY",
                    "description": "Specific feedback on positives and negatives",
                    "items": feedback,
                },
            },
            "required": ["score", "summary", "feedback"],
            "propertyOrdering": ["score", "summary", "feedback"],
        })
    };
    let mut order = vec!["overallScore"];
    order.extend(CATEGORIES);
    json!({
        "type": "OBJECT",
        "properties": {
            "overallScore": score("Overall score of the resume"),
            "ats": category("Analysis of how well the resume matches ATS requirements"),
            "jobMatch": category("Analysis of how well the resume matches the job requirements"),
            "writingAndFormatting": category(
                "Analysis of the writing quality and formatting of the resume (taking into account the job requirements)"
            ),
            "keywordCoverage": category(
                "Analysis of the keyword coverage of the resume (taking into account the job requirements)"
            ),
            "other": category("Any other relevant analysis not covered by the above categories"),
        },
        "required": order,
        "propertyOrdering": order,
    })
}

/// Why a finished reply is not an analysis.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidAnalysis {
    #[error("the reply is too long ({0} characters)")]
    TooLong(usize),
    #[error("the reply does not match the schema: {0}")]
    Schema(String),
    #[error("{field} is {score}, outside 0 to 10")]
    Score { field: String, score: f64 },
}

/// Parses and validates a finished reply: the schema exactly (all fields, no others, known
/// feedback types) and every score within 0..=10.
pub fn parse_analysis(text: &str) -> Result<Analysis, InvalidAnalysis> {
    let chars = text.chars().count();
    if chars > MAX_ANALYSIS_TEXT {
        return Err(InvalidAnalysis::TooLong(chars));
    }
    let analysis: Analysis =
        serde_json::from_str(text).map_err(|error| InvalidAnalysis::Schema(error.to_string()))?;
    let scores = [
        ("overallScore", analysis.overall_score),
        ("ats.score", analysis.ats.score),
        ("jobMatch.score", analysis.job_match.score),
        ("writingAndFormatting.score", analysis.writing_and_formatting.score),
        ("keywordCoverage.score", analysis.keyword_coverage.score),
        ("other.score", analysis.other.score),
    ];
    for (field, score) in scores {
        if !(0.0..=10.0).contains(&score) {
            return Err(InvalidAnalysis::Score { field: field.into(), score });
        }
    }
    Ok(analysis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(score: Value) -> Value {
        json!({"score": score, "summary": "ok", "feedback": [
            {"type": "strength", "name": "Clear", "message": "Well structured"},
            {"type": "major-improvement", "name": "Metrics", "message": "Quantify results"}]})
    }

    fn analysis(overall: Value, ats: Value) -> Value {
        json!({"overallScore": overall, "ats": category(ats), "jobMatch": category(json!(7)),
            "writingAndFormatting": category(json!(6.5)), "keywordCoverage": category(json!(0)),
            "other": category(json!(10))})
    }

    #[test]
    fn analyses_are_validated_against_the_schema() {
        let valid = parse_analysis(&analysis(json!(7.5), json!(8)).to_string()).unwrap();
        assert_eq!(valid.overall_score, 7.5);
        assert_eq!(valid.ats.feedback[1].kind, FeedbackKind::MajorImprovement);
        assert!(matches!(
            parse_analysis(&analysis(json!(11), json!(8)).to_string()),
            Err(InvalidAnalysis::Score { field, .. }) if field == "overallScore"
        ));
        assert!(matches!(
            parse_analysis(&analysis(json!(5), json!(-1)).to_string()),
            Err(InvalidAnalysis::Score { field, .. }) if field == "ats.score"
        ));
        let mut unknown_type = analysis(json!(5), json!(5));
        unknown_type["other"]["feedback"][0]["type"] = json!("neutral");
        let mut missing = analysis(json!(5), json!(5));
        missing.as_object_mut().unwrap().remove("keywordCoverage");
        let mut extra = analysis(json!(5), json!(5));
        extra["verdict"] = json!("hire");
        let cut = analysis(json!(5), json!(5)).to_string();
        for bad in [
            unknown_type.to_string(),
            missing.to_string(),
            extra.to_string(),
            cut[..cut.len() / 2].to_owned(),
        ] {
            assert!(matches!(parse_analysis(&bad), Err(InvalidAnalysis::Schema(_))), "{bad}");
        }
    }

    #[test]
    fn the_schema_is_the_originals() {
        let schema = analysis_schema();
        let order: Vec<&str> =
            schema["propertyOrdering"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(
            order,
            ["overallScore", "ats", "jobMatch", "writingAndFormatting", "keywordCoverage", "other"]
        );
        assert_eq!(schema["required"], schema["propertyOrdering"]);
        for key in CATEGORIES {
            let category = &schema["properties"][key];
            assert_eq!(category["type"], "OBJECT");
            assert_eq!(category["required"], json!(["score", "summary", "feedback"]));
            let item = &category["properties"]["feedback"]["items"];
            assert_eq!(
                item["properties"]["type"]["enum"],
                json!(["strength", "minor-improvement", "major-improvement"])
            );
            assert_eq!(item["required"], json!(["type", "name", "message"]));
        }
        // A valid analysis round-trips through the types in the schema's key order.
        let valid = parse_analysis(&analysis(json!(7), json!(8)).to_string()).unwrap();
        let keys: Vec<String> =
            serde_json::to_value(&valid).unwrap().as_object().unwrap().keys().cloned().collect();
        let mut sorted_order: Vec<&str> = order.clone();
        sorted_order.sort_unstable();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        assert_eq!(sorted_keys, sorted_order);
    }
}
