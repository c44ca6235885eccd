//! A resume's score categories (what each holds, how names are listed) and the ats, jobMatch,
//! writingAndFormatting and other scores, each computed from measured facts and explained by
//! feedback items that name what was found.

use std::collections::HashSet;

use super::job::{JobProfile, Level};
use super::resume_facts::{LONG_LINE, ResumeFacts};
use super::text::{capitalise, count_of, join_and};
use super::vocabulary::Vocabulary;

/// Names listed in one feedback message before "and N more".
const LISTED: usize = 8;

#[derive(Clone, Copy)]
pub(super) enum Tone {
    Strength,
    Minor,
    Major,
}

/// One category's score, summary and feedback items (tone, name, message).
pub(super) struct Category {
    pub(super) score: f64,
    pub(super) summary: String,
    pub(super) feedback: Vec<(Tone, String, String)>,
}

impl Category {
    pub(super) fn new(score: f64, summary: String) -> Category {
        Category { score: round(score.clamp(0.0, 10.0)), summary, feedback: Vec::new() }
    }

    pub(super) fn add(&mut self, tone: Tone, name: &str, message: String) {
        self.feedback.push((tone, name.to_owned(), message));
    }
}

/// The job's keywords found in and missing from the resume.
pub(super) struct Keywords {
    pub(super) found: Vec<String>,
    pub(super) missing: Vec<String>,
    /// Found only in a skills list, never in experience or projects.
    pub(super) only_listed: Vec<String>,
    /// Missing keywords the job title names.
    pub(super) missing_from_title: Vec<String>,
    /// Weighted share found (0 to 1).
    pub(super) share: f64,
    /// True when the job named nothing in the vocabulary and plain terms were compared.
    pub(super) plain_terms: bool,
    /// Categories of the job's technologies that the resume shows some technology of.
    pub(super) categories_covered: f64,
}

pub(super) fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub(super) fn listed(names: &[String]) -> String {
    if names.len() <= LISTED {
        return join_and(names);
    }
    format!("{} and {} more", names[..LISTED].join(", "), names.len() - LISTED)
}

pub(super) fn ats(facts: &ResumeFacts, format: &str) -> Category {
    let mut score: f64 = 10.0;
    let mut problems = Vec::new();
    let mut findings: Vec<(Tone, &str, String)> = Vec::new();
    if facts.sections.is_empty() {
        score -= 3.0;
        problems.push("no standard headings");
        findings.push((
            Tone::Major,
            "No standard headings",
            "No line reads as a standard section heading (Experience, Education, Skills). Applicant \
             tracking systems file your content by these headings, so name them plainly on their own lines."
                .to_owned(),
        ));
    } else {
        let shown: Vec<String> = facts.sections.iter().map(|s| capitalise(s)).collect();
        findings.push((
            Tone::Strength,
            "Standard headings",
            format!("Found standard section headings: {}.", join_and(&shown)),
        ));
        for (section, penalty, why) in [
            ("experience", 2.5, "it is the section a tracking system relies on most"),
            ("skills", 1.5, "tracking systems and recruiters look there first for keywords"),
            ("education", 1.0, "many filters check for it"),
        ] {
            if !facts.sections.iter().any(|s| s == section) {
                score -= penalty;
                let message = format!(
                    "No {} section was found; add one with that heading, because {why}.",
                    capitalise(section)
                );
                findings.push((Tone::Major, "Missing section", message));
            }
        }
    }
    if facts.tab_lines >= 3 {
        score -= 2.0;
        problems.push("table-like lines");
        let message = format!(
            "{} lines are split into tab-separated cells, a sign of a table; tracking systems often read \
             tables out of order. Use plain lines instead.",
            facts.tab_lines
        );
        findings.push((Tone::Major, "Tables detected", message));
    }
    if facts.wide_gap_lines >= 3 {
        score -= 1.5;
        problems.push("columns");
        let message = format!(
            "{} lines hold separate blocks of text with wide gaps between them, which is how two-column \
             layouts come out of a PDF. A single column reads reliably.",
            facts.wide_gap_lines
        );
        findings.push((Tone::Major, "Columns detected", message));
    }
    if facts.odd_characters >= 3 {
        score -= 1.0;
        let message = format!(
            "{} characters are icons, symbol-font bullets or unreadable glyphs; they come out as noise in \
             plain text. Prefer simple bullets and words (\"Email:\") over icons.",
            facts.odd_characters
        );
        findings.push((Tone::Minor, "Unreadable symbols", message));
    }
    if facts.long_lines >= 3 {
        score -= 1.0;
        let message = format!(
            "{} lines run past {LONG_LINE} characters, which usually means text boxes or columns were merged \
             during extraction.",
            facts.long_lines
        );
        findings.push((Tone::Minor, "Very long lines", message));
    }
    if facts.bullet_markers.len() > 2 {
        score -= 0.5;
        let markers: Vec<String> = facts.bullet_markers.iter().map(|c| format!("\"{c}\"")).collect();
        let message =
            format!("Bullets use {} different markers ({}); pick one.", markers.len(), join_and(&markers));
        findings.push((Tone::Minor, "Mixed bullet styles", message));
    }
    if facts.date_styles.len() > 1 {
        score -= 0.5;
        let styles: Vec<String> = facts.date_styles.iter().map(|s| (*s).to_owned()).collect();
        let message = format!(
            "Dates are written in {} styles: {}. One style parses more reliably.",
            styles.len(),
            join_and(&styles)
        );
        findings.push((Tone::Minor, "Inconsistent dates", message));
    }
    if !facts.email && !facts.phone {
        score -= 1.0;
        let message = "Neither an email address nor a phone number could be read from the text; if they sit \
                       in a header, image or text box, move them into the body.";
        findings.push((Tone::Major, "Contact details not readable", message.to_owned()));
    }
    if facts.words < 150 {
        score -= 1.5;
        let message = format!(
            "Only {} words could be read: either the resume is very short, or parts of it (a scan, images, \
             text boxes) cannot be read by tracking systems. Export a text-based PDF or DOCX with your full \
             experience.",
            facts.words
        );
        findings.push((Tone::Major, "Little readable text", message));
    }
    if format == "text" {
        let message = "This was a plain text upload, so layout problems of the real document (tables, \
                       columns, headers) could not be checked.";
        findings.push((Tone::Minor, "Plain text upload", message.to_owned()));
    }
    let summary = if problems.is_empty() && score >= 8.0 {
        "A simple layout with standard headings that applicant tracking systems should read without trouble."
            .to_owned()
    } else if problems.is_empty() {
        "Mostly machine-readable, with a few structural gaps that could cost you in automated screening."
            .to_owned()
    } else {
        let problems: Vec<String> = problems.iter().map(|p| (*p).to_owned()).collect();
        format!("Tracking systems may misread parts of it: {} were detected.", join_and(&problems))
    };
    let mut category = Category::new(score, summary);
    for (tone, name, message) in findings {
        category.add(tone, name, message);
    }
    category
}

pub(super) fn job_match(job: &JobProfile, facts: &ResumeFacts, keywords: &Keywords) -> Category {
    let years = facts.years_claimed.map(f64::from).or(facts.years_span.map(f64::from));
    let (low, high) = job.level.expected_years();
    let level_fit = match years {
        Some(y) if y >= low && y < high => 2.0,
        Some(y) if y >= high => 1.5,
        Some(_) => 0.5,
        None => 1.0,
    };
    let quantified = (facts.quantified.len().min(4) as f64) / 4.0;
    let has_projects = facts.sections.iter().any(|s| s == "projects");
    let depth_signal = match job.level {
        Level::Senior => !facts.leadership.is_empty(),
        Level::Junior => has_projects || !facts.quantified.is_empty(),
        Level::Mid => has_projects || !facts.leadership.is_empty() || facts.quantified.len() >= 2,
    };
    let score = 4.5 * keywords.share
        + 1.5 * keywords.categories_covered
        + level_fit
        + quantified
        + if depth_signal { 1.0 } else { 0.0 };
    let percent = (keywords.share * 100.0).round();
    let summary = format!(
        "Your resume shows about {percent}% of what the job asks for (weighted by emphasis){}.",
        match years {
            Some(y) =>
                format!(", with {} of experience against a {} role", years_phrase(y), job.level.as_str()),
            None => String::new(),
        }
    );
    let mut category = Category::new(score, summary);
    if !keywords.found.is_empty() {
        category.add(
            Tone::Strength,
            "Relevant skills",
            format!("You show {} that the job asks for.", listed(&keywords.found)),
        );
    }
    if !keywords.missing_from_title.is_empty() {
        category.add(
            Tone::Major,
            "Core skill missing",
            format!(
                "The job title names {}, which your resume never mentions. If you have used {}, make {} \
                visible in your experience.",
                listed(&keywords.missing_from_title),
                if keywords.missing_from_title.len() == 1 { "it" } else { "them" },
                if keywords.missing_from_title.len() == 1 { "it" } else { "them" }
            ),
        );
    } else if keywords.share < 0.5 && !keywords.missing.is_empty() {
        category.add(
            Tone::Major,
            "Thin overlap with the job",
            format!("Most of the job's stack is absent, for example {}.", listed(&keywords.missing)),
        );
    }
    let level = job.level.as_str();
    match years {
        Some(y) if y < low => {
            let message = format!(
                "The resume suggests {} of experience; {level} roles usually expect {low} years or \
                 more. Lead with your most substantial work.",
                years_phrase(y)
            );
            category.add(Tone::Major, "Experience below the level", message);
        }
        Some(y) if y >= high && job.level != Level::Senior => {
            let message = format!(
                "With {} you may read as over-qualified for a {level} role; say why it suits you.",
                years_phrase(y)
            );
            category.add(Tone::Minor, "Experience above the level", message);
        }
        Some(y) => category.add(
            Tone::Strength,
            "Experience fits the level",
            format!("{} of experience fits a {level} role.", capitalise(&years_phrase(y))),
        ),
        None => {
            let message =
                "No dates or years of experience could be read; add start and end dates to each role.";
            category.add(Tone::Minor, "Experience unclear", message.to_owned());
        }
    }
    match facts.quantified.first() {
        None => category.add(
            Tone::Major,
            "No measurable results",
            "No bullet carries a number. Add results such as latency cut, users served, money saved or \
                team size."
                .to_owned(),
        ),
        Some(example) => category.add(
            Tone::Strength,
            "Measurable results",
            format!(
                "{} numbers, e.g. \"{example}\".",
                count_of(facts.quantified.len(), "bullet carries", "bullets carry")
            ),
        ),
    }
    match (job.level, facts.leadership.first()) {
        (Level::Senior, None) => category.add(
            Tone::Major,
            "No leadership shown",
            "A senior role expects ownership: show where you led, mentored, designed or decided.".to_owned(),
        ),
        (Level::Senior, Some(signal)) => category.add(
            Tone::Strength,
            "Leadership",
            format!("You show senior-level ownership (\"{signal}\")."),
        ),
        _ => {}
    }
    category
}

/// "less than a year", "about 1 year", "about 6 years".
fn years_phrase(years: f64) -> String {
    match years {
        y if y < 1.0 => "less than a year".to_owned(),
        y if y < 1.5 => "about 1 year".to_owned(),
        y => format!("about {} years", y.round()),
    }
}

pub(super) fn writing(facts: &ResumeFacts, level: Level) -> Category {
    let bullets = facts.bullet_lines.max(1) as f64;
    let action_share = facts.action_openers as f64 / bullets;
    let quantified_share = (facts.quantified.len() as f64 / bullets).min(1.0);
    let mut score = 5.0 + 2.0 * action_share + 1.5 * quantified_share;
    if facts.sections.iter().any(|s| s == "summary") {
        score += 0.5;
    }
    if facts.bullet_markers.len() <= 1 && facts.bullet_lines > 0 {
        score += 0.5;
    }
    score -= (0.3 * facts.weak_openers.len() as f64).min(1.5);
    score -= (0.3 * facts.cliches.len() as f64).min(1.2);
    score -= (0.3 * facts.long_bullets as f64).min(1.0);
    if facts.first_person > 3 {
        score -= 0.5;
    }
    let too_long = match level {
        Level::Junior => 800,
        Level::Mid => 1100,
        Level::Senior => 1400,
    };
    if facts.words < 200 {
        score -= 1.5;
    } else if facts.words > too_long {
        score -= 1.0;
    }
    if facts.bullet_lines == 0 {
        score -= 1.0;
    }
    let pages = (facts.words as f64 / 450.0).ceil().max(1.0);
    let summary = format!(
        "{} words (about {pages} page{}), {} bullet points, {} of them opening with an action verb.",
        facts.words,
        if pages > 1.0 { "s" } else { "" },
        facts.bullet_lines,
        facts.action_openers
    );
    let mut category = Category::new(score, summary);
    if facts.bullet_lines == 0 {
        category.add(
            Tone::Major,
            "No bullet points",
            "Experience written as paragraphs is slow to scan; use short bullets, one achievement each."
                .to_owned(),
        );
    } else if action_share >= 0.6 {
        category.add(
            Tone::Strength,
            "Action verbs",
            format!("{} of {} bullets open with an action verb.", facts.action_openers, facts.bullet_lines),
        );
    } else {
        category.add(
            Tone::Minor,
            "Weak bullet openings",
            format!(
                "Only {} of {} bullets open with an action verb (built, led, reduced...).",
                facts.action_openers, facts.bullet_lines
            ),
        );
    }
    if !facts.weak_openers.is_empty() {
        let examples: Vec<String> = facts.weak_openers.iter().take(2).map(|w| format!("\"{w}\"")).collect();
        category.add(
            Tone::Minor,
            "Passive phrasing",
            format!(
                "{} duties rather than results, e.g. {}. Say what you achieved instead.",
                count_of(facts.weak_openers.len(), "bullet describes", "bullets describe"),
                join_and(&examples)
            ),
        );
    }
    if !facts.cliches.is_empty() {
        category.add(
            Tone::Minor,
            "Clichés",
            format!(
                "Phrases such as {} tell the reader nothing; show the quality through a result instead.",
                join_and(&facts.cliches.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>())
            ),
        );
    }
    if facts.long_bullets > 0 {
        category.add(
            Tone::Minor,
            "Long bullets",
            format!(
                "{} past 35 words; split long bullets or cut them to the result.",
                count_of(facts.long_bullets, "bullet runs", "bullets run")
            ),
        );
    }
    if facts.first_person > 3 {
        category.add(
            Tone::Minor,
            "First person",
            format!(
                "\"I\", \"my\" or \"me\" appears {} times in bullets; resumes usually drop the pronoun.",
                facts.first_person
            ),
        );
    }
    if facts.words < 200 {
        category.add(
            Tone::Major,
            "Too short",
            format!("At {} words there is too little to judge your experience.", facts.words),
        );
    } else if facts.words > too_long {
        category.add(
            Tone::Minor,
            "Too long",
            format!(
                "At {} words (about {pages} pages) it is long for a \
            {} role; trim older or less relevant detail.",
                facts.words,
                level.as_str()
            ),
        );
    }
    if facts.sections.iter().any(|s| s == "summary") {
        category.add(
            Tone::Strength,
            "Summary section",
            "A short summary gives the reader your pitch before the details.".to_owned(),
        );
    }
    category
}

pub(super) fn other(
    facts: &ResumeFacts,
    job: &JobProfile,
    in_resume: &[usize],
    keywords: &Keywords,
    vocabulary: &Vocabulary,
) -> Category {
    let mut score: f64 = 10.0;
    let mut findings: Vec<(Tone, &str, String)> = Vec::new();
    let contacts: Vec<(&str, bool, f64)> = vec![
        ("email address", facts.email, 3.0),
        ("phone number", facts.phone, 1.5),
        ("LinkedIn profile", facts.linkedin, 1.0),
        ("GitHub or portfolio link", facts.github || facts.website, 1.0),
    ];
    let present: Vec<String> = contacts.iter().filter(|c| c.1).map(|c| c.0.to_owned()).collect();
    let absent: Vec<String> = contacts.iter().filter(|c| !c.1).map(|c| c.0.to_owned()).collect();
    score -= contacts.iter().filter(|c| !c.1).map(|c| c.2).sum::<f64>();
    if !present.is_empty() {
        findings.push((Tone::Strength, "Contact details", format!("Found: {}.", join_and(&present))));
    }
    if !absent.is_empty() {
        let tone = if facts.email { Tone::Minor } else { Tone::Major };
        findings.push((
            tone,
            "Missing contact details",
            format!(
                "Not found: {}. Recruiters expect to reach you and see your work in one click.",
                join_and(&absent)
            ),
        ));
    }
    for (from, to) in facts.gaps.iter().take(2) {
        score -= 1.0;
        findings.push((
            Tone::Minor,
            "Employment gap",
            format!(
                "No role covers {from} to {to}; a one-line \
            explanation (study, travel, caregiving, a project) stops the reader guessing."
            ),
        ));
    }
    let wanted: HashSet<String> = keywords.found.iter().chain(&keywords.missing).cloned().collect();
    let outdated: Vec<String> = in_resume
        .iter()
        .filter_map(|&t| vocabulary.technologies.get(t))
        .filter(|t| t.outdated && !wanted.contains(&t.name))
        .map(|t| t.name.clone())
        .collect();
    if !outdated.is_empty() {
        score -= (0.5 * outdated.len() as f64).min(1.5);
        findings.push((
            Tone::Minor,
            "Dated technologies",
            format!(
                "{} can make the resume look dated for \
            this job; mention older technologies briefly unless the role needs them.",
                listed(&outdated)
            ),
        ));
    }
    if !facts.personal_details.is_empty() {
        score -= 1.0;
        findings.push((
            Tone::Minor,
            "Personal details",
            format!(
                "Details such as {} are not needed and can invite bias; remove them.",
                join_and(&facts.personal_details)
            ),
        ));
    }
    if facts.references_line {
        score -= 0.5;
        findings.push((
            Tone::Minor,
            "References line",
            "\"References available on request\" is assumed; use the line for something that sells you."
                .to_owned(),
        ));
    }
    if job.level == Level::Junior && !facts.sections.iter().any(|s| s == "projects") {
        findings.push((
            Tone::Minor,
            "Projects",
            "For a junior role, a Projects section with links shows what you can build.".to_owned(),
        ));
    }
    let summary = format!(
        "{} Scored offline by Darasa's practice engine from measurable facts of the extracted text.",
        if findings.iter().any(|f| matches!(f.0, Tone::Major)) {
            "Some basics a recruiter needs are missing."
        } else if findings.iter().any(|f| matches!(f.0, Tone::Minor)) {
            "No red flags, with a few details worth tidying."
        } else {
            "Contact details are complete and nothing looks out of place."
        }
    );
    let mut category = Category::new(score, summary);
    for (tone, name, message) in findings {
        category.add(tone, name, message);
    }
    category
}
