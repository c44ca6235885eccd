//! A job's progress, read from its one progress item (`job_infos::store::progress_key`): the
//! counters the question and attempt transactions add to. Nothing here scans attempts, so a
//! request costs one `GetItem` however long the history.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::MAX_RATING;
use super::store::{ANSWERED, DAY, RATED, SUM, rating_counter};
use crate::clock;
use crate::domain::DomainResult;
use crate::job_infos;
use crate::questions::Difficulty;
use crate::questions::store::{ATTEMPTS, QUESTIONS, progress_counter};
use crate::store::{Item, Table};

/// How many days the route's trend covers (today included).
pub const TREND_DAYS: i64 = 30;

/// What `GET /api/job-infos/{jobInfoId}/progress` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub job_info_id: Uuid,
    #[serde(flatten)]
    pub total: Tally,
    pub by_difficulty: ByDifficulty,
    /// Days with attempts, oldest first.
    pub trend: Vec<Day>,
}

/// The counts of the whole job or of one difficulty.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Questions generated.
    pub questions: u64,
    /// Questions with at least one attempt.
    pub answered: u64,
    pub attempts: u64,
    /// Attempts whose feedback had a rating (the average's denominator).
    pub rated_attempts: u64,
    /// Two decimals; `null` without rated attempts.
    pub average_rating: Option<f64>,
    pub best_rating: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ByDifficulty {
    pub easy: Tally,
    pub medium: Tally,
    pub hard: Tally,
}

/// One UTC day of the trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub attempts: u64,
    pub rated_attempts: u64,
    pub average_rating: Option<f64>,
}

/// The caller's job's progress, the trend over the last `TREND_DAYS` days; `Missing::JobInfo`
/// when the job is not theirs.
pub async fn get(table: &dyn Table, user_id: &str, job_id: Uuid) -> DomainResult<Progress> {
    job_infos::get_owned(table, user_id, job_id).await?;
    let item = table.get(&job_infos::store::progress_key(user_id, job_id)).await?;
    let since = super::store::day_of(clock::now() - time::Duration::days(TREND_DAYS - 1));
    Ok(from_item(job_id, item.as_ref(), Some(&since)))
}

/// The progress a progress item holds (`None`: nothing counted yet), the trend from day `since`
/// on (`None`: every day kept).
pub fn from_item(job_id: Uuid, item: Option<&Item>, since: Option<&str>) -> Progress {
    let empty = Item::new();
    let item = item.unwrap_or(&empty);
    Progress {
        job_info_id: job_id,
        total: tally(item, None),
        by_difficulty: ByDifficulty {
            easy: tally(item, Some(Difficulty::Easy)),
            medium: tally(item, Some(Difficulty::Medium)),
            hard: tally(item, Some(Difficulty::Hard)),
        },
        trend: trend(item, since),
    }
}

fn count(item: &Item, attribute: &str) -> u64 {
    item.get(attribute).and_then(Value::as_u64).unwrap_or(0)
}

fn average(sum: u64, rated: u64) -> Option<f64> {
    // Counts stay far below 2^52, where u64 to f64 is exact.
    (rated > 0).then(|| (sum as f64 / rated as f64 * 100.0).round() / 100.0)
}

/// The counters of one scope; the rating histogram gives the average and the best.
fn tally(item: &Item, difficulty: Option<Difficulty>) -> Tally {
    let counter = |name: &str| count(item, &progress_counter(difficulty, name));
    let (mut rated, mut sum, mut best) = (0, 0, None);
    for rating in 0..=MAX_RATING {
        let attempts = counter(&rating_counter(rating));
        if attempts > 0 {
            rated += attempts;
            sum += attempts * u64::from(rating);
            best = Some(rating);
        }
    }
    Tally {
        questions: counter(QUESTIONS),
        answered: counter(ANSWERED),
        attempts: counter(ATTEMPTS),
        rated_attempts: rated,
        average_rating: average(sum, rated),
        best_rating: best,
    }
}

/// The per-day counters (`day#<YYYY-MM-DD>#<counter>`) from `since` on, oldest first.
fn trend(item: &Item, since: Option<&str>) -> Vec<Day> {
    let mut days: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for (attribute, value) in item {
        let Some((day, counter)) = attribute.strip_prefix(DAY).and_then(|rest| rest.split_once('#')) else {
            continue;
        };
        if since.is_some_and(|since| day < since) {
            continue;
        }
        let slot = match counter {
            ATTEMPTS => 0,
            RATED => 1,
            SUM => 2,
            _ => continue,
        };
        days.entry(day).or_default()[slot] = value.as_u64().unwrap_or(0);
    }
    days.into_iter()
        .map(|(day, [attempts, rated, sum])| Day {
            day: day.to_owned(),
            attempts,
            rated_attempts: rated,
            average_rating: average(sum, rated),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counters_become_totals_averages_bests_and_a_bounded_trend() {
        let item = json!({
            "questions": 4, "easy#questions": 3, "hard#questions": 1,
            "answered": 2, "easy#answered": 1, "hard#answered": 1,
            "attempts": 5, "easy#attempts": 3, "hard#attempts": 2,
            "rating#4": 2, "rating#9": 1, "rating#0": 1,
            "easy#rating#4": 2, "hard#rating#9": 1, "hard#rating#0": 1,
            "day#2026-10-01#attempts": 1, "day#2026-10-01#rated": 1, "day#2026-10-01#sum": 0,
            "day#2026-11-20#attempts": 3, "day#2026-11-20#rated": 3, "day#2026-11-20#sum": 17,
            "day#2026-11-21#attempts": 1,
            "jobInfoId": "ignored", "parentKey": "ignored"
        });
        let Value::Object(item) = item else { unreachable!() };
        let job = Uuid::now_v7();
        let progress = from_item(job, Some(&item), Some("2026-10-23"));
        let total = &progress.total;
        assert_eq!((total.questions, total.answered, total.attempts, total.rated_attempts), (4, 2, 5, 4));
        assert_eq!((total.average_rating, total.best_rating), (Some(4.25), Some(9)));
        let easy = &progress.by_difficulty.easy;
        assert_eq!(
            (easy.questions, easy.attempts, easy.average_rating, easy.best_rating),
            (3, 3, Some(4.0), Some(4))
        );
        assert_eq!(progress.by_difficulty.medium, Tally::default());
        let hard = &progress.by_difficulty.hard;
        assert_eq!((hard.average_rating, hard.best_rating), (Some(4.5), Some(9)));
        let days: Vec<_> = progress.trend.iter().map(|day| (day.day.as_str(), day.average_rating)).collect();
        assert_eq!(days, [("2026-11-20", Some(5.67)), ("2026-11-21", None)], "older days left out");
        assert_eq!(from_item(job, Some(&item), None).trend.len(), 3, "the export keeps every day");

        let nothing = from_item(job, None, None);
        assert_eq!((nothing.total, nothing.trend), (Tally::default(), Vec::new()));
    }
}
