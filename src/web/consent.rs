//! The consent page for third-party clients: what the client asks for, in plain words, and
//! Allow / Deny. The answer is remembered per (user, client) so only new scopes ask again.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower_sessions::Session;

use super::headers::{form_action_source, html_with_csp};
use super::i18n::{Lang, Texts};
use super::pages::{PageError, error_page};
use super::session;
use crate::app::AppState;
use crate::audit::{Audit, Event};
use crate::client_addr::RequestOrigin;
use crate::oauth::authorize::{AuthorizationRequest, ErrorRedirect, issue_code};
use crate::oauth::error::AuthorizeErrorCode;
use crate::oauth::params::Params;
use crate::oauth::response::see_other;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'a Texts,
    action: &'a str,
    client_name: &'a str,
    scopes: Vec<String>,
    email: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    ui_locales: &'a str,
    logo_uri: Option<&'a str>,
    policy_uri: Option<&'a str>,
    tos_uri: Option<&'a str>,
}

/// Shows the consent page for `req` to the logged-in user.
pub async fn show_consent(
    state: &AppState,
    session: &Session,
    lang: Lang,
    req: AuthorizationRequest,
) -> Response {
    let now = state.clock.now();
    let user = match session::current(&state.store, session).await {
        Ok(Some((_, user))) => user,
        Ok(None) => return error_page(lang, PageError::LoginExpired),
        Err(_) => return error_page(lang, PageError::Unavailable),
    };
    let (Ok(csrf), Ok(id)) = (
        session::csrf_token(session).await,
        session::put_pending(session, session::Stage::Consent, req.clone(), now).await,
    ) else {
        return error_page(lang, PageError::Unavailable);
    };
    let action = state.issuer.endpoint("/consent");
    // The client's own policy and terms, when it registered them (RFC 7591 §2).
    let client = state.client(&req.client_id).await.ok().flatten();
    // Only an https logo that is a single CSP source expression can go into the CSP and the
    // page: the URL parser encodes spaces and quotes, and `;` or `,` would end the directive or
    // the policy (CSP 3 §2.2), so such a logo is not shown.
    let logo = client
        .as_ref()
        .and_then(|c| c.logo_uri.as_deref())
        .and_then(|l| url::Url::parse(l).ok())
        .filter(|u| u.scheme() == "https")
        .map(|u| u.to_string())
        .filter(|u| !u.contains([';', ',']));
    let page = ConsentPage {
        t: lang.texts(),
        action: &action,
        client_name: &req.client_name,
        scopes: req
            .scope
            .iter()
            .map(|s| lang.scope_description(s))
            .collect(),
        email: &user.email,
        request_id: &id,
        csrf_token: &csrf,
        ui_locales: lang.tag(),
        logo_uri: logo.as_deref(),
        policy_uri: client.as_ref().and_then(|c| c.policy_uri.as_deref()),
        tos_uri: client.as_ref().and_then(|c| c.tos_uri.as_deref()),
    };
    match page.render() {
        Ok(body) => {
            // The client's logo is the one thing loaded from elsewhere: exactly its URL, and
            // only as an image (RFC 7591 logo_uri is https, checked at registration).
            let form_action = form_action_source(&req.redirect_uri).unwrap_or_default();
            let img = logo.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let csp = format!(
                "default-src 'self'; img-src 'self'{img}; script-src 'none'; object-src 'none'; \
                 base-uri 'none'; frame-ancestors 'none'; form-action 'self' {form_action}"
            );
            html_with_csp(StatusCode::OK, body, &csp)
        }
        Err(_) => error_page(lang, PageError::Unavailable),
    }
}

/// `POST /consent`: Allow issues the code and remembers the scopes; Deny answers
/// `access_denied` with state and iss (RFC 6749 §4.1.2.1).
pub async fn consent_post(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let lang = Lang::negotiate(params.get("ui_locales"), &headers);
    let now = state.clock.now();
    let Some(request_id) = params.get("request_id") else {
        return error_page(lang, PageError::LoginExpired);
    };
    let Some(req) = session::get_pending(&session, request_id, session::Stage::Consent, now).await
    else {
        return error_page(lang, PageError::LoginExpired);
    };
    // The login behind the consent page must still count (issue 11 §2).
    let sso = match session::current(&state.store, &session).await {
        Ok(Some((sso, _))) => sso,
        Ok(None) => return error_page(lang, PageError::LoginExpired),
        Err(_) => return error_page(lang, PageError::Unavailable),
    };
    if !session::csrf_ok(&session, params.get("csrf_token")).await {
        tracing::warn!(client_id = %req.client_id, "consent form with a bad CSRF token");
        return error_page(lang, PageError::CsrfFailed);
    }
    // The session copy of the request goes away below, but two submissions sent at the same
    // instant both read it first: the database lets exactly one of them answer.
    let key = format!("consent:{request_id}");
    match state
        .store
        .spend_once(&key, now + session::PENDING_TTL_SECS)
        .await
    {
        Ok(true) => {}
        Ok(false) => return error_page(lang, PageError::LoginExpired),
        Err(_) => return error_page(lang, PageError::Unavailable),
    }
    if session::remove_pending(&session, request_id).await.is_err() {
        return error_page(lang, PageError::Unavailable);
    }
    let issuer = state.issuer.as_str();
    match params.get("decision") {
        Some("allow") => {
            if let Err(e) = state
                .store
                .merge_consent(&sso.sub, &req.client_id, &req.scope.to_string(), now)
                .await
            {
                tracing::error!(error = %e, "cannot save consent");
                return error_page(lang, PageError::Unavailable);
            }
            // The account's email for the audit line; a lookup failure costs only that field.
            let account = match state.store.find_user_by_sub(&sso.sub).await {
                Ok(Some(u)) => u.email,
                _ => String::new(),
            };
            Audit::new(Event::ConsentGiven)
                .account(&account)
                .sub(&sso.sub)
                .client(&req.client_id)
                .origin(&origin)
                .detail(format!("scope {:?}", req.scope.to_string()))
                .emit();
            see_other(issue_code(&state, &req, &super::authorize::authenticated(&sso)).await)
        }
        _ => {
            tracing::info!(client_id = %req.client_id, sub = %sso.sub, "consent denied");
            see_other(
                ErrorRedirect::for_request(
                    &req,
                    AuthorizeErrorCode::AccessDenied,
                    "the user denied the request",
                )
                .into_response(issuer),
            )
        }
    }
}
