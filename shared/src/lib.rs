//! Darasa's shared crate: everything the Lambda functions, the local host and the tests share.
//! A function's binary only calls `lambda::run` with its entry in `app::functions`.
//! `docs/architecture.md` walks a request through these modules.

pub mod ai;
pub mod app;
pub mod attempts;
pub mod auth;
pub mod aws_sdk;
pub mod children;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod export;
pub mod http;
pub mod http_client;
pub mod hume;
pub mod interviews;
pub mod job_infos;
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod plans;
pub mod protect;
pub mod questions;
pub mod request_id;
pub mod resumes;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod users;
pub mod webhooks;

pub use app::AppState;

/// `tests/fixtures`, found when the test runs (cargo sets the manifest directory then too), so a
/// target directory shared by two clones never reads the other clone's files.
#[cfg(test)]
fn test_fixtures() -> std::path::PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
    manifest.join("../tests/fixtures")
}
pub use error::{ApiError, ApiResult};
