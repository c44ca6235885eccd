//! How a signature pattern gets matched, and the index that matches all plain-text ones at once.
//!
//! Nearly every pattern in the list is plain text, so the index does the work: a table keyed by a
//! literal's first three bytes, probed once per position of the User-Agent. It builds in
//! microseconds, where an Aho-Corasick automaton over the same ~1,500 literals takes
//! milliseconds, which every Lambda cold start would pay. The few real regular expressions each
//! get a plain-text "gate" they cannot match without; a regex is compiled the first time its gate
//! is seen, so a browser's User-Agent never compiles one.
//!
//! Patterns come from `&'static` data, so plain text without escapes is borrowed, not copied:
//! construction runs in every cold start and allocation is most of its cost.

use std::borrow::Cow;

/// Where a plain-text pattern must sit in the User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pin {
    Anywhere,
    Start,
    End,
    Whole,
}

/// What one branch of a pattern (the parts of a top-level `a|b`) becomes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    Literal(Cow<'static, str>, Pin),
    /// A regex, with the text it cannot match without, when it has three bytes or more of it.
    Regex {
        gate: Option<String>,
    },
}

/// The index needs three bytes to probe with.
const KEY_LEN: usize = 3;

/// Splits a pattern at the `|`s that are not inside a group or a class.
pub(super) fn branches(pattern: &'static str) -> Vec<&'static str> {
    if !pattern.contains('|') {
        return vec![pattern];
    }
    let mut parts = Vec::new();
    let (mut depth, mut in_class, mut escaped, mut start) = (0usize, false, false, 0);
    for (at, c) in pattern.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                parts.push(&pattern[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&pattern[start..]);
    parts
}

pub(super) fn plan(branch: &'static str) -> Plan {
    match literal(branch) {
        Some((text, pin)) if text.len() >= KEY_LEN => Plan::Literal(text, pin),
        _ => Plan::Regex { gate: required_text(branch).filter(|gate| gate.len() >= KEY_LEN) },
    }
}

/// The branch as plain text, when it is: escaped punctuation is plain, `^` and `$` pin it.
fn literal(branch: &'static str) -> Option<(Cow<'static, str>, Pin)> {
    let (start, rest) = match branch.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, branch),
    };
    // Bytes, not chars: every special character is ASCII, and this runs on each of ~1,500
    // entries at every cold start.
    let special = |byte: &u8| {
        matches!(
            byte,
            b'\\' | b'.' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'*' | b'+' | b'?' | b'^' | b'$' | b'|'
        )
    };
    if !rest.as_bytes().iter().any(special) {
        return Some((Cow::Borrowed(rest), if start { Pin::Start } else { Pin::Anywhere }));
    }
    let mut text = String::with_capacity(rest.len());
    let mut end = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if !escaped.is_ascii_alphanumeric() => text.push(escaped),
                _ => return None,
            },
            '$' if chars.peek().is_none() => end = true,
            '.' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '+' | '?' | '^' | '$' | '|' => return None,
            _ => text.push(c),
        }
    }
    let pin = match (start, end) {
        (false, false) => Pin::Anywhere,
        (true, false) => Pin::Start,
        (false, true) => Pin::End,
        (true, true) => Pin::Whole,
    };
    Some((Cow::Owned(text), pin))
}

/// The longest run of plain text that every match of the branch contains. Groups, classes and
/// escapes like `\d` end a run; a character made optional by `?`, `*` or `{..}` leaves it.
fn required_text(branch: &str) -> Option<String> {
    // A case-insensitive pattern has no case-sensitive text to gate on.
    if branch.contains("(?i") {
        return None;
    }
    let mut best = String::new();
    let mut run = String::new();
    let mut end_run = |run: &mut String| {
        if run.len() > best.len() {
            best = std::mem::take(run);
        }
        run.clear();
    };
    let mut chars = branch.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if !escaped.is_ascii_alphanumeric() => run.push(escaped),
                _ => end_run(&mut run),
            },
            '[' => {
                skip_class(&mut chars);
                end_run(&mut run);
            }
            '(' => {
                skip_group(&mut chars);
                end_run(&mut run);
            }
            '?' | '*' => {
                run.pop();
                end_run(&mut run);
            }
            '{' => {
                run.pop();
                chars.by_ref().take_while(|&c| c != '}').for_each(drop);
                end_run(&mut run);
            }
            '+' | '.' | '^' | '$' | ')' | ']' | '}' | '|' => end_run(&mut run),
            _ => run.push(c),
        }
    }
    end_run(&mut run);
    Some(best).filter(|text| !text.is_empty())
}

fn skip_class(chars: &mut std::str::Chars) {
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ']' => return,
            _ => {}
        }
    }
}

fn skip_group(chars: &mut std::str::Chars) {
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => skip_class(chars),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// 2^12 buckets for ~1,500 literals: most probes land in an empty bucket.
const BUCKET_BITS: u32 = 12;

#[inline]
fn bucket_of(key: &[u8]) -> usize {
    let packed = key.iter().take(KEY_LEN).fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte));
    (packed.wrapping_mul(0x9E37_79B1) >> (32 - BUCKET_BITS)) as usize
}

struct Entry<T> {
    text: Cow<'static, str>,
    pin: Pin,
    payload: T,
}

/// Finds every plain-text literal (of three bytes or more) in a haystack, honouring its pin.
pub(super) struct LiteralIndex<T> {
    /// Entries sorted by bucket; bucket `b` owns `entries[starts[b]..starts[b + 1]]`.
    entries: Vec<Entry<T>>,
    starts: Vec<u32>,
}

impl<T: Copy> LiteralIndex<T> {
    /// Literals shorter than three bytes are left out: `plan` never produces them.
    pub(super) fn build(literals: Vec<(Cow<'static, str>, Pin, T)>) -> Self {
        let buckets = 1usize << BUCKET_BITS;
        let mut entries: Vec<(usize, Entry<T>)> = literals
            .into_iter()
            .filter(|(text, _, _)| text.len() >= KEY_LEN)
            .map(|(text, pin, payload)| (bucket_of(text.as_bytes()), Entry { text, pin, payload }))
            .collect();
        entries.sort_unstable_by_key(|(bucket, _)| *bucket);
        let mut starts = vec![0u32; buckets + 1];
        for (bucket, _) in &entries {
            starts[bucket + 1] += 1;
        }
        for bucket in 0..buckets {
            starts[bucket + 1] += starts[bucket];
        }
        LiteralIndex { entries: entries.into_iter().map(|(_, entry)| entry).collect(), starts }
    }

    pub(super) fn for_each_match(&self, haystack: &[u8], mut found: impl FnMut(T)) {
        for at in 0..haystack.len().saturating_sub(KEY_LEN - 1) {
            let rest = &haystack[at..];
            let bucket = bucket_of(rest);
            let (Some(&first), Some(&end)) = (self.starts.get(bucket), self.starts.get(bucket + 1)) else {
                continue;
            };
            for entry in self.entries.get(first as usize..end as usize).unwrap_or_default() {
                let text = entry.text.as_bytes();
                let matched = rest.starts_with(text)
                    && match entry.pin {
                        Pin::Anywhere => true,
                        Pin::Start => at == 0,
                        Pin::End => rest.len() == text.len(),
                        Pin::Whole => at == 0 && rest.len() == text.len(),
                    };
                if matched {
                    found(entry.payload);
                }
            }
        }
    }
}
