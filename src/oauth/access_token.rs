//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`), signed with the client's
//! access-token algorithm (RS256 by default).

use serde::{Deserialize, Serialize};

use super::types::Scope;
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
    /// Granted scopes (a space-delimited string in the JWT).
    pub scope: Scope,
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
    /// The user's security stamp when the grant was made (a private claim, RFC 7519 §4.3):
    /// once a password change or disable moves the user's stamp on, the token is dead at
    /// userinfo and introspection (issue 11 §2). Absent when 0, and for client credentials.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub security_stamp: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
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
    /// The user's security stamp the grant was made under (0 for client credentials).
    pub security_stamp: i64,
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
        scope: Scope::parse(input.scope),
        iat: input.now,
        exp: input.now.saturating_add(input.ttl_secs),
        jti: random_token(16).map_err(|_| Error::Sign)?,
        auth_time: input.auth_time,
        grant_id: input.grant_id.map(str::to_owned),
        security_stamp: input.security_stamp,
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

/// Checks an access token presented to us (introspection, revocation): our signature with the
/// algorithm pinned to the key named by `kid` and `typ` `at+jwt` (RFC 9068 §4), our issuer and
/// audience, not expired by our clock, neither its `jti` nor its grant revoked, and — for a
/// token issued to a user, whatever the grant — the user still current: not removed, not
/// disabled, security stamp unchanged (`Store::find_user_for_token`, the query userinfo uses).
///
/// Errors: [`Rejected::Invalid`] for any failed check; [`Rejected::Store`] when the database
/// cannot be read.
pub async fn validate(
    state: &crate::app::AppState,
    token: &str,
) -> Result<AccessTokenClaims, Rejected> {
    let claims = verify(state, token).map_err(Rejected::Invalid)?;
    let live = match claims.grant_id.as_deref() {
        // Every user grant (code, refresh, password) names its grant; client credentials do not.
        Some(grant_id) => state
            .store
            .find_user_for_token(
                &claims.sub,
                claims.security_stamp,
                &claims.jti,
                Some(grant_id),
            )
            .await
            .map_err(Rejected::Store)?
            .is_some(),
        None => !state
            .store
            .is_denied(&claims.jti, None)
            .await
            .map_err(Rejected::Store)?,
    };
    if !live {
        return Err(Rejected::Invalid("revoked, or the user changed"));
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
