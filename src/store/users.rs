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
    /// The `phone_number` claim (E.164 recommended), if known.
    pub phone_number: Option<String>,
    /// 1 when the phone number was verified (the `phone_number_verified` claim), else 0.
    pub phone_number_verified: i64,
    /// The `address` claim: a JSON object with the members of OIDC Core §5.1.1, if known.
    pub address: Option<String>,
}

/// A change to a user's profile claims; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileUpdate<'a> {
    /// New full name.
    pub name: Option<&'a str>,
    /// Whether the email address is verified.
    pub email_verified: Option<bool>,
    /// New phone number; `Some(None)` removes it.
    pub phone_number: Option<Option<&'a str>>,
    /// Whether the phone number is verified.
    pub phone_number_verified: Option<bool>,
    /// New address (a JSON object); `Some(None)` removes it.
    pub address: Option<Option<&'a str>>,
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

    /// Applies `u` to the user `sub` and moves `updated_at` to `now`. Returns whether the user
    /// exists.
    pub async fn update_user_profile(
        &self,
        sub: &str,
        u: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<bool> {
        let Some(user) = self.find_user_by_sub(sub).await? else {
            return Ok(false);
        };
        let phone = match u.phone_number {
            Some(p) => p.map(str::to_owned),
            None => user.phone_number,
        };
        let address = match u.address {
            Some(a) => a.map(str::to_owned),
            None => user.address,
        };
        let flag = |new: Option<bool>, old: i64| new.map_or(old, i64::from);
        let done = sqlx::query(
            "UPDATE users SET name = $2, email_verified = $3, phone_number = $4, \
             phone_number_verified = $5, address = $6, updated_at = $7 WHERE sub = $1",
        )
        .bind(sub)
        .bind(u.name.unwrap_or(&user.name))
        .bind(flag(u.email_verified, user.email_verified))
        .bind(phone)
        .bind(flag(u.phone_number_verified, user.phone_number_verified))
        .bind(address)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
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
