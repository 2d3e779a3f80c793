//! Typed protocol values: the scope (RFC 6749 §3.3), identifiers, and the single-use or bearer
//! secrets we issue, so that none of them travels as a bare `String`.
//!
//! - [`Scope`]: an ordered set of scope-tokens, written on the wire and in the database as one
//!   space-delimited string.
//! - [`ClientId`], [`RedirectUri`], [`Subject`]: identifiers compared as exact strings.
//! - [`AuthorizationCode`], [`RefreshToken`], [`AccessToken`], [`RegistrationAccessToken`],
//!   [`InitialAccessToken`], [`ClientSecret`]: secrets with a redacted `Debug` whose only way
//!   into a lookup is [`TokenHash`], the SHA-256 the store keeps (never the value itself).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether `s` is an RFC 6749 §3.3 scope-token: one or more `NQCHAR`
/// (`%x21 / %x23-5B / %x5D-7E`, that is printable ASCII but space, `"` and `\`).
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-3.3>
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// An ordered set of scope-tokens (RFC 6749 §3.3): each token once, in first-seen order.
///
/// Shape: on the wire, in JWTs, sessions and database columns, one string of tokens separated
/// by single spaces (`"openid profile email"`); the empty set is `""`.
///
/// [`Scope::parse`] is lenient, as every request path has always been: it splits on the space
/// character only (so a tab stays inside a token), drops empty tokens (repeated or edge
/// spaces) and repeats, and refuses nothing; unknown tokens are then simply not granted
/// (§3.3 lets us grant less). [`Scope::parse_strict`] adds the `NQCHAR` grammar, for the
/// places that refuse a malformed registration.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-3.3>
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(Vec<String>);

/// A scope string that is not a list of RFC 6749 §3.3 scope-tokens; carries the first bad
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid scope-token (RFC 6749 §3.3)")]
pub struct InvalidScopeToken(pub String);

impl Scope {
    /// The empty scope.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Splits `s` on spaces into tokens, dropping empty ones and repeats (first one wins).
    pub fn parse(s: &str) -> Self {
        s.split(' ').collect()
    }

    /// Like [`Scope::parse`], but refuses a token outside the `NQCHAR` grammar.
    ///
    /// Errors: [`InvalidScopeToken`] naming the first such token.
    pub fn parse_strict(s: &str) -> Result<Self, InvalidScopeToken> {
        if let Some(bad) = s.split(' ').find(|t| !t.is_empty() && !is_scope_token(t)) {
            return Err(InvalidScopeToken(bad.to_owned()));
        }
        Ok(Self::parse(s))
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Adds `token` at the end unless it is empty or already present.
    pub fn insert(&mut self, token: &str) {
        if !token.is_empty() && !self.contains(token) {
            self.0.push(token.to_owned());
        }
    }

    /// Removes `token` if present.
    pub fn remove(&mut self, token: &str) {
        self.0.retain(|t| t != token);
    }

    /// Keeps the tokens for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|t| keep(t));
    }

    /// `self`'s tokens, then those of `other` not yet present.
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for t in other.iter() {
            out.insert(t);
        }
        out
    }

    /// `self`'s tokens that `other` also holds, in `self`'s order.
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.retain(|t| other.contains(t));
        out
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.iter().all(|t| other.contains(t))
    }

    /// The tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(String::as_str)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many tokens the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<'a> FromIterator<&'a str> for Scope {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut out = Self::new();
        for t in iter {
            out.insert(t);
        }
        out
    }
}

impl fmt::Display for Scope {
    /// The space-delimited wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.to_string())
    }
}

impl std::str::FromStr for Scope {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// Declares a string newtype compared and shown as the exact string it holds.
macro_rules! exact_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps `s` as is.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The exact string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The string, unwrapped.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

exact_string!(
    /// An OAuth 2.0 client identifier (RFC 6749 §2.2), compared as an exact string.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-2.2>
    ClientId
);

exact_string!(
    /// A subject identifier (OIDC Core §2 `sub`): locally unique, never reassigned.
    ///
    /// Spec: <https://openid.net/specs/openid-connect-core-1_0.html#IDToken>
    Subject
);

exact_string!(
    /// A redirection URI exactly as registered or requested (RFC 6749 §3.1.2). It is never
    /// normalized: the string registered is the string compared and sent back.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2.3>,
    /// <https://www.rfc-editor.org/rfc/rfc9700#section-4.1.3>
    RedirectUri
);

impl RedirectUri {
    /// Whether the request URI `requested` may stand for this registered one: the exact string,
    /// or for a loopback IP literal the same string but for the port (RFC 8252 §7.3; the rule
    /// lives in [`crate::oauth::redirect_uri::matches`]).
    pub fn matches(&self, requested: &str) -> bool {
        crate::oauth::redirect_uri::matches(&self.0, requested)
    }
}

/// The hash type store lookups take; defined in [`crate::crypto`] so that `store/` needs
/// nothing from this layer.
pub use crate::crypto::TokenHash;

/// Declares a secret newtype: redacted `Debug`, explicit `expose()`, `hash()` to a
/// [`TokenHash`].
macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value received or generated.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The secret itself, for the one place it is sent (a response body) or checked.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The value unwrapped, for the response that hands it out.
            pub fn into_exposed(self) -> String {
                self.0
            }

            /// The hash the store keeps and looks up by.
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret!(
    /// An authorization code (RFC 6749 §4.1.2): single-use, short-lived.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2>
    AuthorizationCode
);

secret!(
    /// A refresh token (RFC 6749 §1.5, §6), stored only as its hash.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-6>
    RefreshToken
);

secret!(
    /// A bearer access token (RFC 6750) as presented or issued.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6750>
    AccessToken
);

secret!(
    /// An RFC 7592 registration access token, for the client configuration endpoint.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc7592#section-3>
    RegistrationAccessToken
);

secret!(
    /// An RFC 7591 §3 initial access token that allows one dynamic registration.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc7591#section-3>
    InitialAccessToken
);

secret!(
    /// A client secret (RFC 6749 §2.3.1), stored only as its hash.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1>
    ClientSecret
);

impl ClientSecret {
    /// Whether this presented secret hashes to `stored`, compared in constant time.
    pub fn verify(&self, stored: &str) -> bool {
        self.hash().ct_eq(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256_hex;

    #[test]
    fn parse_drops_empty_tokens_and_repeats_keeping_first_seen_order() {
        let s = Scope::parse("  profile openid  profile email openid ");
        assert_eq!(s.iter().collect::<Vec<_>>(), ["profile", "openid", "email"]);
        assert_eq!(s.to_string(), "profile openid email");
        assert_eq!(s.len(), 3);
        assert!(Scope::parse("").is_empty());
        assert!(Scope::parse("   ").is_empty());
    }

    #[test]
    fn parse_splits_on_space_only() {
        // A tab is not a separator (§3.3): the token is kept whole, and is not `openid`.
        let s = Scope::parse("openid\tprofile");
        assert!(!s.contains("openid"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn parse_strict_refuses_tokens_outside_nqchar() {
        assert!(Scope::parse_strict("openid profile").is_ok());
        assert!(Scope::parse_strict("a!b #[]~").is_ok());
        assert_eq!(
            Scope::parse_strict("openid pro\"file"),
            Err(InvalidScopeToken("pro\"file".into()))
        );
        assert!(Scope::parse_strict("back\\slash").is_err());
        assert!(Scope::parse_strict("caf\u{e9}").is_err());
        assert!(Scope::parse_strict("tab\tbed").is_err());
        assert!(is_scope_token("offline_access"));
        assert!(!is_scope_token(""));
    }

    #[test]
    fn contains_union_intersect_retain_remove() {
        let a = Scope::parse("openid profile email");
        let b = Scope::parse("email phone openid");
        assert!(a.contains("profile") && !a.contains("phone") && !a.contains(""));
        assert_eq!(a.union(&b).to_string(), "openid profile email phone");
        assert_eq!(a.intersect(&b).to_string(), "openid email");
        assert_eq!(b.intersect(&a).to_string(), "email openid");
        assert!(Scope::parse("email openid").is_subset(&a));
        assert!(!b.is_subset(&a));
        let mut c = a.clone();
        c.retain(|t| t != "profile");
        assert_eq!(c.to_string(), "openid email");
        c.remove("openid");
        c.insert("email");
        c.insert("");
        assert_eq!(c.to_string(), "email");
    }

    #[test]
    fn serde_round_trips_as_a_space_delimited_string() {
        let s = Scope::parse("openid offline_access");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"openid offline_access\"");
        let back: Scope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let empty: Scope = serde_json::from_str("\"\"").unwrap();
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "\"\"");
        let from_owned: Scope = serde_json::from_value(serde_json::json!("a  b a")).unwrap();
        assert_eq!(from_owned.to_string(), "a b");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let shown = [
            format!("{:?}", AuthorizationCode::new("s3cr3t")),
            format!("{:?}", RefreshToken::new("s3cr3t")),
            format!("{:?}", AccessToken::new("s3cr3t")),
            format!("{:?}", RegistrationAccessToken::new("s3cr3t")),
            format!("{:?}", InitialAccessToken::new("s3cr3t")),
            format!("{:?}", ClientSecret::new("s3cr3t")),
        ];
        assert_eq!(shown[0], "AuthorizationCode(***)");
        assert_eq!(shown[5], "ClientSecret(***)");
        for s in &shown {
            assert!(!s.contains("s3cr3t"), "{s}");
        }
        let hash = RefreshToken::new("s3cr3t").hash();
        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }

    #[test]
    fn hash_is_the_sha256_hex_of_the_value() {
        let code = AuthorizationCode::new("abc");
        assert_eq!(code.hash().as_str(), sha256_hex("abc"));
        assert_eq!(code.hash(), TokenHash::from_stored(sha256_hex("abc")));
        let secret = ClientSecret::new("abc");
        assert!(secret.verify(&sha256_hex("abc")));
        assert!(!secret.verify(&sha256_hex("abd")));
    }

    #[test]
    fn identifiers_compare_exactly() {
        let uri = RedirectUri::new("https://rp.example/cb");
        assert_eq!(uri, "https://rp.example/cb");
        assert!(uri.matches("https://rp.example/cb"));
        assert!(!uri.matches("https://rp.example/cb/"));
        assert!(!uri.matches("HTTPS://rp.example/cb"));
        assert!(RedirectUri::new("http://127.0.0.1/cb").matches("http://127.0.0.1:5173/cb"));
        assert_eq!(ClientId::new("abc").to_string(), "abc");
        assert_eq!(
            serde_json::to_string(&Subject::new("u1")).unwrap(),
            "\"u1\""
        );
    }
}
