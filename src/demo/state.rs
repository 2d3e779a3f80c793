//! The demo's own state: one browser's pending sign-in and received tokens, kept in memory
//! under a random id in the `sekimori_demo` cookie (HttpOnly, SameSite=Lax, path `/demo/`).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::Value;
use tower_sessions::cookie::{Cookie, SameSite};

use super::{COOKIE, Demo};
use crate::config::Issuer;
use crate::crypto::random_token;
use crate::web::i18n::Lang;

/// One browser's demo state.
#[derive(Clone, Default)]
pub(super) struct DemoSession {
    /// The CSRF token of the refresh and logout forms.
    pub(super) csrf: String,
    /// The language the person chose with `ui_locales`, kept across the redirects.
    pub(super) ui_locales: Option<String>,
    /// The sign-in under way.
    pub(super) pending: Option<Pending>,
    /// What the last sign-in or refresh received.
    pub(super) signed_in: Option<Arc<SignedIn>>,
}

/// A sign-in sent to the authorization endpoint, waiting for the callback.
#[derive(Clone)]
pub(super) struct Pending {
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) code_verifier: String,
    pub(super) started_at: i64,
}

/// What the demo received and verified.
pub(super) struct SignedIn {
    pub(super) id_token: String,
    pub(super) id_token_alg: String,
    pub(super) id_token_kid: String,
    pub(super) id_claims: Value,
    pub(super) access_claims: Value,
    pub(super) userinfo: Value,
    pub(super) refresh_token: Option<String>,
    /// The token response's other members, for display.
    pub(super) token_response: Value,
    /// A refresh-token grant produced these.
    pub(super) refreshed: bool,
}

/// A request's demo state: the cookie's id and its state, if both are known.
pub(super) struct Current {
    id: Option<String>,
    pub(super) session: DemoSession,
}

impl Current {
    pub(super) async fn read(demo: &Demo, headers: &HeaderMap) -> Self {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse(v.to_owned()))
            .filter_map(Result::ok)
            .find(|c| c.name() == COOKIE)
            .map(|c| c.value().to_owned());
        let session = match &id {
            Some(id) => demo.sessions.get(id).await.map(|s| (*s).clone()),
            None => None,
        };
        match session {
            Some(session) => Self { id, session },
            None => Self {
                id: None,
                session: DemoSession::default(),
            },
        }
    }

    pub(super) fn lang(&self, query: Option<&str>, headers: &HeaderMap) -> Lang {
        Lang::negotiate(query.or(self.session.ui_locales.as_deref()), headers)
    }

    /// Stores the state; returns the `Set-Cookie` for a new one. An empty state is stored only
    /// under an id the browser already has.
    pub(super) async fn save(self, demo: &Demo, issuer: &Issuer) -> Option<HeaderValue> {
        let s = &self.session;
        if self.id.is_none()
            && s.pending.is_none()
            && s.signed_in.is_none()
            && s.ui_locales.is_none()
        {
            return None;
        }
        let (id, fresh) = match self.id {
            Some(id) => (id, false),
            None => (random_token(32).ok()?, true),
        };
        demo.sessions
            .insert(id.clone(), Arc::new(self.session))
            .await;
        fresh.then(|| cookie(issuer, &id, None)).flatten()
    }

    pub(super) async fn forget(self, demo: &Demo, issuer: &Issuer) -> Option<HeaderValue> {
        if let Some(id) = &self.id {
            demo.sessions.invalidate(id).await;
        }
        cookie(issuer, "", Some(0))
    }
}

/// The demo cookie: HttpOnly, SameSite=Lax, Secure for an https issuer, path `<issuer>/demo/`;
/// a browser-session cookie unless `max_age_secs` (0 deletes it).
fn cookie(issuer: &Issuer, value: &str, max_age_secs: Option<i64>) -> Option<HeaderValue> {
    let mut cookie = Cookie::build((COOKIE, value.to_owned()))
        .http_only(true)
        .secure(issuer.is_https())
        .same_site(SameSite::Lax)
        .path(format!("{}/demo/", issuer.path()));
    if let Some(secs) = max_age_secs {
        cookie = cookie.max_age(time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

/// `res` with the `Set-Cookie` header `cookie`, if any.
pub(super) fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
