//! Darasa's shared crate: everything the Lambda functions, the local host and the tests share.
//! Function binaries only wire `config` -> `app::AppState` -> a resource's router.

pub mod ai;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod hume;
pub mod interviews;
pub mod job_infos;
pub mod plans;
pub mod protect;
pub mod questions;
pub mod resumes;
pub mod secrets;
pub mod store;
pub mod users;
pub mod webhooks;

pub use app::AppState;
pub use error::{ApiError, ApiResult};
