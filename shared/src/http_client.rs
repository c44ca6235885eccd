//! Outbound HTTP clients (Clerk's JWKS, the models, Hume, the local host's webhook sender): every
//! one is built here, on the TLS provider the rest of the process already uses. (The AWS clients'
//! HTTP is `aws_sdk::connector`, on the same provider, installed by the same function.)
//!
//! rustls is linked with aws-lc alone (the AWS SDK's TLS and jsonwebtoken's RS256 use it), and
//! reqwest is built without a provider of its own (it would bring `ring`, a second copy of the
//! same cryptography in every binary). reqwest then takes the process's default provider, which
//! `builder` installs first: building a reqwest client with none installed panics.

use std::sync::OnceLock;
use std::time::Duration;

/// A client builder with aws-lc installed as the process's TLS provider.
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// The one shared client (bounded timeouts), built once per process; a clone shares its pool.
pub fn shared() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// Installs aws-lc as rustls's process-wide provider, once. Another one installed first (a test
/// binary linking ring too) is kept: either serves.
pub(crate) fn install_tls_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_with_no_provider_of_its_own() {
        assert!(builder().build().is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
