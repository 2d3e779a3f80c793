//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`), signed with our active key.

use serde::{Deserialize, Serialize};

use crate::crypto::random_token;
use crate::keys::{Error, KeySet};

/// Claims of an access token (RFC 9068 §2.2).
///
/// Units: `iat`, `exp`, `auth_time` are NumericDate (Unix seconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's `sub`.
    pub sub: String,
    /// Audience: the resource the token is for; our own issuer (userinfo) by default (§3).
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// Issued at.
    pub iat: i64,
    /// Expires at, computed from `iat` for this token.
    pub exp: i64,
    /// Unique token id (a deny-list key when revoked).
    pub jti: String,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// Signs a new access token; returns the JWT.
#[allow(clippy::too_many_arguments)]
pub fn mint(
    keys: &KeySet,
    issuer: &str,
    client_id: &str,
    sub: &str,
    scope: &str,
    auth_time: Option<i64>,
    now: i64,
    ttl_secs: i64,
) -> Result<String, Error> {
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: sub.to_owned(),
        aud: issuer.to_owned(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        iat: now,
        exp: now.saturating_add(ttl_secs),
        jti: random_token(16).map_err(|_| Error::Sign)?,
        auth_time,
    };
    keys.active().sign("at+jwt", &claims)
}
