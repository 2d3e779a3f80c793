//! ID tokens (OIDC Core §2, §3.1.3.6, §12.2).

use serde::Serialize;

use crate::crypto::{b64url, sha256};
use crate::keys::{Alg, Error, KeySet};

/// Claims of an ID token (OIDC Core §2).
///
/// Units: `iat`, `exp`, `auth_time` are NumericDate (Unix seconds).
#[derive(Clone, Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    /// Issuer, exactly as in discovery.
    pub iss: &'a str,
    /// Subject identifier.
    pub sub: &'a str,
    /// Audience: the client_id.
    pub aud: &'a str,
    /// Expires at.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user authenticated (always sent, so `max_age` can be checked by the RP).
    pub auth_time: i64,
    /// The authorization request's nonce, verbatim (§3.1.3.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    /// Left half of SHA-256 of the access token, base64url (§3.1.3.6 for RS256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Authorized party: the client_id.
    pub azp: &'a str,
    /// User claims the client asked for in the ID token (OIDC Core §5.5), within its scopes.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of the access token,
/// where the hash is the one of the ID token's `alg`. RS256 and ES256 use SHA-256; for EdDSA
/// with Ed25519 the OpenID Foundation's errata settle on SHA-512.
pub fn at_hash(access_token: &str, alg: Alg) -> String {
    let digest = match alg {
        Alg::RS256 | Alg::ES256 => sha256(access_token.as_bytes()),
        Alg::EdDSA => {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access_token.as_bytes())
                .as_ref()
                .to_vec()
        }
    };
    b64url(&digest[..digest.len() / 2])
}

/// What an ID token is minted from.
pub struct IdTokenInput<'a> {
    /// Issuer.
    pub issuer: &'a str,
    /// Client identifier (aud and azp).
    pub client_id: &'a str,
    /// Subject identifier.
    pub sub: &'a str,
    /// Unix seconds.
    pub auth_time: i64,
    /// Nonce from the authorization request (absent on refresh, §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for at_hash.
    pub access_token: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
    /// Signing algorithm (the client's `id_token_signed_response_alg`).
    pub alg: Alg,
    /// Requested user claims (name, email, …).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for IdTokenInput<'_> {
    /// The access token (hashed into at_hash) is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenInput")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("sub", &self.sub)
            .field("auth_time", &self.auth_time)
            .field("nonce", &self.nonce)
            .field("access_token", &self.access_token.map(|_| "***"))
            .field("now", &self.now)
            .field("ttl_secs", &self.ttl_secs)
            .field("alg", &self.alg)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Signs a new ID token (`typ: JWT`).
pub fn mint(keys: &KeySet, input: IdTokenInput<'_>) -> Result<String, Error> {
    let claims = IdTokenClaims {
        iss: input.issuer,
        sub: input.sub,
        aud: input.client_id,
        exp: input.now.saturating_add(input.ttl_secs),
        iat: input.now,
        auth_time: input.auth_time,
        nonce: input.nonce,
        at_hash: input.access_token.map(|t| at_hash(t, input.alg)),
        azp: input.client_id,
        extra: input.extra,
    };
    keys.sign(input.alg, "JWT", &claims, input.now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_left_half_of_the_alg_hash() {
        // OIDC Core §A.3-style check: 16 bytes of SHA-256, or 32 bytes of SHA-512 for Ed25519.
        let t = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(t, Alg::RS256).len(), 22);
        assert_eq!(at_hash(t, Alg::ES256), at_hash(t, Alg::RS256));
        assert_eq!(at_hash(t, Alg::EdDSA).len(), 43);
    }
}
