//! Small cryptographic helpers: random secrets, SHA-256 digests, constant-time comparison.
//!
//! Codes, refresh tokens and client secrets are random values we generate ourselves (256 bits from
//! the OS RNG), so a fast hash is enough to store them: there is nothing to brute-force.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Base64url (no padding) encoding, as JOSE uses (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random secret of `n_bytes` bytes from the OS RNG, base64url-encoded.
///
/// Errors: none in practice; if the OS RNG fails we abort the request rather than issue a weak value.
pub fn random_token(n_bytes: usize) -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut buf = vec![0u8; n_bytes];
    SystemRandom::new().fill(&mut buf)?;
    Ok(b64url(&buf))
}

/// A fresh random identifier of `n_bytes` bytes from the OS RNG, lowercase hex.
///
/// For values people type or paste as command-line arguments (`client_id`, `sub`): unlike base64url,
/// hex never starts with `-`, which a CLI parser would take for a flag.
pub fn random_identifier(n_bytes: usize) -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut buf = vec![0u8; n_bytes];
    SystemRandom::new().fill(&mut buf)?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `input`, as raw bytes.
pub fn sha256(input: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, input).as_ref().to_vec()
}

/// SHA-256 of `input`, hex-encoded: the form in which codes, refresh tokens and client secrets are
/// stored and looked up.
pub fn sha256_hex(input: &str) -> String {
    hex(&sha256(input.as_bytes()))
}

/// Constant-time equality of two byte strings (length may leak, content does not).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The SHA-256 (lower-case hex) of a secret we issued: what the store keeps and looks up by.
///
/// Store functions take this type rather than `&str` for secrets, so a raw code, token or
/// secret cannot be bound into SQL by mistake. Made only by hashing (the secret newtypes'
/// `hash()` in `oauth::types`) or from a value read back from the database. Our secrets are
/// 256-bit random values, so a fast hash suffices (see the module doc).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of `secret`.
    pub fn of(secret: &str) -> Self {
        Self(sha256_hex(secret))
    }

    /// A hash as stored in the database (already hex).
    pub fn from_stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    /// The hex digest, for binding into SQL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a stored hex digest.
    pub fn ct_eq(&self, stored: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), stored.as_bytes())
    }
}

impl std::fmt::Debug for TokenHash {
    /// A prefix tells hashes apart in a log; the rest need not be spread.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn identifiers_are_hex_and_never_look_like_a_flag() {
        for _ in 0..256 {
            let id = random_identifier(16).expect("rng");
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token(32).expect("rng");
        let b = random_token(32).expect("rng");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
