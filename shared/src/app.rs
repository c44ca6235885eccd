//! `AppState`: the clients a function builds once per instance (the table, the token verifier)
//! and hands to its router; they survive warm invocations.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;

use crate::auth::{SystemClock, Verifier};
use crate::config::{Config, TableConfig};
use crate::store::SharedTable;
use crate::store::dynamo::DynamoTable;

#[derive(Clone)]
pub struct AppState {
    pub table: SharedTable,
    pub verifier: Arc<Verifier>,
    /// Clerk webhook signature checks; `None` makes the webhook route answer 503.
    pub webhooks: Option<Arc<crate::webhooks::WebhookVerifier>>,
    /// The language model of the AI routes; `None` makes them answer 503 naming GEMINI_API_KEY.
    pub model: Option<crate::ai::SharedModel>,
    /// Hume (voice interviews); `None` makes the Hume routes answer 503 naming HUME_API_KEY.
    pub hume: Option<Arc<crate::hume::HumeClient>>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

impl AppState {
    pub fn new(table: SharedTable, verifier: Arc<Verifier>) -> Self {
        Self { table, verifier, webhooks: None, model: None, hume: None }
    }

    /// Serves Clerk webhooks verified by `webhooks`.
    pub fn with_webhooks(mut self, webhooks: Arc<crate::webhooks::WebhookVerifier>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// Serves the AI routes with `model`.
    pub fn with_model(mut self, model: crate::ai::SharedModel) -> Self {
        self.model = Some(model);
        self
    }

    /// Serves the Hume routes (access tokens, transcripts, interview feedback) with `hume`.
    pub fn with_hume(mut self, hume: Arc<crate::hume::HumeClient>) -> Self {
        self.hume = Some(hume);
        self
    }

    /// Attaches the model and Hume that are configured; without them their routes answer 503.
    pub fn with_providers(
        self,
        gemini: Option<&crate::ai::gemini::GeminiConfig>,
        hume: Option<&crate::hume::HumeConfig>,
    ) -> Self {
        let state = match hume {
            Some(hume) => self.with_hume(Arc::new(crate::hume::HumeClient::new(
                hume.clone(),
                http_client(),
                Arc::new(SystemClock),
            ))),
            None => self,
        };
        match gemini {
            Some(gemini) => state.with_model(crate::ai::gemini::Gemini::shared(gemini.clone())),
            None => state,
        }
    }

    /// A deployed function's state: DynamoDB, Clerk and the providers as configured.
    pub async fn from_config(config: &Config) -> Result<Self, crate::auth::AuthError> {
        let verifier = Verifier::new(config.auth.clone(), http_client(), Arc::new(SystemClock))?;
        Ok(Self::new(dynamo_table(&config.table).await, Arc::new(verifier))
            .with_providers(config.gemini.as_ref(), config.hume.as_ref()))
    }
}

/// The DynamoDB adapter for a table configuration.
pub async fn dynamo_table(table: &TableConfig) -> SharedTable {
    Arc::new(DynamoTable::connect(table.endpoint.as_deref(), &table.name).await)
}

/// The one outbound HTTP client (rustls, bounded timeouts), built once per process and shared by
/// every caller (a clone shares its connection pool).
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// Builds one function's routes.
pub type RouterFn = fn() -> Router<AppState>;

/// Every function by its binary name, with its router: the local host serves them all,
/// `darasa-local invoke` runs one, and the event tests walk them.
pub const FUNCTIONS: &[(&str, RouterFn)] = &[
    ("job-infos", crate::job_infos::router),
    ("me", crate::users::router),
    ("clerk-webhook", crate::webhooks::router),
    ("generate-question", crate::questions::generate_question_router),
    ("generate-feedback", crate::questions::generate_feedback_router),
    ("interviews", crate::interviews::router),
    ("analyze-resume", crate::resumes::analyze_router),
];

/// The router of the function named `name`.
pub fn function_router(name: &str) -> Option<Router<AppState>> {
    FUNCTIONS.iter().find(|(function, _)| *function == name).map(|(_, router)| router())
}

/// The function's logical id in `template.yaml` (`job-infos` -> `JobInfosFunction`).
pub fn logical_id(function: &str) -> String {
    let mut id: String = function
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

/// Every function's routes in one router (the local host).
pub fn all_routes() -> Router<AppState> {
    FUNCTIONS.iter().fold(Router::new(), |all, (_, router)| all.merge(router()))
}

/// A resource router bound to its state, with the common layers.
pub fn serve(router: Router<AppState>, state: AppState) -> Router {
    crate::http::with_common_layers(router).with_state(state)
}
