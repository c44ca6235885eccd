//! The `analyze-resume` Lambda: wiring only (config -> state -> router). It streams the analysis
//! (the JSON text as it is generated) through a function URL in RESPONSE_STREAM mode.

use darasa::AppState;
use darasa::config::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    lambda_http::tracing::init_default_subscriber();
    // `load` fetches the Gemini key named by GEMINI_API_KEY_SECRET_ARN, once per cold start.
    let config = Config::load().await?;
    let state = AppState::from_config(&config).await?;
    let router = darasa::app::serve(darasa::resumes::analyze_router(), state);
    lambda_http::run_with_streaming_response(router).await
}
