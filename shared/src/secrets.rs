//! Secrets (API keys, signing secrets) from AWS Secrets Manager, fetched once at start-up. The
//! template names each by `<NAME>_SECRET_ARN` (never a plain parameter); `config` decides where
//! a secret comes from and calls `fetch` only for these.

/// Where one secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself (`NAME`), as a developer sets it locally.
    Value(String),
    /// A Secrets Manager secret id or ARN (`NAME_SECRET_ARN`), fetched at start-up.
    SecretsManager(String),
}

/// One Secrets Manager client per process: a cold start resolving several secrets loads the AWS
/// configuration (credentials chain, HTTP client) once, not once per secret.
async fn client() -> &'static aws_sdk_secretsmanager::Client {
    static CLIENT: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client> = tokio::sync::OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            aws_sdk_secretsmanager::Client::new(&crate::aws_sdk::config(None).await.sdk)
        })
        .await
}

/// The string value of secret `id` (a name or an ARN); the reason it cannot be read, else.
pub async fn fetch(id: &str) -> Result<String, String> {
    let output = client()
        .await
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|error| aws_sdk_secretsmanager::error::DisplayErrorContext(error).to_string())?;
    output
        .secret_string()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| "the secret has no string value".to_owned())
}
