//! Plans: the feature slugs Clerk Billing puts in the session token's `fea` claim, and the quotas
//! they grant, as the original app's permission rules define them.

use std::collections::BTreeSet;

use serde::Serialize;

pub const UNLIMITED_RESUME_ANALYSIS: &str = "unlimited_resume_analysis";
pub const UNLIMITED_INTERVIEWS: &str = "unlimited_interviews";
pub const UNLIMITED_QUESTIONS: &str = "unlimited_questions";
pub const ONE_INTERVIEW: &str = "1_interview";
pub const FIVE_QUESTIONS: &str = "5_questions";

/// The caller's enabled features (slugs without their scope prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Features(BTreeSet<String>);

impl Features {
    /// Parses a `fea` claim such as `u:5_questions,u:1_interview` or `uo:reports,o:sso`.
    /// Entries with a scope other than user/org, or without a slug, are ignored (fail closed).
    pub fn from_claim(claim: &str) -> Self {
        let slugs = claim
            .split(',')
            .filter_map(|entry| {
                let (scope, slug) = entry.trim().split_once(':')?;
                let known_scope = matches!(scope, "u" | "o" | "uo" | "ou" | "user" | "org" | "organization");
                (known_scope && !slug.is_empty()).then(|| slug.to_owned())
            })
            .collect();
        Self(slugs)
    }

    pub fn from_slugs<'a>(slugs: impl IntoIterator<Item = &'a str>) -> Self {
        Self(slugs.into_iter().map(str::to_owned).collect())
    }

    pub fn has(&self, slug: &str) -> bool {
        self.0.contains(slug)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Lifetime limit on generated questions; `None` means unlimited.
    pub fn question_limit(&self) -> Option<u64> {
        if self.has(UNLIMITED_QUESTIONS) {
            None
        } else if self.has(FIVE_QUESTIONS) {
            Some(5)
        } else {
            Some(0)
        }
    }

    /// Lifetime limit on started interviews (with a Hume chat); `None` means unlimited.
    pub fn interview_limit(&self) -> Option<u64> {
        if self.has(UNLIMITED_INTERVIEWS) {
            None
        } else if self.has(ONE_INTERVIEW) {
            Some(1)
        } else {
            Some(0)
        }
    }

    /// Resume analysis has no free quota: it is unlimited with the feature and absent without.
    pub fn resume_analysis_limit(&self) -> Option<u64> {
        if self.has(UNLIMITED_RESUME_ANALYSIS) { None } else { Some(0) }
    }
}

/// One quota as `/api/me` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    pub used: u64,
    /// `null` when unlimited.
    pub limit: Option<u64>,
    /// `null` when unlimited.
    pub remaining: Option<u64>,
}

impl Quota {
    pub fn new(used: u64, limit: Option<u64>) -> Self {
        Self { used, limit, remaining: limit.map(|limit| limit.saturating_sub(used)) }
    }

    pub fn allows_one_more(&self) -> bool {
        self.remaining != Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fea_claim_scopes_and_junk() {
        let features = Features::from_claim("u:5_questions, o:team ,uo:1_interview,x:evil,nocolon,u:");
        assert!(features.has("5_questions"));
        assert!(features.has("team"));
        assert!(features.has("1_interview"));
        assert!(!features.has("evil"));
        assert_eq!(features.iter().count(), 3);
    }

    #[test]
    fn free_plan_limits_match_the_original() {
        let free = Features::from_claim("u:5_questions,u:1_interview");
        assert_eq!(free.question_limit(), Some(5));
        assert_eq!(free.interview_limit(), Some(1));
        assert_eq!(free.resume_analysis_limit(), Some(0));
        let paid =
            Features::from_claim("u:unlimited_questions,u:unlimited_interviews,u:unlimited_resume_analysis");
        assert_eq!(paid.question_limit(), None);
        assert_eq!(paid.interview_limit(), None);
        assert_eq!(paid.resume_analysis_limit(), None);
        assert_eq!(Features::default().question_limit(), Some(0));
    }

    #[test]
    fn quota_remaining_saturates() {
        assert_eq!(Quota::new(7, Some(5)).remaining, Some(0));
        assert!(!Quota::new(5, Some(5)).allows_one_more());
        assert!(Quota::new(4, Some(5)).allows_one_more());
        assert!(Quota::new(400, None).allows_one_more());
    }
}
