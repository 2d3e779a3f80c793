//! The deny-list (`revocations`): ids of access tokens (`jti`) and whole grants (`grant_id`)
//! revoked before they expire (RFC 7009 §2.1), and single-use keys spent once on every node.
//! Every entry carries the time after which it no longer matters, when `purge_expired` forgets
//! it. Revoking grants — refresh tokens and deny-list entries together — happens here, each
//! change in one transaction.

use sqlx::AnyConnection;

use super::refresh_tokens::revoke_family_on;
use super::users::{change_password_on, delete_user_on, set_disabled_on};
use super::{Result, Store, absent_as_empty};

/// Adds `id` to the deny-list until `expires_at` (Unix seconds), on `conn`.
async fn deny_on<'c, E>(conn: E, id: &str, expires_at: i64) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
    )
    .bind(id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes the grant `grant_id` inside the caller's transaction: its refresh tokens, and its
/// access tokens through the deny-list until `access_tokens_expire_by`.
pub(super) async fn revoke_grant_in(
    conn: &mut AnyConnection,
    grant_id: &str,
    now: i64,
    access_tokens_expire_by: i64,
) -> Result<()> {
    revoke_family_on(&mut *conn, grant_id, now).await?;
    deny_on(&mut *conn, grant_id, access_tokens_expire_by).await
}

/// Revokes, inside the caller's transaction, every grant of `sub` and/or `client_id` (`None`
/// matches every value). Returns how many grants were revoked.
pub(super) async fn revoke_grants_in(
    conn: &mut AnyConnection,
    sub: Option<&str>,
    client_id: Option<&str>,
    now: i64,
    access_tokens_expire_by: i64,
) -> Result<usize> {
    // An absent filter matches everything: `$1 = ''` short-circuits the comparison.
    let grants: Vec<(String,)> = sqlx::query_as(
        "SELECT family_id FROM refresh_tokens \
           WHERE ($1 = '' OR sub = $1) AND ($2 = '' OR client_id = $2) \
         UNION SELECT grant_id FROM authorization_codes \
           WHERE ($1 = '' OR sub = $1) AND ($2 = '' OR client_id = $2) AND grant_id IS NOT NULL",
    )
    .bind(absent_as_empty(sub))
    .bind(absent_as_empty(client_id))
    .fetch_all(&mut *conn)
    .await?;
    for (grant,) in &grants {
        revoke_grant_in(conn, grant, now, access_tokens_expire_by).await?;
    }
    Ok(grants.len())
}

impl Store {
    /// Revokes a whole grant: its refresh tokens, and (through the deny-list, until
    /// `access_tokens_expire_by`) every access token that carries its grant id. One
    /// transaction.
    pub async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        revoke_grant_in(&mut tx, grant_id, now, access_tokens_expire_by).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every grant matching `who` — a user, a client, or a (user, client) pair — and its
    /// tokens: refresh tokens, and (through the deny-list until `access_tokens_expire_by`)
    /// access tokens. Returns how many grants were revoked. One transaction.
    pub async fn revoke_grants_of(
        &self,
        sub: Option<&str>,
        client_id: Option<&str>,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let n = revoke_grants_in(&mut tx, sub, client_id, now, access_tokens_expire_by).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Adds `id` (a jti or a grant id) to the deny-list until `expires_at`.
    pub async fn deny(&self, id: &str, expires_at: i64) -> Result<()> {
        deny_on(self.pool(), id, expires_at).await
    }

    /// Spends the single-use `key` until `expires_at`: `true` for the first caller only, on
    /// every node (one atomic insert into the deny-list, whose purge also forgets it).
    pub async fn spend_once(&self, key: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(key)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether any of `ids` (a token's jti and grant id) is on the deny-list.
    pub async fn is_denied(&self, jti: &str, grant_id: Option<&str>) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM revocations WHERE id = $1 OR id = $2 LIMIT 1")
                .bind(jti)
                .bind(grant_id.unwrap_or(jti))
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// Sets a new password ([`Store::change_user_password`]) and revokes every grant of the
    /// user ([`Store::revoke_grants_of`]) in one transaction (`user passwd`: issue 11 §2,
    /// RFC 9700 §4.14.2). Returns how many grants were revoked, or `None` when there is no such
    /// user.
    pub async fn change_user_password_and_revoke(
        &self,
        sub: &str,
        password_hash: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        if !change_password_on(&mut *tx, sub, password_hash, now).await? {
            return Ok(None);
        }
        let n = revoke_grants_in(&mut tx, Some(sub), None, now, access_tokens_expire_by).await?;
        tx.commit().await?;
        Ok(Some(n))
    }

    /// Disables the account ([`Store::set_user_disabled`]) and revokes every grant of the user,
    /// in one transaction. Returns how many grants were revoked, or `None` when there is no such
    /// user.
    pub async fn disable_user_and_revoke(
        &self,
        sub: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        if !set_disabled_on(&mut *tx, sub, true, now).await? {
            return Ok(None);
        }
        let n = revoke_grants_in(&mut tx, Some(sub), None, now, access_tokens_expire_by).await?;
        tx.commit().await?;
        Ok(Some(n))
    }

    /// Revokes every grant of the user (the deny-list outlives the rows) and deletes the user
    /// with their codes, refresh tokens and consents, in one transaction. Returns how many
    /// grants were revoked, or `None` when there is no such user.
    pub async fn delete_user_and_revoke(
        &self,
        sub: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let n = revoke_grants_in(&mut tx, Some(sub), None, now, access_tokens_expire_by).await?;
        if !delete_user_on(&mut *tx, sub).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(n))
    }

    /// Revokes every grant of the client (the deny-list outlives the rows) and deletes the
    /// client with its codes, refresh tokens and consents, in one transaction. Returns how many
    /// grants were revoked, or `None` when there is no such client.
    pub async fn delete_client_and_revoke(
        &self,
        client_id: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let n =
            revoke_grants_in(&mut tx, None, Some(client_id), now, access_tokens_expire_by).await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(n))
    }
}
