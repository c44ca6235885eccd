//! Finding the vocabulary's technologies, practices and duties in free text (job ads, resumes,
//! answers, transcripts), with the guard rules that keep ordinary English ("we go to great
//! lengths", "swift delivery") from reading as technology names.

use std::collections::{HashMap, HashSet};

use super::text::{MatchToken, Stems, match_tokens};
use super::vocabulary::Vocabulary;

/// How far (in words, within one sentence) a guarded name looks for context.
const CONTEXT_WINDOW: usize = 3;

/// A technology found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub technology: usize,
    pub count: usize,
    /// Token index of the first occurrence, to keep the text's own order on ties.
    pub first: usize,
}

struct Pattern {
    /// Lowercase tokens, or their stems when `stemmed`.
    tokens: Vec<String>,
    /// The exact spelling a guarded name must have; `None` for ordinary aliases.
    exact: Option<Vec<String>>,
    /// Practices and duties are written in many inflections ("designed APIs", "API design"), so
    /// their multi-word names match by stem.
    stemmed: bool,
    technology: usize,
}

/// The compiled alias table.
pub struct Matcher {
    by_first_token: HashMap<String, Vec<Pattern>>,
    by_first_stem: HashMap<String, Vec<Pattern>>,
    stems: Stems,
    context_strong: HashSet<String>,
    context_weak: HashSet<String>,
    technology_context: Vec<HashSet<String>>,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    technology: usize,
    start: usize,
    end: usize,
    guarded: bool,
}

impl Matcher {
    pub fn new(vocabulary: &Vocabulary) -> Matcher {
        let stems = Stems::new(&[]);
        let mut by_first_token: HashMap<String, Vec<Pattern>> = HashMap::new();
        let mut by_first_stem: HashMap<String, Vec<Pattern>> = HashMap::new();
        for (index, technology) in vocabulary.technologies.iter().enumerate() {
            let stemmed = vocabulary
                .categories
                .iter()
                .find(|c| c.id == technology.category)
                .is_some_and(|c| c.common_noun);
            let mut plain: Vec<&String> = technology.aliases.iter().collect();
            if technology.guarded.is_empty() {
                plain.push(&technology.name);
            }
            let plain = plain.into_iter().map(|alias| (alias, false));
            let guarded = technology.guarded.iter().map(|alias| (alias, true));
            for (alias, is_guarded) in plain.chain(guarded) {
                let tokens = match_tokens(alias);
                if tokens.is_empty() {
                    continue;
                }
                // Single words stay exact: "monitor" or "profile" by stem would catch ordinary nouns.
                let by_stem = stemmed && !is_guarded && tokens.len() > 1;
                let pattern = Pattern {
                    tokens: tokens
                        .iter()
                        .map(|t| if by_stem { stems.stem(&t.lower) } else { t.lower.clone() })
                        .collect(),
                    exact: is_guarded.then(|| tokens.iter().map(|t| t.text.to_owned()).collect()),
                    stemmed: by_stem,
                    technology: index,
                };
                let index = if by_stem { &mut by_first_stem } else { &mut by_first_token };
                index.entry(pattern.tokens[0].clone()).or_default().push(pattern);
            }
        }
        let lower_set = |words: &[String]| words.iter().map(|w| w.to_lowercase()).collect::<HashSet<_>>();
        Matcher {
            by_first_token,
            by_first_stem,
            stems,
            context_strong: lower_set(&vocabulary.language.context_strong),
            context_weak: lower_set(&vocabulary.language.context_weak),
            technology_context: vocabulary.technologies.iter().map(|t| lower_set(&t.context)).collect(),
        }
    }

    /// The technologies named in `text`, in order of first appearance.
    pub fn find(&self, text: &str) -> Vec<Mention> {
        let tokens = match_tokens(text);
        let mut memo: HashMap<&str, String> = HashMap::new();
        let token_stems: Vec<String> = tokens
            .iter()
            .map(|t| memo.entry(t.lower.as_str()).or_insert_with(|| self.stems.stem(&t.lower)).clone())
            .collect();
        let hits = self.candidate_hits(&tokens, &token_stems);
        let mut accepted: Vec<bool> = hits.iter().map(|hit| !hit.guarded).collect();
        // A guarded name accepted through a neighbour can vouch for the next one ("Go, Rust and
        // C"), and one accepted anywhere in the text vouches for its other mentions (a skills
        // table line "Airflow Pandas Tableau"), so repeat until nothing changes.
        loop {
            let established: HashSet<usize> =
                hits.iter().zip(&accepted).filter(|(_, ok)| **ok).map(|(hit, _)| hit.technology).collect();
            let newly: Vec<usize> = (0..hits.len())
                .filter(|&i| {
                    !accepted[i]
                        && (established.contains(&hits[i].technology)
                            || self.has_context(&tokens, &hits, &accepted, i))
                })
                .collect();
            if newly.is_empty() {
                break;
            }
            for i in newly {
                accepted[i] = true;
            }
        }
        let mut mentions: Vec<Mention> = Vec::new();
        for (hit, _) in hits.iter().zip(&accepted).filter(|(_, ok)| **ok) {
            match mentions.iter_mut().find(|m| m.technology == hit.technology) {
                Some(mention) => mention.count += 1,
                None => mentions.push(Mention { technology: hit.technology, count: 1, first: hit.start }),
            }
        }
        mentions
    }

    fn candidate_hits(&self, tokens: &[MatchToken<'_>], token_stems: &[String]) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let lower = &tokens[i].lower;
            let singular = lower.strip_suffix('s').filter(|s| !s.is_empty());
            let by_spelling = [Some(lower.as_str()), singular]
                .into_iter()
                .flatten()
                .filter_map(|key| self.by_first_token.get(key));
            let by_stem = self.by_first_stem.get(&token_stems[i]);
            let best = by_spelling
                .chain(by_stem)
                .flatten()
                .filter(|pattern| pattern_matches(pattern, tokens, token_stems, i))
                .max_by_key(|pattern| (pattern.tokens.len(), pattern.exact.is_none()));
            match best {
                Some(pattern) => {
                    let end = i + pattern.tokens.len();
                    hits.push(Hit {
                        technology: pattern.technology,
                        start: i,
                        end,
                        guarded: pattern.exact.is_some(),
                    });
                    i = end;
                }
                None => i += 1,
            }
        }
        hits
    }

    fn has_context(&self, tokens: &[MatchToken<'_>], hits: &[Hit], accepted: &[bool], index: usize) -> bool {
        let hit = hits[index];
        let opens_sentence = tokens[hit.start].sentence_start;
        // The window stays inside the hit's sentence.
        let mut from = hit.start;
        while from > 0 && hit.start - from < CONTEXT_WINDOW && !tokens[from].sentence_start {
            from -= 1;
        }
        let mut to = hit.end;
        while to < tokens.len() && to - hit.end < CONTEXT_WINDOW && !tokens[to].sentence_start {
            to += 1;
        }
        // Hits are in text order and do not overlap, so only the ones next to this hit can fall
        // inside its window.
        let vouches = |j: &usize| accepted[*j] && hits[*j].technology != hit.technology;
        let before = (0..index).rev().take_while(|&j| hits[j].end > from).any(|j| vouches(&j));
        let after = (index + 1..hits.len()).take_while(|&j| hits[j].start < to).any(|j| vouches(&j));
        let neighbour = before || after;
        let specific = &self.technology_context[hit.technology];
        let context_word = (from..to).filter(|&t| t < hit.start || t >= hit.end).any(|t| {
            let word = &tokens[t].lower;
            specific.contains(word)
                || self.context_strong.contains(word)
                || (!opens_sentence && self.context_weak.contains(word))
        });
        neighbour || context_word
    }
}

fn pattern_matches(
    pattern: &Pattern,
    tokens: &[MatchToken<'_>],
    token_stems: &[String],
    start: usize,
) -> bool {
    let length = pattern.tokens.len();
    let Some(window) = tokens.get(start..start + length) else { return false };
    if pattern.stemmed {
        return token_stems
            .get(start..start + length)
            .is_some_and(|stems| stems == pattern.tokens.as_slice());
    }
    match &pattern.exact {
        Some(exact) => {
            let glued = window.first().is_some_and(|t| t.hyphen_before)
                || window.last().is_some_and(|t| t.hyphen_after);
            !glued && window.iter().zip(exact).all(|(token, spelling)| token.text == spelling)
        }
        None => window.iter().zip(&pattern.tokens).enumerate().all(|(j, (token, expected))| {
            token.lower == *expected
                || (j + 1 == length
                    && expected.len() > 2
                    && token.lower.strip_suffix('s').is_some_and(|singular| singular == expected))
        }),
    }
}
