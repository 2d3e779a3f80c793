//! Users: the people who log in. Passwords are stored as argon2id PHC strings only.

use super::{Result, Store, is_unique_violation};

/// The `users` columns [`User`] is read from, as the database holds them: flags are integers
/// (0 or 1) on both backends, turned into `bool` here, at the store boundary.
#[derive(sqlx::FromRow)]
struct UserRow {
    sub: String,
    email: String,
    name: String,
    email_verified: i64,
    disabled: i64,
    /// Read only by [`Store::find_user_by_email`] (the login); empty in the rows every other
    /// query returns, which leave the column out (userinfo never reads the hash).
    #[sqlx(default)]
    password_hash: String,
    created_at: i64,
    updated_at: i64,
    phone_number: Option<String>,
    phone_number_verified: i64,
    address: Option<String>,
    security_stamp: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            sub: r.sub,
            email: r.email,
            name: r.name,
            email_verified: r.email_verified != 0,
            disabled: r.disabled != 0,
            password_hash: r.password_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            phone_number: r.phone_number,
            phone_number_verified: r.phone_number_verified != 0,
            address: r.address,
            security_stamp: r.security_stamp,
        }
    }
}

/// A user.
#[derive(Clone)]
pub struct User {
    /// Subject identifier (OIDC Core §2 `sub`): random, stable, never an email.
    pub sub: String,
    /// Email address: normalized (`crate::email::normalize`) for accounts added since
    /// migration 0004, lower-cased for older ones.
    pub email: String,
    /// Full name (the `name` claim).
    pub name: String,
    /// Whether the email address was verified (the `email_verified` claim).
    pub email_verified: bool,
    /// Whether an operator disabled the account: no login, no tokens.
    pub disabled: bool,
    /// argon2id PHC string (never shown by `Debug`).
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds (the `updated_at` claim).
    pub updated_at: i64,
    /// The `phone_number` claim (E.164 recommended), if known.
    pub phone_number: Option<String>,
    /// Whether the phone number was verified (the `phone_number_verified` claim).
    pub phone_number_verified: bool,
    /// The `address` claim: a JSON object with the members of OIDC Core §5.1.1, if known.
    pub address: Option<String>,
    /// Generation of the user's credentials: one more at every password change and every
    /// disable, never less. Sessions, codes, refresh tokens and access tokens carry the value
    /// they were issued under and stop counting when it moves on (issue 11 §2).
    pub security_stamp: i64,
}

impl std::fmt::Debug for User {
    /// Everything but the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("sub", &self.sub)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("email_verified", &self.email_verified)
            .field("disabled", &self.disabled)
            .field("password_hash", &"***")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("phone_number", &self.phone_number)
            .field("phone_number_verified", &self.phone_number_verified)
            .field("address", &self.address)
            .field("security_stamp", &self.security_stamp)
            .finish()
    }
}

impl User {
    /// Whether something issued to this user under `security_stamp` still speaks for them: the
    /// account is enabled and neither its password changed nor was it disabled since. The one
    /// rule behind [`Store::current_user`] for callers that already hold the row.
    pub fn is_current(&self, security_stamp: i64) -> bool {
        !self.disabled && self.security_stamp == security_stamp
    }
}

/// The columns of [`User`] but `password_hash`, which only the login reads.
const USER_COLUMNS: &str = "sub, email, name, email_verified, disabled, created_at, updated_at, \
                            phone_number, phone_number_verified, address, security_stamp";

/// The SQL twin of [`User::is_current`] (`$2` is the stamp presented).
const CURRENT: &str = "disabled = 0 AND security_stamp = $2";

/// An account whose stored email `email::normalize` cannot settle: reported by `sekimori migrate`,
/// at server start and by `user list`, never merged or changed silently.
#[derive(Clone, Debug)]
pub enum EmailProblem {
    /// The stored address does not normalize (a zero-width character, say).
    Invalid {
        /// The account.
        sub: String,
        /// Its stored email.
        email: String,
        /// Why it does not normalize.
        error: crate::email::EmailError,
    },
    /// The stored address normalizes to one another (older) account already has.
    Collides {
        /// The account.
        sub: String,
        /// Its stored email.
        email: String,
        /// The normalized form both share.
        normalized: String,
        /// The stored email of the account that holds the normalized form.
        holder: String,
    },
}

impl std::fmt::Display for EmailProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &str| format!("{:?}", s);
        match self {
            Self::Invalid { sub, email, error } => write!(
                f,
                "account {} (sub {sub}) has an email that does not normalize: {error}; it still \
                 logs in with exactly that address",
                shown(email)
            ),
            Self::Collides {
                sub,
                email,
                normalized,
                holder,
            } => write!(
                f,
                "account {} (sub {sub}) collides with account {}: both normalize to {}; each \
                 still logs in with its exact stored address; merge or rename them by hand",
                shown(email),
                shown(holder),
                shown(normalized)
            ),
        }
    }
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
pub struct NewUser<'a> {
    /// Subject identifier.
    pub sub: &'a str,
    /// Email address, normalized (stored as `email` and `email_normalized`).
    pub email: &'a crate::email::Email,
    /// Full name.
    pub name: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// [`Store::change_user_password`] on `conn` (a pool, or a transaction's connection).
pub(super) async fn change_password_on<'c, E>(
    conn: E,
    sub: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = sqlx::query(
        "UPDATE users SET password_hash = $2, updated_at = $3, \
         security_stamp = security_stamp + 1 WHERE sub = $1",
    )
    .bind(sub)
    .bind(password_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// [`Store::set_user_disabled`] on `conn`.
pub(super) async fn set_disabled_on<'c, E>(
    conn: E,
    sub: &str,
    disabled: bool,
    now: i64,
) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = sqlx::query(
        "UPDATE users SET disabled = $2, updated_at = $3, \
         security_stamp = security_stamp + $2 WHERE sub = $1",
    )
    .bind(sub)
    .bind(i64::from(disabled))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// [`Store::delete_user`] on `conn`.
pub(super) async fn delete_user_on<'c, E>(conn: E, sub: &str) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = sqlx::query("DELETE FROM users WHERE sub = $1")
        .bind(sub)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

impl std::fmt::Debug for NewUser<'_> {
    /// Everything but the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("sub", &self.sub)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"***")
            .field("now", &self.now)
            .finish()
    }
}

impl Store {
    /// Inserts a user. Errors: [`super::Error::Conflict`] when an account already has this
    /// normalized email (the unique index on `email_normalized` decides, on every node).
    pub async fn create_user(&self, u: NewUser<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (sub, email, email_normalized, name, email_verified, password_hash, \
             created_at, updated_at) VALUES ($1, $2, $2, $3, 0, $4, $5, $5)",
        )
        .bind(u.sub)
        .bind(u.email.as_str())
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

    /// The user with this email as typed, if any: compared in normalized form
    /// ([`crate::email::normalize`]). An account stored before normalization whose address
    /// collides or no longer normalizes (see [`EmailProblem`]) is still found by its exact
    /// stored (lower-cased) address, which wins over a normalized match.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.trim();
        if email.len() > crate::email::MAX_EMAIL_BYTES {
            return Ok(None);
        }
        let normalized = crate::email::normalize(email)
            .map(crate::email::Email::into_string)
            .unwrap_or_default();
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users \
             WHERE email_normalized = $1 OR email = $2 \
             ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END, created_at, sub LIMIT 1"
        ))
        .bind(normalized)
        .bind(email.to_lowercase())
        .fetch_optional(self.pool())
        .await?
        .map(User::from))
    }

    /// The user `sub` if what was issued to them under `security_stamp` still counts (see
    /// [`User::is_current`]): one indexed read, the check behind browser sessions, codes and
    /// refresh tokens.
    pub async fn current_user(&self, sub: &str, security_stamp: i64) -> Result<Option<User>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE sub = $1 AND {CURRENT}"
        ))
        .bind(sub)
        .bind(security_stamp)
        .fetch_optional(self.pool())
        .await?
        .map(User::from))
    }

    /// The user with this subject identifier, if any.
    pub async fn find_user_by_sub(&self, sub: &str) -> Result<Option<User>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE sub = $1"
        ))
        .bind(sub)
        .fetch_optional(self.pool())
        .await?
        .map(User::from))
    }

    /// Applies `u` to the user `sub` and moves `updated_at` to `now`. Returns whether the user
    /// exists.
    pub async fn update_user_profile(
        &self,
        sub: &str,
        u: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<bool> {
        // Read and write in one transaction: two updates at once cannot undo each other's
        // fields.
        let mut tx = self.begin_write().await?;
        let user = sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE sub = $1"
        ))
        .bind(sub)
        .fetch_optional(&mut *tx)
        .await?
        .map(User::from);
        let Some(user) = user else {
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
        let flag = |new: Option<bool>, old: bool| i64::from(new.unwrap_or(old));
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
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a new password (`user passwd`): the hash changes and the security stamp moves on,
    /// so every session, code, refresh token and access token issued before stops counting
    /// (issue 11 §2). Returns whether the user exists. The caller also revokes the user's grants
    /// ([`Store::revoke_grants_of`]) so the refresh tokens are gone from the database too.
    pub async fn change_user_password(
        &self,
        sub: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool> {
        change_password_on(self.pool(), sub, password_hash, now).await
    }

    /// Replaces a user's password hash with another hash **of the same password** (the upgrade
    /// to current argon2id parameters at login): sessions and tokens stay valid. A new password
    /// goes through [`Store::change_user_password`].
    ///
    /// Only if the stored hash is still `previous_hash`: a login that read the old hash must not
    /// write it back over a `user passwd` that landed while it was verifying (that would revive
    /// the old password). Returns whether the hash was replaced.
    pub async fn set_user_password(
        &self,
        sub: &str,
        previous_hash: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $2, updated_at = $3 \
             WHERE sub = $1 AND password_hash = $4",
        )
        .bind(sub)
        .bind(password_hash)
        .bind(now)
        .bind(previous_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Store::current_user`] for an access token: the user `sub`, if still current for the
    /// token's `security_stamp` and the token (`jti`, `grant_id`) is not on the deny-list, in
    /// one round trip (userinfo, introspection).
    pub async fn find_user_for_token(
        &self,
        sub: &str,
        security_stamp: i64,
        jti: &str,
        grant_id: Option<&str>,
    ) -> Result<Option<User>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE sub = $1 AND {CURRENT} \
             AND NOT EXISTS (SELECT 1 FROM revocations WHERE id = $3 OR id = $4)"
        ))
        .bind(sub)
        .bind(security_stamp)
        .bind(jti)
        .bind(grant_id.unwrap_or(jti))
        .fetch_optional(self.pool())
        .await?
        .map(User::from))
    }

    /// Disables or re-enables an account. Disabling moves the security stamp on, so whatever
    /// was issued before stays dead after a later enable (issue 11 §2); enabling leaves it.
    /// Returns whether the user exists.
    pub async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> Result<bool> {
        set_disabled_on(self.pool(), sub, disabled, now).await
    }

    /// Deletes a user (their codes, refresh tokens and consents go with them).
    pub async fn delete_user(&self, sub: &str) -> Result<bool> {
        delete_user_on(self.pool(), sub).await
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, email"
        ))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(User::from)
        .collect())
    }
}

impl Store {
    /// Fills `email_normalized` for accounts that do not have it yet (rows from before
    /// migration 0004) and returns the accounts it cannot fill: an address that does not
    /// normalize, or whose normalized form an older account already holds. Nothing is merged;
    /// such accounts keep logging in with their exact stored address. Idempotent and safe on
    /// several nodes at once (the unique index settles races). Run by `sekimori migrate`, the
    /// mutating CLI commands and at server start.
    pub async fn normalize_stored_emails(&self) -> Result<Vec<EmailProblem>> {
        self.email_problems(true).await
    }

    /// The accounts [`Store::normalize_stored_emails`] would report, without writing anything
    /// (for `user list`).
    pub async fn report_email_problems(&self) -> Result<Vec<EmailProblem>> {
        self.email_problems(false).await
    }

    async fn email_problems(&self, fill: bool) -> Result<Vec<EmailProblem>> {
        let pending: Vec<(String, String)> = sqlx::query_as(
            "SELECT sub, email FROM users WHERE email_normalized IS NULL ORDER BY created_at, sub",
        )
        .fetch_all(self.pool())
        .await?;
        let mut problems = Vec::new();
        for (sub, email) in pending {
            let normalized = match crate::email::normalize(&email) {
                Ok(n) => n.into_string(),
                Err(error) => {
                    problems.push(EmailProblem::Invalid { sub, email, error });
                    continue;
                }
            };
            if fill {
                let filled = sqlx::query(
                    "UPDATE users SET email_normalized = $2 WHERE sub = $1 AND email_normalized IS NULL",
                )
                .bind(&sub)
                .bind(&normalized)
                .execute(self.pool())
                .await;
                match filled {
                    Ok(_) => continue,
                    Err(e) if is_unique_violation(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let holder: Option<(String,)> =
                sqlx::query_as("SELECT email FROM users WHERE email_normalized = $1")
                    .bind(&normalized)
                    .fetch_optional(self.pool())
                    .await?;
            if let Some((holder,)) = holder {
                problems.push(EmailProblem::Collides {
                    sub,
                    email,
                    normalized,
                    holder,
                });
            }
        }
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_bools_and_debug_hides_the_password_hash() {
        let user = User::from(UserRow {
            sub: "u1".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            email_verified: 1,
            disabled: 0,
            password_hash: "$argon2id$v=19$secret".into(),
            created_at: 1,
            updated_at: 2,
            phone_number: None,
            phone_number_verified: 0,
            address: None,
            security_stamp: 3,
        });
        assert!(user.email_verified && !user.disabled && !user.phone_number_verified);
        assert!(user.is_current(3) && !user.is_current(2));
        let shown = format!("{user:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(shown.contains("password_hash: \"***\""), "{shown}");
    }
}
