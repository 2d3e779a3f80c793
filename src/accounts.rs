//! User accounts, the one service behind `sekimori user …`: add, import, update, passwd,
//! disable, enable, remove, list, consents. Emails go through [`crate::email::normalize`];
//! a password change or a disable moves the account's security stamp on, which ends its
//! sessions and tokens on every node (issue 11 §2). Times come from the injected [`Clock`];
//! each change an operator makes is an audit event (`reason = "cli"`).

use crate::audit::{Audit, Event};
use crate::clock::Clock;
use crate::crypto::random_identifier;
use crate::email::{Email, EmailError};
use crate::store::{Consent, EmailProblem, NewUser, ProfileUpdate, Store, User};

/// How long after revocation a deny-list entry must live: past the longest access token
/// lifetime an operator is likely to configure (a day), in seconds.
pub const TOKEN_HORIZON_SECS: i64 = 24 * 3600;

/// Longest display name we keep, in characters: names travel in every ID token and page.
pub const MAX_NAME_CHARS: usize = 200;

/// Shortest password `user add` and `user passwd` accept, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The audit `reason` of a change the operator made on the command line.
const BY_OPERATOR: &str = "cli";

/// What is wrong with a person's or client's display name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// Blank.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("must have at most {MAX_NAME_CHARS} characters")]
    TooLong,
    /// A control character (it would garble terminals and logs).
    #[error("must not contain control characters")]
    Control,
    /// A bidirectional control (the code point).
    #[error(
        "must not contain bidirectional control characters (found U+{0:04X}): they can make a \
         name display as a different one"
    )]
    Bidi(u32),
}

/// Checks a display name: not blank, at most [`MAX_NAME_CHARS`] characters, no control
/// characters, and no bidirectional override, embedding, isolate or mark characters
/// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), which can make a name display as
/// another on the consent page (issue 11 §4).
///
/// Errors: the [`NameProblem`].
pub fn check_display_name(name: &str) -> Result<(), NameProblem> {
    if name.trim().is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::Control);
    }
    if let Some(c) = name.chars().find(|&c| crate::email::is_bidi_control(c)) {
        return Err(NameProblem::Bidi(u32::from(c)));
    }
    Ok(())
}

/// Why an account operation was refused. Messages are for the operator; they name the input
/// (with control characters replaced) and never a password or hash.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The email is not an acceptable address.
    #[error("invalid email {shown:?}: {source}")]
    InvalidEmail {
        /// The input, printable.
        shown: String,
        /// The rule it breaks.
        source: EmailError,
    },
    /// Another account has this address once normalized.
    #[error(
        "duplicate email: {shown:?} normalizes to {normalized:?}, the address of the existing \
         account {existing:?} (sub {sub}); emails are compared after NFC, case folding and \
         width mapping"
    )]
    DuplicateEmail {
        /// The input, printable.
        shown: String,
        /// Its normalized form.
        normalized: String,
        /// The existing account's email, printable.
        existing: String,
        /// The existing account's `sub`.
        sub: String,
    },
    /// The name is unacceptable.
    #[error("{field} {problem}")]
    Name {
        /// How the name was given (`--name`, `name`).
        field: &'static str,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    /// An imported hash is neither bcrypt nor argon2.
    #[error("the password hash is neither bcrypt ($2a$/$2b$/$2y$) nor argon2 (PHC)")]
    UnsupportedHash,
    /// No account has this email.
    #[error("no user with email {0:?}")]
    NotFound(String),
    /// The user gave this client no consent.
    #[error("{email} has no consent for client {client_id:?}")]
    NoConsent {
        /// The user's email, as given.
        email: String,
        /// The client.
        client_id: String,
    },
    /// `user update` with nothing to change.
    #[error(
        "nothing to change: give --name, --email-verified, --phone-number, \
         --phone-number-verified or --address"
    )]
    NothingToChange,
    /// A phone number with other characters, or no digit.
    #[error("--phone-number must be a phone number such as +81 3 1234 5678")]
    InvalidPhoneNumber,
    /// An unacceptable `--address` value (the message says why).
    #[error("--address{0}")]
    InvalidAddress(String),
    /// Hashing the password failed.
    #[error("{0}")]
    Hash(String),
    /// The operating system's random generator failed.
    #[error("the OS random generator failed")]
    Random,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// `s` with control characters replaced, for messages and tab-separated terminal output.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The account with this email (looked up normalized, or by the exact stored text).
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn find(store: &Store, email: &str) -> Result<User, AccountError> {
    store
        .find_user_by_email(email)
        .await?
        .ok_or_else(|| AccountError::NotFound(email.to_owned()))
}

/// The normalized form of `email` for a new account.
///
/// Errors: an invalid address, or a duplicate: another account already has this address once
/// normalized (a fullwidth, NFD or differently cased twin of an existing address).
async fn new_account_email(store: &Store, email: &str) -> Result<Email, AccountError> {
    let shown = printable(email.trim());
    let normalized =
        crate::email::normalize(email).map_err(|source| AccountError::InvalidEmail {
            shown: shown.clone(),
            source,
        })?;
    if let Some(existing) = store.find_user_by_email(normalized.as_str()).await? {
        return Err(AccountError::DuplicateEmail {
            shown,
            normalized: normalized.as_str().to_owned(),
            existing: printable(&existing.email),
            sub: existing.sub,
        });
    }
    Ok(normalized)
}

fn check_name(field: &'static str, name: &str) -> Result<(), AccountError> {
    check_display_name(name).map_err(|problem| AccountError::Name { field, problem })
}

fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::PasswordTooShort);
    }
    Ok(())
}

/// A new account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// Its subject identifier.
    pub sub: String,
    /// Its email, normalized as stored.
    pub email: String,
}

async fn create(
    store: &Store,
    clock: &Clock,
    email: &Email,
    name: &str,
    password_hash: &str,
) -> Result<String, AccountError> {
    let sub = random_identifier(16).map_err(|_| AccountError::Random)?;
    store
        .create_user(NewUser {
            sub: &sub,
            email,
            name: name.trim(),
            password_hash,
            now: clock.now(),
        })
        .await?;
    Ok(sub)
}

/// Creates an account with an argon2id hash of `password`.
///
/// Errors: an invalid or duplicate email, an unacceptable name (`--name`), a password shorter
/// than [`MIN_PASSWORD_CHARS`], [`AccountError::Random`], [`AccountError::Store`].
pub async fn add(
    store: &Store,
    clock: &Clock,
    email: &str,
    name: &str,
    password: &str,
) -> Result<NewAccount, AccountError> {
    let email = new_account_email(store, email).await?;
    check_name("--name", name)?;
    check_password(password)?;
    let hash = crate::password::hash(password).map_err(AccountError::Hash)?;
    let sub = create(store, clock, &email, name, &hash).await?;
    Ok(NewAccount {
        sub,
        email: email.into_string(),
    })
}

/// One user to import: what another system exported.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ImportRow {
    /// Email address (normalized on import).
    pub email: String,
    /// Full name.
    pub name: String,
    /// A bcrypt or argon2 hash, kept as it is and upgraded at the next login.
    pub password_hash: String,
}

/// A record [`parse_import`] could not read.
#[derive(Debug, thiserror::Error)]
#[error("{} {line}: {}: {detail}", if *json { "line" } else { "record" }, if *json { "not a user JSON object" } else { "expected the columns email,name,password_hash" })]
pub struct ImportFormatError {
    /// JSON lines (else CSV).
    pub json: bool,
    /// The 1-based line (JSON) or record (CSV).
    pub line: usize,
    /// The parser's message.
    pub detail: String,
}

/// Reads CSV (with the header `email,name,password_hash`) or JSON lines, by the first
/// non-blank character.
///
/// Errors: the first record that does not parse.
pub fn parse_import(text: &str) -> Result<Vec<ImportRow>, ImportFormatError> {
    if text.trim_start().starts_with('{') {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| ImportFormatError {
                    json: true,
                    line: i + 1,
                    detail: e.to_string(),
                })
            })
            .collect()
    } else {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, r)| {
                r.map_err(|e| ImportFormatError {
                    json: false,
                    line: i + 1,
                    detail: e.to_string(),
                })
            })
            .collect()
    }
}

/// What an import did: a refused row is skipped, the others are imported.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// How many accounts were created.
    pub imported: usize,
    /// Each skipped row: its 1-based record number, its email and why.
    pub skipped: Vec<(usize, String, AccountError)>,
}

/// Imports accounts with their existing password hashes.
///
/// Errors: none for a row (a refused row is reported in [`ImportReport::skipped`]).
pub async fn import(store: &Store, clock: &Clock, rows: Vec<ImportRow>) -> ImportReport {
    let mut report = ImportReport::default();
    for (i, row) in rows.into_iter().enumerate() {
        match import_one(store, clock, &row).await {
            Ok(()) => report.imported += 1,
            Err(e) => report.skipped.push((i + 1, row.email, e)),
        }
    }
    report
}

async fn import_one(store: &Store, clock: &Clock, row: &ImportRow) -> Result<(), AccountError> {
    let email = new_account_email(store, &row.email).await?;
    check_name("name", &row.name)?;
    if !crate::password::is_supported_hash(&row.password_hash) {
        return Err(AccountError::UnsupportedHash);
    }
    create(store, clock, &email, &row.name, &row.password_hash).await?;
    Ok(())
}

/// The accounts, and whatever is wrong with their emails.
#[derive(Debug)]
pub struct Listing {
    /// Every account.
    pub users: Vec<User>,
    /// Accounts whose emails collide once normalized (issue 11 §4); `None` when they could not
    /// be checked (a database not yet migrated).
    pub email_problems: Option<Vec<EmailProblem>>,
}

/// Lists the accounts.
///
/// Errors: [`AccountError::Store`].
pub async fn list(store: &Store) -> Result<Listing, AccountError> {
    let email_problems = store.report_email_problems().await.ok();
    Ok(Listing {
        users: store.list_users().await?,
        email_problems,
    })
}

/// Disables an account: the stamp moves on, so every session and access token of the user
/// stops counting on every node; its refresh tokens are revoked. Returns how many grants were.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn disable(store: &Store, clock: &Clock, email: &str) -> Result<usize, AccountError> {
    let user = find(store, email).await?;
    let now = clock.now();
    // One transaction: the stamp moves on and the grants are revoked together.
    let revoked = store
        .disable_user_and_revoke(&user.sub, now, now + TOKEN_HORIZON_SECS)
        .await?
        .unwrap_or_default();
    Audit::new(Event::AccountDisabled)
        .account(&user.email)
        .sub(&user.sub)
        .reason(BY_OPERATOR)
        .emit();
    Ok(revoked)
}

/// Enables a disabled account (old sessions and tokens stay ended).
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn enable(store: &Store, clock: &Clock, email: &str) -> Result<(), AccountError> {
    let user = find(store, email).await?;
    store
        .set_user_disabled(&user.sub, false, clock.now())
        .await?;
    Audit::new(Event::AccountEnabled)
        .account(&user.email)
        .sub(&user.sub)
        .reason(BY_OPERATOR)
        .emit();
    Ok(())
}

/// Sets a new password, ending every session and token of the user (the stamp moves on) and
/// revoking the refresh tokens in the database (issue 11 §2, RFC 9700 §4.14.2). Returns how
/// many grants were revoked.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::PasswordTooShort`],
/// [`AccountError::Hash`], [`AccountError::Store`].
pub async fn change_password(
    store: &Store,
    clock: &Clock,
    email: &str,
    password: &str,
) -> Result<usize, AccountError> {
    let user = find(store, email).await?;
    check_password(password)?;
    let hash = crate::password::hash(password).map_err(AccountError::Hash)?;
    let now = clock.now();
    let revoked = store
        .change_user_password_and_revoke(&user.sub, &hash, now, now + TOKEN_HORIZON_SECS)
        .await?
        .unwrap_or_default();
    Audit::new(Event::PasswordChanged)
        .account(&user.email)
        .sub(&user.sub)
        .reason(BY_OPERATOR)
        .emit();
    Ok(revoked)
}

/// Deletes an account after revoking its grants; returns how many were revoked.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn remove(store: &Store, clock: &Clock, email: &str) -> Result<usize, AccountError> {
    let user = find(store, email).await?;
    let now = clock.now();
    let revoked = store
        .delete_user_and_revoke(&user.sub, now, now + TOKEN_HORIZON_SECS)
        .await?
        .unwrap_or_default();
    Ok(revoked)
}

/// A checked change to the claims a profile releases; built by [`ProfileChanges::check`].
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges {
    name: Option<String>,
    email_verified: Option<bool>,
    phone_number: Option<Option<String>>,
    phone_number_verified: Option<bool>,
    address: Option<Option<String>>,
}

impl ProfileChanges {
    /// Checks the values of `user update`: `""` removes a phone number or address.
    ///
    /// Errors: [`AccountError::NothingToChange`], a bad phone number, address or name.
    pub fn check(
        name: Option<String>,
        email_verified: Option<bool>,
        phone_number: Option<String>,
        phone_number_verified: Option<bool>,
        address: Option<String>,
    ) -> Result<Self, AccountError> {
        if name.is_none()
            && email_verified.is_none()
            && phone_number.is_none()
            && phone_number_verified.is_none()
            && address.is_none()
        {
            return Err(AccountError::NothingToChange);
        }
        let phone_number = phone_number
            .map(|p| validate_phone_number(&p))
            .transpose()?;
        let address = address.map(|a| parse_address(&a)).transpose()?;
        if let Some(n) = &name {
            check_name("--name", n)?;
        }
        Ok(Self {
            name,
            email_verified,
            phone_number,
            phone_number_verified,
            address,
        })
    }
}

/// Applies checked profile changes.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn update_profile(
    store: &Store,
    clock: &Clock,
    email: &str,
    changes: &ProfileChanges,
) -> Result<(), AccountError> {
    let user = find(store, email).await?;
    let update = ProfileUpdate {
        name: changes.name.as_deref(),
        email_verified: changes.email_verified,
        phone_number: changes.phone_number.as_ref().map(|p| p.as_deref()),
        phone_number_verified: changes.phone_number_verified,
        address: changes.address.as_ref().map(|a| a.as_deref()),
    };
    store
        .update_user_profile(&user.sub, &update, clock.now())
        .await?;
    Ok(())
}

/// What a user allowed third-party clients.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::Store`].
pub async fn consents(store: &Store, email: &str) -> Result<Vec<Consent>, AccountError> {
    let user = find(store, email).await?;
    Ok(store.list_consents(&user.sub).await?)
}

/// Withdraws a user's consent to a client and revokes every token issued under it.
///
/// Errors: [`AccountError::NotFound`], [`AccountError::NoConsent`], [`AccountError::Store`].
pub async fn revoke_consent(
    store: &Store,
    clock: &Clock,
    email: &str,
    client_id: &str,
) -> Result<(), AccountError> {
    let user = find(store, email).await?;
    let now = clock.now();
    if !store
        .revoke_consent(&user.sub, client_id, now, now + TOKEN_HORIZON_SECS)
        .await?
    {
        return Err(AccountError::NoConsent {
            email: email.to_owned(),
            client_id: client_id.to_owned(),
        });
    }
    Audit::new(Event::ConsentRevoked)
        .account(&user.email)
        .sub(&user.sub)
        .client(client_id)
        .reason(BY_OPERATOR)
        .emit();
    Ok(())
}

/// Checks a `--phone-number` value: "" means remove (`None`); otherwise digits with an
/// optional leading `+`, spaces, hyphens, parentheses and an `;ext=` suffix, at most 64
/// characters (OIDC Core §5.1 recommends E.164).
///
/// Errors: [`AccountError::InvalidPhoneNumber`].
pub fn validate_phone_number(p: &str) -> Result<Option<String>, AccountError> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let ok = p.len() <= 64
        && p.bytes().any(|b| b.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().;ext=".contains(c));
    if !ok {
        return Err(AccountError::InvalidPhoneNumber);
    }
    Ok(Some(p.to_owned()))
}

/// Parses an `--address` value into the stored JSON object (OIDC Core §5.1.1): "" means remove
/// (`None`); a JSON object must use only the address members, with string values; any other
/// text is the `formatted` member.
///
/// Errors: [`AccountError::InvalidAddress`]: not JSON, an unknown member or a non-string value.
pub fn parse_address(a: &str) -> Result<Option<String>, AccountError> {
    const MEMBERS: &[&str] = &[
        "formatted",
        "street_address",
        "locality",
        "region",
        "postal_code",
        "country",
    ];
    const MAX_MEMBER_CHARS: usize = 256;
    let bad = |why: String| AccountError::InvalidAddress(why);
    // OIDC Core §5.1.1: `formatted` may span lines; nothing else is a control character.
    let check = |k: &str, v: &str| -> Result<(), AccountError> {
        if v.chars().count() > MAX_MEMBER_CHARS {
            return Err(bad(format!(
                ": {k} must have at most {MAX_MEMBER_CHARS} characters"
            )));
        }
        if v.chars()
            .any(|c| c.is_control() && !(k == "formatted" && (c == '\n' || c == '\r')))
        {
            return Err(bad(format!(": {k} must not contain control characters")));
        }
        Ok(())
    };
    let a = a.trim();
    if a.is_empty() {
        return Ok(None);
    }
    let object = if a.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(a).map_err(|e| bad(format!(" is not valid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad(" must be a JSON object".to_owned()))?;
        for (k, v) in obj {
            if !MEMBERS.contains(&k.as_str()) {
                return Err(bad(format!(
                    ": unknown member {k:?}; use {}",
                    MEMBERS.join(", ")
                )));
            }
            match v.as_str() {
                Some(text) => check(k, text)?,
                None => return Err(bad(format!(": {k} must be a string"))),
            }
        }
        if obj.is_empty() {
            return Err(bad(": the JSON object is empty".to_owned()));
        }
        v
    } else {
        check("formatted", a)?;
        serde_json::json!({ "formatted": a })
    };
    Ok(Some(object.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_checked_and_empty_means_remove() {
        assert_eq!(
            validate_phone_number(" +81 3-1234-5678;ext=9 ").expect("ok"),
            Some("+81 3-1234-5678;ext=9".to_owned())
        );
        assert_eq!(validate_phone_number("").expect("ok"), None);
        for bad in ["call me", "+", "<script>", &"1".repeat(65)] {
            assert!(validate_phone_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_a_formatted_line_or_the_address_members() {
        assert_eq!(
            parse_address("1-1 Chiyoda, Tokyo").expect("ok").as_deref(),
            Some(r#"{"formatted":"1-1 Chiyoda, Tokyo"}"#)
        );
        let stored = parse_address(r#"{"locality":"Tokyo","country":"JP"}"#)
            .expect("ok")
            .expect("some");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored).expect("json"),
            serde_json::json!({"locality": "Tokyo", "country": "JP"})
        );
        assert_eq!(parse_address("  ").expect("ok"), None);
        for bad in [
            r#"{"planet":"Mars"}"#,
            r#"{"locality":{"x":1}}"#,
            r#"{"locality":"#,
            r#"{"locality":"Tokyo"} trailing"#,
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names_refuse_blank_long_control_and_bidi_text() {
        assert_eq!(check_display_name("Alice"), Ok(()));
        assert_eq!(check_display_name("  "), Err(NameProblem::Empty));
        assert_eq!(
            check_display_name(&"x".repeat(MAX_NAME_CHARS + 1)),
            Err(NameProblem::TooLong)
        );
        assert_eq!(check_display_name("a\u{1b}b"), Err(NameProblem::Control));
        assert_eq!(
            check_display_name("a\u{202e}b"),
            Err(NameProblem::Bidi(0x202e))
        );
    }
}
