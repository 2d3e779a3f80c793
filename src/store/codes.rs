//! Authorization codes (RFC 6749 §4.1.2): stored as SHA-256, single use, short-lived.

use super::{Result, Store, absent_as_empty};
use crate::crypto::TokenHash;

/// A code as stored, returned once by [`Store::consume_code`].
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuthorizationCodeRow {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The user who authorized it.
    pub sub: String,
    /// The redirect_uri of the authorization request (RFC 6749 §4.1.3: must match at the token endpoint).
    pub redirect_uri: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// The authorization request's nonce, echoed in the ID token (OIDC Core §3.1.3.6).
    pub nonce: Option<String>,
    /// The RFC 7636 S256 code_challenge, if one was sent.
    pub code_challenge: Option<String>,
    /// Claims requested for the ID token (space-delimited names, OIDC Core §5.5).
    pub id_token_claims: String,
    /// When the user authenticated (Unix seconds).
    pub auth_time: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, set when redeemed.
    pub consumed_at: Option<i64>,
    /// The grant the redemption started (set at redemption).
    pub grant_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The user's security stamp when the code was issued (see `User::is_current`).
    pub security_stamp: i64,
}

/// The columns of [`AuthorizationCodeRow`].
const CODE_COLUMNS: &str = "code_hash, client_id, sub, redirect_uri, scope, nonce, \
     code_challenge, id_token_claims, auth_time, expires_at, consumed_at, grant_id, created_at, \
     security_stamp";

/// What is stored when a code is issued.
#[derive(Debug)]
pub struct NewAuthorizationCode<'a> {
    /// SHA-256 (hex) of the code.
    pub code_hash: &'a TokenHash,
    /// Client identifier.
    pub client_id: &'a str,
    /// Subject identifier.
    pub sub: &'a str,
    /// Exact redirect_uri of the request.
    pub redirect_uri: &'a str,
    /// Granted scopes, space-delimited.
    pub scope: &'a str,
    /// Nonce, if sent.
    pub nonce: Option<&'a str>,
    /// PKCE S256 challenge, if sent.
    pub code_challenge: Option<&'a str>,
    /// Claims requested for the ID token, space-delimited.
    pub id_token_claims: &'a str,
    /// Unix seconds.
    pub auth_time: i64,
    /// The security stamp of the browser session the code comes from.
    pub security_stamp: i64,
    /// Unix seconds.
    pub now: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What a redemption presents (see [`Store::consume_code`]).
#[derive(Debug)]
pub struct ConsumeCode<'a> {
    /// SHA-256 (hex) of the presented code.
    pub code_hash: &'a TokenHash,
    /// The authenticated client.
    pub client_id: &'a str,
    /// The redirect_uri presented at the token endpoint.
    pub redirect_uri: &'a str,
    /// BASE64URL(SHA256(code_verifier)), or `None` without a verifier.
    pub code_challenge: Option<&'a str>,
    /// The grant this redemption starts.
    pub grant_id: &'a str,
    /// Unix seconds.
    pub now: i64,
}

impl Store {
    /// Stores a freshly issued code.
    pub async fn insert_code(&self, c: NewAuthorizationCode<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO authorization_codes \
             (code_hash, client_id, sub, redirect_uri, scope, nonce, code_challenge, auth_time, \
              expires_at, created_at, id_token_claims, security_stamp) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(c.code_hash.as_str())
        .bind(c.client_id)
        .bind(c.sub)
        .bind(c.redirect_uri)
        .bind(c.scope)
        .bind(c.nonce)
        .bind(c.code_challenge)
        .bind(c.auth_time)
        .bind(c.expires_at)
        .bind(c.now)
        .bind(c.id_token_claims)
        .bind(c.security_stamp)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Atomically marks the code consumed by the new grant and returns it — only if every
    /// binding holds: it exists, belongs to `client_id`, has not expired, was not consumed, was
    /// issued for `redirect_uri`, and its PKCE challenge equals `code_challenge` (the S256 of the
    /// presented verifier, or `None` when none was sent and none was required). A request that
    /// fails a check therefore cannot burn the code of the rightful client. Under any number of
    /// concurrent calls for one code, at most one gets `Some`.
    pub async fn consume_code(&self, c: ConsumeCode<'_>) -> Result<Option<AuthorizationCodeRow>> {
        Ok(sqlx::query_as::<_, AuthorizationCodeRow>(&format!(
            "UPDATE authorization_codes SET consumed_at = $3, grant_id = $4 \
             WHERE code_hash = $1 AND client_id = $2 AND consumed_at IS NULL AND expires_at > $3 \
               AND redirect_uri = $5 \
               AND ((code_challenge IS NULL AND $6 = '') OR code_challenge = $6) \
             RETURNING {CODE_COLUMNS}"
        ))
        .bind(c.code_hash.as_str())
        .bind(c.client_id)
        .bind(c.now)
        .bind(c.grant_id)
        .bind(c.redirect_uri)
        // The challenge is public (it travelled in the front channel): a plain SQL comparison
        // leaks nothing a timing attack could use.
        .bind(absent_as_empty(c.code_challenge))
        .fetch_optional(self.pool())
        .await?)
    }

    /// A code by hash, whatever its state (to explain a failed redemption).
    pub async fn find_code(&self, code_hash: &TokenHash) -> Result<Option<AuthorizationCodeRow>> {
        Ok(sqlx::query_as::<_, AuthorizationCodeRow>(&format!(
            "SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_hash = $1"
        ))
        .bind(code_hash.as_str())
        .fetch_optional(self.pool())
        .await?)
    }
}
