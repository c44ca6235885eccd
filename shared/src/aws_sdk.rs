//! The AWS SDK's configuration, shared by every AWS client (DynamoDB, Secrets Manager).
//!
//! Requests go out through hyper-util and hyper-rustls (`connector`), which every function links
//! anyway under reqwest, instead of the SDK's own HTTPS client. Against AWS itself it trusts
//! Amazon Trust Services' roots only (`aws_sdk/amazon-roots.pem`): every AWS endpoint's
//! certificate chains to one of them, and parsing the whole system store (about 150 certificates,
//! several milliseconds of CPU), as the SDK's default client does, would cost every cold start.
//! `AWS_CA_BUNDLE` (the AWS SDKs' variable) replaces them with a bundle of the operator's; an
//! HTTPS endpoint override (an emulator behind TLS) is trusted by the bundled Mozilla roots unless
//! such a bundle is given.

mod connector;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, Region, SharedAsyncSleep, SharedCredentialsProvider,
};
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_types::SdkConfig;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub use connector::AwsHttpClient;

/// Amazon Root CA 1-4 and Starfield Services Root G2, in PEM.
const AMAZON_ROOTS: &str = include_str!("aws_sdk/amazon-roots.pem");
/// How long a connection may take to open: the SDK's own default (since behaviour version
/// 2023-11-09), given to the SDK and to the connector, which opens connections ahead of its calls.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The configuration for one client. `endpoint` overrides AWS's (DynamoDB Local): dummy
/// credentials and `us-east-1` then fill in whatever the environment lacks, so tests and the local
/// host need no AWS setup.
///
/// A function reads only its environment ([`environment_config`]), where Lambda puts the region
/// and the execution role's credentials. The local host (feature `local`) goes through aws-config's
/// default chains instead, so a developer's profile, SSO login or instance role works there; the
/// functions leave aws-config, its STS client and its profile parser out (about 550 KB each).
pub async fn config(endpoint: Option<&str>) -> AwsConfig {
    let http = AwsHttpClient::new(roots(endpoint, std::env::var_os("AWS_CA_BUNDLE").map(PathBuf::from)));
    #[cfg(feature = "local")]
    {
        AwsConfig { sdk: profile_config(endpoint, http.clone()).await, http }
    }
    #[cfg(not(feature = "local"))]
    {
        AwsConfig { sdk: environment_config(|name| std::env::var(name).ok(), endpoint, http.clone()), http }
    }
}

/// A client's configuration and the HTTP client in it (which can open connections ahead:
/// [`AwsHttpClient::open`]).
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub sdk: SdkConfig,
    pub http: AwsHttpClient,
}

/// aws-config's default chains (environment, profiles, SSO, container and instance roles).
#[cfg(feature = "local")]
async fn profile_config(endpoint: Option<&str>, http_client: AwsHttpClient) -> SdkConfig {
    let environment = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
        if let Some(region) = region(&environment, Some(endpoint)) {
            loader = loader.region(Region::new(region));
        }
        if ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"].iter().all(|name| environment(name).is_none()) {
            loader = loader.credentials_provider(local_credentials());
        }
    }
    loader.http_client(http_client).load().await
}

/// The configuration Lambda's environment gives: `AWS_REGION` (else `AWS_DEFAULT_REGION`) and
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (the execution role's
/// credentials, valid for the life of the execution environment), with the SDK's standard retries
/// (3 attempts) and connect timeout, sending through `http_client`. `env` reads one variable. A
/// missing region or credentials without an endpoint override is logged here and fails each AWS
/// call, never the start-up.
pub fn environment_config(
    env: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
    http_client: AwsHttpClient,
) -> SdkConfig {
    let var = |name: &str| env(name).filter(|value| !value.is_empty());
    let region = region(&var, endpoint);
    if region.is_none() {
        tracing::error!("AWS_REGION is not set; every AWS call will fail");
    }
    let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(key_id), Some(secret)) => {
            Some(Credentials::new(key_id, secret, var("AWS_SESSION_TOKEN"), None, "environment"))
        }
        _ if endpoint.is_some() => Some(local_credentials()),
        _ => {
            tracing::error!(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set; every AWS call will fail"
            );
            None
        }
    };
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build());
    builder.set_region(region.map(Region::new));
    builder.set_credentials_provider(credentials.map(SharedCredentialsProvider::new));
    builder.set_endpoint_url(endpoint.map(str::to_owned));
    builder.build()
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1` for an endpoint override (an
/// emulator does not care); `var` reads one non-empty variable.
fn region(var: &impl Fn(&str) -> Option<String>, endpoint: Option<&str>) -> Option<String> {
    var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| endpoint.map(|_| "us-east-1".to_owned()))
}

/// What an emulator (DynamoDB Local) accepts when no credentials are given.
fn local_credentials() -> Credentials {
    Credentials::new("local", "local", None, None, "darasa-local")
}

/// What the AWS clients trust (`AWS_CA_BUNDLE` is read from the process's environment, as the
/// SDK's own client does). A plain-HTTP endpoint (DynamoDB Local) needs no certificate;
/// otherwise the bundle `AWS_CA_BUNDLE` names (the AWS SDKs' and CLI's variable; e.g. a proxy that
/// re-signs TLS); else, for AWS itself, Amazon's roots, and for someone else's HTTPS endpoint the
/// Mozilla roots (webpki-roots, which reqwest bundles too). A bundle that cannot be read or holds
/// no certificate is reported and ignored.
fn roots(endpoint: Option<&str>, bundle: Option<PathBuf>) -> RootCertStore {
    if endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")) {
        return RootCertStore::empty();
    }
    if let Some(path) = bundle {
        match read_bundle(&path) {
            Ok(roots) => return roots,
            Err(reason) => {
                tracing::error!(path = %path.display(), reason, "AWS_CA_BUNDLE is unusable; ignoring it")
            }
        }
    }
    match endpoint {
        None => read_pem(AMAZON_ROOTS.as_bytes()).unwrap_or_else(|_| RootCertStore::empty()),
        Some(_) => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    }
}

/// The bundle's certificates, once every one of them parses.
fn read_bundle(path: &Path) -> Result<RootCertStore, String> {
    read_pem(&std::fs::read(path).map_err(|error| error.to_string())?)
}

fn read_pem(pem: &[u8]) -> Result<RootCertStore, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| error.to_string())?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|error| error.to_string())?;
    }
    if roots.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials as _;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: HashMap<String, String> =
            pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    fn http() -> AwsHttpClient {
        AwsHttpClient::new(RootCertStore::empty())
    }

    #[tokio::test]
    async fn lambdas_environment_gives_the_region_and_the_roles_credentials() {
        let config = environment_config(
            env(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_DEFAULT_REGION", "us-west-2"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "session"),
            ]),
            None,
            http(),
        );
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(config.retry_config().map(RetryConfig::max_attempts), Some(3));
        assert_eq!(config.timeout_config().and_then(TimeoutConfig::connect_timeout), Some(CONNECT_TIMEOUT));
    }

    #[tokio::test]
    async fn an_endpoint_override_fills_in_what_the_environment_lacks() {
        let endpoint = Some("http://127.0.0.1:8000");
        let config = environment_config(env(&[("AWS_REGION", "")]), endpoint, http());
        assert_eq!(config.region().map(Region::as_ref), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), endpoint);
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "local");

        let config = environment_config(env(&[("AWS_DEFAULT_REGION", "ap-south-1")]), endpoint, http());
        assert_eq!(config.region().map(Region::as_ref), Some("ap-south-1"));
    }

    #[test]
    fn without_an_override_nothing_is_made_up() {
        let config = environment_config(env(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")]), None, http());
        assert!(config.region().is_none());
        assert!(config.credentials_provider().is_none(), "a key id without its secret is no credential");
    }

    #[test]
    fn the_amazon_roots_are_five_parsable_certificates() {
        let certificates =
            CertificateDer::pem_slice_iter(AMAZON_ROOTS.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(certificates.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, refused) = store.add_parsable_certificates(certificates);
        assert_eq!((added, refused), (5, 0));
    }

    #[test]
    fn a_bundle_is_used_only_when_every_certificate_in_it_parses() {
        let dir = std::env::temp_dir().join(format!("darasa-ca-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.pem");
        std::fs::write(&good, AMAZON_ROOTS).unwrap();
        assert_eq!(read_bundle(&good).unwrap().len(), 5);
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        assert!(read_bundle(&empty).is_err());
        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        assert!(read_bundle(&broken).is_err());
        assert!(read_bundle(&dir.join("absent.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_the_clients_trust_follows_the_endpoint_and_the_bundle() {
        assert!(roots(Some("http://127.0.0.1:8000"), None).is_empty(), "plain HTTP loads no store");
        assert_eq!(roots(None, None).len(), 5, "AWS: Amazon's roots");
        assert!(roots(Some("https://dynamodb.emulator.example"), None).len() > 100, "the Mozilla roots");
        let dir = std::env::temp_dir().join(format!("darasa-ca-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.pem");
        let first = AMAZON_ROOTS.split_inclusive("-----END CERTIFICATE-----\n").next().unwrap();
        std::fs::write(&one, first).unwrap();
        assert_eq!(roots(None, Some(one.clone())).len(), 1, "a bundle replaces Amazon's roots");
        assert_eq!(roots(Some("https://emulator.example"), Some(one)).len(), 1, "and the Mozilla roots");
        assert_eq!(roots(None, Some(dir.join("absent.pem"))).len(), 5, "an unusable bundle is ignored");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
