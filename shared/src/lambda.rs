//! What every function's `main` runs: logging as the Lambda runtime configures it, the
//! configuration the function needs (its secrets fetched once per cold start), its state, and the
//! runtime loop, buffered or streaming as its entry in `app::functions` says.

use crate::app::{self, AppState, Function};
use crate::config::Config;

pub async fn run(function: &Function) -> Result<(), lambda_http::Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    lambda_http::tracing::init_default_subscriber();
    // Before the router is built: its access-line layer takes the process's writer.
    crate::telemetry::init_lambda(function.name);
    let config = Config::load(function.needs).await?;
    let state = AppState::from_config(&config, function).await?;
    let router = app::serve((function.routes)(), state);
    if function.streaming {
        lambda_http::run_with_streaming_response(router).await
    } else {
        lambda_http::run(router).await
    }
}
