//! Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! `POST /register` needs an initial access token the operator issued (`sekimori client
//! initial-token`, single use) unless open registration is enabled. Each registered client gets
//! a registration access token for `GET`/`PUT`/`DELETE /register/{client_id}`. Dynamically
//! registered clients are always third-party (their users see the consent page).
//!
//! A registration cannot grant itself power (RFC 7591 §2, §5): the scopes and grant types it
//! may ask for are the operator's [`RegistrationPolicy`] (`--registration-scopes`,
//! `--registration-grant-types`). Anything outside it is refused with `invalid_client_metadata`
//! rather than silently dropped, so the developer learns at once what the client will not get.
//! The same rules apply to an RFC 7592 update. `client add` (the operator) is not limited.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub use super::error::RegistrationError;
use super::error::no_store_json;
use crate::app::AppState;
use crate::audit::{Audit, Event};
use crate::client_addr::RequestOrigin;
use crate::clients::{ClientError, ClientRegistration, RedirectContext};
use crate::keys::Alg;
use crate::oauth::types::{InitialAccessToken, RegistrationAccessToken};
use crate::store::Client;

/// Default of `--registration-scopes`: the OpenID Connect scopes (OIDC Core §5.4, §11).
pub const DEFAULT_REGISTRATION_SCOPES: &str = "openid profile email address phone offline_access";

/// Default of `--registration-grant-types`: the code flow and its refresh tokens.
pub const DEFAULT_REGISTRATION_GRANT_TYPES: &str = "authorization_code refresh_token";

/// Grant types a dynamic registration can name at all (policy permitting).
const REGISTRABLE_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];

/// What a dynamically registered client may be given: the operator's allow-lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// Scopes a registration may ask for.
    pub scopes: Vec<String>,
    /// Grant types a registration may ask for.
    pub grant_types: Vec<String>,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self::parse(
            DEFAULT_REGISTRATION_SCOPES,
            DEFAULT_REGISTRATION_GRANT_TYPES,
        )
        .unwrap_or_else(|_| Self {
            scopes: Vec::new(),
            grant_types: Vec::new(),
        })
    }
}

impl RegistrationPolicy {
    /// Parses the two settings: lists separated by spaces or commas.
    ///
    /// Errors: a message naming a value that is not an RFC 6749 §3.3 scope-token, or a grant
    /// type registration does not support (`authorization_code`, `refresh_token`,
    /// `client_credentials`, `password`).
    pub fn parse(scopes: &str, grant_types: &str) -> Result<Self, String> {
        let list = |s: &str| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for v in s.split([' ', ',']).map(str::trim).filter(|v| !v.is_empty()) {
                if !out.iter().any(|o| o == v) {
                    out.push(v.to_owned());
                }
            }
            out
        };
        let scopes = list(scopes);
        if let Some(bad) = scopes.iter().find(|s| !crate::clients::is_scope_token(s)) {
            return Err(format!(
                "registration scope {bad:?} is not a valid scope (RFC 6749 §3.3)"
            ));
        }
        let grant_types = list(grant_types);
        if let Some(bad) = grant_types
            .iter()
            .find(|g| !REGISTRABLE_GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(format!(
                "registration grant type {bad:?} is not one of {}",
                REGISTRABLE_GRANT_TYPES.join(" ")
            ));
        }
        Ok(Self {
            scopes,
            grant_types,
        })
    }

    fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

/// Client metadata as RFC 7591 §2 names it. Unknown members are ignored (§2).
#[derive(Debug, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    scope: Option<String>,
    logo_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    id_token_signed_response_alg: Option<String>,
    client_id: Option<String>,
}

/// RFC 7591 §3.2.2: a refused registration is `invalid_redirect_uri` or
/// `invalid_client_metadata`, described by the service's own wording (which names the value
/// refused, never internal text); a failure on our side is a 503 without detail.
impl From<ClientError> for RegistrationError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Store(e) => Self::Store(e),
            // The client vanished between the token check and the change (RFC 7592 §2).
            ClientError::NotFound(_) => Self::InvalidToken,
            // Logged where it happened (the random generator is the only other internal cause).
            e if e.is_internal() => Self::Unavailable,
            e if e.is_redirect_uri() => Self::InvalidRedirectUri(e.to_string()),
            e => Self::InvalidClientMetadata(e.to_string()),
        }
    }
}

fn bad_meta(d: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(d.into())
}

/// Checks the metadata against the protocol and the operator's `policy` and turns it into a
/// registration (RFC 7591 §2, §2.1).
///
/// Errors: `invalid_client_metadata` for a scope or grant type outside the policy (RFC 7591
/// §3.2.2), as for any other unacceptable value; `invalid_redirect_uri` for a bad URI (the
/// [`RedirectContext::Dynamic`] policy of [`crate::clients::check_redirect_uri`]).
fn validate(
    meta: ClientMetadata,
    policy: &RegistrationPolicy,
) -> Result<crate::clients::CheckedRegistration, RegistrationError> {
    let grant_types = meta
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    for g in &grant_types {
        if !REGISTRABLE_GRANT_TYPES.contains(&g.as_str()) {
            return Err(bad_meta(format!("unsupported grant type {g:?}")));
        }
        // RFC 7591 §2: the server decides what a client may use; client_credentials and
        // password act without a user's consent, so only the operator's policy grants them.
        if !policy.allows_grant(g) {
            return Err(bad_meta(format!(
                "grant type {g:?} is not available to dynamically registered clients \
                 (allowed: {})",
                policy.grant_types.join(" ")
            )));
        }
    }
    let code_flow = grant_types.iter().any(|g| g == "authorization_code");
    // §2.1: grant_types and response_types must agree.
    let response_types = meta.response_types.unwrap_or_else(|| {
        if code_flow {
            vec!["code".into()]
        } else {
            Vec::new()
        }
    });
    if response_types.iter().any(|r| r != "code") {
        return Err(bad_meta("only the response type \"code\" is supported"));
    }
    if code_flow == response_types.is_empty() {
        return Err(bad_meta(
            "grant_types and response_types disagree (authorization_code goes with code)",
        ));
    }
    let auth_method = meta
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    let public = match auth_method.as_str() {
        "client_secret_basic" | "client_secret_post" => false,
        "none" => true,
        other => {
            return Err(bad_meta(format!(
                "unsupported token_endpoint_auth_method {other:?}"
            )));
        }
    };
    if public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(bad_meta("a public client cannot use client_credentials"));
    }
    if code_flow && meta.redirect_uris.is_empty() {
        return Err(ClientError::RedirectUriMissing.into());
    }
    for (name, value) in [
        ("logo_uri", &meta.logo_uri),
        ("policy_uri", &meta.policy_uri),
        ("tos_uri", &meta.tos_uri),
    ] {
        if let Some(v) = value {
            let ok = url::Url::parse(v).is_ok_and(|u| u.scheme() == "https");
            if !ok {
                return Err(bad_meta(format!("{name} must be an https URL")));
            }
        }
    }
    let id_token_alg = match meta.id_token_signed_response_alg.as_deref() {
        None => Alg::RS256,
        Some(a) => Alg::parse(a).ok_or_else(|| bad_meta(format!("unsupported algorithm {a:?}")))?,
    };
    let mut registration = ClientRegistration::new(
        meta.client_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("Unnamed application"),
        &meta.redirect_uris,
        public,
    );
    registration.scope = registered_scope(meta.scope, &grant_types, policy)?;
    registration.grant_types = grant_types;
    registration.id_token_alg = id_token_alg;
    registration.post_logout_redirect_uris = meta.post_logout_redirect_uris;
    registration.logo_uri = meta.logo_uri;
    registration.policy_uri = meta.policy_uri;
    registration.tos_uri = meta.tos_uri;
    // The rules `client add` applies too (redirect URIs under the dynamic policy, scope syntax,
    // names, grant types); its warnings are for an operator, not for this client.
    Ok(crate::clients::validate(
        registration,
        RedirectContext::Dynamic,
    )?)
}

/// The scope a dynamic registration gets: the one asked for, if the policy allows all of it,
/// else the OpenID defaults the policy allows; plus `offline_access` for a refresh-token client
/// when the policy allows it.
///
/// Errors: `invalid_client_metadata` naming a scope outside the policy.
fn registered_scope(
    asked: Option<String>,
    grant_types: &[String],
    policy: &RegistrationPolicy,
) -> Result<String, RegistrationError> {
    let mut scope = match asked {
        Some(scope) => {
            // RFC 7591 §2: refused rather than dropped, so the client never believes it holds
            // a scope it will not be granted.
            if let Some(bad) = scope.split_whitespace().find(|s| !policy.allows_scope(s)) {
                return Err(bad_meta(format!(
                    "scope {bad:?} is not available to dynamically registered clients \
                     (allowed: {})",
                    policy.scopes.join(" ")
                )));
            }
            scope
        }
        None => ["openid", "profile", "email"]
            .into_iter()
            .filter(|s| policy.allows_scope(s))
            .collect::<Vec<_>>()
            .join(" "),
    };
    if grant_types.iter().any(|g| g == "refresh_token")
        && policy.allows_scope("offline_access")
        && !scope.split_whitespace().any(|s| s == "offline_access")
    {
        if !scope.is_empty() {
            scope.push(' ');
        }
        scope.push_str("offline_access");
    }
    Ok(scope)
}

/// The registration as RFC 7591 §3.2.1 / RFC 7592 §3 return it (never the secret's hash).
fn metadata_json(state: &AppState, c: &Client) -> Value {
    json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "response_types": if c.allows_grant("authorization_code") { vec!["code"] } else { vec![] },
        "token_endpoint_auth_method": if c.is_public() { "none" } else { "client_secret_basic" },
        "scope": c.scope.join(" "),
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "logo_uri": c.logo_uri,
        "policy_uri": c.policy_uri,
        "tos_uri": c.tos_uri,
        "registration_client_uri": state.issuer.endpoint(&format!("/register/{}", c.client_id)),
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    crate::oauth::params::bearer_token(headers).ok().flatten()
}

fn parse_metadata(body: &[u8]) -> Result<ClientMetadata, RegistrationError> {
    serde_json::from_slice(body).map_err(|e| {
        bad_meta(format!(
            "the body must be a JSON object of client metadata ({e})"
        ))
    })
}

/// `POST /register` (RFC 7591 §3).
pub async fn register_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    body: Bytes,
) -> Result<Response, RegistrationError> {
    let now = state.clock.now();
    let token = bearer(&headers);
    if !state.open_registration && token.is_none() {
        return Err(RegistrationError::InvalidToken);
    }
    // Metadata first, so a typo in it does not cost the developer the single-use token.
    let checked = validate(parse_metadata(&body)?, &state.registration_policy)?;
    if !state.open_registration {
        let spent = match token {
            Some(t) => {
                state
                    .store
                    .consume_initial_token(&InitialAccessToken::new(t).hash(), now)
                    .await?
            }
            None => false,
        };
        if !spent {
            return Err(RegistrationError::InvalidToken);
        }
    }
    // validate() already ran every client-side check; what can fail here is ours, and its
    // text (SQL, say) is not for the client.
    let created = crate::clients::register(&state.store, &state.clock, checked)
        .await
        .inspect_err(|e| {
            if matches!(e, ClientError::Random) {
                tracing::error!(error = %e, "dynamic registration failed");
            }
        })?;
    let client = created.client;
    let mut out = metadata_json(&state, &client);
    out["registration_access_token"] = json!(created.registration_access_token);
    if let Some(secret) = created.client_secret {
        out["client_secret"] = json!(secret);
        out["client_secret_expires_at"] = json!(0);
    }
    Audit::new(Event::ClientRegistered)
        .client(&client.client_id)
        .origin(&origin)
        .reason("dynamic_registration")
        .detail(crate::clients::registration_detail(&client))
        .emit();
    Ok(no_store_json(StatusCode::CREATED, out))
}

/// The client named in the path, if the bearer token is its registration access token
/// (RFC 7592 §2: anything else is 401).
async fn authorized_client(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Client, RegistrationError> {
    let token = bearer(headers).ok_or(RegistrationError::InvalidToken)?;
    let client = state
        .store
        .find_client(client_id)
        .await?
        .ok_or(RegistrationError::InvalidToken)?;
    let ok = client
        .registration_token_hash
        .as_deref()
        .is_some_and(|h| RegistrationAccessToken::new(token).hash().ct_eq(h));
    if ok {
        Ok(client)
    } else {
        Err(RegistrationError::InvalidToken)
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn register_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, RegistrationError> {
    let client = authorized_client(&state, &headers, &client_id).await?;
    Ok(no_store_json(
        StatusCode::OK,
        metadata_json(&state, &client),
    ))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the metadata.
pub async fn register_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, RegistrationError> {
    let client = authorized_client(&state, &headers, &client_id).await?;
    let meta = parse_metadata(&body)?;
    if meta.client_id.as_deref().is_some_and(|id| id != client_id) {
        return Err(bad_meta("client_id does not match the registration"));
    }
    // The same policy as at registration: an update cannot reach further (RFC 7592 §2.2).
    let checked = validate(meta, &state.registration_policy)?;
    if checked.registration().public != client.is_public() {
        return Err(bad_meta(
            "token_endpoint_auth_method cannot change between public and confidential",
        ));
    }
    let client = crate::clients::replace(&state.store, &state.clock, &client_id, &checked).await?;
    state.forget_client(&client_id).await;
    Audit::new(Event::ClientRegistered)
        .client(&client_id)
        .origin(&origin)
        .reason("registration_updated")
        .detail(crate::clients::registration_detail(&client))
        .emit();
    Ok(no_store_json(
        StatusCode::OK,
        metadata_json(&state, &client),
    ))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): removes the client and revokes its tokens.
pub async fn register_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, RegistrationError> {
    authorized_client(&state, &headers, &client_id).await?;
    crate::clients::remove(
        &state.store,
        &state.clock,
        &client_id,
        state.lifetimes.access_token_secs,
    )
    .await?;
    state.forget_client(&client_id).await;
    tracing::info!(client_id, "client deleted its registration");
    Ok(StatusCode::NO_CONTENT.into_response())
}
