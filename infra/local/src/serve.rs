//! `darasa-local serve`: every function's routes in one process, on the embedded store (or
//! DynamoDB when `TABLE_NAME` is set), with the dev token issuer (or Clerk when `CLERK_ISSUER`
//! is set), and the providers that are configured.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::routing::get;
use darasa::app::{self, AppState};
use darasa::auth::dev::DevIssuer;
use darasa::auth::{AuthConfig, Verifier};
use darasa::config::{self, Vars};
use darasa::protect::{Modes, Protection};
use darasa::store::SharedTable;
use darasa::store::dynamo::DynamoTable;
use darasa::store::embedded::EmbeddedTable;

use crate::webhook::local_webhooks;

/// The issuer of locally minted tokens. Only the local host trusts it.
const DEV_ISSUER: &str = "https://dev.darasa.invalid";

pub async fn serve(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let (table, store_note) = table(data_dir).await?;
    let env_lookup = |name: &str| std::env::var(name).ok();
    let (auth, auth_note, jwks) = match config::auth_from(&Vars(&env_lookup))? {
        Some(clerk) => (clerk, "Clerk (CLERK_ISSUER)".to_owned(), None),
        None => {
            let issuer = dev_issuer(data_dir)?;
            (issuer.auth_config(), format!("dev issuer {DEV_ISSUER:?}"), Some(issuer.jwks()))
        }
    };
    let (webhooks, webhook_note) = local_webhooks(data_dir).await?;
    // Bots are only reported by default here, so the README's curl examples keep working.
    let modes = config::protect_from(&Vars(&env_lookup), Modes::LOCAL)?;
    let protection = Arc::new(Protection::new(modes, darasa::clock::system()));
    let state = AppState::new(table, verifier(auth)?).with_webhooks(webhooks).with_protection(protection);
    let (state, ai_note, hume_note) = with_providers(state, |name| std::env::var(name).ok()).await?;
    // The contract, next to what it describes (local only: no Lambda binary carries it).
    let mut routes =
        app::all_routes().route("/api/openapi.json", get(|| async { Json(darasa::openapi::document()) }));
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
    println!("  webhooks: {webhook_note}");
    println!("  ai:    {ai_note}");
    println!("  hume:  {hume_note}");
    println!("  protection: {modes} (PROTECT_SHIELD, PROTECT_BOTS, PROTECT_RATE_LIMIT: live, dry-run, off)");
    println!("  contract: http://{bound}/api/openapi.json (docs/openapi.json)");
    println!("Get a token:  cargo run --release -- token --user user_dev --features 5_questions,1_interview");
    println!("Then:         curl -H \"Authorization: Bearer $TOKEN\" http://{bound}/api/job-infos");
    println!(
        "Create a user as Clerk would:  cargo run --release -- webhook infra/events/clerk/user.created.json"
    );
    // Streamed AI parts are small writes: without TCP_NODELAY, Nagle's algorithm would hold each
    // until the previous one is acknowledged (up to a client's 40 ms delayed ACK).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The peer address is the client IP the per-IP rate limit counts.
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// DynamoDB when `TABLE_NAME` is set (creating the table when it is a local endpoint), else the
/// embedded store in the data dir.
pub async fn table(data_dir: &Path) -> anyhow::Result<(SharedTable, String)> {
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

pub fn dev_issuer(data_dir: &Path) -> anyhow::Result<DevIssuer> {
    DevIssuer::load_or_create(data_dir, DEV_ISSUER)
        .with_context(|| format!("cannot keep the dev signing key in {}", data_dir.display()))
}

pub fn verifier(auth: AuthConfig) -> anyhow::Result<Arc<Verifier>> {
    Ok(Arc::new(Verifier::new(auth, darasa::http_client::shared(), darasa::clock::system())?))
}

/// Adds the model `AI_PROVIDER` (or a configured GEMINI_API_KEY, else the offline engine) names
/// and Hume (HUME_API_KEY + HUME_SECRET_KEY) when set; without Hume its routes answer 503 and
/// everything else works. Returns a line about each for the start-up banner.
pub async fn with_providers(
    state: AppState,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(AppState, String, String)> {
    let vars = Vars(&lookup);
    let model = config::load_model(&vars).await?;
    let hume = config::load_hume(&vars).await?;
    let ai_note = model.describe();
    let hume_note = match &hume {
        Some(hume) => format!("Hume at {}", hume.base_url),
        None => {
            "off (set HUME_API_KEY and HUME_SECRET_KEY to enable voice interviews; those routes answer 503)"
                .to_owned()
        }
    };
    Ok((state.with_providers(&model, hume.as_ref()), ai_note, hume_note))
}
