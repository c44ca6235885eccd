//! One integration-test binary (one link instead of many); each module is one area.

mod attempts;
mod auth;
mod conformance;
mod events;
mod export;
mod gemini;
mod interviews;
mod job_infos;
mod me;
mod openai;
mod openapi;
mod protect;
mod questions;
mod resumes;
mod store_contract;
mod template;
mod webhooks;
