//! The AWS SDK's configuration, shared by every AWS client (DynamoDB, Secrets Manager).
//!
//! Against AWS itself the HTTPS client trusts Amazon Trust Services' roots only
//! (`aws_sdk/amazon-roots.pem`): every AWS endpoint's certificate chains to one of them, and the
//! SDK's default instead reads and parses the whole system store (about 150 certificates, several
//! milliseconds of CPU) on every cold start, a cost that a 128 MB function's share of a CPU
//! multiplies. An endpoint override (DynamoDB Local, another emulator) or a CA bundle the operator
//! names with `SSL_CERT_FILE` or `SSL_CERT_DIR` keeps the system store, as the SDK's default does.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// Amazon Root CA 1-4 and Starfield Services Root G2, in PEM.
const AMAZON_ROOTS: &str = include_str!("aws_sdk/amazon-roots.pem");

/// The configuration for one client. `endpoint` overrides AWS's (DynamoDB Local): dummy
/// credentials and `us-east-1` then fill in whatever the environment lacks, so tests and the local
/// host need no AWS setup and the SDK never probes instance metadata (a non-loopback address).
pub async fn config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    match endpoint {
        Some(endpoint) => {
            let region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".to_owned());
            loader = loader.endpoint_url(endpoint).region(Region::new(region));
            if !environment_has_credentials() {
                loader = loader.credentials_provider(Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "darasa-local",
                ));
            }
        }
        None if !names_a_ca_bundle() => {
            loader = loader.http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                    .tls_context(amazon_trust())
                    .build_https(),
            );
        }
        None => {}
    }
    loader.load().await
}

/// A TLS context trusting Amazon Trust Services' roots and nothing else.
fn amazon_trust() -> TlsContext {
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS))
        .build()
        .unwrap_or_default()
}

/// Whether the operator points TLS at a CA bundle of their own (as for OpenSSL).
fn names_a_ca_bundle() -> bool {
    ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

fn environment_has_credentials() -> bool {
    ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_amazon_roots_are_five_parsable_certificates() {
        let certificates =
            CertificateDer::pem_slice_iter(AMAZON_ROOTS.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(certificates.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, refused) = store.add_parsable_certificates(certificates);
        assert_eq!((added, refused), (5, 0));
    }
}
