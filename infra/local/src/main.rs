//! `darasa-local`: the whole API in one process with no server, account or key to set up, and
//! the developer CLI around it (tokens from the dev issuer, one function on one Lambda event,
//! signed Clerk webhook deliveries).

mod invoke;
mod serve;
mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    /// Print the OpenAPI 3.1 document of every route (what `GET /api/openapi.json` serves):
    /// `cargo run -q -p darasa-local -- openapi > docs/openapi.json` refreshes the committed one.
    Openapi,
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

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Serve { listen } => serve::serve(&cli.data_dir, listen).await,
        Command::Token { user, features, ttl } => {
            let issuer = serve::dev_issuer(&cli.data_dir)?;
            let features: Vec<&str> = features.iter().map(String::as_str).collect();
            println!("{}", issuer.mint(&user, &features, ttl, now()));
            Ok(())
        }
        Command::Invoke { function, event, env_vars, resign } => {
            invoke::invoke(&cli.data_dir, &function, &event, &env_vars, resign).await
        }
        Command::Webhook { payload, url, id, print_headers } => {
            webhook::send(&cli.data_dir, &payload, &url, id, print_headers).await
        }
        Command::Openapi => {
            print!("{}", darasa::openapi::document_text());
            Ok(())
        }
    }
}

fn default_listen() -> anyhow::Result<SocketAddr> {
    let text = std::env::var("DARASA_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    text.parse().with_context(|| format!("DARASA_LISTEN is not an address: {text:?}"))
}
/// Seconds since the Unix epoch.
fn now() -> i64 {
    darasa::clock::unix_seconds()
}
