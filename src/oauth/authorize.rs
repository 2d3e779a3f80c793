//! The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2; OIDC Core §3.1.2; RFC 7636 §4.3;
//! RFC 9207 for `iss` in the response).
//!
//! Validation happens in two tiers (RFC 6749 §4.1.2.1): while the client or its redirect_uri is
//! unknown, errors are rendered as an HTML page and **never** redirected; once both are trusted,
//! every other error is redirected to the redirect_uri with `error`, `error_description`,
//! `state` and `iss`.

use std::sync::Arc;

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::error::AuthorizeErrorCode;
pub use super::error::ErrorRedirect;
use super::params::Params;
use super::redirect_uri;
use super::response::{ResponseMode, deliver};
use super::types::{AuthorizationCode, ClientId, RedirectUri, Scope};
use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::crypto::random_token;
use crate::store::{Client, NewAuthorizationCode};
use rules::Refusal;

mod rules;

/// A validated authorization request, kept in the browser session while the user logs in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: ClientId,
    /// The client's display name (escaped wherever shown).
    pub client_name: String,
    /// The request's redirect_uri: a registered one, or (RFC 8252 §7.3) a registered loopback
    /// URI with the port the native app listens on.
    pub redirect_uri: RedirectUri,
    /// Scopes to grant (requested ∩ supported ∩ allowed for the client); a space-delimited
    /// string in the session.
    pub scope: Scope,
    /// Opaque client state, echoed verbatim.
    pub state: Option<String>,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// RFC 7636 S256 challenge.
    pub code_challenge: Option<String>,
    /// The `prompt` values (OIDC Core §3.1.2.1).
    pub prompt: Vec<String>,
    /// Maximum authentication age in seconds (OIDC Core §3.1.2.1).
    pub max_age: Option<i64>,
    /// Email to pre-fill.
    pub login_hint: Option<String>,
    /// Preferred UI languages, space-delimited BCP 47 tags.
    pub ui_locales: Option<String>,
    /// How the response travels back.
    pub response_mode: ResponseMode,
    /// A first-party client skips the consent page.
    pub first_party: bool,
    /// Claims the `claims` parameter asked for in the ID token, allowed by the granted scopes
    /// (claim names, a space-delimited string in the session; OIDC Core §5.5).
    pub id_token_claims: Scope,
    /// The only user the client accepts: the `sub` of a valid `id_token_hint` (OIDC Core
    /// §3.1.2.1), or the `sub` value of a `claims` request (§5.5.1). (Named `id_token_hint_sub`
    /// in login forms started by earlier versions.)
    #[serde(alias = "id_token_hint_sub")]
    pub required_sub: Option<String>,
}

/// Why a request could not be trusted enough to redirect its error (RFC 6749 §4.1.2.1: the
/// resource owner is informed, the user agent is not redirected). The browser layer shows each
/// as a page with a stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Untrusted {
    /// A repeated, oversized or malformed `client_id` or `redirect_uri`.
    InvalidRequest,
    /// No `client_id`.
    MissingClientId,
    /// `client_id` is not registered.
    UnknownClient,
    /// No `redirect_uri` (OIDC Core §3.1.2.1: REQUIRED).
    MissingRedirectUri,
    /// `redirect_uri` is not one the client registered.
    UnregisteredRedirectUri,
    /// The client could not be read (storage failure).
    Unavailable,
}

/// Why an authorization request was refused.
#[derive(Debug)]
pub enum Rejection {
    /// Unknown client or untrusted redirect_uri: an HTML page, no redirect.
    Page(Untrusted),
    /// Anything else: a redirect to the client.
    Redirect(ErrorRedirect),
}

/// Validates an authorization request (the checks that need no browser session), applying the
/// rules (one function per parameter group, each naming its clause) in the order below. Every request refused before its client can be told (tier 1) is
/// an `authorization_rejected` audit event with the reason and the received and registered
/// redirect URIs.
///
/// Errors: see the module doc; each rule names the clause it enforces.
pub async fn validate(
    state: &AppState,
    params: &Params,
    origin: &Origin,
) -> Result<AuthorizationRequest, Rejection> {
    // Tier 1: until client_id and redirect_uri are trusted, nothing may be redirected.
    let (client, redirect_uri) = trusted_client(state, params, origin).await?;

    // Tier 2: errors go back to the client.
    let client_state = rules::client_state(params);
    let response_mode = rules::error_response_mode(params);
    let fail = |refusal: Refusal| {
        Rejection::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.to_owned(),
            response_mode,
            state: client_state.clone(),
            code: refusal.code,
            description: refusal.description,
        })
    };
    rules::single_values(params).map_err(fail)?;
    rules::no_request_objects(params).map_err(fail)?;
    rules::response_type_and_mode(params).map_err(fail)?;
    rules::code_flow_allowed(&client).map_err(fail)?;
    let requested = rules::requested_scope(params).map_err(fail)?;
    let prompt = rules::prompt(params).map_err(fail)?;
    let granted = rules::granted_scope(requested, &client).map_err(fail)?;
    let max_age = rules::max_age(params).map_err(fail)?;
    let code_challenge = rules::code_challenge(params, client.is_public()).map_err(fail)?;
    let requested_claims = rules::requested_claims(params, &granted).map_err(fail)?;
    let required_sub = rules::required_subject(state, params, &requested_claims).map_err(fail)?;
    Ok(AuthorizationRequest {
        client_id: ClientId::new(client.client_id.clone()),
        client_name: client.name.clone(),
        redirect_uri: RedirectUri::new(redirect_uri),
        scope: granted,
        state: client_state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.map(str::to_owned),
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        response_mode,
        first_party: client.first_party,
        id_token_claims: requested_claims.id_token,
        required_sub,
    })
}

/// Tier 1, `client_id` and `redirect_uri` (RFC 6749 §4.1.2.1, §3.1.2.3; RFC 9700 §4.1.3;
/// RFC 8252 §7.3; OIDC Core §3.1.2.1): the registered client and the request's redirect_uri.
/// Until both are trusted nothing may be redirected, so each refusal is an HTML page and an
/// `authorization_rejected` audit event with the reason and the received and registered
/// redirect URIs.
async fn trusted_client<'p>(
    state: &AppState,
    params: &'p Params,
    origin: &Origin,
) -> Result<(Arc<Client>, &'p str), Rejection> {
    let refuse = |page: Untrusted, reason: &str, registered: &[String]| {
        let received = params.get("redirect_uri").unwrap_or_default();
        let mut audit = Audit::new(Event::AuthorizationRejected)
            .origin(origin)
            .reason(reason)
            .detail(format!(
                "received redirect_uri {received:?}; registered {registered:?}"
            ));
        if let Some(client_id) = params.get("client_id") {
            audit = audit.client(client_id);
        }
        audit.emit();
        Rejection::Page(page)
    };
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err(refuse(Untrusted::InvalidRequest, "repeated_parameter", &[]));
    }
    if params
        .first_oversized(&["client_id", "redirect_uri"])
        .or(params.first_malformed(&["client_id", "redirect_uri"]))
        .is_some()
    {
        return Err(refuse(
            Untrusted::InvalidRequest,
            "malformed_parameter",
            &[],
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(refuse(Untrusted::MissingClientId, "missing_client_id", &[]));
    };
    let client = state
        .client(client_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "authorize: storage failure");
            Rejection::Page(Untrusted::Unavailable)
        })?
        .ok_or_else(|| refuse(Untrusted::UnknownClient, "unknown_client", &[]))?;
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED.
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(refuse(
            Untrusted::MissingRedirectUri,
            "missing_redirect_uri",
            &client.redirect_uris,
        ));
    };
    // RFC 6749 §3.1.2.3 / RFC 9700 §4.1.3: exact string comparison, except the port of a
    // loopback IP literal (RFC 8252 §7.3). The request's own URI (with its port) is where the
    // response goes and what the token request must repeat.
    if !redirect_uri::is_registered(&client.redirect_uris, redirect_uri) {
        return Err(refuse(
            Untrusted::UnregisteredRedirectUri,
            "unregistered_redirect_uri",
            &client.redirect_uris,
        ));
    }
    Ok((client, redirect_uri))
}

/// Who the code is for: the user a browser session (or a login just now) authenticated.
#[derive(Clone, Copy, Debug)]
pub struct Authenticated<'a> {
    /// The user's `sub`.
    pub sub: &'a str,
    /// When they authenticated (OIDC Core §2 `auth_time`), Unix seconds.
    pub auth_time: i64,
    /// The user's security stamp at that login: a later password change or disable voids it.
    pub security_stamp: i64,
}

/// Issues a code for `req` to the authenticated user `sub` and returns the success response
/// (RFC 6749 §4.1.2 with `iss`, RFC 9207 §2), as a 302 or a form post. The code carries the
/// login's security stamp, so a code from a login that a password change ended is refused at
/// the token endpoint.
///
/// Errors: a `temporarily_unavailable` response when the code cannot be stored.
pub async fn issue_code(
    state: &AppState,
    req: &AuthorizationRequest,
    user: &Authenticated<'_>,
) -> Response {
    let (sub, auth_time) = (user.sub, user.auth_time);
    let issuer = state.issuer.as_str();
    let unavailable = || {
        ErrorRedirect::for_request(
            req,
            AuthorizeErrorCode::TemporarilyUnavailable,
            "please try again",
        )
        .into_response(issuer)
    };
    let Ok(code) = random_token(32).map(AuthorizationCode::new) else {
        return unavailable();
    };
    let now = state.clock.now();
    let code_hash = code.hash();
    let scope = req.scope.to_string();
    let id_token_claims = req.id_token_claims.to_string();
    let stored = state
        .store
        .insert_code(NewAuthorizationCode {
            code_hash: &code_hash,
            client_id: &req.client_id,
            sub,
            redirect_uri: &req.redirect_uri,
            scope: &scope,
            nonce: req.nonce.as_deref(),
            code_challenge: req.code_challenge.as_deref(),
            id_token_claims: &id_token_claims,
            auth_time,
            security_stamp: user.security_stamp,
            now,
            expires_at: now.saturating_add(state.lifetimes.code_secs),
        })
        .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, client_id = %req.client_id, "cannot store authorization code");
        return unavailable();
    }
    tracing::info!(client_id = %req.client_id, sub, "authorization code issued");
    deliver(
        &req.redirect_uri,
        req.response_mode,
        &[
            ("code", Some(code.expose())),
            ("state", req.state.as_deref()),
            ("iss", Some(issuer)),
        ],
    )
}
