//! The `clerk-webhook` Lambda: wiring only (config -> state -> router); everything else is in
//! `darasa::webhooks`. The signing secret is resolved once per cold start (from Secrets Manager
//! in AWS); without it the function refuses to start, naming the variable.

use std::sync::Arc;

use darasa::AppState;
use darasa::config::Config;
use darasa::webhooks::WebhookVerifier;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let webhooks = WebhookVerifier::from_env().await?;
    let state = AppState::from_config(&config).await?.with_webhooks(Arc::new(webhooks));
    lambda_http::run(darasa::app::serve(darasa::webhooks::router(), state)).await
}
