//! Client registrations, the one service behind `sekimori client add|update|remove|rotate-secret`
//! and Dynamic Client Registration (RFC 7591, RFC 7592): validation (run once, by
//! [`validate`]), the redirect-URI policy of each [`RedirectContext`], and the generation of
//! client ids, secrets and registration access tokens. Times come from the injected [`Clock`].
//!
//! Warnings (an `http://` redirect URI, the password grant) are returned as data: the CLI prints
//! them, the HTTP endpoint does not.

use crate::clock::Clock;
use crate::crypto::{random_identifier, random_token, sha256_hex};
use crate::keys::Alg;
use crate::store::{Client, NewClient, Store};

/// Grant types a client can be registered for.
pub const KNOWN_GRANT_TYPES: &[&str] = crate::oidc::discovery::GRANT_TYPES_SUPPORTED;

/// Who registers the client, which decides the redirect-URI policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectContext {
    /// The operator (`client add|update`): any absolute URI without a fragment; a plain-http
    /// URI off loopback is allowed with a [`Warning`].
    Operator,
    /// Anyone holding an initial access token (RFC 7591): https; http only on a loopback host
    /// (RFC 8252 §7.3); or a private-use scheme in reverse-domain form (RFC 8252 §7.1).
    Dynamic,
}

/// Something a registration is allowed to do but should not, said once to the operator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// A redirect URI uses plain http off loopback (RFC 9700 §2.6).
    #[error("{0} uses plain http; use https outside local development (RFC 9700 §2.6)")]
    PlainHttpRedirectUri(String),
    /// The client may use the password grant (RFC 9700 §2.4).
    #[error(
        "the password grant exposes user passwords to the client; RFC 9700 §2.4 says it MUST NOT \
         be used. Enable it only to migrate an existing application."
    )]
    PasswordGrant,
}

/// Why a registration or a client operation was refused.
///
/// [`ClientError::is_redirect_uri`] tells RFC 7591 §3.2.2 `invalid_redirect_uri` from
/// `invalid_client_metadata`; `Store` and `Random` are ours (503, no detail for a client).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The display name is unacceptable.
    #[error("{field} {problem}")]
    Name {
        /// How the name was given (`the client name`).
        field: &'static str,
        /// What is wrong with it.
        problem: crate::accounts::NameProblem,
    },
    /// A redirect URI is not an absolute URI.
    #[error("redirect URI {0:?} is not an absolute URI")]
    RedirectUriNotAbsolute(String),
    /// A redirect URI carries a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI {0:?} must not contain a fragment (RFC 6749 §3.1.2)")]
    RedirectUriFragment(String),
    /// Dynamic registration: plain http off loopback.
    #[error("{0:?}: plain http is only allowed for loopback addresses")]
    RedirectUriPlainHttp(String),
    /// Dynamic registration: neither https, loopback http nor a reverse-domain scheme.
    #[error("{0:?}: use https, a loopback http URI or a reverse-domain private-use scheme")]
    RedirectUriScheme(String),
    /// RFC 7591 §2: the code flow without a redirect URI.
    #[error("redirect_uris is required for the authorization code flow")]
    RedirectUriMissing,
    /// A scope that is not an RFC 6749 §3.3 scope-token.
    #[error("{0:?} is not a valid scope (RFC 6749 §3.3)")]
    InvalidScope(String),
    /// A grant type we do not implement.
    #[error("unknown grant type {0:?}; supported: {known}", known = KNOWN_GRANT_TYPES.join(" "))]
    UnknownGrantType(String),
    /// RFC 6749 §4.4: client_credentials needs a client that can authenticate.
    #[error("a public client cannot use client_credentials (RFC 6749 §4.4)")]
    PublicClientCredentials,
    /// An unknown signing algorithm.
    #[error("unknown algorithm {0:?}; supported: RS256, ES256, EdDSA")]
    UnknownAlgorithm(String),
    /// No client has this client_id.
    #[error("no client with client_id {0:?}")]
    NotFound(String),
    /// A public client has no secret to rotate.
    #[error("client {0} is public: it has no secret")]
    NoSecret(String),
    /// The operating system's random generator failed.
    #[error("the OS random generator failed")]
    Random,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

impl ClientError {
    /// Whether the error is about a redirect URI (RFC 7591 §3.2.2 `invalid_redirect_uri`).
    pub fn is_redirect_uri(&self) -> bool {
        matches!(
            self,
            Self::RedirectUriNotAbsolute(_)
                | Self::RedirectUriFragment(_)
                | Self::RedirectUriPlainHttp(_)
                | Self::RedirectUriScheme(_)
                | Self::RedirectUriMissing
        )
    }

    /// Whether the error is ours rather than the registration's (a 503 on the HTTP side).
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Random)
    }
}

/// What a client registration holds before it is checked.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    /// Display name.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// Allowed scopes, space-separated.
    pub scope: String,
    /// Allowed grant types (empty: `authorization_code refresh_token`).
    pub grant_types: Vec<String>,
    /// ID token algorithm.
    pub id_token_alg: Alg,
    /// Access token algorithm.
    pub access_token_alg: Alg,
    /// Exact post-logout redirect URIs (RP-Initiated Logout 1.0 §3).
    pub post_logout_redirect_uris: Vec<String>,
    /// Trusted: no consent page.
    pub first_party: bool,
    /// RFC 7591 `logo_uri`, `policy_uri`, `tos_uri`.
    pub logo_uri: Option<String>,
    /// See `logo_uri`.
    pub policy_uri: Option<String>,
    /// See `logo_uri`.
    pub tos_uri: Option<String>,
    /// SHA-256 (hex) of an RFC 7592 registration access token chosen by the caller; a
    /// [`RedirectContext::Dynamic`] registration gets a fresh token instead.
    pub registration_token_hash: Option<String>,
}

impl ClientRegistration {
    /// A confidential (or public) client with the defaults of `client add`.
    pub fn new(name: &str, redirect_uris: &[String], public: bool) -> Self {
        Self {
            name: name.to_owned(),
            redirect_uris: redirect_uris.to_vec(),
            public,
            scope: "openid profile email offline_access".into(),
            grant_types: Vec::new(),
            id_token_alg: Alg::RS256,
            access_token_alg: Alg::RS256,
            post_logout_redirect_uris: Vec::new(),
            first_party: false,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
            registration_token_hash: None,
        }
    }
}

/// A registration that passed [`validate`]: the only input [`register`] and [`replace`] take,
/// so nothing is stored unchecked and nothing is checked twice.
#[derive(Clone, Debug)]
pub struct CheckedRegistration {
    registration: ClientRegistration,
    context: RedirectContext,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    /// What the operator should hear about.
    pub warnings: Vec<Warning>,
}

impl CheckedRegistration {
    /// The registration as given.
    pub fn registration(&self) -> &ClientRegistration {
        &self.registration
    }

    /// Its scopes, one per entry.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Its grant types (the default set when none were given).
    pub fn grant_types(&self) -> &[String] {
        &self.grant_types
    }
}

/// Whether `s` is an RFC 6749 §3.3 scope-token (`%x21 / %x23-5B / %x5D-7E`, at least one).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Parses a signing algorithm name.
///
/// Errors: [`ClientError::UnknownAlgorithm`].
pub fn parse_alg(s: &str) -> Result<Alg, ClientError> {
    Alg::parse(s).ok_or_else(|| ClientError::UnknownAlgorithm(s.to_owned()))
}

/// Checks one redirect or post-logout redirect URI against the policy of `context`; returns a
/// warning for a URI the operator may register but should not.
///
/// Errors: a relative URI or one with a fragment (RFC 6749 §3.1.2); for a dynamic
/// registration, also a scheme RFC 8252 §7 does not allow.
pub fn check_redirect_uri(
    uri: &str,
    context: RedirectContext,
) -> Result<Option<Warning>, ClientError> {
    let url =
        url::Url::parse(uri).map_err(|_| ClientError::RedirectUriNotAbsolute(uri.to_owned()))?;
    if url.fragment().is_some() {
        return Err(ClientError::RedirectUriFragment(uri.to_owned()));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match (context, url.scheme()) {
        (_, "https") => Ok(None),
        (_, "http") if loopback => Ok(None),
        (RedirectContext::Operator, "http") => {
            Ok(Some(Warning::PlainHttpRedirectUri(uri.to_owned())))
        }
        (RedirectContext::Operator, _) => Ok(None),
        (RedirectContext::Dynamic, "http") => {
            Err(ClientError::RedirectUriPlainHttp(uri.to_owned()))
        }
        (RedirectContext::Dynamic, s) if s.contains('.') => Ok(None),
        (RedirectContext::Dynamic, _) => Err(ClientError::RedirectUriScheme(uri.to_owned())),
    }
}

/// Checks a registration: its name, its redirect URIs under the policy of `context`, its
/// scope syntax and its grant types (the default `authorization_code refresh_token` when none
/// were given).
///
/// Errors: the [`ClientError`] naming the first value refused.
pub fn validate(
    registration: ClientRegistration,
    context: RedirectContext,
) -> Result<CheckedRegistration, ClientError> {
    let r = &registration;
    // Worded for both callers: `client add --name` and registration's `client_name`.
    crate::accounts::check_display_name(&r.name).map_err(|problem| ClientError::Name {
        field: "the client name",
        problem,
    })?;
    let mut warnings = Vec::new();
    for uri in r.redirect_uris.iter().chain(&r.post_logout_redirect_uris) {
        warnings.extend(check_redirect_uri(uri, context)?);
    }
    let scopes: Vec<String> = r.scope.split_whitespace().map(str::to_owned).collect();
    if let Some(bad) = scopes.iter().find(|s| !is_scope_token(s)) {
        return Err(ClientError::InvalidScope(bad.clone()));
    }
    let grant_types: Vec<String> = if r.grant_types.is_empty() {
        vec!["authorization_code".into(), "refresh_token".into()]
    } else {
        r.grant_types.clone()
    };
    if let Some(g) = grant_types
        .iter()
        .find(|g| !KNOWN_GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(ClientError::UnknownGrantType(g.clone()));
    }
    if r.public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(ClientError::PublicClientCredentials);
    }
    if grant_types.iter().any(|g| g == "password") {
        warnings.push(Warning::PasswordGrant);
    }
    Ok(CheckedRegistration {
        registration,
        context,
        scopes,
        grant_types,
        warnings,
    })
}

/// A client just registered, with the credentials shown once and never stored in clear.
#[derive(Debug)]
pub struct Registered {
    /// The stored registration.
    pub client: Client,
    /// The client secret (`None` for a public client).
    pub client_secret: Option<String>,
    /// The RFC 7592 registration access token (dynamic registrations only).
    pub registration_access_token: Option<String>,
    /// What the operator should hear about.
    pub warnings: Vec<Warning>,
}

fn new_client<'a>(
    client_id: &'a str,
    c: &'a CheckedRegistration,
    secret_hash: Option<&'a str>,
    registration_token_hash: Option<&'a str>,
    now: i64,
) -> NewClient<'a> {
    let r = &c.registration;
    NewClient {
        client_id,
        name: r.name.trim(),
        secret_hash,
        redirect_uris: &r.redirect_uris,
        scope: &c.scopes,
        grant_types: &c.grant_types,
        id_token_alg: r.id_token_alg,
        access_token_alg: r.access_token_alg,
        post_logout_redirect_uris: &r.post_logout_redirect_uris,
        first_party: r.first_party,
        logo_uri: r.logo_uri.as_deref(),
        policy_uri: r.policy_uri.as_deref(),
        tos_uri: r.tos_uri.as_deref(),
        registration_token_hash,
        now,
    }
}

/// Stores a checked registration under a fresh client_id, with a fresh secret unless the
/// client is public, and a registration access token when it was registered dynamically.
///
/// Errors: [`ClientError::Random`], [`ClientError::Store`].
pub async fn register(
    store: &Store,
    clock: &Clock,
    checked: CheckedRegistration,
) -> Result<Registered, ClientError> {
    let client_id = random_identifier(16).map_err(|_| ClientError::Random)?;
    let client_secret = if checked.registration.public {
        None
    } else {
        Some(random_token(32).map_err(|_| ClientError::Random)?)
    };
    let registration_access_token = match checked.context {
        RedirectContext::Dynamic => Some(random_token(32).map_err(|_| ClientError::Random)?),
        RedirectContext::Operator => None,
    };
    let secret_hash = client_secret.as_deref().map(sha256_hex);
    let token_hash = registration_access_token
        .as_deref()
        .map(sha256_hex)
        .or_else(|| checked.registration.registration_token_hash.clone());
    store
        .create_client(new_client(
            &client_id,
            &checked,
            secret_hash.as_deref(),
            token_hash.as_deref(),
            clock.now(),
        ))
        .await?;
    let client = find(store, &client_id).await?;
    Ok(Registered {
        client,
        client_secret,
        registration_access_token,
        warnings: checked.warnings,
    })
}

/// Replaces a client's registration (its secret and registration token stay); returns the
/// stored result. Running nodes see it once their client cache forgets the old one.
///
/// Errors: [`ClientError::NotFound`], [`ClientError::Store`].
pub async fn replace(
    store: &Store,
    clock: &Clock,
    client_id: &str,
    checked: &CheckedRegistration,
) -> Result<Client, ClientError> {
    store
        .update_client(new_client(client_id, checked, None, None, clock.now()))
        .await?;
    find(store, client_id).await
}

/// What `client update` changes; `None` (or an empty list) keeps the registered value.
#[derive(Clone, Debug, Default)]
pub struct ClientChanges {
    /// New display name.
    pub name: Option<String>,
    /// New redirect URIs.
    pub redirect_uris: Vec<String>,
    /// New post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// New scopes, space-separated.
    pub scope: Option<String>,
    /// New grant types.
    pub grant_types: Vec<String>,
    /// New ID token algorithm.
    pub id_token_alg: Option<Alg>,
    /// New access token algorithm.
    pub access_token_alg: Option<Alg>,
}

/// The outcome of [`update`].
#[derive(Debug)]
pub struct Updated {
    /// The stored registration.
    pub client: Client,
    /// What the operator should hear about.
    pub warnings: Vec<Warning>,
}

/// Applies an operator's changes to a client, checked as `client add` checks a registration.
///
/// Errors: [`ClientError::NotFound`], any refusal of [`validate`], [`ClientError::Store`].
pub async fn update(
    store: &Store,
    clock: &Clock,
    client_id: &str,
    changes: ClientChanges,
) -> Result<Updated, ClientError> {
    let c = find(store, client_id).await?;
    let or = |new: Vec<String>, old: &Vec<String>| {
        if new.is_empty() { old.clone() } else { new }
    };
    let registration = ClientRegistration {
        name: changes.name.unwrap_or_else(|| c.name.clone()),
        redirect_uris: or(changes.redirect_uris, &c.redirect_uris),
        public: c.is_public(),
        scope: changes.scope.unwrap_or_else(|| c.scope.join(" ")),
        grant_types: or(changes.grant_types, &c.grant_types),
        id_token_alg: changes.id_token_alg.unwrap_or(c.id_token_alg),
        access_token_alg: changes.access_token_alg.unwrap_or(c.access_token_alg),
        post_logout_redirect_uris: or(
            changes.post_logout_redirect_uris,
            &c.post_logout_redirect_uris,
        ),
        first_party: c.first_party,
        logo_uri: c.logo_uri.clone(),
        policy_uri: c.policy_uri.clone(),
        tos_uri: c.tos_uri.clone(),
        registration_token_hash: None,
    };
    let checked = validate(registration, RedirectContext::Operator)?;
    let client = replace(store, clock, client_id, &checked).await?;
    Ok(Updated {
        client,
        warnings: checked.warnings,
    })
}

/// Deletes a client after revoking every grant issued to it; access tokens stay on the
/// deny-list until `horizon_secs` from now. Returns how many grants were revoked.
///
/// Errors: [`ClientError::NotFound`], [`ClientError::Store`].
pub async fn remove(
    store: &Store,
    clock: &Clock,
    client_id: &str,
    horizon_secs: i64,
) -> Result<usize, ClientError> {
    find(store, client_id).await?;
    let now = clock.now();
    // One transaction: the grants are revoked and the client deleted together.
    let revoked = store
        .delete_client_and_revoke(client_id, now, now + horizon_secs)
        .await?
        .ok_or_else(|| ClientError::NotFound(client_id.to_owned()))?;
    Ok(revoked)
}

/// Gives a confidential client a fresh secret; returns it (shown once, stored hashed).
///
/// Errors: [`ClientError::NotFound`], [`ClientError::NoSecret`] for a public client,
/// [`ClientError::Random`], [`ClientError::Store`].
pub async fn rotate_secret(store: &Store, client_id: &str) -> Result<String, ClientError> {
    let c = find(store, client_id).await?;
    if c.is_public() {
        return Err(ClientError::NoSecret(client_id.to_owned()));
    }
    let secret = random_token(32).map_err(|_| ClientError::Random)?;
    store
        .set_client_secret(client_id, &crate::crypto::TokenHash::of(&secret))
        .await?;
    Ok(secret)
}

/// Issues a single-use initial access token for dynamic registration (RFC 7591 §3), valid for
/// `ttl_secs` seconds; returns it (stored hashed).
///
/// Errors: [`ClientError::Random`], [`ClientError::Store`].
pub async fn issue_initial_token(
    store: &Store,
    clock: &Clock,
    ttl_secs: i64,
) -> Result<String, ClientError> {
    let token = random_token(32).map_err(|_| ClientError::Random)?;
    let now = clock.now();
    store
        .insert_initial_token(&crate::crypto::TokenHash::of(&token), now + ttl_secs, now)
        .await?;
    Ok(token)
}

/// The client with this client_id.
///
/// Errors: [`ClientError::NotFound`], [`ClientError::Store`].
pub async fn find(store: &Store, client_id: &str) -> Result<Client, ClientError> {
    store
        .find_client(client_id)
        .await?
        .ok_or_else(|| ClientError::NotFound(client_id.to_owned()))
}

/// What an audit line says about a registration: what it may do (never its secret).
pub fn registration_detail(c: &Client) -> String {
    format!(
        "scope {:?}; grant_types {:?}; redirect_uris {:?}; first_party {}",
        c.scope.join(" "),
        c.grant_types,
        c.redirect_uris,
        c.first_party
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uri_policy_depends_on_who_registers() {
        use RedirectContext::{Dynamic, Operator};
        let http = "http://app.example/cb";
        assert!(matches!(
            check_redirect_uri(http, Operator),
            Ok(Some(Warning::PlainHttpRedirectUri(_)))
        ));
        assert!(matches!(
            check_redirect_uri(http, Dynamic),
            Err(ClientError::RedirectUriPlainHttp(_))
        ));
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:9/cb",
            "com.example.app:/cb",
        ] {
            assert!(matches!(check_redirect_uri(ok, Dynamic), Ok(None)), "{ok}");
        }
        assert!(check_redirect_uri("myapp:/cb", Dynamic).is_err());
        assert!(matches!(
            check_redirect_uri("myapp:/cb", Operator),
            Ok(None)
        ));
        for context in [Operator, Dynamic] {
            let e = check_redirect_uri("https://a.example/#x", context).expect_err("fragment");
            assert!(e.is_redirect_uri());
            assert!(check_redirect_uri("/relative", context).is_err());
        }
    }

    #[test]
    fn validation_defaults_grant_types_and_warns_about_the_password_grant() {
        let uris = ["https://app.example/cb".to_owned()];
        let checked = validate(
            ClientRegistration::new("App", &uris, false),
            RedirectContext::Operator,
        )
        .expect("valid");
        assert_eq!(
            checked.grant_types(),
            ["authorization_code", "refresh_token"]
        );
        assert!(checked.warnings.is_empty());
        let mut r = ClientRegistration::new("App", &uris, true);
        r.grant_types = vec!["client_credentials".into()];
        assert!(matches!(
            validate(r, RedirectContext::Operator),
            Err(ClientError::PublicClientCredentials)
        ));
        let mut r = ClientRegistration::new("App", &uris, false);
        r.grant_types = vec!["password".into()];
        let checked = validate(r, RedirectContext::Operator).expect("valid");
        assert_eq!(checked.warnings, [Warning::PasswordGrant]);
    }
}
