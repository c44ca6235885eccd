//! A parser of the AI SDK 4.x data stream, written from the documented format
//! (`docs/original.md`), independent of the encoder it checks: every part is one line `TYPE:JSON\n`; the types
//! used are `f` (step start, `{"messageId"}`), `0` (text), `e` (step finish, `{"finishReason",
//! "isContinued"}`), `d` (finish, `{"finishReason"}`), `2` (a data array) and `3` (an error
//! string). Anything else, or a line that is not complete JSON, is a failure.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    StepStart { message_id: String },
    Text(String),
    StepFinish { finish_reason: String, is_continued: bool },
    Finish { finish_reason: String },
    Data(Vec<Value>),
    Error(String),
}

impl Part {
    /// The one-character type code.
    pub fn code(&self) -> char {
        match self {
            Self::StepStart { .. } => 'f',
            Self::Text(_) => '0',
            Self::StepFinish { .. } => 'e',
            Self::Finish { .. } => 'd',
            Self::Data(_) => '2',
            Self::Error(_) => '3',
        }
    }
}

/// Parses one line (without its `\n`).
pub fn parse_line(line: &str) -> Result<Part, String> {
    let (code, json) = line.split_once(':').ok_or_else(|| format!("no type prefix: {line:?}"))?;
    let value: Value =
        serde_json::from_str(json).map_err(|error| format!("not JSON after {code}: ({error}): {line:?}"))?;
    let string = |value: &Value, what: &str| {
        value.as_str().map(str::to_owned).ok_or_else(|| format!("{what} is not a string: {line:?}"))
    };
    match code {
        "f" => Ok(Part::StepStart { message_id: string(&value["messageId"], "messageId")? }),
        "0" => Ok(Part::Text(string(&value, "text")?)),
        "e" => Ok(Part::StepFinish {
            finish_reason: string(&value["finishReason"], "finishReason")?,
            is_continued: value["isContinued"]
                .as_bool()
                .ok_or_else(|| format!("isContinued missing: {line:?}"))?,
        }),
        "d" => Ok(Part::Finish { finish_reason: string(&value["finishReason"], "finishReason")? }),
        "2" => {
            value.as_array().cloned().map(Part::Data).ok_or_else(|| format!("data is not an array: {line:?}"))
        }
        "3" => Ok(Part::Error(string(&value, "error")?)),
        other => Err(format!("unknown part type {other:?}: {line:?}")),
    }
}

/// Parses a whole body; it must end with a line end (a cut-off part is a failure).
pub fn parse(body: &str) -> Result<Vec<Part>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let lines =
        body.strip_suffix('\n').ok_or_else(|| format!("the last part is not terminated: {body:?}"))?;
    lines.split('\n').map(parse_line).collect()
}

/// The type codes in order, e.g. `f00ed2`.
pub fn codes(parts: &[Part]) -> String {
    parts.iter().map(Part::code).collect()
}

/// The text parts joined.
pub fn text(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The `questionId` of the last data part, as the original client reads it.
pub fn question_id(parts: &[Part]) -> Option<String> {
    parts.iter().rev().find_map(|part| match part {
        Part::Data(items) => items.last()?["questionId"].as_str().map(str::to_owned),
        _ => None,
    })
}

/// The `attemptId` of the last data part (the feedback route's, once the attempt is stored).
pub fn attempt_id(parts: &[Part]) -> Option<String> {
    parts.iter().rev().find_map(|part| match part {
        Part::Data(items) => items.last()?["attemptId"].as_str().map(str::to_owned),
        _ => None,
    })
}

/// The error part's message, if any.
pub fn error(parts: &[Part]) -> Option<&str> {
    parts.iter().find_map(|part| match part {
        Part::Error(message) => Some(message.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_parts_parse_and_junk_does_not() {
        let body = "f:{\"messageId\":\"msg-1\"}\n0:\"a\\n\"\ne:{\"finishReason\":\"stop\",\"isContinued\":false}\nd:{\"finishReason\":\"stop\"}\n2:[{\"questionId\":\"q1\"}]\n";
        let parts = parse(body).unwrap();
        assert_eq!(codes(&parts), "f0ed2");
        assert_eq!(text(&parts), "a\n");
        assert_eq!(question_id(&parts).as_deref(), Some("q1"));
        for bad in
            ["0:\"unterminated\"", "0:\"a\"\n9:1\n", "0:{\"not\":\"text\"}\n", "0:\"a\nb\"\n", "hello\n"]
        {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
