//! `darasa-local webhook`: Clerk's deliveries without Clerk. The local host's webhook secret
//! (created on first use in the data dir), Svix headers signed with it, and the delivery posted
//! to the running host; also re-signing committed Lambda events for `invoke --resign`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use darasa::config::{self, Vars};
use darasa::webhooks::{self, WebhookVerifier};

use crate::now;

const WEBHOOK_SECRET_FILE: &str = "webhook-secret";

/// The local host's webhook verifier: `CLERK_WEBHOOK_SIGNING_SECRET` when set (to receive real
/// Clerk deliveries through a tunnel), else the secret kept in the data dir.
pub async fn local_webhooks(data_dir: &Path) -> anyhow::Result<(Arc<WebhookVerifier>, String)> {
    let env_lookup = |name: &str| std::env::var(name).ok();
    if let Some(secrets) = config::webhook_secrets(&Vars(&env_lookup)).await? {
        let verifier = WebhookVerifier::from_secrets(&secrets)?;
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

pub fn first_secret(value: &str) -> anyhow::Result<&str> {
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
    webhooks::sign_headers(secret, id, now(), body)
        .context("the webhook secret is not whsec_ + base64, or the payload is not UTF-8 text")
}

/// An API Gateway event whose svix-* headers are re-signed now over its unchanged body.
pub fn resign_event(event: &str, secret: &str) -> anyhow::Result<String> {
    let mut event: serde_json::Value = serde_json::from_str(event).context("the event is not JSON")?;
    let id =
        event["headers"]["svix-id"].as_str().context("--resign: the event has no svix-id header")?.to_owned();
    let body = event_body(&event)?.unwrap_or_default();
    for (name, value) in svix_headers(secret, &id, &body)? {
        event["headers"][name] = serde_json::Value::String(value);
    }
    Ok(event.to_string())
}

pub async fn send(
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
    let mut request =
        darasa::http_client::shared().post(&endpoint).header("content-type", "application/json");
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
