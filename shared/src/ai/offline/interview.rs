//! Measuring a mock interview transcript: turns and answers, talk ratio, answer lengths,
//! fillers and hedges (with where they happened), the voice service's emotion scores, questions
//! the candidate asked back and the job's keywords they used; and the seven ratings that follow.
//! Writing the review is `interview_report`'s job.

use std::collections::BTreeMap;

use crate::ai::brief::InterviewBrief;

use super::extract::Matcher;
use super::job::{JobProfile, Level};
use super::text::{self, fragment};
use super::vocabulary::{Language, Vocabulary};

/// Answers shorter than this (words) sound curt; longer than `RAMBLING` sound unfocused.
pub const TOO_SHORT: usize = 15;
/// Answers from this length (words) have room for a point and its evidence.
pub const SUBSTANTIAL: usize = 40;
pub const RAMBLING: usize = 250;
/// Words quoted from the transcript.
const QUOTE_WORDS: usize = 10;

/// One answer: the interviewee's consecutive messages after an interviewer turn.
#[derive(Debug, Default)]
pub struct Answer {
    pub text: String,
    pub words: usize,
    pub fillers: usize,
    pub hedges: usize,
    /// The interviewer message it answers.
    pub prompt: Option<String>,
    pub keywords: Vec<String>,
    pub example: bool,
    pub result: bool,
    /// 0 to 1, from length, example, result and keywords.
    pub quality: f64,
}

/// A moment worth quoting.
#[derive(Debug, Clone)]
pub struct Moment {
    pub quote: String,
    pub prompt: Option<String>,
}

#[derive(Debug, Default)]
pub struct InterviewFacts {
    pub candidate: String,
    pub candidate_words: usize,
    pub interviewer_words: usize,
    pub answers: Vec<Answer>,
    pub fillers: usize,
    pub filler_moment: Option<Moment>,
    pub top_fillers: Vec<String>,
    pub hedges: usize,
    pub hedge_moment: Option<Moment>,
    /// Averages over the interviewee's messages that carried scores.
    pub emotions: BTreeMap<String, f64>,
    pub emotion_words: BTreeMap<String, String>,
    pub positive: f64,
    pub negative: f64,
    pub tensest: Option<Moment>,
    pub questions_back: Vec<String>,
    pub courtesy: bool,
    pub keywords_used: Vec<String>,
    pub keywords_wanted: Vec<String>,
    pub leadership: Vec<String>,
    pub level: Level,
    pub unanswered: usize,
    pub scores: Scores,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Scores {
    pub clarity: u8,
    pub confidence: u8,
    pub quality: u8,
    pub pacing: u8,
    pub engagement: u8,
    pub fit: u8,
    pub overall: u8,
}

impl InterviewFacts {
    pub fn per_hundred(&self, count: usize) -> f64 {
        if self.candidate_words == 0 { 0.0 } else { 100.0 * count as f64 / self.candidate_words as f64 }
    }

    pub fn median_words(&self) -> usize {
        let mut lengths: Vec<usize> = self.answers.iter().map(|a| a.words).collect();
        lengths.sort_unstable();
        lengths.get(lengths.len() / 2).copied().unwrap_or(0)
    }

    pub fn talk_share(&self) -> f64 {
        let total = self.candidate_words + self.interviewer_words;
        if total == 0 { 0.0 } else { self.candidate_words as f64 / total as f64 }
    }
}

pub fn measure(brief: &InterviewBrief, vocabulary: &Vocabulary, matcher: &Matcher) -> InterviewFacts {
    let language = &vocabulary.language;
    let job = JobProfile::read(&brief.job, matcher, vocabulary);
    let mut facts = InterviewFacts {
        candidate: brief.candidate.trim().to_owned(),
        level: job.level,
        emotion_words: language.emotion_words.clone(),
        keywords_wanted: job
            .wanted
            .iter()
            .filter_map(|w| vocabulary.name_in_sentence(w.technology))
            .collect(),
        ..InterviewFacts::default()
    };
    let mut emotion_sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut last_prompt: Option<String> = None;
    let mut tensest_score = 0.0;
    for line in &brief.transcript {
        let words = text::word_count(&line.text);
        if !line.interviewee {
            facts.interviewer_words += words;
            if !line.text.trim().is_empty() {
                last_prompt = Some(line.text.trim().to_owned());
            }
            continue;
        }
        facts.candidate_words += words;
        let continues =
            facts.answers.last().is_some_and(|a| a.prompt == last_prompt) && !facts.answers.is_empty();
        if !continues {
            facts.answers.push(Answer { prompt: last_prompt.clone(), ..Answer::default() });
        }
        if let Some(answer) = facts.answers.last_mut() {
            if !answer.text.is_empty() {
                answer.text.push(' ');
            }
            answer.text.push_str(line.text.trim());
        }
        if let Some(emotions) = &line.emotions {
            for (name, value) in emotions.iter().filter(|(_, v)| v.is_finite()) {
                let entry = emotion_sums.entry(name.clone()).or_default();
                entry.0 += value.clamp(0.0, 1.0);
                entry.1 += 1;
            }
            let tension = mean_of(emotions, &language.negative_emotions);
            if tension > tensest_score {
                tensest_score = tension;
                facts.tensest =
                    Some(Moment { quote: fragment(&line.text, QUOTE_WORDS), prompt: last_prompt.clone() });
            }
        }
    }
    facts.emotions = emotion_sums.into_iter().map(|(name, (sum, n))| (name, sum / n.max(1) as f64)).collect();
    facts.positive = mean_of(&facts.emotions, &language.positive_emotions);
    facts.negative = mean_of(&facts.emotions, &language.negative_emotions);
    let mut filler_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut most_fillers = 0;
    let mut most_hedges = 0;
    let hedges = PhraseList::new(&language.hedges);
    let examples = PhraseList::new(&language.example_markers);
    let results = PhraseList::new(&language.result_markers);
    for answer in &mut facts.answers {
        answer.words = text::word_count(&answer.text);
        let words = text::words(&answer.text);
        let padded = format!(" {} ", words.join(" "));
        let found = count_fillers(&answer.text, &words, language);
        answer.fillers = found.iter().map(|(_, n)| n).sum();
        for (filler, n) in found {
            *filler_counts.entry(filler).or_default() += n;
        }
        answer.hedges = hedges.count(&padded).iter().map(|(_, n)| n).sum();
        answer.keywords = matcher
            .find(&answer.text)
            .iter()
            .filter_map(|m| vocabulary.name_in_sentence(m.technology))
            .collect();
        answer.example = examples.any(&padded) || answer.text.chars().any(|c| c.is_ascii_digit());
        answer.result = results.any(&padded);
        answer.quality = answer_quality(answer);
        if answer.fillers > most_fillers {
            most_fillers = answer.fillers;
            facts.filler_moment = moment_around(answer, &filler_words(language));
        }
        if answer.hedges > most_hedges {
            most_hedges = answer.hedges;
            facts.hedge_moment = moment_around(answer, &language.hedges);
        }
        for sentence in answer.text.split_inclusive(['.', '!', '?']) {
            if sentence.trim_end().ends_with('?') && text::word_count(sentence) >= 3 {
                facts.questions_back.push(fragment(sentence.trim(), QUOTE_WORDS + 4));
            }
        }
    }
    facts.fillers = facts.answers.iter().map(|a| a.fillers).sum();
    facts.hedges = facts.answers.iter().map(|a| a.hedges).sum();
    let mut ranked: Vec<(String, usize)> = filler_counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    facts.top_fillers = ranked.into_iter().take(3).map(|(f, _)| f).collect();
    let spoken: String = facts.answers.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
    let spoken = format!(" {} ", text::words(&spoken).join(" "));
    facts.courtesy = PhraseList::new(&language.courtesies).any(&spoken);
    facts.leadership =
        PhraseList::new(&language.leadership_signals).count(&spoken).into_iter().map(|(p, _)| p).collect();
    let mut used: Vec<String> = Vec::new();
    for name in facts.answers.iter().flat_map(|a| &a.keywords) {
        if facts.keywords_wanted.contains(name) && !used.contains(name) {
            used.push(name.clone());
        }
    }
    facts.keywords_used = used;
    facts.unanswered = count_unanswered(brief);
    facts.scores = score(&facts);
    facts
}

fn mean_of(emotions: &BTreeMap<String, f64>, names: &[String]) -> f64 {
    let values: Vec<f64> =
        names.iter().filter_map(|n| emotions.get(n)).copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Phrases prepared for counting on word boundaries in text given as " word word ... ".
struct PhraseList<'a> {
    phrases: Vec<(&'a str, String)>,
}

impl<'a> PhraseList<'a> {
    fn new(phrases: &'a [String]) -> PhraseList<'a> {
        let phrases = phrases
            .iter()
            .map(|p| (p.as_str(), format!(" {} ", text::words(p).join(" "))))
            .filter(|(_, padded)| padded.trim() != "")
            .collect();
        PhraseList { phrases }
    }

    /// Occurrences of each phrase found in `padded`.
    fn count(&self, padded: &str) -> Vec<(String, usize)> {
        self.phrases
            .iter()
            .map(|(phrase, needle)| ((*phrase).to_owned(), padded.matches(needle.as_str()).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn any(&self, padded: &str) -> bool {
        self.phrases.iter().any(|(_, needle)| padded.contains(needle.as_str()))
    }
}

fn filler_words(language: &Language) -> Vec<String> {
    let mut words = language.fillers.clone();
    words.push("like".to_owned());
    words
}

/// Fillers in `text`. "like", "you know", "kind of" and "sort of" are also ordinary English, so
/// they count only where they carry no meaning ("it was, like, slow" but not "I like Rust").
fn count_fillers(text: &str, words: &[String], language: &Language) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let prose: &[&str] = &[
        "what",
        "this",
        "that",
        "which",
        "the",
        "a",
        "any",
        "some",
        "every",
        "same",
        "one",
        "different",
        "that's",
    ];
    let knowing: &[&str] = &[
        "how", "what", "that", "the", "about", "if", "why", "when", "where", "whether", "it", "this", "him",
        "her", "them", "who",
    ];
    for filler in &language.fillers {
        let needle = text::words(filler);
        if needle.is_empty() {
            continue;
        }
        let hits = (0..words.len().saturating_sub(needle.len() - 1))
            .filter(|&i| words[i..i + needle.len()] == needle[..])
            .filter(|&i| {
                let before = i.checked_sub(1).map(|j| words[j].as_str());
                let after = words.get(i + needle.len()).map(String::as_str);
                match filler.as_str() {
                    "kind of" | "sort of" => !before.is_some_and(|b| prose.contains(&b)),
                    "you know" => {
                        !after.is_some_and(|a| knowing.contains(&a))
                            && !before
                                .is_some_and(|b| matches!(b, "do" | "did" | "if" | "don't" | "as" | "would"))
                    }
                    _ => true,
                }
            })
            .count();
        if hits > 0 {
            counts.insert(filler.clone(), hits);
        }
    }
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let likes = tokens
        .iter()
        .enumerate()
        .filter(|(i, token)| {
            let bare = token.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
            let previous = i.checked_sub(1).and_then(|j| tokens.get(j));
            bare == "like"
                && (token.ends_with(',')
                    || previous.is_none_or(|p| p.ends_with([',', '.', '?', '!']))
                    || previous.is_some_and(|p| {
                        matches!(p.trim_matches(',').to_lowercase().as_str(), "um" | "uh" | "er")
                    }))
        })
        .count();
    if likes > 0 {
        counts.insert("like".to_owned(), likes);
    }
    counts.into_iter().collect()
}

/// A short quote around the first of `phrases` in the answer.
fn moment_around(answer: &Answer, phrases: &[String]) -> Option<Moment> {
    let tokens: Vec<&str> = answer.text.split_whitespace().collect();
    let bare: Vec<String> = tokens.iter().map(|t| text::words(t).join(" ")).collect();
    let at = phrases
        .iter()
        .filter_map(|p| {
            let first = text::words(p).into_iter().next()?;
            bare.iter().position(|b| *b == first)
        })
        .min()?;
    let start = at.saturating_sub(4);
    let quote = fragment(&tokens[start..].join(" "), QUOTE_WORDS);
    Some(Moment { quote, prompt: answer.prompt.clone() })
}

fn answer_quality(answer: &Answer) -> f64 {
    let length = match answer.words {
        0..TOO_SHORT => 0.2,
        TOO_SHORT..SUBSTANTIAL => 0.6,
        SUBSTANTIAL..=RAMBLING => 1.0,
        _ => 0.7,
    };
    0.45 * length
        + if answer.example { 0.25 } else { 0.0 }
        + if answer.result { 0.15 } else { 0.0 }
        + if answer.keywords.is_empty() { 0.0 } else { 0.15 }
}

/// Interviewer questions that got no reply before the next question or the end.
fn count_unanswered(brief: &InterviewBrief) -> usize {
    let mut unanswered = 0;
    let mut waiting = false;
    for line in &brief.transcript {
        if line.interviewee {
            if text::word_count(&line.text) > 0 {
                waiting = false;
            }
        } else if line.text.contains('?') {
            if waiting {
                unanswered += 1;
            }
            waiting = true;
        }
    }
    unanswered + usize::from(waiting && brief.transcript.iter().any(|l| l.interviewee))
}

fn rating(value: f64) -> u8 {
    value.round().clamp(1.0, 10.0) as u8
}

fn score(facts: &InterviewFacts) -> Scores {
    if facts.candidate_words == 0 {
        return Scores {
            clarity: 1,
            confidence: 1,
            quality: 1,
            pacing: 1,
            engagement: 1,
            fit: 1,
            overall: 1,
        };
    }
    let fillers = facts.per_hundred(facts.fillers);
    let hedges = facts.per_hundred(facts.hedges);
    let rambling = facts.answers.iter().filter(|a| a.words > RAMBLING).count() as f64;
    let mut clarity = 10.0 - (0.7 * fillers).min(5.0) - (0.4 * hedges).min(2.0) - rambling.min(2.0);
    let mut confidence = if facts.emotions.is_empty() {
        7.5 - (0.6 * hedges).min(3.0) - (0.3 * fillers).min(2.0)
    } else {
        5.5 + 12.0 * (facts.positive - facts.negative) - (0.5 * hedges).min(2.0)
    };
    let answers = facts.answers.len().max(1) as f64;
    let mut quality = 1.0 + 9.0 * facts.answers.iter().map(|a| a.quality).sum::<f64>() / answers;
    // Two or three sentences is a minimum for an interview answer; a rambling one still says something.
    let paced = facts
        .answers
        .iter()
        .map(|a| match a.words {
            0..TOO_SHORT => 0.0,
            TOO_SHORT..SUBSTANTIAL => 0.5,
            SUBSTANTIAL..=RAMBLING => 1.0,
            _ => 0.3,
        })
        .sum::<f64>()
        / answers;
    let share = facts.talk_share();
    let ratio = if (0.5..=0.8).contains(&share) {
        3.0
    } else if (0.35..=0.9).contains(&share) {
        2.0
    } else {
        1.0
    };
    let pacing = 1.0 + 6.0 * paced + ratio;
    let interest = facts.emotions.get("Interest").copied().unwrap_or(0.0);
    let engagement =
        4.0 + match facts.questions_back.len() {
            0 => 0.0,
            1 => 2.0,
            _ => 3.5,
        } + if interest > 0.2 { 1.0 } else { 0.0 }
            + if facts.courtesy { 0.5 } else { 0.0 }
            + if facts.unanswered == 0 { 1.0 } else { 0.0 };
    let level_signal = match facts.level {
        Level::Senior => !facts.leadership.is_empty(),
        _ => facts.answers.iter().any(|a| a.example),
    };
    let keyword_share = if facts.keywords_wanted.is_empty() {
        0.5
    } else {
        (facts.keywords_used.len() as f64 / facts.keywords_wanted.len().min(6) as f64).min(1.0)
    };
    let fit = 2.0 + 6.0 * keyword_share + if level_signal { 2.0 } else { 0.0 };
    // Very little said cannot show clarity or quality, however clean it was.
    if facts.candidate_words < 30 {
        clarity = clarity.min(3.0);
        quality = quality.min(3.0);
        confidence = confidence.min(4.0);
    }
    let parts = [clarity, confidence, quality, pacing, engagement, fit].map(rating);
    let overall = rating(parts.iter().map(|&p| f64::from(p)).sum::<f64>() / parts.len() as f64);
    Scores {
        clarity: parts[0],
        confidence: parts[1],
        quality: parts[2],
        pacing: parts[3],
        engagement: parts[4],
        fit: parts[5],
        overall,
    }
}
