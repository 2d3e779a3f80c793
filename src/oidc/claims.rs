//! The scope catalog: the standard scopes we understand, the claims each releases (OIDC Core
//! §5.4), how the consent page words it, and the rules particular to a scope (`openid`,
//! `offline_access`, OIDC Core §3.1.2.1, §11). Discovery, the authorization and token
//! endpoints, userinfo, the ID token and the consent page all read this one table.

/// `openid`: marks a request as OpenID Connect (OIDC Core §3.1.2.1).
pub const OPENID: &str = "openid";

/// `offline_access`: asks for a refresh token (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Which consent-page sentence describes a scope (the consent page's texts look it up by this key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentText {
    /// `openid`: who the user is.
    Identity,
    /// `profile`: name and profile.
    Profile,
    /// `email`: the email address.
    Email,
    /// `address`: the postal address.
    Address,
    /// `phone`: the phone number.
    Phone,
    /// `offline_access`: access while the user is away.
    OfflineAccess,
}

/// One standard scope.
#[derive(Debug)]
pub struct ScopeInfo {
    /// The scope-token.
    pub name: &'static str,
    /// The user claims the scope releases, at userinfo and (when asked for with `claims`) in
    /// the ID token (OIDC Core §5.4).
    pub claims: &'static [&'static str],
    /// The consent page's sentence for it.
    pub consent: ConsentText,
    /// Whether the scope only makes sense with a user: refused in `client_credentials`, where
    /// the client acts for itself (RFC 6749 §4.4).
    pub needs_user: bool,
}

/// The standard scopes, in the order discovery lists them (OIDC Core §5.4, §11).
pub const SCOPES: &[ScopeInfo] = &[
    ScopeInfo {
        name: OPENID,
        claims: &[],
        consent: ConsentText::Identity,
        needs_user: true,
    },
    ScopeInfo {
        name: "profile",
        claims: &["name", "preferred_username", "updated_at"],
        consent: ConsentText::Profile,
        needs_user: false,
    },
    ScopeInfo {
        name: "email",
        claims: &["email", "email_verified"],
        consent: ConsentText::Email,
        needs_user: false,
    },
    ScopeInfo {
        name: "address",
        claims: &["address"],
        consent: ConsentText::Address,
        needs_user: false,
    },
    ScopeInfo {
        name: "phone",
        claims: &["phone_number", "phone_number_verified"],
        consent: ConsentText::Phone,
        needs_user: false,
    },
    ScopeInfo {
        name: OFFLINE_ACCESS,
        claims: &[],
        consent: ConsentText::OfflineAccess,
        needs_user: true,
    },
];

/// Claims of the ID token itself (OIDC Core §2, §3.1.3.6), listed in `claims_supported` before
/// the user claims.
pub const ID_TOKEN_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
];

/// The catalog entry of `scope`, if it is a standard scope.
pub fn scope(scope: &str) -> Option<&'static ScopeInfo> {
    SCOPES.iter().find(|s| s.name == scope)
}

/// `scopes_supported` (OIDC Discovery §3).
pub fn scopes_supported() -> Vec<&'static str> {
    SCOPES.iter().map(|s| s.name).collect()
}

/// `claims_supported` (OIDC Discovery §3): the ID token's claims, then every user claim a scope
/// releases.
pub fn claims_supported() -> Vec<&'static str> {
    let user_claims = SCOPES.iter().flat_map(|s| s.claims.iter().copied());
    ID_TOKEN_CLAIMS.iter().copied().chain(user_claims).collect()
}

/// Claims `scope` releases (OIDC Core §5.4); none for a scope we do not know.
pub fn claims_of_scope(scope_name: &str) -> &'static [&'static str] {
    scope(scope_name).map_or(&[], |s| s.claims)
}

/// The scope that releases `claim`, if we know the claim.
pub fn scope_of_claim(claim: &str) -> Option<&'static str> {
    SCOPES
        .iter()
        .find(|s| s.claims.contains(&claim))
        .map(|s| s.name)
}

/// Whether `scope` only makes sense with a user (see [`ScopeInfo::needs_user`]).
pub fn needs_user(scope_name: &str) -> bool {
    scope(scope_name).is_some_and(|s| s.needs_user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_standard_scopes_in_discovery_order() {
        assert_eq!(
            scopes_supported(),
            [
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "offline_access"
            ]
        );
    }

    #[test]
    fn claims_supported_lists_id_token_claims_then_user_claims() {
        assert_eq!(
            claims_supported(),
            [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "azp",
                "name",
                "preferred_username",
                "updated_at",
                "email",
                "email_verified",
                "address",
                "phone_number",
                "phone_number_verified"
            ]
        );
    }

    #[test]
    fn each_claim_belongs_to_one_scope() {
        for s in SCOPES {
            for c in s.claims {
                assert_eq!(scope_of_claim(c), Some(s.name));
            }
        }
        assert_eq!(claims_of_scope("email"), ["email", "email_verified"]);
        assert!(claims_of_scope("openid").is_empty());
        assert!(claims_of_scope("unknown").is_empty());
        assert_eq!(scope_of_claim("sub"), None);
        assert_eq!(scope_of_claim("nonsense"), None);
    }

    #[test]
    fn only_openid_and_offline_access_need_a_user() {
        let needing: Vec<_> = SCOPES
            .iter()
            .filter(|s| s.needs_user)
            .map(|s| s.name)
            .collect();
        assert_eq!(needing, [OPENID, OFFLINE_ACCESS]);
        assert!(!needs_user("custom"));
    }

    #[test]
    fn consent_texts_are_distinct() {
        for (i, a) in SCOPES.iter().enumerate() {
            for b in &SCOPES[i + 1..] {
                assert_ne!(a.consent, b.consent);
            }
        }
    }
}
