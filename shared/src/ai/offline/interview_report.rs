//! Writing the mock interview review from the measured facts: an overall rating line, then the
//! seven rated sections the product shows, each pointing at moments of the conversation.
//! Emotion scores are described in words, never printed.

use super::interview::{InterviewFacts, Moment, RAMBLING, SUBSTANTIAL, TOO_SHORT};
use super::job::Level;
use super::text::{capitalise, fragment, join_and};

const FOOTER: &str =
    "*Produced offline by Darasa's practice engine from the transcript: no AI provider was used.*";
/// A section rated at least this is a strength.
const STRENGTH: u8 = 8;
/// An emotion this strong (0 to 1, as the voice service scores it) is worth mentioning.
const NOTABLE_EMOTION: f64 = 0.15;

pub fn render(facts: &InterviewFacts) -> String {
    let scores = facts.scores;
    let mut out = format!("**Overall rating: {}/10**\n\n", scores.overall);
    out.push_str(&opening(facts));
    let sections = [
        ("Communication Clarity", scores.clarity, clarity(facts)),
        ("Confidence and Emotional State", scores.confidence, confidence(facts)),
        ("Response Quality", scores.quality, quality(facts)),
        ("Pacing and Timing", scores.pacing, pacing(facts)),
        ("Engagement and Interaction", scores.engagement, engagement(facts)),
        ("Role Fit & Alignment", scores.fit, fit(facts)),
        ("Overall Strengths & Areas for Improvement", scores.overall, summary(facts)),
    ];
    for (heading, score, body) in sections {
        out.push_str(&format!("\n## {heading}: {score}/10\n{body}\n"));
    }
    out.push('\n');
    out.push_str(FOOTER);
    out.push('\n');
    out
}

fn quoted(moment: &Moment) -> String {
    format!("\"{}\"", moment.quote)
}

fn asked(moment: &Moment) -> String {
    moment.prompt.as_deref().map_or_else(String::new, |p| format!(" when asked \"{}\"", fragment(p, 10)))
}

fn opening(facts: &InterviewFacts) -> String {
    let greeting = if facts.candidate.is_empty() {
        "Thanks for practising.".to_owned()
    } else {
        format!("Thanks for practising, {}.", facts.candidate)
    };
    if facts.candidate_words == 0 {
        return format!(
            "{greeting} The transcript holds nothing that you said, so there is nothing to assess yet: \
             this review is a placeholder until you complete an interview with your microphone on.\n"
        );
    }
    format!(
        "{greeting} You spoke about {} words across {} answer{}, {}% of the words in the conversation.\n",
        facts.candidate_words,
        facts.answers.len(),
        if facts.answers.len() == 1 { "" } else { "s" },
        (facts.talk_share() * 100.0).round()
    )
}

fn nothing_said() -> String {
    "There was nothing from you in the transcript to judge here.".to_owned()
}

fn clarity(facts: &InterviewFacts) -> String {
    if facts.candidate_words == 0 {
        return nothing_said();
    }
    let mut lines = Vec::new();
    let fillers = facts.per_hundred(facts.fillers);
    if fillers < 1.0 {
        lines.push(
            "Your wording was clean: almost no filler words, so your points came through directly."
                .to_owned(),
        );
    } else {
        let which = facts.top_fillers.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>();
        let mut line =
            format!("You used about {fillers:.1} filler words per 100 words, mostly {}.", join_and(&which));
        if let Some(moment) = &facts.filler_moment {
            line.push_str(&format!(
                " For example, when you said {}, the fillers blurred the point.",
                quoted(moment)
            ));
        }
        line.push_str(" Pause silently instead: a short pause sounds more assured than a filler.");
        lines.push(line);
    }
    if facts.hedges > 0 {
        let mut line =
            format!("You hedged {} time{}", facts.hedges, if facts.hedges == 1 { "" } else { "s" });
        if let Some(moment) = &facts.hedge_moment {
            line.push_str(&format!(", for instance {}", quoted(moment)));
        }
        line.push_str(". State what you know plainly, and flag real uncertainty once.");
        lines.push(line);
    }
    let rambling = facts.answers.iter().filter(|a| a.words > RAMBLING).count();
    if rambling > 0 {
        lines.push(format!(
            "{rambling} answer{} ran past {RAMBLING} words; lead with the conclusion, then support it.",
            if rambling == 1 { "" } else { "s" }
        ));
    }
    lines.join("\n\n")
}

fn describe(facts: &InterviewFacts, name: &str) -> String {
    facts.emotion_words.get(name).cloned().unwrap_or_else(|| name.to_lowercase())
}

fn confidence(facts: &InterviewFacts) -> String {
    if facts.candidate_words == 0 {
        return nothing_said();
    }
    if facts.emotions.is_empty() {
        let hedges = facts.per_hundred(facts.hedges);
        return format!(
            "No voice emotion readings came with this transcript, so this rating rests on your words \
             alone. {}",
            if hedges > 1.5 {
                "Frequent hedging made you sound less sure than your content deserved."
            } else {
                "Your wording sounded assured, with little hedging."
            }
        );
    }
    let mut ranked: Vec<(&String, &f64)> = facts.emotions.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = ranked.iter().take(3).map(|(name, _)| describe(facts, name)).collect();
    let mut text = format!("Across your answers your voice came across as mostly {}.", join_and(&top));
    text.push_str(if facts.positive > facts.negative + 0.05 {
        " Overall you sounded composed, which helps an interviewer trust your answers."
    } else if facts.negative > facts.positive + 0.05 {
        " Tension outweighed calm overall; slowing down and breathing before you answer helps."
    } else {
        " Calm and tension were fairly balanced."
    });
    if let Some(moment) = facts.tensest.as_ref().filter(|_| facts.negative >= NOTABLE_EMOTION / 2.0) {
        text.push_str(&format!(
            " You sounded least at ease{}, when you said {}.",
            asked(moment),
            quoted(moment)
        ));
    }
    text
}

fn quality(facts: &InterviewFacts) -> String {
    if facts.answers.is_empty() {
        return nothing_said();
    }
    let with_example = facts.answers.iter().filter(|a| a.example).count();
    let with_result = facts.answers.iter().filter(|a| a.result).count();
    let mut lines = vec![format!(
        "{with_example} of your {} answers used a concrete example or number, and {with_result} described \
         an outcome.",
        facts.answers.len()
    )];
    if let Some(best) =
        facts.answers.iter().filter(|a| a.words >= TOO_SHORT).max_by(|a, b| a.quality.total_cmp(&b.quality))
    {
        lines.push(format!(
            "Your strongest answer was the one that began \"{}\": it is the model to repeat.",
            fragment(&best.text, 10)
        ));
    }
    if let Some(weak) = facts.answers.iter().filter(|a| a.words < TOO_SHORT).min_by_key(|a| a.words) {
        let prompt =
            weak.prompt.as_deref().map_or_else(String::new, |p| format!(" to \"{}\"", fragment(p, 10)));
        lines.push(format!(
            "Your reply{prompt} was only {} words; expand answers like that with what you did and what \
             came of it.",
            weak.words
        ));
    }
    if with_example * 2 < facts.answers.len() {
        lines.push(
            "Use the situation, task, action, result pattern so each answer ends in evidence.".to_owned(),
        );
    }
    lines.join("\n\n")
}

fn pacing(facts: &InterviewFacts) -> String {
    if facts.answers.is_empty() {
        return nothing_said();
    }
    let short = facts.answers.iter().filter(|a| a.words < TOO_SHORT).count();
    let long = facts.answers.iter().filter(|a| a.words > RAMBLING).count();
    let share = (facts.talk_share() * 100.0).round();
    let median = facts.median_words();
    let mut text = format!(
        "Your typical answer ran about {median} words; {short} {} under {TOO_SHORT} words and {long} over \
         {RAMBLING}.",
        if short == 1 { "was" } else { "were" }
    );
    if median < SUBSTANTIAL {
        text.push_str(&format!(
            " Most answers were brief: aim for {SUBSTANTIAL} to 200 words, enough for a point, an example \
             and its outcome."
        ));
    }
    text.push_str(&if share < 50.0 {
        format!(
            " You spoke {share}% of the words, less than the interviewer: in an interview you should carry \
             most of the conversation."
        )
    } else if share > 85.0 {
        format!(" You spoke {share}% of the words; leave room for the interviewer to steer and follow up.")
    } else {
        format!(" You spoke {share}% of the words, a healthy balance for an interview.")
    });
    text
}

fn engagement(facts: &InterviewFacts) -> String {
    if facts.candidate_words == 0 {
        return nothing_said();
    }
    let mut lines = Vec::new();
    match facts.questions_back.first() {
        Some(question) => lines.push(format!(
            "You asked {} question{} of your own, such as \"{question}\", which shows real interest in the \
             role.",
            facts.questions_back.len(),
            if facts.questions_back.len() == 1 { "" } else { "s" }
        )),
        None => lines.push(
            "You did not ask the interviewer anything. Prepare two questions about the team, the product \
             or how success is measured."
                .to_owned(),
        ),
    }
    if facts.unanswered > 0 {
        lines.push(format!("{} of the interviewer's questions went without a reply.", facts.unanswered));
    }
    if facts.courtesy {
        lines.push(
            "Your courtesy (thanking the interviewer, acknowledging questions) came through.".to_owned(),
        );
    }
    if facts.emotions.get("Interest").is_some_and(|v| *v > 0.2) {
        lines.push("You sounded genuinely interested for much of the conversation.".to_owned());
    }
    lines.join("\n\n")
}

fn fit(facts: &InterviewFacts) -> String {
    if facts.candidate_words == 0 {
        return nothing_said();
    }
    let mut lines = Vec::new();
    let missing: Vec<String> =
        facts.keywords_wanted.iter().filter(|k| !facts.keywords_used.contains(k)).take(6).cloned().collect();
    if facts.keywords_wanted.is_empty() {
        lines.push(
            "The job description names no technology the offline vocabulary knows, so fit was judged from \
             your examples and level."
                .to_owned(),
        );
    } else if facts.keywords_used.is_empty() {
        lines.push(format!(
            "You never mentioned the job's technologies, such as {}. Tie your examples to them.",
            join_and(&missing)
        ));
    } else {
        let mut line = format!(
            "You connected your experience to {}, which the job asks for.",
            join_and(&facts.keywords_used)
        );
        if !missing.is_empty() {
            line.push_str(&format!(" You did not bring up {}.", join_and(&missing)));
        }
        lines.push(line);
    }
    lines.push(match (facts.level, facts.leadership.first()) {
        (Level::Senior, None) => {
            "For a senior role, show where you led, decided or mentored; none of your answers did.".to_owned()
        }
        (Level::Senior, Some(signal)) => format!("You showed senior-level ownership (\"{signal}\")."),
        _ if facts.answers.iter().any(|a| a.example) => {
            format!("Your concrete examples suit a {} role.", facts.level.as_str())
        }
        _ => format!(
            "Back your claims with concrete examples to show you are ready for a {} role.",
            facts.level.as_str()
        ),
    });
    lines.join("\n\n")
}

fn summary(facts: &InterviewFacts) -> String {
    if facts.candidate_words == 0 {
        return "- **Next step:** run the interview again and answer aloud; the review needs your side of \
                the conversation."
            .to_owned();
    }
    let s = facts.scores;
    let mut areas = [
        (s.clarity, "clear, filler-free wording", "cutting filler words and hedges"),
        (s.confidence, "a composed delivery", "a steadier, more assured delivery"),
        (s.quality, "answers backed by examples", "more concrete examples and outcomes"),
        (s.pacing, "well-sized answers", "fuller answers: a point, an example and its outcome"),
        (s.engagement, "engaging with the interviewer", "asking questions of your own"),
        (s.fit, "linking your experience to the role", "linking answers to the job's technologies"),
    ];
    // Stable sort: ties keep the order above, so the same scores always give the same lines.
    areas.sort_by_key(|(score, _, _)| std::cmp::Reverse(*score));
    let strengths: Vec<String> = areas
        .iter()
        .filter(|(score, _, _)| *score >= STRENGTH)
        .take(2)
        .map(|(_, good, _)| (*good).to_owned())
        .collect();
    let strengths = if strengths.is_empty() {
        let (score, good, _) = areas[0];
        format!("none stood out yet; your best area was {good} ({score}/10)")
    } else {
        join_and(&strengths)
    };
    let improve: Vec<String> = areas
        .iter()
        .rev()
        .filter(|(score, _, _)| *score < STRENGTH)
        .take(2)
        .map(|(_, _, better)| (*better).to_owned())
        .collect();
    let Some(first) = improve.first() else {
        return format!(
            "- **Strengths:** {}.\n- **Next step:** keep this standard and try a harder interview or a more \
             senior role.",
            capitalise(&strengths)
        );
    };
    format!(
        "- **Strengths:** {}.\n- **Areas for improvement:** {}.\n- **Next step:** practise one answer \
         focusing on {first} and compare the next review.",
        capitalise(&strengths),
        capitalise(&join_and(&improve)),
    )
}
