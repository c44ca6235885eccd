//! Configuration, read once at start-up from environment variables into one typed `Config`.
//! A missing or malformed required value stops start-up with a message naming the variable.

use std::collections::HashMap;

use crate::ai::gemini::{DEFAULT_BASE_URL, DEFAULT_MODEL, GeminiConfig};
use crate::ai::openai::{self, OpenAiConfig};
use crate::auth::{AuthConfig, KeySource};
use crate::protect::{Mode, Modes};
use crate::secrets::SecretSource;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set; {1}")]
    Missing(&'static str, &'static str),
    #[error("{name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
}

/// Where the table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConfig {
    pub name: String,
    /// An endpoint override, e.g. DynamoDB Local.
    pub endpoint: Option<String>,
}

/// The variable holding Clerk's webhook signing secret(s) (`whsec_…`, space-separated during a
/// rotation); in AWS `CLERK_WEBHOOK_SIGNING_SECRET_SECRET_ARN` names a Secrets Manager secret.
pub const WEBHOOK_SECRET_VARIABLE: &str = "CLERK_WEBHOOK_SIGNING_SECRET";

/// The variable that picks the model: `gemini`, `openai` or `offline`.
pub const AI_PROVIDER_VARIABLE: &str = "AI_PROVIDER";

/// Which model answers the AI routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelConfig {
    Gemini(GeminiConfig),
    OpenAi(OpenAiConfig),
    /// The offline engine: no network, no key.
    Offline,
}

impl ModelConfig {
    /// A line for a start-up banner or a log.
    pub fn describe(&self) -> String {
        match self {
            Self::Gemini(gemini) => format!("Gemini {} at {}", gemini.model, gemini.base_url),
            Self::OpenAi(openai) => format!("OpenAI-compatible {} at {}", openai.model, openai.base_url),
            Self::Offline => format!(
                "the offline engine ({}): deterministic, no key needed; set GEMINI_API_KEY, or \
                 AI_PROVIDER=openai with OPENAI_BASE_URL/OPENAI_API_KEY, for a provider",
                crate::ai::offline::Engine::MODEL_NAME
            ),
        }
    }
}

/// The model from `AI_PROVIDER` (`gemini`, `openai`, `offline`). Unset, a configured
/// `GEMINI_API_KEY` still means Gemini (as before the choice existed), else a configured
/// OpenAI-compatible server, else the offline engine. A named provider missing its settings
/// stops start-up, naming the variable.
pub async fn load_model(vars: &Vars<'_>) -> Result<ModelConfig, ConfigError> {
    match vars.get(AI_PROVIDER_VARIABLE).map(|name| name.to_ascii_lowercase()).as_deref() {
        Some("gemini") => load_gemini(vars).await?.map(ModelConfig::Gemini).ok_or(ConfigError::Missing(
            crate::ai::gemini::API_KEY_VARIABLE,
            "AI_PROVIDER is gemini, so set the Gemini API key",
        )),
        Some("openai") => match load_openai(vars).await? {
            Some(openai) if openai.api_key.is_none() && openai.base_url == openai::DEFAULT_BASE_URL => {
                Err(ConfigError::Missing(
                    openai::API_KEY_VARIABLE,
                    "OpenAI itself needs a key (a local server set by OPENAI_BASE_URL may not)",
                ))
            }
            Some(openai) => Ok(ModelConfig::OpenAi(openai)),
            None => Err(ConfigError::Missing(
                openai::API_KEY_VARIABLE,
                "AI_PROVIDER is openai, so set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server",
            )),
        },
        Some("offline") => Ok(ModelConfig::Offline),
        Some(other) => Err(ConfigError::Malformed {
            name: AI_PROVIDER_VARIABLE,
            reason: format!("expected gemini, openai or offline, got {other:?}"),
        }),
        None => {
            if let Some(gemini) = load_gemini(vars).await? {
                return Ok(ModelConfig::Gemini(gemini));
            }
            Ok(load_openai(vars).await?.map_or(ModelConfig::Offline, ModelConfig::OpenAi))
        }
    }
}

/// What a function needs configured beyond the table and Clerk; each need reads its secrets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// A language model (the AI routes, interview feedback).
    pub model: bool,
    /// Hume (voice interviews).
    pub hume: bool,
    /// Clerk's webhook signing secret.
    pub webhooks: bool,
}

impl Needs {
    pub const NONE: Needs = Needs { model: false, hume: false, webhooks: false };
    pub const ALL: Needs = Needs { model: true, hume: true, webhooks: true };

    /// The secret variables these needs read: in AWS each comes from the Secrets Manager secret
    /// its `<NAME>_SECRET_ARN` names, fetched once per cold start.
    pub fn secrets(self) -> Vec<&'static str> {
        let mut secrets = Vec::new();
        if self.model {
            secrets.extend([crate::ai::gemini::API_KEY_VARIABLE, openai::API_KEY_VARIABLE]);
        }
        if self.hume {
            secrets.extend([crate::hume::API_KEY_VARIABLE, crate::hume::SECRET_KEY_VARIABLE]);
        }
        if self.webhooks {
            secrets.push(WEBHOOK_SECRET_VARIABLE);
        }
        secrets
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table: TableConfig,
    pub auth: AuthConfig,
    /// Which model answers the AI routes (`AI_PROVIDER`; the offline engine unless a provider is
    /// configured).
    pub model: ModelConfig,
    /// Hume (voice interviews); `None` (no keys) makes the Hume routes answer 503.
    pub hume: Option<crate::hume::HumeConfig>,
    /// Clerk's webhook signing secret(s), `whsec_…`, space-separated during a rotation.
    pub webhook_secrets: Option<String>,
    /// The protection rules' modes (`PROTECT_*`; all `live` unless set).
    pub protect: Modes,
}

impl Config {
    /// A deployed function's configuration from the process environment, with the secrets its
    /// `needs` read resolved (from Secrets Manager when given as `*_SECRET_ARN`).
    pub async fn load(needs: Needs) -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Self::from_vars(&Vars(&lookup), needs).await
    }

    /// The same rules over any source of variables (tests, `darasa-local invoke --env-vars`).
    pub async fn from_vars(vars: &Vars<'_>, needs: Needs) -> Result<Self, ConfigError> {
        let table = table_from(vars)?
            .ok_or(ConfigError::Missing("TABLE_NAME", "name the DynamoDB table the functions use"))?;
        let auth = auth_from(vars)?.ok_or(ConfigError::Missing(
            "CLERK_ISSUER",
            "set it to your Clerk Frontend API URL, e.g. https://your-app.clerk.accounts.dev",
        ))?;
        let model = if needs.model { load_model(vars).await? } else { ModelConfig::Offline };
        let hume = if needs.hume { load_hume(vars).await? } else { None };
        let webhook_secrets = if needs.webhooks { webhook_secrets(vars).await? } else { None };
        let protect = protect_from(vars, Modes::LIVE)?;
        Ok(Self { table, auth, model, hume, webhook_secrets, protect })
    }
}

/// Reads variables, treating empty values as unset (as the original's env schema does).
pub struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    }
}

/// `TABLE_NAME` (+ `DYNAMODB_ENDPOINT`), or `None` when no table is named.
pub fn table_from(vars: &Vars) -> Result<Option<TableConfig>, ConfigError> {
    let endpoint = vars.get("DYNAMODB_ENDPOINT");
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(ConfigError::Malformed {
            name: "DYNAMODB_ENDPOINT",
            reason: "expected an http:// or https:// URL".into(),
        });
    }
    match vars.get("TABLE_NAME") {
        Some(name) => Ok(Some(TableConfig { name, endpoint })),
        None if endpoint.is_some() => {
            Err(ConfigError::Missing("TABLE_NAME", "DYNAMODB_ENDPOINT is set, so name the table too"))
        }
        None => Ok(None),
    }
}

/// Clerk verification settings, or `None` when `CLERK_ISSUER` is unset.
pub fn auth_from(vars: &Vars) -> Result<Option<AuthConfig>, ConfigError> {
    let Some(issuer) = vars.get("CLERK_ISSUER") else {
        return Ok(None);
    };
    if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
        return Err(ConfigError::Malformed {
            name: "CLERK_ISSUER",
            reason: "expected the Frontend API URL, e.g. https://your-app.clerk.accounts.dev".into(),
        });
    }
    let keys = match (vars.get("CLERK_JWT_KEY"), vars.get("CLERK_JWKS_URL")) {
        // The PEM key needs no network, so it wins when both are given.
        (Some(pem), _) => KeySource::Pem(pem.replace("\\n", "\n")),
        (None, Some(url)) => KeySource::Jwks { url, bearer: vars.get("CLERK_SECRET_KEY") },
        (None, None) => KeySource::Jwks {
            url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            bearer: None,
        },
    };
    let authorized_parties = vars
        .get("CLERK_AUTHORIZED_PARTIES")
        .map(|list| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Some(AuthConfig { issuer, keys, authorized_parties }))
}

/// How variable `name` is provided, if at all. The direct value wins, so a developer can
/// override a deployed secret locally.
pub fn secret_source(vars: &Vars, name: &'static str) -> Option<SecretSource> {
    vars.get(name)
        .map(SecretSource::Value)
        .or_else(|| vars.get(&format!("{name}_SECRET_ARN")).map(SecretSource::SecretsManager))
}

/// Resolves secret `name` to its value: `Ok(None)` when neither `NAME` nor `NAME_SECRET_ARN` is
/// set. A secret that cannot be fetched stops start-up with a message naming the variable.
pub async fn resolve_secret(vars: &Vars<'_>, name: &'static str) -> Result<Option<String>, ConfigError> {
    match secret_source(vars, name) {
        None => Ok(None),
        Some(SecretSource::Value(value)) => Ok(Some(value)),
        Some(SecretSource::SecretsManager(id)) => {
            crate::secrets::fetch(&id).await.map(Some).map_err(|reason| ConfigError::Malformed {
                name,
                reason: format!("cannot read its secret ({name}_SECRET_ARN): {reason}"),
            })
        }
    }
}

/// `GEMINI_*`, with the key resolved from `GEMINI_API_KEY` or its `_SECRET_ARN`.
pub async fn load_gemini(vars: &Vars<'_>) -> Result<Option<GeminiConfig>, ConfigError> {
    let api_key = resolve_secret(vars, crate::ai::gemini::API_KEY_VARIABLE).await?;
    gemini_from(vars, api_key)
}

/// The protection modes from `PROTECT_SHIELD`, `PROTECT_BOTS`, `PROTECT_RATE_LIMIT` (each
/// `live`, `dry-run` or `off`); an unset variable keeps its rule's mode in `defaults`.
pub fn protect_from(vars: &Vars, defaults: Modes) -> Result<Modes, ConfigError> {
    let mode = |name: &'static str, default: Mode| match vars.get(name) {
        None => Ok(default),
        Some(text) => Mode::parse(&text).ok_or(ConfigError::Malformed {
            name,
            reason: format!("expected live, dry-run or off, got {text:?}"),
        }),
    };
    Ok(Modes {
        shield: mode("PROTECT_SHIELD", defaults.shield)?,
        bots: mode("PROTECT_BOTS", defaults.bots)?,
        rate_limit: mode("PROTECT_RATE_LIMIT", defaults.rate_limit)?,
    })
}

/// `CLERK_WEBHOOK_SIGNING_SECRET`, resolved from the variable or its `_SECRET_ARN`.
pub async fn webhook_secrets(vars: &Vars<'_>) -> Result<Option<String>, ConfigError> {
    resolve_secret(vars, WEBHOOK_SECRET_VARIABLE).await
}

/// The settings given the resolved key: `OPENAI_BASE_URL` (http or https; default OpenAI's) and
/// `OPENAI_MODEL` (default gpt-4o-mini). `None` when there is neither a key nor a base URL:
/// OpenAI itself needs a key, while a server named by its URL may need none.
pub fn openai_from(vars: &Vars, api_key: Option<String>) -> Result<Option<OpenAiConfig>, ConfigError> {
    let base_url = vars.get(openai::BASE_URL_VARIABLE);
    if let Some(url) = &base_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ConfigError::Malformed {
            name: openai::BASE_URL_VARIABLE,
            reason: "expected an http:// or https:// URL, e.g. http://localhost:11434/v1".into(),
        });
    }
    let model = vars.get(openai::MODEL_VARIABLE).unwrap_or_else(|| openai::DEFAULT_MODEL.to_owned());
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Malformed {
            name: openai::MODEL_VARIABLE,
            reason: "expected a model name such as gpt-4o-mini or llama3.2:3b".into(),
        });
    }
    if api_key.is_none() && base_url.is_none() {
        return Ok(None);
    }
    Ok(Some(OpenAiConfig {
        api_key,
        base_url: base_url.unwrap_or_else(|| openai::DEFAULT_BASE_URL.into()),
        model,
    }))
}

/// `OPENAI_*`, with the key resolved from `OPENAI_API_KEY` or its `_SECRET_ARN`.
async fn load_openai(vars: &Vars<'_>) -> Result<Option<OpenAiConfig>, ConfigError> {
    let api_key = resolve_secret(vars, openai::API_KEY_VARIABLE).await?;
    openai_from(vars, api_key)
}

/// `HUME_*`, with both keys resolved from their variables or their `_SECRET_ARN`s.
pub async fn load_hume(vars: &Vars<'_>) -> Result<Option<crate::hume::HumeConfig>, ConfigError> {
    let key = resolve_secret(vars, crate::hume::API_KEY_VARIABLE).await?;
    let secret = resolve_secret(vars, crate::hume::SECRET_KEY_VARIABLE).await?;
    hume_from(vars, key, secret)
}

/// The Gemini settings given the resolved API key (`None`: the AI routes stay off): `GEMINI_MODEL`
/// (default gemini-2.5-flash) and `GEMINI_BASE_URL` (default Google's endpoint; tests point it
/// at a fake).
pub fn gemini_from(vars: &Vars, api_key: Option<String>) -> Result<Option<GeminiConfig>, ConfigError> {
    let model = vars.get("GEMINI_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let name = model.strip_prefix("models/").unwrap_or(&model);
    // It becomes part of the URL path.
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return Err(ConfigError::Malformed {
            name: "GEMINI_MODEL",
            reason: "expected a model name such as gemini-2.5-flash".into(),
        });
    }
    let base_url = vars.get("GEMINI_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(ConfigError::Malformed {
            name: "GEMINI_BASE_URL",
            reason: "expected an http:// or https:// URL".into(),
        });
    }
    Ok(api_key.map(|api_key| GeminiConfig { api_key, model, base_url }))
}

/// The Hume settings given the resolved keys: both or neither (`None`: the Hume routes stay off);
/// `HUME_BASE_URL` defaults to Hume's API (tests point it at a fake).
pub fn hume_from(
    vars: &Vars,
    api_key: Option<String>,
    secret_key: Option<String>,
) -> Result<Option<crate::hume::HumeConfig>, ConfigError> {
    let base_url = vars.get("HUME_BASE_URL").unwrap_or_else(|| crate::hume::DEFAULT_BASE_URL.to_owned());
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(ConfigError::Malformed {
            name: "HUME_BASE_URL",
            reason: "expected an http:// or https:// URL".into(),
        });
    }
    match (api_key, secret_key) {
        (Some(api_key), Some(secret_key)) => {
            Ok(Some(crate::hume::HumeConfig { api_key, secret_key, base_url }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err(ConfigError::Missing("HUME_SECRET_KEY", "HUME_API_KEY is set, so set its secret key too"))
        }
        (None, Some(_)) => {
            Err(ConfigError::Missing("HUME_API_KEY", "HUME_SECRET_KEY is set, so set the API key too"))
        }
    }
}

/// The variables a SAM `--env-vars` file (`infra/env.json`) gives the function with this logical
/// id: `Parameters` apply to every function, the function's own entry overrides them.
pub fn sam_env_vars(text: &str, logical_id: &str) -> Result<HashMap<String, String>, ConfigError> {
    let file: HashMap<String, HashMap<String, serde_json::Value>> =
        serde_json::from_str(text).map_err(|error| ConfigError::Malformed {
            name: "env-vars file",
            reason: format!("expected SAM's {{\"Parameters\": {{...}}}} JSON: {error}"),
        })?;
    let mut vars = HashMap::new();
    for section in ["Parameters", logical_id] {
        for (name, value) in file.get(section).into_iter().flatten() {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            vars.insert(name.clone(), value);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = |name: &str| map.get(name).cloned();
        futures::executor::block_on(Config::from_vars(&Vars(&lookup), Needs::ALL))
    }

    #[tokio::test]
    async fn the_direct_value_wins_and_absence_is_none() {
        let map: HashMap<&str, &str> = [
            ("GEMINI_API_KEY", "k"),
            ("GEMINI_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
        ]
        .into();
        let lookup = |name: &str| map.get(name).map(|v| v.to_string());
        let vars = Vars(&lookup);
        assert_eq!(resolve_secret(&vars, "GEMINI_API_KEY").await.unwrap(), Some("k".into()));
        assert_eq!(resolve_secret(&vars, "HUME_API_KEY").await.unwrap(), None);
        let only_arn = |name: &str| (name == "X_SECRET_ARN").then(|| "arn:x".to_owned());
        assert_eq!(secret_source(&Vars(&only_arn), "X"), Some(SecretSource::SecretsManager("arn:x".into())));
    }

    #[test]
    fn missing_variables_are_named() {
        let error = config(&[("CLERK_ISSUER", "https://x.clerk.accounts.dev")]).unwrap_err();
        assert!(error.to_string().starts_with("TABLE_NAME is not set"));
        let error = config(&[("TABLE_NAME", "t")]).unwrap_err();
        assert!(error.to_string().starts_with("CLERK_ISSUER is not set"));
        let error = config(&[("TABLE_NAME", "t"), ("CLERK_ISSUER", "clerk")]).unwrap_err();
        assert!(error.to_string().starts_with("CLERK_ISSUER is malformed"));
    }

    #[test]
    fn jwks_url_defaults_to_the_issuer_and_parties_split() {
        let config = config(&[
            ("TABLE_NAME", "darasa"),
            ("CLERK_ISSUER", "https://x.clerk.accounts.dev/"),
            ("CLERK_AUTHORIZED_PARTIES", "https://a.example, https://b.example,"),
        ])
        .unwrap();
        assert_eq!(config.table, TableConfig { name: "darasa".into(), endpoint: None });
        assert!(matches!(
            config.auth.keys,
            KeySource::Jwks { ref url, bearer: None } if url == "https://x.clerk.accounts.dev/.well-known/jwks.json"
        ));
        assert_eq!(config.auth.authorized_parties, ["https://a.example", "https://b.example"]);
        assert_eq!(config.model, ModelConfig::Offline, "no key: the offline engine");
        assert_eq!(config.hume, None, "no keys, no Hume");
    }

    #[test]
    fn protection_modes_default_per_host_and_are_checked() {
        let base = [("TABLE_NAME", "t"), ("CLERK_ISSUER", "https://x.clerk.accounts.dev")];
        assert_eq!(config(&base).unwrap().protect, Modes::LIVE);
        let vars: Vec<(&str, &str)> = base
            .iter()
            .copied()
            .chain([("PROTECT_BOTS", "dry-run"), ("PROTECT_RATE_LIMIT", "OFF")])
            .collect();
        let protect = config(&vars).unwrap().protect;
        assert_eq!((protect.shield, protect.bots, protect.rate_limit), (Mode::Live, Mode::DryRun, Mode::Off));
        let vars: Vec<(&str, &str)> = base.iter().copied().chain([("PROTECT_SHIELD", "maybe")]).collect();
        let error = config(&vars).unwrap_err().to_string();
        assert!(error.starts_with("PROTECT_SHIELD is malformed"), "{error}");
        let lookup = |name: &str| (name == "PROTECT_SHIELD").then(|| "off".to_owned());
        let local = protect_from(&Vars(&lookup), Modes::LOCAL).unwrap();
        assert_eq!((local.shield, local.bots, local.rate_limit), (Mode::Off, Mode::DryRun, Mode::Live));
    }

    #[test]
    fn hume_needs_both_keys() {
        let base = [("TABLE_NAME", "t"), ("CLERK_ISSUER", "https://x.clerk.accounts.dev")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
            config(&vars)
        };
        let hume = with(&[("HUME_API_KEY", "k"), ("HUME_SECRET_KEY", "s")]).unwrap().hume.unwrap();
        assert_eq!((hume.api_key.as_str(), hume.base_url.as_str()), ("k", "https://api.hume.ai"));
        let error = with(&[("HUME_API_KEY", "k")]).unwrap_err();
        assert!(error.to_string().starts_with("HUME_SECRET_KEY is not set"), "{error}");
        let error =
            with(&[("HUME_API_KEY", "k"), ("HUME_SECRET_KEY", "s"), ("HUME_BASE_URL", "api")]).unwrap_err();
        assert!(error.to_string().starts_with("HUME_BASE_URL is malformed"), "{error}");
    }

    #[test]
    fn gemini_settings_default_and_validate() {
        let base = [("TABLE_NAME", "t"), ("CLERK_ISSUER", "https://x.clerk.accounts.dev")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
            config(&vars)
        };
        let ModelConfig::Gemini(gemini) = with(&[("GEMINI_API_KEY", " key ")]).unwrap().model else {
            panic!("a key means Gemini");
        };
        assert_eq!(gemini, GeminiConfig::new("key"));
        let custom = with(&[
            ("GEMINI_API_KEY", "key"),
            ("GEMINI_MODEL", "gemini-2.5-pro"),
            ("GEMINI_BASE_URL", "http://127.0.0.1:9"),
        ])
        .unwrap()
        .model;
        let ModelConfig::Gemini(custom) = custom else { panic!("Gemini") };
        assert_eq!(
            (custom.model.as_str(), custom.base_url.as_str()),
            ("gemini-2.5-pro", "http://127.0.0.1:9")
        );
        for (name, value) in [("GEMINI_MODEL", "../admin"), ("GEMINI_BASE_URL", "generativelanguage")] {
            let error = with(&[("GEMINI_API_KEY", "key"), (name, value)]).unwrap_err();
            assert!(error.to_string().starts_with(&format!("{name} is malformed")), "{error}");
        }
    }

    fn openai_vars(pairs: &[(&str, &str)]) -> Result<Option<OpenAiConfig>, ConfigError> {
        let lookup =
            |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
        let key = Vars(&lookup).get(openai::API_KEY_VARIABLE);
        openai_from(&Vars(&lookup), key)
    }

    #[test]
    fn openai_settings_default_and_validate() {
        use openai::{API_KEY_VARIABLE, BASE_URL_VARIABLE, MODEL_VARIABLE};
        assert_eq!(openai_vars(&[]), Ok(None), "no key and no server: off");
        assert_eq!(openai_vars(&[(MODEL_VARIABLE, "gpt-4o")]), Ok(None));
        assert_eq!(openai_vars(&[(API_KEY_VARIABLE, "sk-test")]), Ok(Some(OpenAiConfig::new("sk-test"))));
        let local =
            openai_vars(&[(BASE_URL_VARIABLE, "http://localhost:11434/v1"), (MODEL_VARIABLE, "llama3.2:3b")]);
        assert_eq!(
            local,
            Ok(Some(OpenAiConfig {
                api_key: None,
                base_url: "http://localhost:11434/v1".into(),
                model: "llama3.2:3b".into()
            }))
        );
        for (name, value) in [(BASE_URL_VARIABLE, "localhost:11434"), (MODEL_VARIABLE, "gpt 4")] {
            let error = openai_vars(&[(API_KEY_VARIABLE, "k"), (name, value)]).unwrap_err();
            assert!(error.to_string().starts_with(&format!("{name} is malformed")), "{error}");
        }
    }

    #[test]
    fn ai_provider_picks_the_model() {
        let base = [("TABLE_NAME", "t"), ("CLERK_ISSUER", "https://x.clerk.accounts.dev")];
        let model = |extra: &[(&'static str, &'static str)]| {
            let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
            config(&vars).map(|config| config.model)
        };
        assert_eq!(model(&[]), Ok(ModelConfig::Offline));
        assert_eq!(model(&[("AI_PROVIDER", "offline"), ("GEMINI_API_KEY", "k")]), Ok(ModelConfig::Offline));
        assert!(
            matches!(model(&[("GEMINI_API_KEY", "k")]), Ok(ModelConfig::Gemini(_))),
            "a key still means Gemini"
        );
        assert!(matches!(
            model(&[("OPENAI_BASE_URL", "http://localhost:11434/v1")]),
            Ok(ModelConfig::OpenAi(OpenAiConfig { api_key: None, .. }))
        ));
        assert!(matches!(
            model(&[("AI_PROVIDER", "OpenAI"), ("OPENAI_API_KEY", "sk"), ("GEMINI_API_KEY", "k")]),
            Ok(ModelConfig::OpenAi(_))
        ));
        for (extra, variable) in [
            (&[("AI_PROVIDER", "gemini")][..], "GEMINI_API_KEY is not set"),
            (&[("AI_PROVIDER", "openai")][..], "OPENAI_API_KEY is not set"),
            (&[("AI_PROVIDER", "openai"), ("OPENAI_MODEL", "gpt-4o")][..], "OPENAI_API_KEY is not set"),
            (&[("AI_PROVIDER", "claude")][..], "AI_PROVIDER is malformed"),
        ] {
            let error = model(extra).unwrap_err().to_string();
            assert!(error.starts_with(variable), "{extra:?}: {error}");
        }
    }
}
