//! The login page (OIDC Core §3.1.2.3: "the Authorization Server MUST attempt to authenticate
//! the End-User"). Email + password, one generic message for an unknown email or a wrong password
//! (a disabled account is named only once its password checked out), CSRF-protected.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use tower_sessions::Session;
use tower_sessions::cookie::{Cookie, SameSite};

use super::authorize::continue_as;
use super::headers::{form_action_source, html};
use super::i18n::{Lang, Texts};
use super::pages::{PageError, error_page};
use super::session::{self, Sso};
use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::client_addr::RequestOrigin;
use crate::login_throttle::{
    DEVICE_COOKIE_TTL_SECS, LoginOutcome, LoginThrottle, MAX_EMAIL_BYTES, account_key,
    attempt_login,
};
use crate::oauth::authorize::{AuthorizationRequest, ErrorRedirect};
use crate::oauth::error::AuthorizeErrorCode;
use crate::oauth::params::Params;
use crate::oauth::response::see_other;
use crate::store::User;

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

/// The login form's fields; each is capped at [`crate::oauth::params::MAX_VALUE_LEN`] bytes like
/// every other endpoint's, and the email further at [`MAX_EMAIL_BYTES`].
const LOGIN_FIELDS: &[&str] = &[
    "email",
    "password",
    "request_id",
    "csrf_token",
    "ui_locales",
];

/// `POST /login`: checks the CSRF token, the field sizes, the failure budgets
/// ([`crate::login_throttle`]) and the credentials, then finishes the waiting authorization request
/// with a code redirect (303, so the browser follows with GET) and a device cookie.
pub async fn login_post(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    let lang = Lang::negotiate(params.get("ui_locales"), &headers);
    let now = state.clock.now();
    let (request_id, req) = match pending_request(&session, &params, lang, now).await {
        Ok(pending) => pending,
        Err(res) => return res,
    };
    let email = params.get("email").unwrap_or_default().trim();
    let t = lang.texts();
    if let Some(res) = refuse_oversized(&state, &origin, lang, &req, &params, email) {
        return res;
    }
    let form = FormState {
        request_id,
        csrf_token: params.get("csrf_token").unwrap_or_default(),
        email,
    };
    let password = match params.get("password") {
        Some(p) if !email.is_empty() => p,
        _ => return render(&state, lang, &req, form, Some(t.missing_fields)),
    };
    let account = account_key(email);
    let device = super::throttle::device_from(&state.login_throttle, &headers, &account);
    let outcome = attempt_login(
        &state,
        email,
        password,
        &origin,
        device.as_deref(),
        &req.client_id,
    )
    .await;
    let user = match outcome {
        Ok(LoginOutcome::Success(user)) => user,
        // The password was right (a disabled account is reported only after it checked out):
        // saying so tells a guesser nothing and the owner what to do.
        Ok(LoginOutcome::Failed(crate::password::CredentialFailure::Disabled)) => {
            return render(&state, lang, &req, form, Some(t.account_disabled));
        }
        // One message whatever the reason: which accounts exist is not revealed.
        Ok(LoginOutcome::Failed(_)) => {
            return render(&state, lang, &req, form, Some(t.bad_credentials));
        }
        Ok(LoginOutcome::Throttled(retry_after)) => {
            let message = lang.too_many_attempts(retry_after);
            let mut res = render(&state, lang, &req, form, Some(&message));
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return res;
        }
        Err(e) => {
            tracing::error!(error = %e, "login: storage failure");
            return error_page(lang, PageError::Unavailable);
        }
    };
    let submission = Submission { request_id, now };
    finish_login(&state, &session, lang, req, submission, &user, &account).await
}

/// The login form's request id and the authorization request waiting under it, once the CSRF
/// token checks out; else the page to show.
async fn pending_request<'p>(
    session: &Session,
    params: &'p Params,
    lang: Lang,
    now: i64,
) -> Result<(&'p str, AuthorizationRequest), Response> {
    let Some(request_id) = params.get("request_id") else {
        return Err(error_page(lang, PageError::LoginExpired));
    };
    let Some(req) = session::get_pending(session, request_id, session::Stage::Login, now).await
    else {
        return Err(error_page(lang, PageError::LoginExpired));
    };
    if !session::csrf_ok(session, params.get("csrf_token")).await {
        tracing::warn!(client_id = %req.client_id, "login form with a bad CSRF token");
        return Err(error_page(lang, PageError::CsrfFailed));
    }
    Ok((request_id, req))
}

/// The form again with a 400 when the email or any field is too long.
fn refuse_oversized(
    state: &AppState,
    origin: &Origin,
    lang: Lang,
    req: &AuthorizationRequest,
    params: &Params,
    email: &str,
) -> Option<Response> {
    let t = lang.texts();
    // RFC 5321 §4.5.3.1.3 and the shared field cap: refused before any budget is read or spent,
    // never stored, and not echoed back into the page.
    let message = if email.len() > MAX_EMAIL_BYTES {
        Some(t.email_too_long)
    } else {
        params
            .first_oversized(LOGIN_FIELDS)
            .map(|_| t.field_too_long)
    }?;
    Audit::new(Event::LoginFailure)
        .client(&req.client_id)
        .origin(origin)
        .reason("invalid_input")
        .emit();
    let form = FormState {
        request_id: params.get("request_id").unwrap_or_default(),
        csrf_token: params.get("csrf_token").unwrap_or_default(),
        email: "",
    };
    let mut res = render(state, lang, req, form, Some(message));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    Some(res)
}

/// The login form being finished: its request id and when it arrived (Unix seconds).
struct Submission<'a> {
    request_id: &'a str,
    now: i64,
}

/// Logs `user` in (once per form) and answers the waiting request: a code, the consent page,
/// or `login_required` when the request named another user; with a fresh device cookie.
async fn finish_login(
    state: &AppState,
    session: &Session,
    lang: Lang,
    req: AuthorizationRequest,
    Submission { request_id, now }: Submission<'_>,
    user: &User,
    account: &str,
) -> Response {
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
    if session::log_in(session, sso.clone(), state.lifetimes.session_secs)
        .await
        .is_err()
        || session::remove_pending(session, request_id).await.is_err()
    {
        return error_page(lang, PageError::Unavailable);
    }
    tracing::info!(sub = %user.sub, client_id = %req.client_id, "user logged in");
    let device_cookie = device_cookie(state, account);
    let mut res = if req
        .required_sub
        .as_deref()
        .is_some_and(|hinted| hinted != user.sub)
    {
        // OIDC Core §3.1.2.1: the client asked for the user its id_token_hint names; someone
        // else logged in, so the client gets an error, not that person's identity.
        see_other(
            ErrorRedirect::for_request(
                &req,
                AuthorizeErrorCode::LoginRequired,
                "a different user than the one the request names (id_token_hint or the sub claim) logged in",
            )
            .into_response(state.issuer.as_str()),
        )
    } else {
        // After a POST, 303 makes every browser follow with GET.
        see_other(continue_as(state, session, lang, req, &sso).await)
    };
    if let Some(cookie) = device_cookie {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// A fresh device cookie for `account` (a new nonce, so a fresh failure budget), as a
/// `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure for an https issuer, scoped to the
/// issuer's path, for [`DEVICE_COOKIE_TTL_SECS`].
fn device_cookie(state: &AppState, account: &str) -> Option<HeaderValue> {
    let value = state.login_throttle.new_device_cookie(account).ok()?;
    let cookie = Cookie::build((LoginThrottle::device_cookie_name(account), value))
        .http_only(true)
        .secure(state.issuer.is_https())
        .same_site(SameSite::Lax)
        .path(super::cookie_path(&state.issuer))
        .max_age(time::Duration::seconds(DEVICE_COOKIE_TTL_SECS))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}
