//! `AppState`: the clients a function builds once per instance (the table, the token verifier,
//! the model, Hume, the webhook verifier) and hands to its routes; they survive warm
//! invocations. `functions` lists the functions and composes their routes.

pub mod functions;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;

pub use functions::{FUNCTIONS, Function, all_routes};

use crate::ai::SharedModel;
use crate::auth::{AuthError, Verifier};
use crate::clock;
use crate::config::{Config, ConfigError, ModelConfig};
use crate::http_client;
use crate::hume::{HumeClient, HumeConfig};
use crate::protect::{Modes, Protection};
use crate::store::SharedTable;
use crate::store::dynamo::DynamoTable;
use crate::webhooks::WebhookVerifier;

/// How long a cold start's Init waits for what `AppState::from_config` primes (the table's
/// connections, Clerk's keys).
const PRIME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub table: SharedTable,
    pub verifier: Arc<Verifier>,
    /// Clerk webhook signature checks; `None` makes the webhook route answer 503.
    pub webhooks: Option<Arc<WebhookVerifier>>,
    /// The model of the AI routes; `None` (a function that needs none) makes them answer 503.
    pub model: Option<SharedModel>,
    /// Hume (voice interviews); `None` makes the Hume routes answer 503 naming HUME_API_KEY.
    pub hume: Option<Arc<HumeClient>>,
    /// The protection rules every request passes (`protect::layer`).
    pub protection: Arc<Protection>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl AppState {
    pub fn new(table: SharedTable, verifier: Arc<Verifier>) -> Self {
        let protection = Arc::new(Protection::new(Modes::LIVE, clock::system()));
        Self { table, verifier, webhooks: None, model: None, hume: None, protection }
    }

    /// Protects the routes with these rules (all `live` otherwise).
    pub fn with_protection(mut self, protection: Arc<Protection>) -> Self {
        self.protection = protection;
        self
    }

    /// Serves Clerk webhooks verified by `webhooks`.
    pub fn with_webhooks(mut self, webhooks: Arc<WebhookVerifier>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// Serves the AI routes with `model`.
    pub fn with_model(mut self, model: SharedModel) -> Self {
        self.model = Some(model);
        self
    }

    /// Serves the Hume routes (access tokens, transcripts, interview feedback) with `hume`.
    pub fn with_hume(mut self, hume: Arc<HumeClient>) -> Self {
        self.hume = Some(hume);
        self
    }

    /// Attaches the configured model and, when configured, Hume (without it its routes answer
    /// 503).
    pub fn with_providers(self, model: &ModelConfig, hume: Option<&HumeConfig>) -> Self {
        let state = match hume {
            Some(hume) => self.with_hume(Arc::new(HumeClient::new(
                hume.clone(),
                http_client::shared(),
                clock::system(),
            ))),
            None => self,
        };
        state.with_model(model_for(model))
    }

    /// A deployed function's state: DynamoDB, Clerk, and the providers its entry attaches. What
    /// every first request needs is made ready here, at once: the protection rules (on a blocking
    /// thread), the table's connections and, for routes that take session tokens, Clerk's keys.
    pub async fn from_config(config: &Config, function: &Function) -> Result<Self, StartupError> {
        let verifier = Arc::new(Verifier::new(config.auth.clone(), http_client::shared(), clock::system())?);
        let protection = Arc::new(Protection::new(config.protect, clock::system()));
        protection.prime(function.bot_rules);
        let table = DynamoTable::connect(config.table.endpoint.as_deref(), &config.table.name).await;
        let keys = async {
            if function.sessions {
                verifier.prime().await;
            }
        };
        // A table or a Clerk that does not answer delays Init this long at most; the first request
        // then meets it again.
        let _ = tokio::time::timeout(PRIME_TIMEOUT, async {
            tokio::join!(table.prime(function.first_calls), keys)
        })
        .await;
        let state = Self::new(Arc::new(table), verifier).with_protection(protection);
        (function.providers)(state, config)
    }
}

/// For a function that needs no provider (`Function::providers`).
pub fn no_providers(state: AppState, _: &Config) -> Result<AppState, StartupError> {
    Ok(state)
}

/// The configured model and, when configured, Hume (`Function::providers`).
pub fn model_providers(state: AppState, config: &Config) -> Result<AppState, StartupError> {
    Ok(state.with_providers(&config.model, config.hume.as_ref()))
}

/// Clerk's webhook signature checks (`Function::providers`).
pub fn webhook_providers(state: AppState, config: &Config) -> Result<AppState, StartupError> {
    let secrets = config.webhook_secrets.as_deref().ok_or_else(crate::webhooks::missing_secret)?;
    Ok(state.with_webhooks(Arc::new(WebhookVerifier::from_secrets(secrets)?)))
}

/// The model a configuration names.
pub fn model_for(config: &ModelConfig) -> SharedModel {
    match config {
        ModelConfig::Gemini(gemini) => crate::ai::gemini::Gemini::shared(gemini.clone()),
        ModelConfig::OpenAi(openai) => crate::ai::openai::OpenAi::shared(openai.clone()),
        ModelConfig::Offline => crate::ai::offline::OfflineModel::shared(),
    }
}

/// Routes bound to their state, behind the protection layer and the common layers.
pub fn serve(routes: Router<AppState>, state: AppState) -> Router {
    let protected = crate::http::with_fallbacks(routes)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::protect::layer::protect));
    crate::http::with_common_layers(protected).with_state(state)
}
