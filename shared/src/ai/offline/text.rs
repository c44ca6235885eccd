//! Text primitives the whole offline engine shares: the two tokenisers (one that keeps the
//! spelling of technology names such as `C++`, `.NET` or `Node.js`, one that yields plain words),
//! Snowball stems with stopwords left out, and the stable hash behind every "varied but
//! deterministic" choice.

use std::collections::{HashMap, HashSet};

use rust_stemmers::{Algorithm, Stemmer};

/// One token as technology matching sees it: the original spelling (case matters for names
/// like `Go` or `Swift`) plus what surrounds it, because "rust-free" and "Go to great lengths"
/// must not read as technologies.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchToken<'a> {
    pub text: &'a str,
    pub lower: String,
    /// Glued to the previous token by a hyphen ("rust-free" gives `rust` then `free`).
    pub hyphen_before: bool,
    pub hyphen_after: bool,
    /// First token of the text, of a line or of a sentence.
    pub sentence_start: bool,
}

/// Splits `text` for vocabulary matching. A token is a run of letters and digits that may
/// carry a leading dot (`.net`), inner dots, ampersands or apostrophes (`node.js`, `r&d`,
/// `don't`) and trailing `+`/`#` (`c++`, `c#`); hyphens and slashes split tokens, but a hyphen
/// is remembered so a guarded name inside a compound word can be rejected.
pub fn match_tokens(text: &str) -> Vec<MatchToken<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut tokens: Vec<MatchToken<'_>> = Vec::new();
    let mut sentence_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let leading_dot = c == '.'
            && char_at(i + 1).is_some_and(char::is_alphabetic)
            && (i == 0 || char_at(i - 1).is_some_and(|p| !p.is_alphanumeric()));
        if !c.is_alphanumeric() && !leading_dot {
            if matches!(c, '.' | '!' | '?' | ':' | ';' | '\n') {
                sentence_start = true;
            }
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len() {
            let c = chars[i].1;
            let inner_joiner = matches!(c, '.' | '&' | '\'' | '’')
                && char_at(i + 1).is_some_and(char::is_alphanumeric)
                && char_at(i - 1).is_some_and(char::is_alphanumeric);
            if c.is_alphanumeric() || inner_joiner {
                i += 1;
            } else {
                break;
            }
        }
        while i < chars.len() && matches!(chars[i].1, '+' | '#') {
            i += 1;
        }
        let begin = chars[start].0;
        let end = chars.get(i).map_or(text.len(), |&(at, _)| at);
        let word = &text[begin..end];
        let hyphen_before = start > 0
            && char_at(start - 1) == Some('-')
            && start >= 2
            && char_at(start - 2).is_some_and(char::is_alphanumeric);
        let hyphen_after = char_at(i) == Some('-') && char_at(i + 1).is_some_and(char::is_alphanumeric);
        tokens.push(MatchToken {
            text: word,
            lower: word.to_lowercase(),
            hyphen_before,
            hyphen_after,
            sentence_start,
        });
        sentence_start = false;
    }
    tokens
}

/// Plain lowercase words (letters, digits, inner apostrophes), in order.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let inner_apostrophe =
            matches!(c, '\'' | '’') && !current.is_empty() && chars.peek().is_some_and(|n| n.is_alphabetic());
        if c.is_ascii_alphanumeric() {
            current.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() || inner_apostrophe {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Number of words in `text`, as a reader would count them.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count()
}

/// Stems words and knows which words carry no meaning on their own.
pub struct Stems {
    stemmer: Stemmer,
    stopwords: HashSet<String>,
}

impl Stems {
    pub fn new(stopwords: &[String]) -> Stems {
        Stems {
            stemmer: Stemmer::create(Algorithm::English),
            stopwords: stopwords.iter().map(|w| w.to_lowercase()).collect(),
        }
    }

    pub fn stem(&self, word: &str) -> String {
        let bare = word.strip_suffix("'s").or_else(|| word.strip_suffix("’s")).unwrap_or(word);
        self.stemmer.stem(bare).into_owned()
    }

    pub fn is_stopword(&self, word: &str) -> bool {
        self.stopwords.contains(word)
    }

    /// The stems of the meaningful words of `text`, in order.
    pub fn content_stems(&self, text: &str) -> Vec<String> {
        words(text).iter().filter(|w| !self.is_stopword(w)).map(|w| self.stem(w)).collect()
    }

    /// `content_stems` remembering each word's stem in `memo`: loading the vocabulary stems the
    /// same few thousand words tens of thousands of times.
    pub fn content_stems_memo(&self, text: &str, memo: &mut HashMap<String, String>) -> Vec<String> {
        words(text)
            .into_iter()
            .filter(|w| !self.is_stopword(w))
            .map(|w| match memo.get(&w) {
                Some(stem) => stem.clone(),
                None => {
                    let stem = self.stem(&w);
                    memo.insert(w, stem.clone());
                    stem
                }
            })
            .collect()
    }

    /// `content_stems` as a set.
    pub fn stem_set(&self, text: &str) -> HashSet<String> {
        self.content_stems(text).into_iter().collect()
    }
}

/// Whether `needle` (a sequence of stems) occurs in `haystack`: contiguously, or with every
/// stem inside a window a little wider than the needle, so "query plan" also finds "plan of
/// the query" once stopwords are gone.
pub fn contains_sequence(haystack: &[String], needle: &[String]) -> bool {
    match needle {
        [] => false,
        [one] => haystack.iter().any(|s| s == one),
        _ => {
            let window = needle.len() + 2;
            haystack.iter().enumerate().filter(|(_, s)| needle.contains(s)).any(|(start, _)| {
                let end = (start + window).min(haystack.len());
                needle.iter().all(|n| haystack[start..end].contains(n))
            })
        }
    }
}

/// FNV-1a over the parts, each followed by a separator so ("ab","c") and ("a","bc") differ.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// Lowercase with whitespace collapsed and markdown emphasis removed, for "does this earlier
/// text contain that sentence" checks that must survive re-rendering.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !matches!(c, '*' | '_' | '`') {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            if c.is_ascii() { out.push(c.to_ascii_lowercase()) } else { out.extend(c.to_lowercase()) }
        }
    }
    out
}

/// The literal parts of a template around its `{tech}` and `{other}` placeholders, normalised,
/// so a rendered text can be recognised whatever the placeholders were filled with.
pub fn template_fragments(template: &str) -> Vec<String> {
    template.replace("{tech}", "\u{0}").replace("{other}", "\u{0}").split('\u{0}').map(normalise).collect()
}

/// `items` joined as English prose: "a", "a and b", "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "1 bullet" or "3 bullets".
pub fn count_of(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}

/// `text` with its first letter in upper case.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// At most `max` words of `text`, with an ellipsis when something was cut; markdown markers
/// and quotes are dropped so the fragment can sit inside quotation marks.
pub fn fragment(text: &str, max: usize) -> String {
    let cleaned: Vec<&str> = text.split_whitespace().collect();
    let mut out: String = cleaned
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '`' | '"' | '#'))
        .collect();
    let trimmed = out.trim_end_matches([',', ';', ':', '.', ' ']).len();
    out.truncate(trimmed);
    if cleaned.len() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technology_spellings_survive_tokenising() {
        let tokens = match_tokens("C++, C#, .NET and Node.js; CI/CD with k8s. R&D");
        let lower: Vec<&str> = tokens.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(lower, ["c++", "c#", ".net", "and", "node.js", "ci", "cd", "with", "k8s", "r&d"]);
        assert!(tokens[0].sentence_start && tokens[9].sentence_start && !tokens[4].sentence_start);
    }

    #[test]
    fn hyphens_are_remembered() {
        let tokens = match_tokens("a rust-free bike");
        assert!(tokens[1].hyphen_after && tokens[2].hyphen_before && !tokens[0].hyphen_after);
    }

    #[test]
    fn sequences_match_in_a_small_window() {
        let hay: Vec<String> = ["plan", "queri", "slow"].iter().map(|s| s.to_string()).collect();
        let needle: Vec<String> = ["queri", "plan"].iter().map(|s| s.to_string()).collect();
        assert!(contains_sequence(&hay, &needle));
        assert!(!contains_sequence(&hay, &["index".to_string()]));
    }

    #[test]
    fn helpers_read_naturally() {
        assert_eq!(join_and(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(fragment("one *two* three four", 3), "one two three…");
        assert_eq!(normalise("  **Bold**  text\n`x`"), "bold text x");
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(words("I don't know, C++"), ["i", "don't", "know", "c"]);
    }
}
