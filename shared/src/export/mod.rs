//! `GET /api/me/export`: everything the service holds about the caller as one JSON document,
//! written while it is read. Everything a user owns is in their partition (`USER#<userId>`), so
//! the export is a handful of reads of that partition only, each a sort-key prefix the export
//! names: profile and usage by key, then job infos, questions, attempts, interviews, resume
//! analyses and progress, page by page. Only one page is held at a time, whatever the size.
//!
//! What is left out, on purpose: the protection rules' state (`RATE#…`, `INFLIGHT#…`) and the
//! tombstone (no prefix the export reads names them), the attributes that only key or index an
//! item (`pk`, `sk`, `parentKey`, `updatedKey`, `expiresAt`), and the key points of a question
//! not yet answered. Key points are what the grader looks for; they are kept from the client until
//! an answer is graded (the feedback then gives a complete answer anyway), so the export includes
//! them exactly for the questions with at least one attempt.
//!
//! Once the first bytes are sent the status (200) cannot change: a read that fails midway ends
//! the body with an error (logged), so the client receives a truncated, invalid document and
//! knows to retry. It never receives a valid but incomplete one.

mod routes;

use futures::Stream;
use serde_json::{Value, json};
use uuid::Uuid;

pub use routes::routes;

use crate::store::{EXPIRES_AT, Item, PK, Query, SK, SharedTable, StoreError};
use crate::{attempts, clock, interviews, job_infos, questions, resumes, users};

/// Items per read: bounds what is held in memory (an item is at most 400 KB, most a few KB).
const PAGE: usize = 25;
/// The document's `format`, for whoever reads an export years later.
pub const FORMAT: &str = "darasa-export/1";

/// Attributes that key or index an item: storage details, not the user's data.
const INTERNAL: [&str; 5] = [PK, SK, EXPIRES_AT, "parentKey", "updatedKey"];

/// How a section's items are shaped for the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// As stored, without the internal attributes.
    Stored,
    /// As stored, with the key points only once the question was answered.
    Question,
    /// As `GET /api/job-infos/{id}/progress` shows it, with every day kept.
    Progress,
}

/// The sections after the profile and usage: (name in the document, sort-key prefix, shape).
fn sections() -> [(&'static str, String, Shape); 6] {
    let child = |kind: crate::children::ChildKind| format!("{}#", kind.0);
    [
        ("jobInfos", job_infos::store::KIND.to_owned(), Shape::Stored),
        ("questions", child(questions::store::KIND), Shape::Question),
        ("attempts", child(attempts::store::KIND), Shape::Stored),
        ("interviews", child(interviews::store::KIND), Shape::Stored),
        ("resumeAnalyses", child(resumes::store::KIND), Shape::Stored),
        ("progress", job_infos::store::PROGRESS.to_owned(), Shape::Progress),
    ]
}

/// An export whose first part (the profile and usage, read before answering so that a failing
/// store is still a clean 5xx) is ready; the rest is read as it is sent.
pub struct Export {
    table: SharedTable,
    user_id: String,
    head: String,
}

/// Reads the caller's profile and usage and prepares the rest of the export.
pub async fn begin(table: SharedTable, user_id: &str) -> Result<Export, StoreError> {
    let (profile, usage) = users::profile_and_usage(table.as_ref(), user_id).await?;
    let head = json!({
        "format": FORMAT,
        "exportedAt": clock::rfc3339(clock::now()),
        "userId": user_id,
        "profile": profile.map(public),
        "usage": usage.map(public),
    });
    // The head is a complete object; the sections continue it before its closing brace.
    let mut head = head.to_string();
    head.pop();
    Ok(Export { table, user_id: user_id.to_owned(), head })
}

impl Export {
    /// The document in pieces, each sent as soon as it is read: the head, then every section
    /// page by page, then the closing brace. A failed read ends it with that error.
    pub fn chunks(self) -> impl Stream<Item = Result<String, StoreError>> + Send + 'static {
        async_stream::try_stream! {
            let Export { table, user_id, head } = self;
            let partition = users::partition(&user_id);
            yield head;
            for (name, prefix, shape) in sections() {
                yield format!(",{}:[", json!(name));
                let query = Query::new(partition.clone(), prefix).limit(PAGE);
                let mut cursor = None;
                let mut first = true;
                loop {
                    let page = match table.query(&query.clone().after(cursor)).await {
                        Ok(page) => page,
                        Err(error) => {
                            tracing::error!(%error, user_id, section = name, "export stopped: a read failed; the client gets a truncated document");
                            Err(error)?
                        }
                    };
                    let mut chunk = String::new();
                    for item in page.items {
                        // The query names the caller's partition; this only makes sure of it.
                        if item.get(PK).and_then(Value::as_str) != Some(partition.as_str()) {
                            tracing::error!(user_id, "export skipped an item of another partition");
                            continue;
                        }
                        if !first {
                            chunk.push(',');
                        }
                        first = false;
                        chunk.push_str(&shaped(item, shape).to_string());
                    }
                    if !chunk.is_empty() {
                        yield chunk;
                    }
                    match page.cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                yield "]".to_owned();
            }
            yield "}\n".to_owned();
        }
    }
}

/// An item without its internal attributes.
fn public(mut item: Item) -> Value {
    item.retain(|attribute, _| !INTERNAL.contains(&attribute.as_str()));
    Value::Object(item)
}

fn shaped(mut item: Item, shape: Shape) -> Value {
    match shape {
        Shape::Stored => public(item),
        Shape::Question => {
            let answered = item.get(questions::store::ATTEMPTS).and_then(Value::as_u64).unwrap_or(0) > 0;
            if !answered {
                item.remove(questions::store::KEY_POINTS);
            }
            public(item)
        }
        Shape::Progress => {
            let job = item.get("jobInfoId").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok());
            match job.map(|job| attempts::progress::from_item(job, Some(&item), None)) {
                Some(progress) => serde_json::to_value(progress).unwrap_or_else(|_| public(item)),
                None => public(item),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Index;

    #[test]
    fn internal_attributes_and_unanswered_key_points_stay_out() {
        let Value::Object(item) = json!({
            "pk": "USER#u", "sk": "QUESTION#q", "parentKey": "JOBINFO#j#QUESTION#q",
            "text": "Q?", "keyPoints": ["idempotency"]
        }) else {
            unreachable!()
        };
        assert_eq!(shaped(item.clone(), Shape::Question), json!({"text": "Q?"}));
        let mut answered = item;
        answered.insert("attempts".into(), json!(2));
        assert_eq!(
            shaped(answered, Shape::Question),
            json!({"text": "Q?", "keyPoints": ["idempotency"], "attempts": 2})
        );
        let names: Vec<&str> = sections().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, ["jobInfos", "questions", "attempts", "interviews", "resumeAnalyses", "progress"]);
        assert!(
            INTERNAL.contains(&Index::ByParent.attribute())
                && INTERNAL.contains(&Index::ByUpdated.attribute())
        );
    }
}
