//! The `interviews` Lambda: wiring only (config -> state -> router); everything else is in `darasa`.

use darasa::AppState;
use darasa::config::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    lambda_http::tracing::init_default_subscriber();
    // `load` fetches the Hume keys and the Gemini key named by their *_SECRET_ARN variables,
    // once per cold start.
    let config = Config::load().await?;
    let state = AppState::from_config(&config).await?;
    lambda_http::run(darasa::app::serve(darasa::interviews::router(), state)).await
}
