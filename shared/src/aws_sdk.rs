//! The AWS SDK's configuration, shared by every AWS client (DynamoDB, Secrets Manager).
//!
//! Requests go out through reqwest (`connector`), which every function links anyway, instead of
//! the SDK's own HTTPS client. Against AWS itself it trusts Amazon Trust Services' roots only
//! (`aws_sdk/amazon-roots.pem`): every AWS endpoint's certificate chains to one of them, and
//! parsing the whole system store (about 150 certificates, several milliseconds of CPU), as the
//! SDK's default client does, would cost every cold start. `AWS_CA_BUNDLE` (the AWS SDKs'
//! variable) replaces them with a bundle of the operator's; an HTTPS endpoint override (an
//! emulator behind TLS) is trusted by the bundled Mozilla roots unless such a bundle is given.

mod connector;

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub use connector::ReqwestHttpClient;

/// Amazon Root CA 1-4 and Starfield Services Root G2, in PEM.
const AMAZON_ROOTS: &str = include_str!("aws_sdk/amazon-roots.pem");

/// The configuration for one client. `endpoint` overrides AWS's (DynamoDB Local): dummy
/// credentials and `us-east-1` then fill in whatever the environment lacks, so tests and the local
/// host need no AWS setup and the SDK never probes instance metadata (a non-loopback address).
pub async fn config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        loader = loader.endpoint_url(endpoint).region(Region::new(region));
        if !environment_has_credentials() {
            loader =
                loader.credentials_provider(Credentials::new("local", "local", None, None, "darasa-local"));
        }
    }
    let roots = roots(endpoint, std::env::var_os("AWS_CA_BUNDLE").map(PathBuf::from));
    loader.http_client(ReqwestHttpClient::new(roots)).load().await
}

/// What the AWS clients trust. A plain-HTTP endpoint (DynamoDB Local) needs no certificate;
/// otherwise the bundle `AWS_CA_BUNDLE` names (the AWS SDKs' and CLI's variable; e.g. a proxy that
/// re-signs TLS); else, for AWS itself, Amazon's roots, and for someone else's HTTPS endpoint the
/// Mozilla roots reqwest bundles. A bundle that cannot be read or holds no certificate is reported
/// and ignored.
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

fn environment_has_credentials() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
