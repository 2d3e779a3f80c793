//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`), signed with the client's
//! access-token algorithm (RS256 by default).

use serde::{Deserialize, Serialize};

use crate::crypto::random_token;
use crate::keys::{Alg, Error, KeySet};

/// Claims of an access token (RFC 9068 §2.2).
///
/// Units: `iat`, `exp`, `auth_time` are NumericDate (Unix seconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's `sub`, or the client_id for client credentials (RFC 9068 §2.2).
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
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The grant (code redemption and its refresh-token family) this token belongs to: revoking
    /// the grant revokes the token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grant_id: Option<String>,
}

/// What an access token is minted for.
#[derive(Debug)]
pub struct AccessTokenInput<'a> {
    /// Issuer (also the audience).
    pub issuer: &'a str,
    /// Client identifier.
    pub client_id: &'a str,
    /// Subject.
    pub sub: &'a str,
    /// Scopes, space-delimited.
    pub scope: &'a str,
    /// When the user authenticated (none for client credentials).
    pub auth_time: Option<i64>,
    /// The grant it belongs to (none for client credentials).
    pub grant_id: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
    /// Signing algorithm.
    pub alg: Alg,
}

/// Signs a new access token; returns the JWT and its claims.
///
/// Errors: no key for the algorithm, or a signing failure.
pub fn mint(
    keys: &KeySet,
    input: AccessTokenInput<'_>,
) -> Result<(String, AccessTokenClaims), Error> {
    let claims = AccessTokenClaims {
        iss: input.issuer.to_owned(),
        sub: input.sub.to_owned(),
        aud: input.issuer.to_owned(),
        client_id: input.client_id.to_owned(),
        scope: input.scope.to_owned(),
        iat: input.now,
        exp: input.now.saturating_add(input.ttl_secs),
        jti: random_token(16).map_err(|_| Error::Sign)?,
        auth_time: input.auth_time,
        grant_id: input.grant_id.map(str::to_owned),
    };
    let jwt = keys.sign(input.alg, "at+jwt", &claims, input.now)?;
    Ok((jwt, claims))
}

/// Why a presented access token is not accepted.
#[derive(Debug)]
pub enum Rejected {
    /// Not ours, tampered, expired, revoked, or of the wrong kind: the reason is for logs only.
    Invalid(&'static str),
    /// The deny-list could not be read.
    Store(crate::store::Error),
}

/// Checks an access token presented to us (userinfo, introspection, revocation): our signature
/// with the algorithm pinned to the key named by `kid` and `typ` `at+jwt` (RFC 9068 §4), our
/// issuer and audience, not expired by our clock, and neither its `jti` nor its grant revoked.
///
/// Errors: [`Rejected::Invalid`] for any failed check; [`Rejected::Store`] when the deny-list
/// cannot be read.
pub async fn validate(
    state: &crate::app::AppState,
    token: &str,
) -> Result<AccessTokenClaims, Rejected> {
    let claims = verify(state, token).map_err(Rejected::Invalid)?;
    let denied = state
        .store
        .is_denied(&claims.jti, claims.grant_id.as_deref())
        .await
        .map_err(Rejected::Store)?;
    if denied {
        return Err(Rejected::Invalid("revoked"));
    }
    Ok(claims)
}

/// The checks of [`validate`] that need no database: signature, `kid`/`alg`, `typ`, issuer,
/// audience and expiry. The caller must still consult the deny-list.
///
/// Errors: which check failed, for logs only.
pub fn verify(
    state: &crate::app::AppState,
    token: &str,
) -> Result<AccessTokenClaims, &'static str> {
    let claims: AccessTokenClaims = state
        .published()
        .keys
        .verify(token, "at+jwt")
        .map_err(|_| "signature, kid, alg or typ")?;
    let issuer = state.issuer.as_str();
    if claims.iss != issuer || claims.aud != issuer {
        return Err("issuer or audience");
    }
    if claims.exp <= state.clock.now() {
        return Err("expired");
    }
    Ok(claims)
}
