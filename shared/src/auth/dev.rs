//! The local development issuer: `darasa-local` signs its own Clerk-shaped session tokens with a
//! key kept in its data dir, so everything downstream runs the production verification path.
//! Production never trusts this key (its issuer and key source come from Clerk's config).

use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::{AuthConfig, AuthError, KeySource};

/// File name of the signing key inside the data dir.
pub const KEY_FILE: &str = "dev-signing-key.pem";

/// Clerk's default RSA size; smaller keys would make tests faster but less like production.
const KEY_BITS: usize = 2048;

pub struct DevIssuer {
    issuer: String,
    private_key: RsaPrivateKey,
    encoding_key: EncodingKey,
    public_pem: String,
}

impl std::fmt::Debug for DevIssuer {
    // Hand-written: the private key must never be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// The `kid` of every token and JWK this issuer produces.
    pub const KID: &'static str = "darasa-dev";

    /// A fresh 2048-bit key (takes a moment; tests should cache it).
    pub fn generate(issuer: impl Into<String>) -> Result<Self, AuthError> {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
            .map_err(|error| AuthError::KeyConfig(format!("generating the dev key: {error}")))?;
        Self::from_key(key, issuer.into())
    }

    /// Reads `dir/dev-signing-key.pem`, creating it (and `dir`) on first use so tokens minted by
    /// `darasa-local token` stay valid across restarts.
    pub fn load_or_create(dir: &Path, issuer: impl Into<String>) -> io::Result<Self> {
        let issuer = issuer.into();
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => {
                return Self::from_private_pem(&pem, issuer).map_err(|error| invalid_data(&path, error));
            }
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            Err(_) => {}
        }
        std::fs::create_dir_all(dir)?;
        let created = Self::generate(issuer.clone()).map_err(io::Error::other)?;
        let pem = created.private_key.to_pkcs8_pem(LineEnding::LF).map_err(io::Error::other)?;
        // Write aside, then link into place: a reader never sees half a key, and if another
        // process (the server and `token` started together) won the race, its key is the one.
        let temp = dir.join(format!("{KEY_FILE}.{}.tmp", std::process::id()));
        write_private(&temp, pem.as_bytes())?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(created),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                let pem = std::fs::read_to_string(&path)?;
                Self::from_private_pem(&pem, issuer).map_err(|error| invalid_data(&path, error))
            }
            Err(error) => Err(error),
        }
    }

    /// From a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM.
    pub fn from_private_pem(pem: &str, issuer: impl Into<String>) -> Result<Self, AuthError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| AuthError::KeyConfig("the dev key is not an RSA private key PEM".into()))?;
        Self::from_key(key, issuer.into())
    }

    fn from_key(private_key: RsaPrivateKey, issuer: String) -> Result<Self, AuthError> {
        let der = private_key
            .to_pkcs1_der()
            .map_err(|error| AuthError::KeyConfig(format!("encoding the dev key: {error}")))?;
        let encoding_key = EncodingKey::from_rsa_der(der.as_bytes());
        let public_pem = private_key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| AuthError::KeyConfig(format!("encoding the dev public key: {error}")))?;
        Ok(Self { issuer, private_key, encoding_key, public_pem })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// SPKI PEM, usable as [`KeySource::Pem`].
    pub fn public_pem(&self) -> String {
        self.public_pem.clone()
    }

    /// The JWKS the local host publishes, in Clerk's shape.
    pub fn jwks(&self) -> Value {
        let public = self.private_key.to_public_key();
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": Self::KID,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]})
    }

    /// The signing key, for tests that need tokens with hand-made headers or claims.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding_key
    }

    /// A Clerk v2-shaped session token for `user_id`, valid from `now` for `lifetime_seconds`.
    /// `features` are slugs (`5_questions`) and become user-scoped `fea` entries
    /// (`u:5_questions`); an entry that already has a scope (`o:team`) is kept as is.
    ///
    /// Returns a `String` rather than a `Result`: signing can only fail for a key the
    /// constructor would have rejected or for unserializable claims, and these are plain JSON.
    pub fn mint(&self, user_id: &str, features: &[&str], lifetime_seconds: i64, now: i64) -> String {
        let mut claims = json!({
            "iss": self.issuer,
            "sub": user_id,
            "sid": format!("sess_dev_{:016x}", rand::random::<u64>()),
            "jti": format!("{:016x}", rand::random::<u64>()),
            "iat": now,
            // Clerk backdates nbf by a few seconds for clock skew; so do we.
            "nbf": now - 10,
            "exp": now.saturating_add(lifetime_seconds),
            "v": 2,
        });
        let fea: Vec<String> = features
            .iter()
            .map(|slug| slug.trim())
            .filter(|slug| !slug.is_empty())
            .map(|slug| if slug.contains(':') { slug.to_owned() } else { format!("u:{slug}") })
            .collect();
        if !fea.is_empty() {
            claims["fea"] = Value::String(fea.join(","));
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(Self::KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.encoding_key)
            .expect("RS256 signing with a key validated at construction cannot fail")
    }

    /// Issuer plus this key as a PEM: no JWKS round trip, no authorized parties.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            issuer: self.issuer.clone(),
            keys: KeySource::Pem(self.public_pem()),
            authorized_parties: Vec::new(),
        }
    }
}

fn invalid_data(path: &Path, error: AuthError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {error}", path.display()))
}

/// Creates `path` readable by the owner only (it is a signing key).
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::{Clock, Verifier};

    struct Fixed(i64);
    impl Clock for Fixed {
        fn now_ms(&self) -> i64 {
            self.0 * 1000
        }
    }

    #[tokio::test]
    async fn load_or_create_keeps_one_key_and_mints_verifiable_tokens() {
        let dir = std::env::temp_dir().join(format!("darasa-dev-issuer-{}", rand::random::<u64>()));
        let first = DevIssuer::load_or_create(&dir, "http://localhost:3000").unwrap();
        let again = DevIssuer::load_or_create(&dir, "http://localhost:3000").unwrap();
        assert_eq!(first.public_pem(), again.public_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temp file left behind");

        let now = 1_767_225_600;
        let token = first.mint("user_dev", &["5_questions", "o:team"], 60, now);
        let verifier = Verifier::new(
            again.auth_config(),
            crate::http_client::builder().build().unwrap(),
            Arc::new(Fixed(now)),
        )
        .unwrap();
        let session = verifier.verify(&token).await.unwrap();
        assert_eq!(session.user_id, "user_dev");
        assert!(session.features.has("5_questions") && session.features.has("team"));
        assert!(session.session_id.is_some_and(|sid| sid.starts_with("sess_")));

        let jwk = &first.jwks()["keys"][0];
        assert_eq!(jwk["kid"], DevIssuer::KID);
        assert_eq!(jwk["e"], "AQAB");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
