//! One integration-test binary (one link instead of many); each module is one area.

mod auth;
mod events;
mod job_infos;
mod me;
mod store_contract;
mod template;
