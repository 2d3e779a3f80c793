//! The login page (OIDC Core §3.1.2.3: "the Authorization Server MUST attempt to authenticate
//! the End-User"). Email + password, one generic message for any failure, CSRF-protected.

use askama::Template;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower_sessions::Session;

use super::headers::{form_action_source, html};
use super::i18n::{Lang, Texts};
use super::pages::{PageError, error_page};
use super::session::{self, Sso};
use crate::app::AppState;
use crate::oauth::authorize::{AuthorizationRequest, ErrorRedirect, continue_as};
use crate::oauth::error::AuthorizeErrorCode;
use crate::oauth::params::Params;
use crate::oauth::response::see_other;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'a Texts,
    action: &'a str,
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    ui_locales: &'a str,
}

/// What the form carries from one attempt to the next.
struct FormState<'a> {
    request_id: &'a str,
    csrf_token: &'a str,
    email: &'a str,
}

fn render(
    state: &AppState,
    lang: Lang,
    req: &AuthorizationRequest,
    form: FormState<'_>,
    error: Option<&str>,
) -> Response {
    let action = state.issuer.endpoint("/login");
    let page = LoginPage {
        t: lang.texts(),
        action: &action,
        client_name: &req.client_name,
        request_id: form.request_id,
        csrf_token: form.csrf_token,
        email: form.email,
        error,
        ui_locales: match lang {
            Lang::En => "en",
            Lang::Ja => "ja",
        },
    };
    match page.render() {
        // 200 even after a failed attempt: the page is the answer a person needs.
        Ok(body) => html(
            StatusCode::OK,
            body,
            form_action_source(&req.redirect_uri).as_deref(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "login template failed");
            error_page(lang, PageError::Unavailable)
        }
    }
}

/// Shows the login form for a validated request (called from `/authorize`).
pub async fn show_login(
    state: &AppState,
    session: &Session,
    lang: Lang,
    req: AuthorizationRequest,
) -> Response {
    let now = state.clock.now();
    let csrf = session::csrf_token(session).await;
    // The hint pre-fills the form in the spelling the account is stored under; a hint that is
    // not an email (OIDC Core §3.1.2.1 leaves its form open) is shown as sent.
    let email = req
        .login_hint
        .as_deref()
        .map(|h| crate::email::normalize(h).map_or_else(|_| h.to_owned(), |e| e.into_string()))
        .unwrap_or_default();
    let id = session::put_pending(session, session::Stage::Login, req.clone(), now).await;
    match (csrf, id) {
        (Ok(csrf), Ok(id)) => {
            let form = FormState {
                request_id: &id,
                csrf_token: &csrf,
                email: &email,
            };
            render(state, lang, &req, form, None)
        }
        _ => error_page(lang, PageError::Unavailable),
    }
}

/// `POST /login`: checks the CSRF token and the credentials, then finishes the waiting
/// authorization request with a code redirect (303, so the browser follows with GET).
pub async fn login_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let lang = Lang::negotiate(params.get("ui_locales"), &headers);
    let now = state.clock.now();
    let Some(request_id) = params.get("request_id") else {
        return error_page(lang, PageError::LoginExpired);
    };
    let Some(req) = session::get_pending(&session, request_id, session::Stage::Login, now).await
    else {
        return error_page(lang, PageError::LoginExpired);
    };
    if !session::csrf_ok(&session, params.get("csrf_token")).await {
        tracing::warn!(client_id = %req.client_id, "login form with a bad CSRF token");
        return error_page(lang, PageError::CsrfFailed);
    }
    let email = params.get("email").unwrap_or_default().trim();
    let form = FormState {
        request_id,
        csrf_token: params.get("csrf_token").unwrap_or_default(),
        email,
    };
    let t = lang.texts();
    let password = match params.get("password") {
        Some(p) if !email.is_empty() => p,
        _ => return render(&state, lang, &req, form, Some(t.missing_fields)),
    };
    if let Err(retry_after) = state.login_throttle.attempt(email, Some(peer.ip())) {
        tracing::warn!(client_id = %req.client_id, "login throttled");
        metrics::counter!("sekimori_logins_total", "result" => "throttled").increment(1);
        let message = lang.too_many_attempts(retry_after);
        let mut res = render(&state, lang, &req, form, Some(&message));
        *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return res;
    }
    let checked =
        crate::password::check_credentials(&state.store, &state.passwords, email, password, now)
            .await;
    let user = match checked {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "login: storage failure");
            return error_page(lang, PageError::Unavailable);
        }
    };
    // A disabled account gets the same message as a wrong password.
    let Some(user) = user else {
        tracing::info!(client_id = %req.client_id, "login failed");
        metrics::counter!("sekimori_logins_total", "result" => "failure").increment(1);
        return render(&state, lang, &req, form, Some(t.bad_credentials));
    };
    // Two submissions of one form sent at the same instant both got here: only one goes on.
    match state
        .store
        .spend_once(
            &format!("login:{request_id}"),
            now + session::PENDING_TTL_SECS,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return error_page(lang, PageError::LoginExpired),
        Err(_) => return error_page(lang, PageError::Unavailable),
    }
    let sso = Sso {
        sub: user.sub.clone(),
        auth_time: now,
        security_stamp: user.security_stamp,
    };
    if session::log_in(&session, sso.clone(), state.lifetimes.session_secs)
        .await
        .is_err()
        || session::remove_pending(&session, request_id).await.is_err()
    {
        return error_page(lang, PageError::Unavailable);
    }
    tracing::info!(sub = %user.sub, client_id = %req.client_id, "user logged in");
    if req
        .required_sub
        .as_deref()
        .is_some_and(|hinted| hinted != user.sub)
    {
        // OIDC Core §3.1.2.1: the client asked for the user its id_token_hint names; someone
        // else logged in, so the client gets an error, not that person's identity.
        return see_other(
            ErrorRedirect::for_request(
                &req,
                AuthorizeErrorCode::LoginRequired,
                "a different user than the one the request names (id_token_hint or the sub claim) logged in",
            )
            .into_response(state.issuer.as_str()),
        );
    }
    metrics::counter!("sekimori_logins_total", "result" => "success").increment(1);
    // After a POST, 303 makes every browser follow with GET.
    see_other(continue_as(&state, &session, lang, req, &sso).await)
}
