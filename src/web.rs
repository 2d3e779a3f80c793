//! The HTML side: the login page, the browser session, CSRF tokens, page headers, English and
//! Japanese texts, human error pages.

pub mod authorize;
pub mod consent;
/// The page headers live with every other surface's in [`crate::headers`].
pub use crate::headers;
pub mod host;
pub mod i18n;
pub mod login;
pub mod logout;
pub mod pages;
pub mod session;
pub mod throttle;

use axum::Router;
use axum::http::header;
use axum::routing::{get, post};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::AppState;
use crate::store::SqlSessionStore;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "sekimori_session";

/// The stylesheet, embedded so the binary runs from any directory.
const STYLESHEET: &str = include_str!("../static/sekimori.css");

/// The page icon (SVG), embedded like the stylesheet.
const FAVICON: &str = include_str!("../static/favicon.svg");

/// Routes that need the browser session: `/authorize` and `/login`; plus the stylesheet.
pub fn router(state: &AppState) -> Router<AppState> {
    let cookie_path = cookie_path(&state.issuer);
    let sessions = SessionManagerLayer::new(SqlSessionStore::new(state.store.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.issuer.is_https())
        .with_path(cookie_path)
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            state.lifetimes.session_secs,
        )));
    Router::new()
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/login", post(login::login_post))
        .route("/consent", post(consent::consent_post))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .layer(sessions)
        // tower-sessions answers a failed session save with a bare 500; a person should see
        // our page and a retryable 503 instead.
        .layer(axum::middleware::map_response(session_failure_page))
        // Outermost: a page reached through another host does nothing else (no session).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            host::require_issuer_host,
        ))
        // The body limit (set in `app::router`) answers with plain text; a person sees our page.
        .layer(axum::middleware::map_response(pages::too_large_page))
        .route("/static/sekimori.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

/// The `Path` of our cookies: the issuer's path, or `/`.
pub(crate) fn cookie_path(issuer: &crate::config::Issuer) -> String {
    match issuer.path() {
        p if p.is_empty() => "/".to_owned(),
        p => p,
    }
}

async fn session_failure_page(res: axum::response::Response) -> axum::response::Response {
    if res.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR
        && !res.headers().contains_key(header::CONTENT_TYPE)
    {
        return pages::error_page(i18n::Lang::En, pages::PageError::Unavailable);
    }
    res
}

/// The page icon, for `<link rel="icon">` and for browsers that ask `/favicon.ico` anyway (an
/// SVG body under that name; browsers go by the content type). Cached for a week: it never
/// changes within a release.
pub async fn favicon() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=604800"),
        ],
        FAVICON,
    )
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}
