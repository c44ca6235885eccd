//! Tokens already verified, so a warm request with the same session token skips the RSA check.
//! Clerk's browser SDK sends the same token for about a minute, so most requests repeat one.
//!
//! An entry is found only by the SHA-256 of the issuer and the whole token (header, claims and
//! signature): a token differing in any byte, a tampered one included, misses and goes through
//! full verification. An entry answers only before the token's `exp` (never in the clock-skew
//! grace after it, which full verification still grants), and only while the key that verified
//! it is still the key the verifier holds for that `kid`. The map is bounded; when full, expired
//! entries go first, then the ones expiring soonest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use jsonwebtoken::DecodingKey;

use super::Session;

/// Entries per process: a Lambda instance sees few users; the local host more. About 200 bytes
/// each, so well under a megabyte when full.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;

pub(crate) type TokenHash = [u8; 32];

pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<TokenHash, Entry>>,
    hits: AtomicU64,
}

struct Entry {
    session: Session,
    /// The token's `exp` (seconds); the entry answers only while `now < exp`.
    exp: f64,
    /// The key that checked the signature; a refreshed or rotated key invalidates the entry.
    key: Arc<DecodingKey>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, entries: RwLock::new(HashMap::new()), hits: AtomicU64::new(0) }
    }

    /// The cache key: SHA-256 over the issuer, a separator and the token.
    pub(crate) fn hash(issuer: &str, token: &str) -> TokenHash {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        context.update(issuer.as_bytes());
        context.update(&[0]);
        context.update(token.as_bytes());
        let mut hash = [0; 32];
        hash.copy_from_slice(context.finish().as_ref());
        hash
    }

    /// The session verified for this hash, if it has not expired at `now` and `key` (the key the
    /// verifier holds now for the token's `kid`) is the one that verified it.
    pub(crate) fn get(&self, hash: &TokenHash, now: i64, key: &Arc<DecodingKey>) -> Option<Session> {
        let entries = self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(hash)?;
        if (now as f64) >= entry.exp || !Arc::ptr_eq(&entry.key, key) {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry.session.clone())
    }

    pub(crate) fn insert(
        &self,
        hash: TokenHash,
        session: Session,
        exp: f64,
        key: Arc<DecodingKey>,
        now: i64,
    ) {
        if self.capacity == 0 || (now as f64) >= exp {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            entries.retain(|_, entry| (now as f64) < entry.exp);
            // Still full of live tokens: drop the tenth expiring soonest, so this sort is paid
            // once per many inserts rather than on each.
            if entries.len() >= self.capacity {
                let mut by_expiry: Vec<(f64, TokenHash)> =
                    entries.iter().map(|(hash, entry)| (entry.exp, *hash)).collect();
                by_expiry.sort_by(|a, b| a.0.total_cmp(&b.0));
                let evict = (self.capacity / 10).max(1);
                for (_, hash) in by_expiry.into_iter().take(evict) {
                    entries.remove(&hash);
                }
            }
        }
        entries.insert(hash, Entry { session, exp, key });
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::Features;

    fn session(user: &str) -> Session {
        Session { user_id: user.into(), session_id: None, features: Features::from_claim("") }
    }

    fn key() -> Arc<DecodingKey> {
        Arc::new(DecodingKey::from_rsa_raw_components(&[1], &[1]))
    }

    #[test]
    fn hash_depends_on_issuer_and_every_byte() {
        let a = TokenCache::hash("https://a.example", "h.p.s");
        assert_ne!(a, TokenCache::hash("https://b.example", "h.p.s"));
        assert_ne!(a, TokenCache::hash("https://a.example", "h.p.t"));
        // The separator keeps issuer and token apart.
        assert_ne!(TokenCache::hash("ab", "c"), TokenCache::hash("a", "bc"));
    }

    #[test]
    fn entry_answers_until_exp_and_never_after() {
        let cache = TokenCache::new(8);
        let key = key();
        let hash = TokenCache::hash("iss", "t");
        cache.insert(hash, session("u"), 100.0, key.clone(), 50);
        assert_eq!(cache.get(&hash, 99, &key).map(|s| s.user_id).as_deref(), Some("u"));
        assert!(cache.get(&hash, 100, &key).is_none());
        assert!(cache.get(&hash, 1_000, &key).is_none());
        // An already expired token is not stored at all.
        let late = TokenCache::hash("iss", "late");
        cache.insert(late, session("v"), 100.0, key.clone(), 100);
        assert!(cache.get(&late, 0, &key).is_none());
    }

    #[test]
    fn another_key_for_the_kid_misses() {
        let cache = TokenCache::new(8);
        let (old, new) = (key(), key());
        let hash = TokenCache::hash("iss", "t");
        cache.insert(hash, session("u"), 100.0, old.clone(), 0);
        assert!(cache.get(&hash, 1, &new).is_none());
        assert!(cache.get(&hash, 1, &old).is_some());
    }

    #[test]
    fn bounded_expired_first_then_soonest_to_expire() {
        let cache = TokenCache::new(10);
        let key = key();
        let hash = |name: &str| TokenCache::hash("iss", name);
        for n in 0..10 {
            cache.insert(hash(&format!("t{n}")), session("u"), 100.0 + n as f64, key.clone(), 0);
        }
        assert_eq!(cache.len(), 10);
        // Full at 102: t0..t2 (exp 100..102) have expired and go; no live entry does.
        cache.insert(hash("new"), session("u"), 500.0, key.clone(), 102);
        assert_eq!(cache.len(), 8);
        assert!(cache.get(&hash("t3"), 102, &key).is_some());
        // Full of live tokens: those expiring soonest go first, and the bound always holds.
        for n in 0..100 {
            cache.insert(hash(&format!("more{n}")), session("u"), 900.0, key.clone(), 102);
            assert!(cache.len() <= 10);
        }
        assert!(cache.get(&hash("t9"), 102, &key).is_none());
        assert!(cache.get(&hash("new"), 102, &key).is_none(), "exp 500 goes before exp 900");
        assert!(cache.get(&hash("more99"), 102, &key).is_some());
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let cache = TokenCache::new(0);
        let key = key();
        cache.insert(TokenCache::hash("iss", "t"), session("u"), 100.0, key.clone(), 0);
        assert_eq!(cache.len(), 0);
    }
}
