//! Login failure counters (the `login_failures` table) and server-wide secrets
//! (`server_secrets`): what makes the login throttle hold across nodes (`login_throttle`).

use std::collections::HashMap;

use super::{Result, Store};

impl Store {
    /// The `clear_at` (Unix seconds) of each of `keys` that has a row; keys without failures
    /// are absent. One indexed read.
    pub async fn login_failures(&self, keys: &[&str]) -> Result<HashMap<String, i64>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT key, clear_at FROM login_failures WHERE key IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
        for k in keys {
            q = q.bind(*k);
        }
        Ok(q.fetch_all(self.pool()).await?.into_iter().collect())
    }

    /// Records one failure on each `(key, period_secs)`: its `clear_at` becomes
    /// max(clear_at, now) + period. One atomic statement, so concurrent failures on several
    /// nodes all count. Keys must be distinct.
    pub async fn record_login_failure(&self, keys: &[(&str, i64)], now: i64) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // The row inserted for a new key already holds now + period; on conflict the period is
        // recovered as excluded.clear_at - now and added to the later of the old value and now.
        let values: Vec<String> = (0..keys.len())
            .map(|i| format!("(${}, ${})", 2 + 2 * i, 3 + 2 * i))
            .collect();
        let sql = format!(
            "INSERT INTO login_failures (key, clear_at) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET clear_at = \
             CASE WHEN login_failures.clear_at > $1 THEN login_failures.clear_at ELSE $1 END \
             + (excluded.clear_at - $1)",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now);
        for (key, period) in keys {
            q = q.bind(*key).bind(now.saturating_add(*period));
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// Forgets the failures of `keys` (a successful login clears its own).
    pub async fn clear_login_failures(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(*key)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// How many failure counters exist (for tests and operators: the table stays small).
    pub async fn login_failure_rows(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_failures")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// The shared secret `name`, created from `fresh` by the first node that asks; every node
    /// then reads the same value (insert-if-absent, then read).
    pub async fn server_secret(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
        sqlx::query(
            "INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .bind(now)
        .execute(self.pool())
        .await?;
        let (secret,): (String,) =
            sqlx::query_as("SELECT secret FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(self.pool())
                .await?;
        Ok(secret)
    }
}
