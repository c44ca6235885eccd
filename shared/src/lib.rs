//! Darasa's shared crate: everything the Lambda functions, the local host and the tests share.
//! A function's binary only calls `lambda::run` with its entry in `app::functions`.
//! `docs/architecture.md` walks a request through these modules.

pub mod ai;
pub mod app;
pub mod auth;
pub mod children;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hume;
pub mod interviews;
pub mod job_infos;
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
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
pub use error::{ApiError, ApiResult};
