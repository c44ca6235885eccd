//! The one table of functions: each Lambda binary's name, its routes, whether it streams its
//! answers (through a function URL in RESPONSE_STREAM mode) and what it needs configured (hence
//! the secrets it reads). The mains, the local host, `darasa-local invoke` and the template test
//! all derive from it.

use axum::Router;

use super::{AppState, StartupError, model_providers, no_providers, webhook_providers};
use crate::config::{Config, Needs};
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
    /// Its routes take Clerk session tokens (all but the webhook's), so its cold start fetches
    /// the keys that verify them during Init (`Verifier::prime`).
    pub sessions: bool,
    /// Its routes meet the bot rules (all but the webhook's, which Clerk's servers call), so its
    /// Init compiles them (`Protection::prime`); were a route to meet them anyway, it would
    /// compile them on first use.
    pub bot_rules: bool,
    /// The most DynamoDB calls one of its first requests sends at once, so the connections its
    /// Init opens (`DynamoTable::prime`): each window is one call, beside a second window (the
    /// spending routes') and the reads a route sends while it is counted.
    pub first_calls: usize,
    /// Attaches the providers `needs` names to the common state (`AppState::from_config`). A
    /// function pointer per entry, so each binary links only its own function's providers: a
    /// run-time test of `needs` would link every model adapter, the offline engine and its data
    /// into functions that never call a model.
    pub providers: Providers,
}

/// What a function adds to the common state from its configuration.
pub type Providers = fn(AppState, &Config) -> Result<AppState, StartupError>;

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
pub const JOB_INFOS: Function = Function {
    name: "job-infos",
    routes: job_infos_routes,
    streaming: false,
    needs: Needs::NONE,
    sessions: true,
    bot_rules: true,
    first_calls: 2,
    providers: no_providers,
};
/// The caller's profile and quotas, their standing against the protection rules, and the export
/// of everything held about them.
pub const ME: Function = Function {
    name: "me",
    routes: me_routes,
    streaming: false,
    needs: Needs::NONE,
    sessions: true,
    bot_rules: true,
    // `GET /api/me`: the window's count beside one read of the profile and usage together
    // (`Table::get_many`).
    first_calls: 2,
    providers: no_providers,
};
pub const CLERK_WEBHOOK: Function = Function {
    name: "clerk-webhook",
    routes: webhooks::routes,
    streaming: false,
    needs: Needs { webhooks: true, ..Needs::NONE },
    sessions: false,
    bot_rules: false,
    // Its window's count; the delivery's writes come after.
    first_calls: 1,
    providers: webhook_providers,
};
pub const GENERATE_QUESTION: Function = Function {
    name: "generate-question",
    routes: questions::question_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
    sessions: true,
    bot_rules: true,
    // Its two windows beside one read of the job with the plan's allowance (the route reads
    // while counted, then takes its generation slot and quota unit as it reads the job's latest
    // questions).
    first_calls: 3,
    providers: model_providers,
};
pub const GENERATE_FEEDBACK: Function = Function {
    name: "generate-feedback",
    routes: attempts::feedback_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
    sessions: true,
    bot_rules: true,
    // Its two windows beside the route's first read (it reads while counted).
    first_calls: 3,
    providers: model_providers,
};
/// Voice interviews: CRUD, Hume access tokens and transcripts, AI feedback.
pub const INTERVIEWS: Function = Function {
    name: "interviews",
    routes: interviews::routes,
    streaming: false,
    needs: Needs { model: true, hume: true, webhooks: false },
    sessions: true,
    bot_rules: true,
    // Starting an interview: its two windows beside one read of the plan's allowance and the job
    // (the route reads while counted, then takes its bucket's token).
    first_calls: 3,
    providers: model_providers,
};
pub const ANALYZE_RESUME: Function = Function {
    name: "analyze-resume",
    routes: resumes::analyze_routes,
    streaming: true,
    needs: Needs { model: true, ..Needs::NONE },
    sessions: true,
    bot_rules: true,
    // Its two windows beside the route's first read (it reads while counted).
    first_calls: 3,
    providers: model_providers,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::config::Vars;

    /// Each entry's providers attach what its `needs` name, and nothing else; a function whose
    /// routes take session tokens asks for Clerk's keys during its start, the webhook's does not.
    #[tokio::test]
    async fn providers_attach_what_the_needs_name() {
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let counted = jwks_requests.clone();
        // Clerk's keys on loopback, down: a failed prime is only logged.
        let jwks = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { axum::http::StatusCode::SERVICE_UNAVAILABLE }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, jwks).await });
        let lookup = |name: &str| {
            let value = match name {
                "TABLE_NAME" => "darasa",
                // Refuses at once: the table's prime fails, which a start only logs.
                "DYNAMODB_ENDPOINT" => "http://127.0.0.1:9",
                "CLERK_ISSUER" => "https://tests.darasa.invalid",
                "CLERK_JWKS_URL" => &jwks_url,
                "CLERK_WEBHOOK_SIGNING_SECRET" => "whsec_ZGFyYXNhLWZpeHR1cmUta2V5LW5vdC1zZWNyZXQh",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let config = Config::from_vars(&Vars(&lookup), Needs::ALL).await.expect("a whole configuration");
        for function in FUNCTIONS {
            let before = jwks_requests.load(Ordering::SeqCst);
            let state = AppState::from_config(&config, function).await.expect("a state");
            assert_eq!(state.model.is_some(), function.needs.model, "{}: model", function.name);
            assert_eq!(state.webhooks.is_some(), function.needs.webhooks, "{}: webhooks", function.name);
            let asked = jwks_requests.load(Ordering::SeqCst) - before;
            assert_eq!(asked, usize::from(function.sessions), "{}: Clerk's keys asked for", function.name);
        }
        server.abort();
        assert!(FUNCTIONS.iter().any(|function| !function.sessions), "the webhook takes no session");
    }
}
