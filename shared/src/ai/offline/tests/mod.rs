//! Property tests of the offline engine over the fixtures under `fixtures/` (jobs and resumes
//! written for these tests), plus checks of the embedded data.

mod grading;
mod interview;
mod questions;
mod resume;
mod vocabulary;

use std::path::PathBuf;

use crate::ai::brief::JobBrief;

use super::Engine;

fn fixtures() -> PathBuf {
    crate::test_fixtures()
}

fn engine() -> &'static Engine {
    Engine::shared()
}

fn vocabulary() -> &'static super::vocabulary::Vocabulary {
    &engine().vocabulary
}

fn matcher() -> &'static super::extract::Matcher {
    &engine().matcher
}

/// A fixture job: `title:` and `level:` lines, a blank line, then the description.
fn parse_job(text: &str) -> JobBrief {
    let mut job = JobBrief { experience_level: "mid-level".into(), ..JobBrief::default() };
    let mut lines = text.lines();
    for line in lines.by_ref() {
        if let Some(title) = line.strip_prefix("title:") {
            job.title = Some(title.trim().to_owned());
        } else if let Some(level) = line.strip_prefix("level:") {
            job.experience_level = level.trim().to_owned();
        } else if line.trim().is_empty() {
            break;
        }
    }
    job.description = lines.collect::<Vec<_>>().join("\n");
    job
}

/// Every fixture job, by file stem, in name order.
fn jobs() -> Vec<(String, JobBrief)> {
    read_dir("jobs").into_iter().map(|(name, text)| (name, parse_job(&text))).collect()
}

fn job(name: &str) -> JobBrief {
    jobs().into_iter().find(|(n, _)| n == name).map(|(_, j)| j).unwrap()
}

fn resume(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("resumes").join(format!("{name}.txt"))).unwrap()
}

fn read_dir(folder: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(fixtures().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}
