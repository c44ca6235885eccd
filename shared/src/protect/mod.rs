//! Protection the original delegated to Arcjet. Rule state lives in the table so every Lambda
//! instance sees the same counts. So far: per-user token buckets (`bucket`).

mod bucket;

pub use bucket::{Decision, INTERVIEW_BUCKET, TokenBucket};

/// What a rule does when it would deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deny.
    Live,
    /// Spend and log, but never deny (to try a rule on real traffic).
    DryRun,
    /// Not evaluated at all; the table is not touched.
    Off,
}
