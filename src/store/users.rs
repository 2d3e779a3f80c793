//! Users: the people who log in. Passwords are stored as argon2id PHC strings only.

use super::{Result, Store, is_unique_violation};

/// A user row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    /// Subject identifier (OIDC Core §2 `sub`): random, stable, never an email.
    pub sub: String,
    /// Email address, lower-cased.
    pub email: String,
    /// Full name (the `name` claim).
    pub name: String,
    /// 1 when the email address was verified (the `email_verified` claim), else 0.
    pub email_verified: i64,
    /// 1 when an operator disabled the account: no login, no tokens.
    pub disabled: i64,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds (the `updated_at` claim).
    pub updated_at: i64,
}

/// What is needed to create a user.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Subject identifier.
    pub sub: &'a str,
    /// Email address (stored lower-cased).
    pub email: &'a str,
    /// Full name.
    pub name: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Unix seconds.
    pub now: i64,
}

impl Store {
    /// Inserts a user. Errors: [`super::Error::Conflict`] when the email is taken.
    pub async fn create_user(&self, u: NewUser<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (sub, email, name, email_verified, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $5, $5)",
        )
        .bind(u.sub)
        .bind(u.email.to_lowercase())
        .bind(u.name)
        .bind(u.password_hash)
        .bind(u.now)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                super::Error::Conflict("a user with this email")
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// The user with this email (case-insensitive), if any.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users WHERE email = $1")
                .bind(email.to_lowercase())
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The user with this subject identifier, if any.
    pub async fn find_user_by_sub(&self, sub: &str) -> Result<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users WHERE sub = $1")
                .bind(sub)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Replaces a user's password hash.
    pub async fn set_user_password(&self, sub: &str, password_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE sub = $1")
            .bind(sub)
            .bind(password_hash)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The user `sub`, unless the access token (`jti`, `grant_id`) presented for it is on the
    /// deny-list: one round trip for userinfo.
    pub async fn find_user_for_token(
        &self,
        sub: &str,
        jti: &str,
        grant_id: Option<&str>,
    ) -> Result<Option<User>> {
        Ok(sqlx::query_as::<_, User>(
            "SELECT * FROM users WHERE sub = $1 AND disabled = 0 \
             AND NOT EXISTS (SELECT 1 FROM revocations WHERE id = $2 OR id = $3)",
        )
        .bind(sub)
        .bind(jti)
        .bind(grant_id.unwrap_or(jti))
        .fetch_optional(self.pool())
        .await?)
    }

    /// Disables or re-enables an account. Returns whether the user exists.
    pub async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET disabled = $2, updated_at = $3 WHERE sub = $1")
            .bind(sub)
            .bind(i64::from(disabled))
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a user (their codes, refresh tokens and consents go with them).
    pub async fn delete_user(&self, sub: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE sub = $1")
            .bind(sub)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users ORDER BY created_at, email")
                .fetch_all(self.pool())
                .await?,
        )
    }
}
