//! OpenID Connect RP-Initiated Logout 1.0: `GET`/`POST /logout` (the `end_session_endpoint`).
//!
//! With a valid `id_token_hint` (§2) for the browser's user (or no session at all) the session
//! ends at once; without one, the user confirms on a page first, so a third-party site cannot
//! log people out with an image tag. The browser returns to `post_logout_redirect_uri` (with
//! `state`) only when it exactly matches one registered for the client (§3); otherwise the
//! logged-out page is shown, with a notice naming the reason when the client is known.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower_sessions::Session;

use super::headers::{form_action_source, html};
use super::i18n::{Lang, Texts};
use super::pages::{PageError, error_page};
use super::session;
use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::client_addr::RequestOrigin;
use crate::oauth::params::Params;
use crate::oauth::response::{ResponseMode, deliver, see_other};

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    t: &'a Texts,
    confirm: bool,
    /// The person chose to stay signed in.
    stayed: bool,
    client_name: Option<&'a str>,
    /// Why the browser is not sent back, with its stable code.
    notice: Option<(&'static str, &'static str)>,
    action: &'a str,
    csrf_token: &'a str,
    ui_locales: &'a str,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

const SINGLE_VALUED: &[&str] = &[
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
    "csrf_token",
    "confirm",
];

/// What a logout request says, checked.
struct LogoutRequest {
    /// The subject of a valid id_token_hint.
    hinted_sub: Option<String>,
    /// The client, from the hint's `aud` or `client_id`.
    client_id: Option<String>,
    /// Its display name for the confirmation page, when an id_token_hint vouches for it.
    client_name: Option<String>,
    /// A post_logout_redirect_uri registered for that client, if one was asked for.
    redirect: Option<String>,
    /// A post_logout_redirect_uri was asked for that the client did not register: the person
    /// is told why they stay here.
    unregistered_redirect: bool,
    state: Option<String>,
}

/// Validates the parameters (§2, §3).
///
/// Errors: a page for a repeated parameter, an id_token_hint we did not issue, or a client_id
/// that contradicts the hint.
async fn check(state: &AppState, params: &Params) -> Result<LogoutRequest, PageError> {
    if params.first_repeated(SINGLE_VALUED).is_some()
        || params.first_malformed(SINGLE_VALUED).is_some()
    {
        return Err(PageError::InvalidRequest);
    }
    let mut hinted_sub = None;
    let mut client_id = params.get("client_id").map(str::to_owned);
    if let Some(hint) = params.get("id_token_hint") {
        // Expired ID tokens are fine here: the hint only names who is logging out (§2).
        let claims: serde_json::Value = state
            .published()
            .keys
            .verify(hint, "JWT")
            .map_err(|_| PageError::InvalidIdTokenHint)?;
        if claims.get("iss").and_then(|v| v.as_str()) != Some(state.issuer.as_str()) {
            return Err(PageError::InvalidIdTokenHint);
        }
        let aud = claims
            .get("aud")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        if client_id.is_some() && aud.is_some() && client_id != aud {
            return Err(PageError::InvalidRequest);
        }
        client_id = client_id.or(aud);
        hinted_sub = claims
            .get("sub")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
    }
    let client = match &client_id {
        Some(id) => Some(
            state
                .client(id)
                .await
                .map_err(|_| PageError::Unavailable)?
                .ok_or(PageError::UnknownClient)?,
        ),
        None => None,
    };
    // §3: exact match with a value registered for that client, else no redirect. When the
    // client is known, the mismatch is its developer's mistake and the page says so.
    let asked = params.get("post_logout_redirect_uri");
    let redirect = asked
        .filter(|uri| {
            client
                .as_ref()
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri))
        })
        .map(str::to_owned);
    let unregistered_redirect = asked.is_some() && redirect.is_none() && client.is_some();
    let vouched = hinted_sub.is_some();
    Ok(LogoutRequest {
        hinted_sub,
        // Named only when a valid hint proves it: a bare client_id could come from anyone.
        client_name: client.as_ref().filter(|_| vouched).map(|c| c.name.clone()),
        client_id,
        redirect,
        unregistered_redirect,
        state: params.get("state").map(str::to_owned),
    })
}

/// `GET /logout`.
pub async fn logout_get(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    logout(&state, &session, &headers, &origin, &params, false).await
}

/// `POST /logout`: the RP's form post, or the confirmation page's answer.
pub async fn logout_post(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    body: Bytes,
) -> Response {
    let params = Params::parse(&body);
    logout(&state, &session, &headers, &origin, &params, true).await
}

async fn logout(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    origin: &Origin,
    params: &Params,
    is_post: bool,
) -> Response {
    let lang = Lang::negotiate(params.get("ui_locales"), headers);
    let req = match check(state, params).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let current = session::sso(session).await;
    let answer = if is_post && session::csrf_ok(session, params.get("csrf_token")).await {
        params.get("confirm")
    } else {
        None
    };
    if current.is_some() && answer == Some("no") {
        // The person keeps the session; the RP is not told (§2 leaves the choice to them).
        return render(state, lang, None, &req, Shown::StillSignedIn);
    }
    let confirmed = answer == Some("yes");
    // A valid hint for this browser's user (or for nobody logged in) needs no confirmation.
    let hint_matches = req
        .hinted_sub
        .as_ref()
        .is_some_and(|h| current.as_ref().is_none_or(|c| &c.sub == h));
    if current.is_some() && !confirmed && !hint_matches {
        return confirmation_page(state, session, lang, &req).await;
    }
    if let Some(sso) = &current {
        // The account's email for the audit line; a lookup failure costs only that field.
        let account = match state.store.find_user_by_sub(&sso.sub).await {
            Ok(Some(u)) => u.email,
            _ => String::new(),
        };
        let mut audit = Audit::new(Event::Logout)
            .account(&account)
            .sub(&sso.sub)
            .origin(origin);
        if let Some(client_id) = &req.client_id {
            audit = audit.client(client_id);
        }
        audit
            .reason(if hint_matches {
                "id_token_hint"
            } else {
                "confirmed"
            })
            .emit();
    }
    // Ends the session server-side: the row is deleted, the cookie cleared.
    if session.flush().await.is_err() {
        return error_page(lang, PageError::Unavailable);
    }
    match &req.redirect {
        Some(uri) => see_other(deliver(
            uri,
            ResponseMode::Query,
            &[("state", req.state.as_deref())],
        )),
        None => render(state, lang, None, &req, Shown::LoggedOut),
    }
}

/// Which logout page to show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Confirm,
    LoggedOut,
    StillSignedIn,
}

async fn confirmation_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    req: &LogoutRequest,
) -> Response {
    match session::csrf_token(session).await {
        Ok(csrf) => render(state, lang, Some(&csrf), req, Shown::Confirm),
        Err(_) => error_page(lang, PageError::Unavailable),
    }
}

fn render(
    state: &AppState,
    lang: Lang,
    csrf: Option<&str>,
    req: &LogoutRequest,
    shown: Shown,
) -> Response {
    let action = state.issuer.endpoint("/logout");
    let page = LogoutPage {
        t: lang.texts(),
        confirm: shown == Shown::Confirm,
        stayed: shown == Shown::StillSignedIn,
        client_name: req.client_name.as_deref(),
        notice: req.unregistered_redirect.then(|| {
            let e = PageError::UnregisteredPostLogoutRedirectUri;
            (e.message(lang), e.code())
        }),
        action: &action,
        csrf_token: csrf.unwrap_or_default(),
        ui_locales: lang.tag(),
        client_id: req.client_id.as_deref(),
        post_logout_redirect_uri: req.redirect.as_deref(),
        state: req.state.as_deref(),
    };
    match page.render() {
        Ok(body) => html(
            StatusCode::OK,
            body,
            req.redirect
                .as_deref()
                .and_then(form_action_source)
                .as_deref(),
        ),
        Err(_) => error_page(lang, PageError::Unavailable),
    }
}
