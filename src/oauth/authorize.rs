//! The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2; OIDC Core §3.1.2; RFC 7636 §4.3;
//! RFC 9207 for `iss` in the response).
//!
//! Validation happens in two tiers (RFC 6749 §4.1.2.1): while the client or its redirect_uri is
//! unknown, errors are rendered as an HTML page and **never** redirected; once both are trusted,
//! every other error is redirected to the redirect_uri with `error`, `error_description`,
//! `state` and `iss`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::error::AuthorizeErrorCode;
pub use super::error::ErrorRedirect;
use super::params::Params;
use super::redirect_uri;
use super::response::{ResponseMode, deliver};
use super::types::{AuthorizationCode, ClientId, RedirectUri, Scope};
use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::client_addr::RequestOrigin;
use crate::crypto::random_token;
use crate::oidc::claims;
use crate::store::{Client, NewAuthorizationCode};
use crate::web::i18n::Lang;
use crate::web::pages::{self, PageError};
use crate::web::session;
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

/// Why an authorization request was refused.
#[derive(Debug)]
pub enum Rejection {
    /// Unknown client or untrusted redirect_uri: an HTML page, no redirect.
    Page(PageError),
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
    let refuse = |page: PageError, reason: &str, registered: &[String]| {
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
        return Err(refuse(PageError::InvalidRequest, "repeated_parameter", &[]));
    }
    if params
        .first_oversized(&["client_id", "redirect_uri"])
        .or(params.first_malformed(&["client_id", "redirect_uri"]))
        .is_some()
    {
        return Err(refuse(
            PageError::InvalidRequest,
            "malformed_parameter",
            &[],
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(refuse(PageError::MissingClientId, "missing_client_id", &[]));
    };
    let client = state
        .client(client_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "authorize: storage failure");
            Rejection::Page(PageError::Unavailable)
        })?
        .ok_or_else(|| refuse(PageError::UnknownClient, "unknown_client", &[]))?;
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED.
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(refuse(
            PageError::MissingRedirectUri,
            "missing_redirect_uri",
            &client.redirect_uris,
        ));
    };
    // RFC 6749 §3.1.2.3 / RFC 9700 §4.1.3: exact string comparison, except the port of a
    // loopback IP literal (RFC 8252 §7.3). The request's own URI (with its port) is where the
    // response goes and what the token request must repeat.
    if !redirect_uri::is_registered(&client.redirect_uris, redirect_uri) {
        return Err(refuse(
            PageError::UnregisteredRedirectUri,
            "unregistered_redirect_uri",
            &client.redirect_uris,
        ));
    }
    Ok((client, redirect_uri))
}

/// Issues a code for `req` to the logged-in user `sso` and returns the success response
/// (RFC 6749 §4.1.2 with `iss`, RFC 9207 §2), as a 302 or a form post. The code carries the
/// session's security stamp, so a code from a login that a password change ended is refused at
/// the token endpoint.
///
/// Errors: a `temporarily_unavailable` response when the code cannot be stored.
pub async fn issue_code(
    state: &AppState,
    req: &AuthorizationRequest,
    sso: &session::Sso,
) -> Response {
    let (sub, auth_time) = (sso.sub.as_str(), sso.auth_time);
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
            security_stamp: sso.security_stamp,
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

/// The user `sso` is authenticated for `req`: issue the code, or ask for consent first when a
/// third-party client wants scopes the user has not allowed it (or `prompt=consent`).
///
/// `offline_access` (OIDC Core §11) needs explicit consent, which "other conditions" may
/// stand in for: a first-party client gets it without a page, and so does a client the user
/// already allowed it. A third-party client asking for it the first time shows the consent
/// page (listing it) even without `prompt=consent`; with `prompt=none`, where no page can be
/// shown, an offline_access request without stored consent is ignored.
///
/// Errors: `consent_required` for `prompt=none` when consent is missing (OIDC Core §3.1.2.6).
pub async fn continue_as(
    state: &AppState,
    session: &Session,
    lang: Lang,
    mut req: AuthorizationRequest,
    sso: &session::Sso,
) -> Response {
    if req.first_party {
        return issue_code(state, &req, sso).await;
    }
    let consent = match state.store.find_consent(&sso.sub, &req.client_id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "authorize: storage failure");
            return pages::error_page(lang, PageError::Unavailable);
        }
    };
    let forced = req.prompt.iter().any(|p| p == "consent");
    let allowed = Scope::parse(&consent.map(|c| c.scope).unwrap_or_default());
    let missing: Vec<&str> = req.scope.iter().filter(|s| !allowed.contains(s)).collect();
    if missing.is_empty() && !forced {
        return issue_code(state, &req, sso).await;
    }
    if req.prompt.iter().any(|p| p == "none") {
        if missing == [claims::OFFLINE_ACCESS] {
            // OIDC Core §11: no consent to offline access, and no page to ask on: ignore it.
            req.scope.remove(claims::OFFLINE_ACCESS);
            return issue_code(state, &req, sso).await;
        }
        return ErrorRedirect::for_request(
            &req,
            AuthorizeErrorCode::ConsentRequired,
            "the user has not allowed this client these scopes",
        )
        .into_response(state.issuer.as_str());
    }
    crate::web::consent::show_consent(state, session, lang, req).await
}

/// `GET /authorize` (RFC 6749 §4.1.1).
pub async fn authorize_get(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    authorize(&state, &session, &headers, &origin, &params).await
}

/// `POST /authorize` with a form body (OIDC Core §3.1.2.1): answered with a 303 to the same
/// request as a GET. A cross-site POST does not carry our SameSite=Lax cookie, so handling it
/// here would start a fresh session and overwrite the user's own — a logout without
/// confirmation. The top-level GET that follows does carry the cookie.
pub async fn authorize_post(State(state): State<AppState>, body: Bytes) -> Response {
    // The body travels on as the query, byte for byte: bytes that are not UTF-8 would have to
    // be rewritten (changing `state`, say), so they are refused as GET refuses them.
    let Ok(query) = std::str::from_utf8(&body) else {
        return pages::error_page(Lang::En, PageError::InvalidRequest);
    };
    let location = format!("{}?{}", state.issuer.endpoint("/authorize"), query.trim());
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => (
            axum::http::StatusCode::SEE_OTHER,
            [(axum::http::header::LOCATION, v)],
        )
            .into_response(),
        Err(_) => pages::error_page(Lang::En, PageError::InvalidRequest),
    }
}

async fn authorize(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    origin: &Origin,
    params: &Params,
) -> Response {
    let lang = Lang::negotiate(params.get("ui_locales"), headers);
    let req = match validate(state, params, origin).await {
        Ok(req) => req,
        Err(Rejection::Page(e)) => return pages::error_page(lang, e),
        Err(Rejection::Redirect(r)) => return r.into_response(state.issuer.as_str()),
    };
    let now = state.clock.now();
    // A login that a password change or disable ended (on any node) does not count.
    let sso = match session::current(&state.store, session).await {
        Ok(current) => current.map(|(sso, _)| sso),
        Err(e) => {
            tracing::error!(error = %e, "authorize: storage failure");
            return pages::error_page(lang, PageError::Unavailable);
        }
    };
    // OIDC Core §3.1.2.3: reuse the session unless the client asks for a fresh login, the
    // session is older than max_age, or id_token_hint names someone else.
    let fresh_enough = |auth_time: i64| match req.max_age {
        // max_age=0: authenticate now, like prompt=login (auth_time has one-second resolution).
        Some(0) => false,
        Some(max_age) => now.saturating_sub(auth_time) <= max_age,
        None => true,
    };
    // select_account: our login form is where another account is chosen.
    let wants_login = req
        .prompt
        .iter()
        .any(|p| p == "login" || p == "select_account");
    let hint_ok = |sub: &str| req.required_sub.as_deref().is_none_or(|h| h == sub);
    let reusable = sso.filter(|s| !wants_login && fresh_enough(s.auth_time) && hint_ok(&s.sub));
    if let Some(sso) = reusable {
        return continue_as(state, session, lang, req, &sso).await;
    }
    if req.prompt.iter().any(|p| p == "none") {
        // OIDC Core §3.1.2.6.
        return ErrorRedirect::for_request(
            &req,
            AuthorizeErrorCode::LoginRequired,
            "the user is not logged in",
        )
        .into_response(state.issuer.as_str());
    }
    crate::web::login::show_login(state, session, lang, req).await
}
