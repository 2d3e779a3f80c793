//! The demo's pages: the askama templates (start, result, error), their shared frame, and the
//! no-store 303 between them.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::web::headers::html;
use crate::web::i18n::{DemoTexts, Lang};

/// A 303 to `location` (relative or absolute), never cached.
pub(super) fn redirect_to(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The demo's shared page frame: language, texts, where the stylesheet is.
pub(super) struct Frame {
    t: &'static DemoTexts,
    /// The issuer's path (`""` or `/auth`), for absolute links to `/static/`.
    root: String,
}

impl Frame {
    pub(super) fn new(state: &AppState, lang: Lang) -> Self {
        Self {
            t: lang.demo_texts(),
            root: state.issuer.path(),
        }
    }
}

#[derive(Template)]
#[template(path = "demo_start.html")]
pub(super) struct StartPage<'a> {
    pub(super) f: &'a Frame,
    pub(super) html_lang: &'a str,
    pub(super) start_href: &'a str,
    pub(super) notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "demo_result.html")]
pub(super) struct ResultPage<'a> {
    pub(super) f: &'a Frame,
    pub(super) html_lang: &'a str,
    pub(super) email: &'a str,
    pub(super) id_claims: &'a str,
    pub(super) access_claims: &'a str,
    pub(super) userinfo: &'a str,
    pub(super) token_response: &'a str,
    pub(super) id_token_alg: &'a str,
    pub(super) id_token_kid: &'a str,
    pub(super) has_refresh_token: bool,
    pub(super) refreshed: bool,
    pub(super) csrf: &'a str,
    pub(super) ui_locales: &'a str,
}

#[derive(Template)]
#[template(path = "demo_error.html")]
struct ErrorPage<'a> {
    f: &'a Frame,
    html_lang: &'a str,
    lead: &'a str,
    detail: &'a str,
}

/// `page` as an HTML response with `status`, or the provider's 503 page if it did not render.
pub(super) fn render(
    page: Result<String, askama::Error>,
    status: StatusCode,
    lang: Lang,
) -> Response {
    match page {
        Ok(body) => html(status, body, None),
        Err(e) => {
            tracing::error!(error = %e, "demo template failed");
            crate::web::pages::error_page(lang, crate::web::pages::PageError::Unavailable)
        }
    }
}

/// The demo's error page: `lead` for the person, `detail` from the provider or the checks.
pub(super) fn error_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    lead: &str,
    detail: &str,
) -> Response {
    let f = Frame::new(state, lang);
    let page = ErrorPage {
        f: &f,
        html_lang: lang.tag(),
        lead,
        detail,
    };
    render(page.render(), status, lang)
}

/// `v` as indented JSON, for display.
pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
