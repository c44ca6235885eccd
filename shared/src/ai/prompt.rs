//! Helpers every prompt uses to quote what users wrote. User-supplied text (a job description, a
//! question, a resume) goes inside a fence longer than any backtick run it contains, so it cannot
//! close its own block and speak to the model as instructions.

use super::brief::JobBrief;

/// The job as every prompt states it: title (left out when missing, never "null"), level, and
/// the description fenced; `quote` renders the short values.
pub fn job_lines(job: &JobBrief, quote: impl Fn(&str) -> String) -> String {
    let mut lines = String::new();
    if let Some(title) = job.title.as_deref().map(str::trim).filter(|title| !title.is_empty()) {
        lines.push_str(&format!("Job title: {}\n", quote(title)));
    }
    lines.push_str(&format!("Experience level: {}\n", quote(&job.experience_level)));
    lines.push_str(&format!("Job description:\n{}\n", fenced(&job.description)));
    lines
}

/// How many of `items`, counted from the end, fit in `budget` by `size`: a prompt's context is
/// bounded whatever the plan, keeping the most recent.
pub fn latest_within<T>(items: &[T], budget: usize, size: impl Fn(&T) -> usize) -> &[T] {
    let mut used = 0;
    let kept = items
        .iter()
        .rev()
        .take_while(|item| {
            used += size(item);
            used <= budget
        })
        .count();
    &items[items.len() - kept..]
}

/// How many of `items`, counted from the start, fit in `budget` by `size`.
pub fn earliest_within<T>(items: &[T], budget: usize, size: impl Fn(&T) -> usize) -> &[T] {
    let mut used = 0;
    let kept = items
        .iter()
        .take_while(|item| {
            used += size(item);
            used <= budget
        })
        .count();
    &items[..kept]
}

/// At most `max` characters of `text` (a prefix).
pub fn at_most(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// `text` in a fenced block whose fence is longer than any backtick run inside it.
pub fn fenced(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    format!("{fence}\n{}\n{fence}", text.trim_end())
}

/// `text` as inline code, safe for backticks inside it.
pub fn inline_code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    format!("{ticks}{}{ticks}", text.trim())
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_inside() {
        assert_eq!(fenced("a"), "```\na\n```");
        assert_eq!(fenced("x ```y``` z"), "````\nx ```y``` z\n````");
        assert_eq!(inline_code("senior"), "`senior`");
        assert_eq!(inline_code("a`b"), "``a`b``");
    }

    #[test]
    fn budgets_keep_the_newest_or_the_oldest() {
        let items = ["aaaa", "bb", "cc", "dddd"];
        assert_eq!(latest_within(&items, 6, |item| item.len()), ["cc", "dddd"]);
        assert_eq!(earliest_within(&items, 7, |item| item.len()), ["aaaa", "bb"]);
        assert!(latest_within(&items, 3, |item| item.len()).is_empty());
        assert_eq!(at_most("naïve", 3), "naï");
        assert_eq!(at_most("ab", 3), "ab");
    }

    #[test]
    fn a_missing_title_is_left_out() {
        let job = JobBrief { title: None, experience_level: "junior".into(), description: "Kotlin".into() };
        assert_eq!(
            job_lines(&job, str::to_owned),
            "Experience level: junior\nJob description:\n```\nKotlin\n```\n"
        );
        let titled = JobBrief { title: Some(" Android ".into()), ..job };
        assert!(job_lines(&titled, inline_code).starts_with("Job title: `Android`\n"));
    }
}
