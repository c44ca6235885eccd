//! The AWS SDK's configuration, shared by every AWS client (DynamoDB, Secrets Manager).
//!
//! Against AWS itself the HTTPS client trusts Amazon Trust Services' roots only
//! (`aws_sdk/amazon-roots.pem`): every AWS endpoint's certificate chains to one of them, and the
//! SDK's default instead reads and parses the whole system store (about 150 certificates, several
//! milliseconds of CPU) on every cold start, a cost that a 128 MB function's share of a CPU
//! multiplies. `AWS_CA_BUNDLE` (the AWS SDKs' variable) replaces them with a bundle of the
//! operator's; an HTTPS endpoint override (an emulator behind TLS) keeps the system store.

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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
    // An HTTPS endpoint of someone else's (an emulator behind TLS) may use any CA: the SDK's
    // default (the system store) serves it. AWS's endpoints need Amazon's roots only, and a
    // plain-HTTP endpoint no certificate at all.
    if endpoint.is_none_or(|endpoint| endpoint.starts_with("http://")) {
        loader = loader.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(trust(std::env::var_os("AWS_CA_BUNDLE").map(PathBuf::from)))
                .build_https(),
        );
    }
    loader.load().await
}

/// What the AWS clients trust: the bundle `AWS_CA_BUNDLE` names (the AWS SDKs' and CLI's
/// variable for it; e.g. a proxy that re-signs TLS), else Amazon's roots. A bundle that cannot be
/// read or holds no certificate is reported and Amazon's roots are used instead.
fn trust(bundle: Option<PathBuf>) -> TlsContext {
    let pem = match bundle {
        None => AMAZON_ROOTS.as_bytes().to_vec(),
        Some(path) => match read_bundle(&path) {
            Ok(pem) => pem,
            Err(reason) => {
                tracing::error!(path = %path.display(), reason, "AWS_CA_BUNDLE is unusable; trusting Amazon's roots");
                AMAZON_ROOTS.as_bytes().to_vec()
            }
        },
    };
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false).with_pem_certificate(pem))
        .build()
        .unwrap_or_default()
}

/// The bundle's PEM, once every certificate in it parses (the SDK would panic on a bad one).
fn read_bundle(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|error| error.to_string())?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| error.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|error| error.to_string())?;
    }
    if roots.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(pem)
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
        assert_eq!(read_bundle(&good).unwrap(), AMAZON_ROOTS.as_bytes());
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        assert!(read_bundle(&empty).is_err());
        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        assert!(read_bundle(&broken).is_err());
        assert!(read_bundle(&dir.join("absent.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
