//! The browser side of the authorization endpoint (RFC 6749 §4.1.1; OIDC Core §3.1.2.1–§3.1.2.6):
//! it parses and validates the request through the protocol layer
//! ([`crate::oauth::authorize::validate`]), then decides the next step from the session and the
//! request — reuse the login, show the login page, ask for consent, or issue the code
//! ([`crate::oauth::authorize::issue_code`]). The protocol layer never imports this module.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::i18n::Lang;
use super::pages::{self, PageError};
use super::session;
use crate::app::AppState;
use crate::audit::Origin;
use crate::client_addr::RequestOrigin;
use crate::oauth::authorize::{
    Authenticated, AuthorizationRequest, Rejection, Untrusted, issue_code, validate,
};
use crate::oauth::error::{AuthorizeErrorCode, ErrorRedirect};
use crate::oauth::params::Params;
use crate::oauth::types::Scope;
use crate::oidc::claims;

/// The page that tells the person why a request that cannot be trusted was refused.
fn untrusted_page(why: Untrusted) -> PageError {
    match why {
        Untrusted::InvalidRequest => PageError::InvalidRequest,
        Untrusted::MissingClientId => PageError::MissingClientId,
        Untrusted::UnknownClient => PageError::UnknownClient,
        Untrusted::MissingRedirectUri => PageError::MissingRedirectUri,
        Untrusted::UnregisteredRedirectUri => PageError::UnregisteredRedirectUri,
        Untrusted::Unavailable => PageError::Unavailable,
    }
}

/// What [`issue_code`] needs of a browser login.
pub fn authenticated(sso: &session::Sso) -> Authenticated<'_> {
    Authenticated {
        sub: &sso.sub,
        auth_time: sso.auth_time,
        security_stamp: sso.security_stamp,
    }
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
        return issue_code(state, &req, &authenticated(sso)).await;
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
        return issue_code(state, &req, &authenticated(sso)).await;
    }
    if req.prompt.iter().any(|p| p == "none") {
        if missing == [claims::OFFLINE_ACCESS] {
            // OIDC Core §11: no consent to offline access, and no page to ask on: ignore it.
            req.scope.remove(claims::OFFLINE_ACCESS);
            return issue_code(state, &req, &authenticated(sso)).await;
        }
        return ErrorRedirect::for_request(
            &req,
            AuthorizeErrorCode::ConsentRequired,
            "the user has not allowed this client these scopes",
        )
        .into_response(state.issuer.as_str());
    }
    super::consent::show_consent(state, session, lang, req).await
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
        Err(Rejection::Page(why)) => return pages::error_page(lang, untrusted_page(why)),
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
    super::login::show_login(state, session, lang, req).await
}
