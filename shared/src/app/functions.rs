//! The one table of functions: each Lambda binary's name, its routes, whether it streams its
//! answers (through a function URL in RESPONSE_STREAM mode) and what it needs configured (hence
//! the secrets it reads). The mains, the local host, `darasa-local invoke` and the template test
//! all derive from it.

use axum::Router;

use super::AppState;
use crate::config::Needs;
use crate::{attempts, export, interviews, job_infos, protect, questions, resumes, users, webhooks};

/// One Lambda function.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The binary's (and cargo-lambda's) name, e.g. `job-infos`.
    pub name: &'static str,
    /// Builds its routes.
    pub routes: fn() -> Router<AppState>,
    /// Streams its answers (function URL, RESPONSE_STREAM) instead of buffering them.
    pub streaming: bool,
    pub needs: Needs,
}

impl Function {
    /// The secrets it reads at its cold start.
    pub fn secrets(&self) -> Vec<&'static str> {
        self.needs.secrets()
    }

    /// Its logical id in `template.yaml` (`job-infos` -> `JobInfosFunction`).
    pub fn logical_id(&self) -> String {
        let mut id: String = self
            .name
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        id.push_str("Function");
        id
    }
}

/// Job infos with their questions, resume analyses, attempts and progress read back.
pub const JOB_INFOS: Function =
    Function { name: "job-infos", routes: job_infos_routes, streaming: false, needs: Needs::NONE };
/// The caller's profile and quotas, their standing against the protection rules, and the export
/// of everything held about them.
pub const ME: Function = Function { name: "me", routes: me_routes, streaming: false, needs: Needs::NONE };
pub const CLERK_WEBHOOK: Function = Function {
    name: "clerk-webhook",
    routes: webhooks::routes,
    streaming: false,
    needs: Needs { webhooks: true, ..Needs::NONE },
};
pub const GENERATE_QUESTION: Function = Function {
    name: "generate-question",
    routes: questions::question_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
};
pub const GENERATE_FEEDBACK: Function = Function {
    name: "generate-feedback",
    routes: attempts::feedback_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
};
/// Voice interviews: CRUD, Hume access tokens and transcripts, AI feedback.
pub const INTERVIEWS: Function = Function {
    name: "interviews",
    routes: interviews::routes,
    streaming: false,
    needs: Needs { model: true, hume: true, webhooks: false },
};
pub const ANALYZE_RESUME: Function = Function {
    name: "analyze-resume",
    routes: resumes::analyze_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
};

pub const FUNCTIONS: &[Function] =
    &[JOB_INFOS, ME, CLERK_WEBHOOK, GENERATE_QUESTION, GENERATE_FEEDBACK, INTERVIEWS, ANALYZE_RESUME];

fn me_routes() -> Router<AppState> {
    users::routes().merge(protect::routes()).merge(export::routes())
}

fn job_infos_routes() -> Router<AppState> {
    job_infos::routes().merge(questions::routes()).merge(resumes::routes()).merge(attempts::routes())
}

/// The function named `name`.
pub fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

/// Every function's routes in one router (the local host, the tests).
pub fn all_routes() -> Router<AppState> {
    FUNCTIONS.iter().fold(Router::new(), |all, function| all.merge((function.routes)()))
}
