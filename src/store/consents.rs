//! Consents: what each user allowed each third-party client, so only new scopes ask again.

use super::revocations::revoke_grants_in;
use super::{Result, Store};

/// One remembered consent.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Consent {
    /// The user.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// Everything allowed so far, space-delimited.
    pub scope: String,
    /// Unix seconds of the latest decision.
    pub granted_at: i64,
}

/// [`Store::save_consent`] on `conn` (a pool, or a transaction's connection).
async fn save_consent_on<'c, E>(
    conn: E,
    sub: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO consents (sub, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sub, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
    )
    .bind(sub)
    .bind(client_id)
    .bind(scope)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The scopes `sub` has allowed `client_id`, if any.
    pub async fn find_consent(&self, sub: &str, client_id: &str) -> Result<Option<Consent>> {
        Ok(
            sqlx::query_as::<_, Consent>(
                "SELECT sub, client_id, scope, granted_at FROM consents WHERE sub = $1 AND client_id = $2",
            )
            .bind(sub)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?,
        )
    }

    /// Remembers that `sub` allowed `scope` (space-delimited, already the union with any earlier
    /// consent) to `client_id`.
    pub async fn save_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<()> {
        save_consent_on(self.pool(), sub, client_id, scope, now).await
    }

    /// Adds `scope` (space-delimited) to what `sub` allowed `client_id`: the earlier scopes in
    /// their order, then the new ones not among them. Read and write in one transaction, so two
    /// decisions at once cannot drop each other's scopes.
    pub async fn merge_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let earlier: Option<(String,)> =
            sqlx::query_as("SELECT scope FROM consents WHERE sub = $1 AND client_id = $2")
                .bind(sub)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
        let earlier = earlier.map(|(s,)| s).unwrap_or_default();
        let mut scopes: Vec<&str> = earlier.split(' ').filter(|s| !s.is_empty()).collect();
        for s in scope.split(' ') {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        save_consent_on(&mut *tx, sub, client_id, &scopes.join(" "), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every consent `sub` has given, oldest first.
    pub async fn list_consents(&self, sub: &str) -> Result<Vec<Consent>> {
        Ok(sqlx::query_as::<_, Consent>(
            "SELECT sub, client_id, scope, granted_at FROM consents WHERE sub = $1 \
             ORDER BY granted_at, client_id",
        )
        .bind(sub)
        .fetch_all(self.pool())
        .await?)
    }

    /// Withdraws the consent of `sub` for `client_id` and revokes every grant made under it:
    /// refresh tokens, and (through the deny-list until `access_tokens_expire_by`) access tokens.
    /// Returns whether a consent existed.
    pub async fn revoke_consent(
        &self,
        sub: &str,
        client_id: &str,
        now: i64,
        access_tokens_expire_by: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM consents WHERE sub = $1 AND client_id = $2")
            .bind(sub)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        revoke_grants_in(
            &mut tx,
            Some(sub),
            Some(client_id),
            now,
            access_tokens_expire_by,
        )
        .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}
