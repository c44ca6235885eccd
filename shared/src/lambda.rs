//! What every function's `main` runs: logging as the Lambda runtime configures it, the
//! configuration the function needs (its secrets fetched once per cold start), its state, and the
//! runtime loop, buffered or streaming as its entry in `app::functions` says.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::app::{self, AppState, Function};
use crate::config::Config;

pub async fn run(function: &Function) -> Result<(), lambda_http::Error> {
    init_logs();
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

/// Diagnostic logs on stdout as Lambda's advanced logging controls set them: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT` is `JSON`, text otherwise; the level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else INFO. (lambda_http's own set-up does the same through EnvFilter, whose regex
/// DFA builder would weigh on every binary; a target filter reads the same settings.)
fn init_logs() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let filter = log_filter(level.as_deref());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt().with_target(false).without_time().with_writer(std::io::stdout);
    let _ = if json {
        logs.json().finish().with(filter).try_init()
    } else {
        logs.finish().with(filter).try_init()
    };
}

/// A level (`DEBUG`), or `RUST_LOG`'s per-target form (`darasa=debug,warn`); INFO when unset or
/// unreadable. Lambda's FATAL, which tracing lacks, keeps errors.
fn log_filter(setting: Option<&str>) -> Targets {
    let setting = setting.map(str::trim).filter(|setting| !setting.is_empty());
    let setting =
        setting.map(|setting| if setting.eq_ignore_ascii_case("fatal") { "error" } else { setting });
    setting
        .and_then(|setting| setting.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn the_log_level_comes_from_lambdas_setting_or_rust_log() {
        let info = log_filter(None);
        assert!(info.would_enable("darasa::app", &Level::INFO));
        assert!(!info.would_enable("darasa::app", &Level::DEBUG));
        assert!(!log_filter(Some("  ")).would_enable("darasa", &Level::DEBUG));

        assert!(log_filter(Some("DEBUG")).would_enable("darasa", &Level::DEBUG));
        assert!(!log_filter(Some("WARN")).would_enable("darasa", &Level::INFO));
        let fatal = log_filter(Some("FATAL"));
        assert!(fatal.would_enable("darasa", &Level::ERROR) && !fatal.would_enable("darasa", &Level::WARN));

        let per_target = log_filter(Some("darasa=debug,warn"));
        assert!(per_target.would_enable("darasa::store", &Level::DEBUG));
        assert!(!per_target.would_enable("hyper", &Level::INFO));
        assert!(per_target.would_enable("hyper", &Level::WARN));
    }
}
