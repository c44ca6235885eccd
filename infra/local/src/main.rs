//! `darasa-local`: the whole API in one process with no server, account or key to set up, and
//! the developer CLI around it (tokens from the dev issuer, one function on one Lambda event).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Json;
use axum::routing::get;
use clap::{Parser, Subcommand};
use darasa::app::{self, AppState};
use darasa::auth::dev::DevIssuer;
use darasa::auth::{AuthConfig, SystemClock, Verifier};
use darasa::config::{self, Vars};
use darasa::store::SharedTable;
use darasa::store::dynamo::DynamoTable;
use darasa::store::embedded::EmbeddedTable;

/// The issuer of locally minted tokens. Only the local host trusts it.
const DEV_ISSUER: &str = "https://dev.darasa.invalid";

#[derive(Parser)]
#[command(name = "darasa-local", about = "Run the Darasa API locally, mint dev tokens, invoke one function")]
struct Cli {
    /// Where the embedded store and the dev signing key live.
    #[arg(long, global = true, env = "DARASA_DATA_DIR", default_value = ".darasa")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route (the default).
    Serve {
        #[arg(long, env = "DARASA_LISTEN", default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
    },
    /// Print a session token from the dev issuer.
    Token {
        /// The user id (Clerk's `sub`), e.g. user_dev.
        #[arg(long)]
        user: String,
        /// Plan features, comma-separated: 5_questions, 1_interview, unlimited_questions,
        /// unlimited_interviews, unlimited_resume_analysis.
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Run one function on one API Gateway v2 event and print the Lambda response JSON, as
    /// `sam local invoke` would, without Docker.
    Invoke {
        /// The function (binary) name, e.g. job-infos.
        function: String,
        /// The event file, e.g. infra/events/job-infos-list.json.
        #[arg(long)]
        event: PathBuf,
        /// SAM-style environment file whose CLERK_* variables configure token verification.
        #[arg(long, default_value = "infra/env.json")]
        env_vars: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command.unwrap_or(Command::Serve { listen: default_listen()? }) {
        Command::Serve { listen } => serve(&cli.data_dir, listen).await,
        Command::Token { user, features, ttl } => {
            let issuer = dev_issuer(&cli.data_dir)?;
            let features: Vec<&str> = features.iter().map(String::as_str).collect();
            println!("{}", issuer.mint(&user, &features, ttl, now()));
            Ok(())
        }
        Command::Invoke { function, event, env_vars } => {
            invoke(&cli.data_dir, &function, &event, &env_vars).await
        }
    }
}

fn default_listen() -> anyhow::Result<SocketAddr> {
    let text = std::env::var("DARASA_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    text.parse().with_context(|| format!("DARASA_LISTEN is not an address: {text:?}"))
}

async fn serve(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let (table, store_note) = table(data_dir).await?;
    let env_lookup = |name: &str| std::env::var(name).ok();
    let (auth, auth_note, jwks) = match config::auth_from(&Vars(&env_lookup))? {
        Some(clerk) => (clerk, "Clerk (CLERK_ISSUER)".to_owned(), None),
        None => {
            let issuer = dev_issuer(data_dir)?;
            (issuer.auth_config(), format!("dev issuer {DEV_ISSUER:?}"), Some(issuer.jwks()))
        }
    };
    let state = AppState::new(table, verifier(auth)?);
    let mut routes = app::all_routes();
    if let Some(jwks) = jwks {
        // Published like Clerk's, so other local tools can verify dev tokens too.
        routes = routes.route("/.well-known/jwks.json", get(move || async move { Json(jwks) }));
    }
    let router = app::serve(routes, state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; pick another with --listen"))?;
    let bound = listener.local_addr()?;
    println!("Darasa API on http://{bound}");
    println!("  store: {store_note}");
    println!("  auth:  {auth_note}");
    println!("Get a token:  cargo run --release -- token --user user_dev --features 5_questions,1_interview");
    println!("Then:         curl -H \"Authorization: Bearer $TOKEN\" http://{bound}/api/job-infos");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// DynamoDB when `TABLE_NAME` is set (creating the table when it is a local endpoint), else the
/// embedded store in the data dir.
async fn table(data_dir: &Path) -> anyhow::Result<(SharedTable, String)> {
    let env_lookup = |name: &str| std::env::var(name).ok();
    match config::table_from(&Vars(&env_lookup))? {
        Some(table) => {
            let dynamo = DynamoTable::connect(table.endpoint.as_deref(), &table.name).await;
            if table.endpoint.is_some() {
                dynamo.create_table_if_missing().await.context("cannot create the local table")?;
            }
            let note =
                format!("DynamoDB table {:?} at {}", table.name, table.endpoint.as_deref().unwrap_or("AWS"));
            Ok((Arc::new(dynamo), note))
        }
        None => {
            let path = data_dir.join("store.redb");
            let embedded = EmbeddedTable::open(&path)
                .with_context(|| format!("cannot open the embedded store at {}", path.display()))?;
            Ok((Arc::new(embedded), format!("embedded, {}", path.display())))
        }
    }
}

fn dev_issuer(data_dir: &Path) -> anyhow::Result<DevIssuer> {
    DevIssuer::load_or_create(data_dir, DEV_ISSUER)
        .with_context(|| format!("cannot keep the dev signing key in {}", data_dir.display()))
}

fn verifier(auth: AuthConfig) -> anyhow::Result<Arc<Verifier>> {
    Ok(Arc::new(Verifier::new(auth, app::http_client(), Arc::new(SystemClock))?))
}

async fn invoke(data_dir: &Path, function: &str, event: &Path, env_vars: &Path) -> anyhow::Result<()> {
    let Some(router) = app::function_router(function) else {
        let names: Vec<&str> = app::FUNCTIONS.iter().map(|(name, _)| *name).collect();
        bail!("no function {function:?}; the functions are {}", names.join(", "));
    };
    let env =
        std::fs::read_to_string(env_vars).with_context(|| format!("cannot read {}", env_vars.display()))?;
    let env = config::sam_env_vars(&env, &app::logical_id(function))?;
    let lookup = |name: &str| env.get(name).cloned();
    let auth = config::auth_from(&Vars(&lookup))?
        .with_context(|| format!("{} sets no CLERK_ISSUER", env_vars.display()))?;
    let (table, _) = table(data_dir).await?;
    let event = std::fs::read_to_string(event).with_context(|| format!("cannot read {}", event.display()))?;
    let state = AppState::new(table, verifier(auth)?);
    let response = darasa::http::invoke_lambda_event(app::serve(router, state), &event).await?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}
