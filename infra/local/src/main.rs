//! `darasa-local`: the whole API in one process with no server, account or key to set up, and
//! the developer CLI around it (tokens from the dev issuer, one function on one Lambda event,
//! signed Clerk webhook deliveries).

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
use darasa::webhooks::{self, WebhookVerifier};

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
        /// SAM-style environment file whose CLERK_* variables configure token verification
        /// (and CLERK_WEBHOOK_SIGNING_SECRET the webhook's signature check).
        #[arg(long, default_value = "infra/env.json")]
        env_vars: PathBuf,
        /// Re-sign a Svix-signed event (svix-* headers) with the env file's webhook secret and
        /// the current time: committed events carry signatures older than Svix's 5-minute
        /// tolerance, so without this they are answered 400.
        #[arg(long)]
        resign: bool,
    },
    /// Sign a Clerk webhook payload with the local webhook secret and POST it to the running
    /// local host, as Svix would deliver it: creates, updates or deletes users without Clerk.
    Webhook {
        /// A Clerk event, e.g. infra/events/clerk/user.created.json (its bytes are sent as they
        /// are), or an API Gateway event carrying one (its body is sent).
        payload: PathBuf,
        /// The local host's base URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The svix-id to send (default: a new one). Send one twice to see the duplicate ignored.
        #[arg(long)]
        id: Option<String>,
        /// Print the Svix headers instead of sending.
        #[arg(long)]
        print_headers: bool,
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
        Command::Invoke { function, event, env_vars, resign } => {
            invoke(&cli.data_dir, &function, &event, &env_vars, resign).await
        }
        Command::Webhook { payload, url, id, print_headers } => {
            send_webhook(&cli.data_dir, &payload, &url, id, print_headers).await
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
    let (webhooks, webhook_note) = local_webhooks(data_dir).await?;
    let state = AppState::new(table, verifier(auth)?).with_webhooks(webhooks);
    let (state, ai_note, hume_note) = with_providers(state, |name| std::env::var(name).ok()).await?;
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
    println!("  webhooks: {webhook_note}");
    println!("  ai:    {ai_note}");
    println!("  hume:  {hume_note}");
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

/// Adds Gemini (GEMINI_API_KEY) and Hume (HUME_API_KEY + HUME_SECRET_KEY), or their
/// _SECRET_ARN variants, when set; without them their routes answer 503 and everything else
/// works. Returns a line about each for the start-up banner.
async fn with_providers(
    state: AppState,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(AppState, String, String)> {
    let vars = Vars(&lookup);
    let gemini = config::load_gemini(&vars).await?;
    let hume = config::load_hume(&vars).await?;
    let ai_note = match &gemini {
        Some(gemini) => format!("Gemini {} at {}", gemini.model, gemini.base_url),
        None => "off (set GEMINI_API_KEY to enable the AI routes; they answer 503)".to_owned(),
    };
    let hume_note = match &hume {
        Some(hume) => format!("Hume at {}", hume.base_url),
        None => {
            "off (set HUME_API_KEY and HUME_SECRET_KEY to enable voice interviews; those routes answer 503)"
                .to_owned()
        }
    };
    Ok((state.with_providers(gemini.as_ref(), hume.as_ref()), ai_note, hume_note))
}

async fn invoke(
    data_dir: &Path,
    function: &str,
    event: &Path,
    env_vars: &Path,
    resign: bool,
) -> anyhow::Result<()> {
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
    let mut state = AppState::new(table, verifier(auth)?);
    // The env file's GEMINI_* first (as `sam local invoke` sees them), then the shell's.
    (state, _, _) = with_providers(state, |name| lookup(name).or_else(|| std::env::var(name).ok())).await?;
    let secret = darasa::secrets::resolve(&Vars(&lookup), webhooks::SECRET_VARIABLE).await?;
    if let Some(secret) = &secret {
        state = state.with_webhooks(Arc::new(WebhookVerifier::from_secrets(secret)?));
    }
    let event = match (resign, &secret) {
        (false, _) => event,
        (true, Some(secret)) => resign_event(&event, first_secret(secret)?)?,
        (true, None) => bail!(
            "--resign needs {} for {} in {}",
            webhooks::SECRET_VARIABLE,
            app::logical_id(function),
            env_vars.display()
        ),
    };
    let response = darasa::http::invoke_lambda_event(app::serve(router, state), &event).await?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

/// Where the local host keeps its webhook signing secret.
const WEBHOOK_SECRET_FILE: &str = "webhook-secret";

/// The local host's webhook verifier: `CLERK_WEBHOOK_SIGNING_SECRET` when set (to receive real
/// Clerk deliveries through a tunnel), else the secret kept in the data dir.
async fn local_webhooks(data_dir: &Path) -> anyhow::Result<(Arc<WebhookVerifier>, String)> {
    let env_lookup = |name: &str| std::env::var(name).ok();
    if let Some(verifier) = WebhookVerifier::from_vars(&Vars(&env_lookup)).await? {
        return Ok((Arc::new(verifier), format!("Clerk ({})", webhooks::SECRET_VARIABLE)));
    }
    let secret = local_webhook_secret(data_dir)?;
    let path = data_dir.join(WEBHOOK_SECRET_FILE);
    Ok((Arc::new(WebhookVerifier::from_secrets(&secret)?), format!("local secret in {}", path.display())))
}

/// The secret `darasa-local webhook` signs with: the first of `CLERK_WEBHOOK_SIGNING_SECRET`
/// when set (as the local host then verifies with it), else the data dir's.
fn signing_secret(data_dir: &Path) -> anyhow::Result<String> {
    match std::env::var(webhooks::SECRET_VARIABLE).ok().filter(|value| !value.trim().is_empty()) {
        Some(value) => Ok(first_secret(&value)?.to_owned()),
        None => local_webhook_secret(data_dir),
    }
}

fn first_secret(value: &str) -> anyhow::Result<&str> {
    value.split_whitespace().next().with_context(|| format!("{} is empty", webhooks::SECRET_VARIABLE))
}

/// Reads `<data-dir>/webhook-secret`, creating it on first use: `whsec_` + base64 of 24 random
/// bytes, readable by its owner only. Written aside and linked into place, so a concurrent
/// first use (the server and `webhook` started together) agrees on one secret.
fn local_webhook_secret(data_dir: &Path) -> anyhow::Result<String> {
    use base64::Engine as _;
    let path = data_dir.join(WEBHOOK_SECRET_FILE);
    let read = |path: &Path| -> anyhow::Result<String> {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the webhook secret {}", path.display()))?;
        let secret = secret.trim().to_owned();
        WebhookVerifier::from_secrets(&secret).with_context(|| {
            format!("{} is not a webhook secret; delete it to get a new one", path.display())
        })?;
        Ok(secret)
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secret =
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>()));
    let temp = data_dir.join(format!("{WEBHOOK_SECRET_FILE}.{}.tmp", std::process::id()));
    write_private(&temp, format!("{secret}\n").as_bytes())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    let linked = std::fs::hard_link(&temp, &path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(secret),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The bytes to deliver: a Clerk payload file as it is, or the body of an API Gateway event.
fn webhook_body(text: &[u8]) -> anyhow::Result<Vec<u8>> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(event) if event.get("requestContext").is_some() => {
            Ok(event_body(&event)?.unwrap_or_else(|| text.to_vec()))
        }
        _ => Ok(text.to_vec()),
    }
}

/// An API Gateway event's body as the function receives it (base64 decoded).
fn event_body(event: &serde_json::Value) -> anyhow::Result<Option<Vec<u8>>> {
    use base64::Engine as _;
    let Some(body) = event.get("body").and_then(serde_json::Value::as_str) else {
        return Ok(None);
    };
    if event.get("isBase64Encoded").and_then(serde_json::Value::as_bool) == Some(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .context("the event's body is not base64")?;
        return Ok(Some(bytes));
    }
    Ok(Some(body.as_bytes().to_vec()))
}

/// The three Svix headers for `body`, signed now.
fn svix_headers(secret: &str, id: &str, body: &[u8]) -> anyhow::Result<[(&'static str, String); 3]> {
    let timestamp = now();
    let signature = svix::webhooks::Webhook::new(secret)
        .context("the webhook secret is not whsec_ + base64")?
        .sign(id, timestamp, body)
        .context("the payload is not UTF-8 text")?;
    Ok([("svix-id", id.to_owned()), ("svix-timestamp", timestamp.to_string()), ("svix-signature", signature)])
}

/// An API Gateway event whose svix-* headers are re-signed now over its unchanged body.
fn resign_event(event: &str, secret: &str) -> anyhow::Result<String> {
    let mut event: serde_json::Value = serde_json::from_str(event).context("the event is not JSON")?;
    let id =
        event["headers"]["svix-id"].as_str().context("--resign: the event has no svix-id header")?.to_owned();
    let body = event_body(&event)?.unwrap_or_default();
    for (name, value) in svix_headers(secret, &id, &body)? {
        event["headers"][name] = serde_json::Value::String(value);
    }
    Ok(event.to_string())
}

async fn send_webhook(
    data_dir: &Path,
    payload: &Path,
    url: &str,
    id: Option<String>,
    print_headers: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read(payload).with_context(|| format!("cannot read {}", payload.display()))?;
    let body = webhook_body(&text)?;
    let secret = signing_secret(data_dir)?;
    let id = id
        .unwrap_or_else(|| format!("msg_local_{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>()));
    let headers = svix_headers(&secret, &id, &body)?;
    if print_headers {
        for (name, value) in &headers {
            println!("{name}: {value}");
        }
        return Ok(());
    }
    let endpoint = format!("{}{}", url.trim_end_matches('/'), webhooks::ROUTE);
    let mut request = app::http_client().post(&endpoint).header("content-type", "application/json");
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}; is `cargo run --release` serving?"))?;
    let status = response.status();
    let outcome = response
        .headers()
        .get("x-webhook-outcome")
        .and_then(|value| value.to_str().ok())
        .map(|outcome| format!(" ({outcome})"))
        .unwrap_or_default();
    let text = response.text().await.unwrap_or_default();
    println!("{status}{outcome} {text}");
    if !status.is_success() {
        bail!("the delivery {id} was refused");
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_webhook_secret_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("darasa-local-webhook-{:016x}", rand::random::<u64>()));
        let first = local_webhook_secret(&dir).unwrap();
        assert!(first.starts_with("whsec_"));
        assert_eq!(local_webhook_secret(&dir).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(WEBHOOK_SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temp file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn payloads_are_sent_as_they_are_and_events_by_their_body() {
        let raw = b"{\n  \"type\": \"user.created\"\n}\n";
        assert_eq!(webhook_body(raw).unwrap(), raw);
        let event = serde_json::json!({"requestContext": {}, "body": "{\"a\": 1}", "isBase64Encoded": false});
        assert_eq!(webhook_body(event.to_string().as_bytes()).unwrap(), b"{\"a\": 1}");
        let event =
            serde_json::json!({"requestContext": {}, "body": "eyJhIjogMX0=", "isBase64Encoded": true});
        assert_eq!(webhook_body(event.to_string().as_bytes()).unwrap(), b"{\"a\": 1}");
    }

    #[test]
    fn resigned_events_verify_now() {
        let secret = "whsec_ZGFyYXNhLWZpeHR1cmUta2V5LW5vdC1zZWNyZXQh";
        let event = serde_json::json!({
            "requestContext": {}, "body": "{\"type\": \"user.deleted\"}", "isBase64Encoded": false,
            "headers": {"svix-id": "msg_1", "svix-timestamp": "1", "svix-signature": "v1,stale"}
        });
        let resigned: serde_json::Value =
            serde_json::from_str(&resign_event(&event.to_string(), secret).unwrap()).unwrap();
        let mut headers = axum::http::HeaderMap::new();
        for name in ["svix-id", "svix-timestamp", "svix-signature"] {
            headers.insert(name, resigned["headers"][name].as_str().unwrap().parse().unwrap());
        }
        svix::webhooks::Webhook::new(secret)
            .unwrap()
            .verify(b"{\"type\": \"user.deleted\"}", &headers)
            .unwrap();
    }
}
