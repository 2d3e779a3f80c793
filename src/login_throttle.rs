//! Login throttling that stops online guessing without letting strangers lock the owner out
//! (OWASP ASVS 4.0.3 V2.2.1, NIST SP 800-63B §5.2.2, OWASP "Slow down online guessing attacks
//! with device cookies").
//!
//! Only **failures** count (wrong password, unknown account, disabled account). Before the
//! password is checked, an attempt is refused (429) only when a budget it would spend is already
//! exhausted; a success spends nothing and clears the (account, source) failures. The counters
//! live in the shared database (`login_failures`), so the limits hold across nodes; each failure
//! is one upsert (of up to three keys), each attempt two indexed reads (see Concurrency).
//!
//! The budgets (burst, then one more failure per period; GCRA, whole seconds):
//!
//! | key                         | applies to                           | burst | then one per |
//! |-----------------------------|--------------------------------------|-------|--------------|
//! | device cookie               | attempts with a valid device cookie  | 10    | 30 s         |
//! | (account, source address)   | attempts without one                 | 10    | 6 s          |
//! | account                     | attempts without one                 | 30    | 20 s         |
//! | source address (IPv6: its /64) | attempts without one              | 100   | 6 s          |
//!
//! After a successful login on the form, the browser gets a **device cookie** for that account
//! (HMAC-SHA256 over the account and a random nonce, with a key every node shares: the
//! `device_cookie` row of `server_secrets`). An attempt that carries a valid device cookie for
//! the account it tries is limited only by that cookie's own budget, never by the budgets that
//! strangers spend, so the owner keeps getting in while others guess. A device cookie whose
//! budget is exhausted counts as absent (the stranger budgets apply) until its budget refills
//! (30 s per failure); the next successful login issues a fresh cookie with a fresh budget.
//! The key lives in the database: whoever can read the database could mint device cookies, but
//! would also hold the password hashes, a better target than online guessing.
//!
//! Keys are `kind:` plus the SHA-256 of the subject: fixed size, and no email or address is
//! stored. Emails longer than [`MAX_EMAIL_BYTES`] are refused before any of this. Anonymous
//! traffic writes only on failure, and every row expires (`Store::purge_expired`).
//!
//! Concurrency: the budgets are read twice, once on arrival (a spent budget answers 429 without
//! waiting) and again once the attempt holds one of the argon2 hashing slots (one per core), so
//! a flood of concurrent guesses sees the failures of the hashes queued ahead of it. A budget
//! can be overshot only by the hashes running at that moment on all nodes.

use std::net::IpAddr;

use aws_lc_rs::hmac;

use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::crypto::{random_token, sha256_hex};
use crate::password::CredentialFailure;
use crate::store::{Store, User};

/// RFC 5321 §4.5.3.1.3: the longest usable email address, in bytes. Longer ones are refused
/// before throttling, and never stored.
pub use crate::email::MAX_EMAIL_BYTES;

/// How long a device cookie lives, in seconds (a year).
pub const DEVICE_COOKIE_TTL_SECS: i64 = 365 * 24 * 3600;

/// The normalized account an email names: the one place the throttle, the device cookie and the
/// audit log derive it: the address as [`crate::email::normalize`] makes it, so
/// `Alice@Example.COM`, its fullwidth twin and its NFD twin share one budget. An address that
/// does not normalize (it names no account) is keyed trimmed and lower-cased.
pub fn account_key(email: &str) -> String {
    crate::email::normalize(email.trim())
        .map(crate::email::Email::into_string)
        .unwrap_or_else(|_| email.trim().to_lowercase())
}

/// The source an address counts as: an IPv4 address itself, an IPv6 address its /64. One
/// subscriber, host or VM is handed a whole /64 (RFC 6177, RFC 8273), so counting each of its
/// 2^64 addresses apart would give an attacker a fresh budget per guess.
pub fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// One failure budget: `burst` failures at once, then one more per `period_secs`.
#[derive(Clone, Copy, Debug)]
struct Budget {
    kind: &'static str,
    burst: i64,
    period_secs: i64,
}

const DEVICE: Budget = Budget {
    kind: "device",
    burst: 10,
    period_secs: 30,
};
const PAIR: Budget = Budget {
    kind: "pair",
    burst: 10,
    period_secs: 6,
};
const ACCOUNT: Budget = Budget {
    kind: "account",
    burst: 30,
    period_secs: 20,
};
const SOURCE: Budget = Budget {
    kind: "source",
    burst: 100,
    period_secs: 6,
};

impl Budget {
    fn key(self, subject: &str) -> String {
        format!("{}:{}", self.kind, sha256_hex(subject))
    }

    /// Seconds until one more failure fits, if the key (with `clear_at`) is exhausted.
    fn wait(self, clear_at: Option<i64>, now: i64) -> Option<u64> {
        let debt = clear_at? - now;
        let over = debt - (self.burst - 1) * self.period_secs;
        (over > 0).then(|| u64::try_from(over).unwrap_or(u64::MAX).max(1))
    }
}

/// The device-cookie signer and the budget checks. Built once per node with the shared key.
pub struct LoginThrottle {
    device_key: hmac::Key,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginThrottle { device_key: <redacted> }")
    }
}

/// What an attempt may do after the pre-check: which keys a failure spends and which a success
/// clears.
#[derive(Debug)]
pub struct Ticket {
    spend: Vec<(String, i64)>,
    clear: String,
    /// Whether a valid device cookie with budget left vouched for the attempt.
    pub trusted_device: bool,
}

impl Ticket {
    /// Records a failure on every key this attempt spends.
    ///
    /// Errors: the database's.
    pub async fn failed(&self, store: &Store, now: i64) -> crate::store::Result<()> {
        let keys: Vec<(&str, i64)> = self.spend.iter().map(|(k, p)| (k.as_str(), *p)).collect();
        store.record_login_failure(&keys, now).await
    }

    /// Clears the (account, source) failures after a success.
    ///
    /// Errors: the database's.
    pub async fn succeeded(&self, store: &Store) -> crate::store::Result<()> {
        store.clear_login_failures(&[&self.clear]).await
    }
}

impl LoginThrottle {
    /// Loads the device-cookie key shared by all nodes (creating it on first use).
    ///
    /// Errors: a message when the database cannot be read or the system RNG fails.
    pub async fn load(store: &Store, now: i64) -> Result<Self, String> {
        let fresh = random_token(32).map_err(|_| "the system RNG failed".to_owned())?;
        let secret = store
            .server_secret("device_cookie", &fresh, now)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            device_key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        })
    }

    /// A throttle with a fixed device-cookie key, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(key: &[u8]) -> Self {
        Self {
            device_key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The device cookie's name for `account`: one cookie per account a browser logged in to.
    pub fn device_cookie_name(account: &str) -> String {
        format!("sekimori_device_{}", &sha256_hex(account)[..16])
    }

    fn mac_input(account: &str, nonce: &str) -> String {
        format!("sekimori device cookie v1\n{account}\n{nonce}")
    }

    /// A new device cookie value for `account`: `nonce.mac`, both base64url.
    ///
    /// Errors: the system RNG failed.
    pub fn new_device_cookie(
        &self,
        account: &str,
    ) -> Result<String, aws_lc_rs::error::Unspecified> {
        let nonce = random_token(16)?;
        let tag = hmac::sign(
            &self.device_key,
            Self::mac_input(account, &nonce).as_bytes(),
        );
        Ok(format!("{nonce}.{}", crate::crypto::b64url(tag.as_ref())))
    }

    /// The nonce of a device cookie `value` for `account`, if its MAC verifies (constant time).
    /// Reading the cookie from a request is the web layer's part (`web::throttle::device_from`).
    pub fn verify_device_cookie(&self, account: &str, value: &str) -> Option<String> {
        let (nonce, tag) = value.split_once('.')?;
        let tag =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tag).ok()?;
        hmac::verify(
            &self.device_key,
            Self::mac_input(account, nonce).as_bytes(),
            &tag,
        )
        .ok()?;
        Some(nonce.to_owned())
    }

    /// The pre-check: `Ok(ticket)` when the attempt may go on to the password check, or
    /// `Err(seconds)` to wait when a budget it would spend is exhausted. One read.
    ///
    /// Errors: the database's.
    pub async fn check(
        &self,
        store: &Store,
        account: &str,
        source: Option<IpAddr>,
        device: Option<&str>,
        now: i64,
    ) -> crate::store::Result<Result<Ticket, u64>> {
        let source = source.map_or_else(|| "unknown".to_owned(), source_key);
        let pair = PAIR.key(&format!("{account}\n{source}"));
        let stranger = [
            (PAIR, pair.clone()),
            (ACCOUNT, ACCOUNT.key(account)),
            (SOURCE, SOURCE.key(&source)),
        ];
        let device = device.map(|nonce| DEVICE.key(nonce));
        let mut keys: Vec<&str> = stranger.iter().map(|(_, k)| k.as_str()).collect();
        keys.extend(device.as_deref());
        let found = store.login_failures(&keys).await?;
        let wait = |(budget, key): &(Budget, String)| budget.wait(found.get(key).copied(), now);
        if let Some(device) = device {
            let entry = (DEVICE, device);
            if wait(&entry).is_none() {
                return Ok(Ok(Ticket {
                    spend: vec![(entry.1, DEVICE.period_secs)],
                    clear: pair,
                    trusted_device: true,
                }));
            }
            // An exhausted device cookie is treated as absent until its budget refills.
        }
        if let Some(secs) = stranger.iter().filter_map(wait).max() {
            return Ok(Err(secs));
        }
        Ok(Ok(Ticket {
            spend: stranger
                .into_iter()
                .map(|(b, k)| (k, b.period_secs))
                .collect(),
            clear: pair,
            trusted_device: false,
        }))
    }
}

/// How a login attempt ended.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The credentials are right (the (account, source) failures are cleared).
    Success(Box<User>),
    /// Wrong password, unknown or disabled account (recorded as a failure).
    Failed(CredentialFailure),
    /// Refused before the password check: wait this many seconds.
    Throttled(u64),
}

/// One login attempt, form or password grant: the budget pre-check, the password check, the
/// failure record or success clear, the audit event and the metrics.
///
/// `email` must already be within [`MAX_EMAIL_BYTES`]; `device` is the verified nonce of a
/// device cookie for this account, if any.
///
/// Errors: the database's.
pub async fn attempt_login(
    state: &AppState,
    email: &str,
    password: &str,
    origin: &Origin,
    device: Option<&str>,
    client_id: &str,
) -> crate::store::Result<LoginOutcome> {
    let now = state.clock.now();
    let account = account_key(email);
    let audit = || {
        Audit::new(Event::LoginFailure)
            .account(&account)
            .client(client_id)
            .origin(origin)
    };
    let throttled = |secs| {
        audit().reason("throttled").emit();
        metrics::counter!("sekimori_logins_total", "result" => "throttled").increment(1);
        Ok(LoginOutcome::Throttled(secs))
    };
    let throttle = &state.login_throttle;
    // A spent budget is refused at once, without queueing for a hashing slot...
    if let Err(secs) = throttle
        .check(&state.store, &account, origin.source, device, now)
        .await?
    {
        return throttled(secs);
    }
    // ...and checked again once a slot is ours, so failures recorded by the hashes queued
    // ahead of this one (a concurrent flood) count before this one is hashed.
    let slot = state.passwords.slot().await;
    let now = state.clock.now();
    let ticket = match throttle
        .check(&state.store, &account, origin.source, device, now)
        .await?
    {
        Ok(t) => t,
        Err(secs) => return throttled(secs),
    };
    let checked = crate::password::check_credentials(
        &state.store,
        &state.passwords,
        slot,
        email,
        password,
        now,
    )
    .await?;
    match checked {
        Ok(user) => {
            if let Err(e) = ticket.succeeded(&state.store).await {
                tracing::warn!(error = %e, "could not clear login failures");
            }
            Audit::new(Event::LoginSuccess)
                .account(&account)
                .sub(&user.sub)
                .client(client_id)
                .origin(origin)
                .detail(if ticket.trusted_device {
                    "device cookie"
                } else {
                    ""
                })
                .emit();
            metrics::counter!("sekimori_logins_total", "result" => "success").increment(1);
            Ok(LoginOutcome::Success(Box::new(user)))
        }
        Err(failure) => {
            ticket.failed(&state.store, now).await?;
            audit().reason(failure.reason()).emit();
            metrics::counter!("sekimori_logins_total", "result" => "failure").increment(1);
            Ok(LoginOutcome::Failed(failure))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sources_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(source_key(mapped), "192.0.2.1");
    }

    #[test]
    fn a_budget_allows_its_burst_then_one_per_period() {
        let now = 1000;
        assert_eq!(PAIR.wait(None, now), None);
        // Nine failures at once: the tenth may still be tried.
        assert_eq!(PAIR.wait(Some(now + 9 * 6), now), None);
        // Ten: wait one period.
        assert_eq!(PAIR.wait(Some(now + 10 * 6), now), Some(6));
        assert_eq!(PAIR.wait(Some(now + 10 * 6), now + 5), Some(1));
        assert_eq!(PAIR.wait(Some(now + 10 * 6), now + 6), None);
    }

    #[test]
    fn keys_are_fixed_size_and_hide_the_subject() {
        let k = ACCOUNT.key(&"x".repeat(254));
        assert_eq!(k.len(), "account:".len() + 64);
        assert!(!PAIR.key("alice@example.com\n192.0.2.1").contains("alice"));
    }

    #[test]
    fn device_cookies_verify_only_for_their_account() {
        let t = LoginThrottle {
            device_key: hmac::Key::new(hmac::HMAC_SHA256, b"test key"),
        };
        let value = t.new_device_cookie("alice@example.com").expect("rng");
        assert!(
            t.verify_device_cookie("alice@example.com", &value)
                .is_some()
        );
        // The same value presented for bob does not verify for bob.
        assert!(t.verify_device_cookie("bob@example.com", &value).is_none());
        assert!(t.verify_device_cookie("alice@example.com", "x.y").is_none());
        assert_eq!(account_key("  Alice@Example.COM "), "alice@example.com");
    }
}
