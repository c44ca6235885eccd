//! Secrets (API keys, signing secrets), resolved once at start-up. In AWS a secret comes from
//! Secrets Manager, named by `<NAME>_SECRET_ARN` in the template (never a plain parameter);
//! locally and in tests `<NAME>` itself may hold the value.

use crate::config::{ConfigError, Vars};

/// Where one secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself (`NAME`), as a developer sets it locally.
    Value(String),
    /// A Secrets Manager secret id or ARN (`NAME_SECRET_ARN`), fetched at start-up.
    SecretsManager(String),
}

/// How variable `name` is provided, if at all. The direct value wins, so a developer can
/// override a deployed secret locally.
pub fn source(vars: &Vars, name: &'static str) -> Option<SecretSource> {
    vars.get(name)
        .map(SecretSource::Value)
        .or_else(|| vars.get(&format!("{name}_SECRET_ARN")).map(SecretSource::SecretsManager))
}

/// Resolves `name` to its value: `Ok(None)` when neither `NAME` nor `NAME_SECRET_ARN` is set.
/// A secret that cannot be fetched stops start-up with a message naming the variable.
pub async fn resolve(vars: &Vars<'_>, name: &'static str) -> Result<Option<String>, ConfigError> {
    match source(vars, name) {
        None => Ok(None),
        Some(SecretSource::Value(value)) => Ok(Some(value)),
        Some(SecretSource::SecretsManager(id)) => {
            fetch(&id).await.map(Some).map_err(|reason| ConfigError::Malformed {
                name,
                reason: format!("cannot read its secret ({name}_SECRET_ARN): {reason}"),
            })
        }
    }
}

/// One Secrets Manager client per process: a cold start resolving several secrets loads the AWS
/// configuration (credentials chain, HTTP client) once, not once per secret.
async fn client() -> &'static aws_sdk_secretsmanager::Client {
    static CLIENT: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client> = tokio::sync::OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            aws_sdk_secretsmanager::Client::new(&config)
        })
        .await
}

async fn fetch(id: &str) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn the_direct_value_wins_and_absence_is_none() {
        let map: HashMap<&str, &str> = [
            ("GEMINI_API_KEY", "k"),
            ("GEMINI_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
        ]
        .into();
        let lookup = |name: &str| map.get(name).map(|v| v.to_string());
        let vars = Vars(&lookup);
        assert_eq!(resolve(&vars, "GEMINI_API_KEY").await.unwrap(), Some("k".into()));
        assert_eq!(resolve(&vars, "HUME_API_KEY").await.unwrap(), None);
        let only_arn = |name: &str| (name == "X_SECRET_ARN").then(|| "arn:x".to_owned());
        assert_eq!(source(&Vars(&only_arn), "X"), Some(SecretSource::SecretsManager("arn:x".into())));
    }
}
