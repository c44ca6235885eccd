//! The `me` Lambda: wiring only (config -> state -> router); everything else is in `darasa`.

use darasa::AppState;
use darasa::config::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let state = AppState::from_config(&config).await?;
    lambda_http::run(darasa::app::serve(darasa::users::router(), state)).await
}
