//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): stored as SHA-256, rotated on every use; a
//! rotated token presented again revokes its whole family.

use super::{Result, Store};
use crate::crypto::TokenHash;

/// A refresh token as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshTokenRow {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// Shared by every rotation of one grant.
    pub family_id: String,
    /// The code that started the family.
    pub code_hash: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub sub: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// Claims requested for ID tokens, space-delimited.
    pub id_token_claims: String,
    /// When the user authenticated (Unix seconds), kept for refreshed ID tokens (OIDC Core §12.2).
    pub auth_time: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds: no token of the family lives past it.
    pub family_expires_at: i64,
    /// Unix seconds, set when this token was exchanged for its successor.
    pub rotated_at: Option<i64>,
    /// Unix seconds, set when revoked.
    pub revoked_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// The user's security stamp when the grant began (see `User::is_current`).
    pub security_stamp: i64,
}

/// The columns of [`RefreshTokenRow`].
const REFRESH_TOKEN_COLUMNS: &str = "token_hash, family_id, code_hash, client_id, sub, scope, \
     id_token_claims, auth_time, expires_at, family_expires_at, rotated_at, revoked_at, \
     created_at, security_stamp";

/// What is stored when a refresh token is issued.
#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    /// SHA-256 (hex) of the token.
    pub token_hash: &'a TokenHash,
    /// Family identifier.
    pub family_id: &'a str,
    /// The code that started the family, if any.
    pub code_hash: Option<&'a TokenHash>,
    /// Client identifier.
    pub client_id: &'a str,
    /// Subject identifier.
    pub sub: &'a str,
    /// Scopes, space-delimited.
    pub scope: &'a str,
    /// Claims requested for ID tokens, space-delimited.
    pub id_token_claims: &'a str,
    /// Unix seconds.
    pub auth_time: i64,
    /// The user's security stamp the grant was made under.
    pub security_stamp: i64,
    /// Unix seconds.
    pub now: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub family_expires_at: i64,
}

/// The result of presenting a refresh token.
#[derive(Debug)]
pub enum RotateOutcome {
    /// The token was live and is now rotated; here is what it carried.
    Rotated(Box<RefreshTokenRow>),
    /// The token had already been rotated or revoked (theft, RFC 9700 §4.14.2): here is its
    /// family, whose refresh tokens are now revoked.
    Reused(String),
    /// Unknown, expired, or issued to another client.
    Invalid,
}

/// Revokes every refresh token of the family `family_id` at `now`, on `conn` (a pool, or a
/// transaction's connection).
pub(super) async fn revoke_family_on<'c, E>(conn: E, family_id: &str, now: i64) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Stores a freshly issued refresh token.
    pub async fn insert_refresh_token(&self, t: NewRefreshToken<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens \
             (token_hash, family_id, code_hash, client_id, sub, scope, auth_time, expires_at, \
              family_expires_at, created_at, id_token_claims, security_stamp) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(t.token_hash.as_str())
        .bind(t.family_id)
        .bind(t.code_hash.map(TokenHash::as_str))
        .bind(t.client_id)
        .bind(t.sub)
        .bind(t.scope)
        .bind(t.auth_time)
        .bind(t.expires_at.min(t.family_expires_at))
        .bind(t.family_expires_at)
        .bind(t.now)
        .bind(t.id_token_claims)
        .bind(t.security_stamp)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Atomically rotates a live refresh token of `client_id`. A token that was already rotated
    /// or revoked is treated as stolen (RFC 9700 §4.14.2): its family is revoked.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<RotateOutcome> {
        let rotated = sqlx::query_as::<_, RefreshTokenRow>(&format!(
            "UPDATE refresh_tokens SET rotated_at = $3 \
             WHERE token_hash = $1 AND client_id = $2 AND rotated_at IS NULL \
               AND revoked_at IS NULL AND expires_at > $3 \
             RETURNING {REFRESH_TOKEN_COLUMNS}"
        ))
        .bind(token_hash.as_str())
        .bind(client_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = rotated {
            return Ok(RotateOutcome::Rotated(Box::new(row)));
        }
        let used: Option<(String,)> = sqlx::query_as(
            "SELECT family_id FROM refresh_tokens \
             WHERE token_hash = $1 AND client_id = $2 AND (rotated_at IS NOT NULL OR revoked_at IS NOT NULL)",
        )
        .bind(token_hash.as_str())
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        match used {
            Some((family_id,)) => {
                self.revoke_refresh_family(&family_id, now).await?;
                Ok(RotateOutcome::Reused(family_id))
            }
            None => Ok(RotateOutcome::Invalid),
        }
    }

    /// The scope of a refresh token of `client_id`, if it exists (live or not).
    pub async fn refresh_token_scope(
        &self,
        token_hash: &TokenHash,
        client_id: &str,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT scope FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2",
        )
        .bind(token_hash.as_str())
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Revokes every refresh token of a family.
    pub async fn revoke_refresh_family(&self, family_id: &str, now: i64) -> Result<()> {
        revoke_family_on(self.pool(), family_id, now).await
    }

    /// A refresh token by hash, whatever its state.
    pub async fn find_refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRow>> {
        Ok(sqlx::query_as::<_, RefreshTokenRow>(&format!(
            "SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash.as_str())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Deletes what can no longer matter: expired codes, refresh tokens, deny-list entries,
    /// sessions and login failure counters.
    /// Safe to run on several nodes at once (plain conditional deletes). Returns rows deleted.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        for sql in [
            // Codes stay a day past expiry so a late replay still revokes what they produced.
            "DELETE FROM authorization_codes WHERE expires_at < $1 - 86400",
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            "DELETE FROM revocations WHERE expires_at < $1",
            "DELETE FROM sessions WHERE expiry_date < $1",
            // A failure counter past its clear_at no longer limits anything.
            "DELETE FROM login_failures WHERE clear_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(now)
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(n)
    }
}
