//! What only the local host and the tests use (behind the `local` feature, so no Lambda binary
//! carries it): running one function's router on one Lambda event, as `sam local invoke` would
//! without Docker.

use axum::Router;

/// Runs `router` on one Lambda event (API Gateway v2 / function URL JSON) through the same
/// adapter `lambda_http::run` uses, and returns the response JSON the runtime would send back.
pub async fn invoke_lambda_event(router: Router, event: &str) -> Result<serde_json::Value, InvokeError> {
    use lambda_http::tower::ServiceExt;
    use lambda_http::{Adapter, Context, LambdaEvent};
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_str(event).map_err(|e| InvokeError::Event(e.to_string()))?;
    let adapter = Adapter::from(router);
    let response = match adapter.oneshot(LambdaEvent::new(request, Context::default())).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    serde_json::to_value(response).map_err(|e| InvokeError::Response(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("not an API Gateway v2 / function URL event: {0}")]
    Event(String),
    #[error("could not serialise the response: {0}")]
    Response(String),
}

/// The state `function` runs with under a SAM-style environment (`infra/env.json` for
/// `sam local invoke`), on `table`: Clerk verification from its `CLERK_*`, and what the function
/// needs that the variables configure (a model, Hume, the webhook secret), and the protection
/// modes (`live` unless `PROTECT_*` say otherwise). What they leave out stays off, so its routes
/// answer 503 as a deployed function missing it would.
pub async fn invoke_state(
    function: &crate::app::Function,
    vars: &crate::config::Vars<'_>,
    table: crate::store::SharedTable,
) -> Result<crate::AppState, crate::app::StartupError> {
    use std::sync::Arc;

    use crate::config::{self, ConfigError};
    let auth = config::auth_from(vars)?.ok_or(ConfigError::Missing(
        "CLERK_ISSUER",
        "the env-vars file must configure Clerk verification for the events' tokens",
    ))?;
    let verifier = crate::auth::Verifier::new(auth, crate::http_client::shared(), crate::clock::system())?;
    let needs = function.needs;
    let model = if needs.model { config::load_model(vars).await? } else { config::ModelConfig::Offline };
    let hume = if needs.hume { config::load_hume(vars).await? } else { None };
    let protection = crate::protect::Protection::new(
        config::protect_from(vars, crate::protect::Modes::LIVE)?,
        crate::clock::system(),
    );
    let mut state = crate::AppState::new(table, Arc::new(verifier))
        .with_providers(&model, hume.as_ref())
        .with_protection(Arc::new(protection));
    if needs.webhooks
        && let Some(secrets) = config::webhook_secrets(vars).await?
    {
        state = state.with_webhooks(Arc::new(crate::webhooks::WebhookVerifier::from_secrets(&secrets)?));
    }
    Ok(state)
}
