//! The audit log: one structured event per security-relevant action, for operators and tools
//! such as fail2ban (docs/operations.md).
//!
//! Each event is one log line with target `sekimori::audit` and the fields `audit = true`,
//! `event`, and whichever of `account` (a normalized email, never a password), `sub`,
//! `client_id`, `source` (the client address after the trusted-proxy rule), `user_agent`,
//! `request_id`, `reason` and `detail` apply. With `SEKIMORI_LOG_FORMAT=json` it is one JSON
//! object per line. Never pass a password, secret, code, token, TOTP seed or recovery code.
//!
//! ```no_run
//! # use sekimori::audit::{Audit, Event};
//! Audit::new(Event::LoginFailure).account("alice@example.com").reason("wrong_password").emit();
//! ```

use std::net::IpAddr;

/// What happened. The wire names (`as_str`) are stable: tools match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A person (or the password grant) proved who they are.
    LoginSuccess,
    /// A login attempt failed; `reason` says why (`unknown_account`, `wrong_password`,
    /// `disabled`, `throttled`, `invalid_input`).
    LoginFailure,
    /// A browser session ended at the user's request.
    Logout,
    /// A user allowed a client some scopes.
    ConsentGiven,
    /// A user (or the operator) withdrew a client's consent.
    ConsentRevoked,
    /// A user's password changed; their sessions and tokens ended.
    PasswordChanged,
    /// An account was disabled; its sessions and tokens ended.
    AccountDisabled,
    /// An account was enabled again (old sessions stay ended).
    AccountEnabled,
    /// A client was registered (CLI or RFC 7591).
    ClientRegistered,
    /// A signing key was added or retired.
    KeyRotated,
    /// An authorization request was refused before reaching the client (`reason`, and in
    /// `detail` the received and registered redirect URIs).
    AuthorizationRejected,
}

impl Event {
    /// The stable name logged as `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSuccess => "login_success",
            Self::LoginFailure => "login_failure",
            Self::Logout => "logout",
            Self::ConsentGiven => "consent_given",
            Self::ConsentRevoked => "consent_revoked",
            Self::PasswordChanged => "password_changed",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::ClientRegistered => "client_registered",
            Self::KeyRotated => "key_rotated",
            Self::AuthorizationRejected => "authorization_rejected",
        }
    }
}

/// Who sent a request, as far as we can tell: what every audit event of an HTTP request carries.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client address (the TCP peer, or the forwarded one behind a trusted proxy).
    pub source: Option<IpAddr>,
    /// The `User-Agent` header, cut to 200 characters, control characters dropped.
    pub user_agent: String,
    /// Our `x-request-id`.
    pub request_id: String,
}

/// One audit event being built; [`Audit::emit`] writes it.
#[derive(Debug)]
#[must_use = "an audit event is written only by emit()"]
pub struct Audit<'a> {
    event: Event,
    account: Option<&'a str>,
    sub: Option<&'a str>,
    client_id: Option<&'a str>,
    origin: Option<&'a Origin>,
    reason: Option<&'a str>,
    detail: Option<String>,
}

impl<'a> Audit<'a> {
    /// Starts an event.
    pub fn new(event: Event) -> Self {
        Self {
            event,
            account: None,
            sub: None,
            client_id: None,
            origin: None,
            reason: None,
            detail: None,
        }
    }
    /// The account (normalized email) the event is about.
    pub fn account(mut self, account: &'a str) -> Self {
        self.account = Some(account);
        self
    }
    /// The user's `sub`.
    #[allow(clippy::should_implement_trait)] // the OIDC claim's name, not subtraction
    pub fn sub(mut self, sub: &'a str) -> Self {
        self.sub = Some(sub);
        self
    }
    /// The client involved.
    pub fn client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }
    /// The request's source address, user agent and request id.
    pub fn origin(mut self, origin: &'a Origin) -> Self {
        self.origin = Some(origin);
        self
    }
    /// A short machine-readable reason (`wrong_password`, `unregistered_redirect_uri`, …).
    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }
    /// Free text for a person (never a secret), e.g. the received and registered redirect URIs.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(printable(&detail.into(), 2000));
        self
    }
    /// Writes the event as one log line (target `sekimori::audit`).
    pub fn emit(self) {
        let o = self.origin;
        // Fields are strings (empty when unknown), so every line has the same shape.
        tracing::info!(
            target: "sekimori::audit",
            audit = true,
            event = self.event.as_str(),
            account = self.account.map(|a| printable(a, 254)).unwrap_or_default(),
            sub = self.sub.unwrap_or_default(),
            client_id = self.client_id.map(|c| printable(c, 200)).unwrap_or_default(),
            source = o.and_then(|o| o.source).map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent = o.map(|o| o.user_agent.as_str()).unwrap_or_default(),
            request_id = o.map(|o| o.request_id.as_str()).unwrap_or_default(),
            reason = self.reason.unwrap_or_default(),
            detail = self.detail.as_deref().unwrap_or_default(),
            "audit: {}",
            self.event.as_str()
        );
    }
}

/// At most `max` characters of `s`, control characters replaced, so a log line stays one line
/// and an attacker cannot forge another.
pub fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| {
            // Line breaks of any kind, and bidirectional controls that make a value display as
            // another (`admin\u{202e}moc.live` reads as something else in a log viewer).
            if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}')
                || crate::email::is_bidi_control(c)
            {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_keeps_one_line_and_bounds_length() {
        assert_eq!(printable("a\nb\rc", 10), "a\u{fffd}b\u{fffd}c");
        assert_eq!(printable(&"x".repeat(500), 254).len(), 254);
        assert_eq!(printable("a\u{202e}b\u{2028}c", 10), "a\u{fffd}b\u{fffd}c");
    }
}
