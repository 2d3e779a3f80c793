//! Consents: what each user allowed each third-party client, so only new scopes ask again.

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

impl Store {
    /// The scopes `sub` has allowed `client_id`, if any.
    pub async fn find_consent(&self, sub: &str, client_id: &str) -> Result<Option<Consent>> {
        Ok(
            sqlx::query_as::<_, Consent>(
                "SELECT * FROM consents WHERE sub = $1 AND client_id = $2",
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
        sqlx::query(
            "INSERT INTO consents (sub, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sub, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(sub)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every consent `sub` has given, oldest first.
    pub async fn list_consents(&self, sub: &str) -> Result<Vec<Consent>> {
        Ok(sqlx::query_as::<_, Consent>(
            "SELECT * FROM consents WHERE sub = $1 ORDER BY granted_at, client_id",
        )
        .bind(sub)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes every grant matching `who` — a user, a client, or a (user, client) pair — and its
    /// tokens: refresh tokens, and (through the deny-list until `access_tokens_expire_by`)
    /// access tokens. Returns how many grants were revoked.
    pub async fn revoke_grants_of(
        &self,
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
        .bind(sub.unwrap_or_default())
        .bind(client_id.unwrap_or_default())
        .fetch_all(self.pool())
        .await?;
        for (grant,) in &grants {
            self.revoke_grant(grant, now, access_tokens_expire_by)
                .await?;
        }
        Ok(grants.len())
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
        let deleted = sqlx::query("DELETE FROM consents WHERE sub = $1 AND client_id = $2")
            .bind(sub)
            .bind(client_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        self.revoke_grants_of(Some(sub), Some(client_id), now, access_tokens_expire_by)
            .await?;
        Ok(deleted > 0)
    }
}
