//! Writing a chosen question as an interviewer would: a bold lead, a scene grounded in the
//! job's product and technologies, the question itself, what to address, and the line that says
//! no AI provider wrote it.

use super::GeneratedQuestion;
use super::job::{Difficulty, JobProfile, with_article};
use super::questions::{Binding, QUESTION_FOOTER};
use super::text::{capitalise, join_and, stable_hash};
use super::vocabulary::{Kind, Vocabulary};

/// Technologies named in a question's scene besides its focus.
const SCENE_COMPANIONS: usize = 2;

/// `template` with `{tech}` and `{other}` filled in, fixing "a" before a vowel ("an Apache
/// Spark job").
pub fn fill(template: &str, technology: &str, other: &str) -> String {
    let mut text = template.to_owned();
    for (placeholder, value) in [("{tech}", technology), ("{other}", other)] {
        let article = with_article(value);
        let (lower, upper) =
            (article.split(' ').next().unwrap_or("a"), capitalise(article.split(' ').next().unwrap_or("a")));
        text = text
            .replace(&format!(" a {placeholder}"), &format!(" {lower} {value}"))
            .replace(&format!("A {placeholder}"), &format!("{upper} {value}"))
            .replace(placeholder, value);
    }
    text
}

/// The display name a binding's placeholders use.
pub fn technology_name(vocabulary: &Vocabulary, job: &JobProfile, technology: Option<usize>) -> String {
    technology
        .or_else(|| job.wanted.first().map(|w| w.technology))
        .and_then(|t| vocabulary.name_in_sentence(t))
        .unwrap_or_else(|| "your current stack".to_owned())
}

fn pick<'a>(options: &'a [String], seed: u64, salt: &str) -> Option<&'a String> {
    if options.is_empty() {
        return None;
    }
    options.get((stable_hash(&[&seed.to_string(), salt]) % options.len() as u64) as usize)
}

pub fn question(vocabulary: &Vocabulary, job: &JobProfile, binding: Binding, seed: u64) -> GeneratedQuestion {
    let Some(concept) = vocabulary.concepts.get(binding.concept) else {
        return fallback_question(job, Difficulty::Medium);
    };
    let technology = technology_name(vocabulary, job, binding.technology);
    let other = binding.other.and_then(|t| vocabulary.name_in_sentence(t)).unwrap_or_default();
    let other = other.as_str();
    let templates = &vocabulary.templates;
    let topic = fill(&concept.topic, &technology, other);
    let lead =
        templates.leads.get(&binding.kind).map_or("{topic}", String::as_str).replace("{topic}", &topic);
    let mut scene = scene_sentence(vocabulary, job, binding, seed);
    if let Some(note) =
        templates.level_notes.get(job.level.as_str()).and_then(|notes| pick(notes, seed, "level"))
    {
        scene.push(' ');
        scene.push_str(note);
    }
    let ask = concept.asks.iter().find(|ask| ask.kind == binding.kind).map_or("", |ask| ask.text.as_str());
    let mut text = format!("**{}**\n\n{scene}\n\n{}\n", capitalise(&lead), fill(ask, &technology, other));
    if matches!(binding.kind, Kind::Design | Kind::Tradeoffs) {
        let constraints = two_constraints(&templates.constraints, seed, &concept.id);
        if !constraints.is_empty() {
            text.push_str(&format!("\nConstraints to work within: {}.\n", join_and(&constraints)));
        }
    }
    if let Some(bullets) = templates.address.get(&binding.kind).filter(|b| !b.is_empty()) {
        text.push_str("\nIn your answer, cover:\n");
        for bullet in bullets {
            text.push_str(&format!("- {bullet}\n"));
        }
    }
    text.push('\n');
    text.push_str(QUESTION_FOOTER);
    let key_points = concept.points.iter().map(|p| fill(&p.text, &technology, other)).collect();
    GeneratedQuestion { text, key_points }
}

/// The scene: the job's product and the technologies around the question's focus.
fn scene_sentence(vocabulary: &Vocabulary, job: &JobProfile, binding: Binding, seed: u64) -> String {
    let focus = binding.technology.or_else(|| job.wanted.first().map(|w| w.technology));
    let mut names: Vec<String> = focus.and_then(|t| vocabulary.name_in_sentence(t)).into_iter().collect();
    let focus_category = focus.and_then(|t| vocabulary.category_of(t));
    let mut companions: Vec<usize> = job
        .wanted
        .iter()
        .map(|w| w.technology)
        .filter(|&t| Some(t) != focus && Some(t) != binding.other)
        .collect();
    // Companions from other categories paint a fuller stack than two databases side by side.
    companions.sort_by_key(|&t| vocabulary.category_of(t) == focus_category);
    names
        .extend(companions.into_iter().take(SCENE_COMPANIONS).filter_map(|t| vocabulary.name_in_sentence(t)));
    let techs = if names.is_empty() { "the team's current stack".to_owned() } else { join_and(&names) };
    let domain = job.domain.clone().unwrap_or_else(|| vocabulary.templates.fallback_domain.clone());
    let template = vocabulary
        .templates
        .scenarios
        .get(&binding.kind)
        .and_then(|options| pick(options, seed, "scene"))
        .map_or("You work as {a_role} on {domain}, built with {techs}.", String::as_str);
    template
        .replace("{a_role}", &with_article(&job.role))
        .replace("{role}", &job.role)
        .replace("{domain}", &domain)
        .replace("{techs}", &techs)
}

fn two_constraints(constraints: &[String], seed: u64, salt: &str) -> Vec<String> {
    if constraints.is_empty() {
        return Vec::new();
    }
    let first = (stable_hash(&[&seed.to_string(), salt, "c1"]) % constraints.len() as u64) as usize;
    let mut chosen = vec![constraints[first].clone()];
    if constraints.len() > 1 {
        let step =
            1 + (stable_hash(&[&seed.to_string(), salt, "c2"]) % (constraints.len() as u64 - 1)) as usize;
        chosen.push(constraints[(first + step) % constraints.len()].clone());
    }
    chosen
}

/// A question written without any vocabulary data (only if the embedded data failed to load).
pub fn fallback_question(job: &JobProfile, difficulty: Difficulty) -> GeneratedQuestion {
    let ask = match difficulty {
        Difficulty::Easy => "Explain how you make sure a change you wrote works before it reaches users.",
        Difficulty::Medium => {
            "A feature you shipped last week is intermittently failing in production. How do you find the \
             cause?"
        }
        Difficulty::Hard => {
            "Design a service that accepts orders from a web app and must never lose one. Walk through the \
             main components and failure cases."
        }
    };
    let text = format!("**A question for {}**\n\n{ask}\n\n{QUESTION_FOOTER}", with_article(&job.role));
    let key_points = vec![
        "Reproduce or measure the behaviour before changing anything".to_owned(),
        "Test the change at the right levels (unit, integration, end to end)".to_owned(),
        "Roll out gradually and watch monitoring afterwards".to_owned(),
    ];
    GeneratedQuestion { text, key_points }
}
