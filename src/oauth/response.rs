//! Delivering an authorization response (success or error) to the client's redirect_uri:
//! `query` (RFC 6749 §4.1.2) or `form_post` (OAuth 2.0 Form Post Response Mode).

use std::sync::LazyLock;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::crypto::sha256;
use crate::headers::{form_action_source, html_with_csp};

/// How the authorization response travels (OAuth 2.0 Multiple Response Types §2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    /// Parameters in the redirect_uri's query, with a 302 (the default for `code`).
    #[default]
    Query,
    /// An HTML form the browser POSTs to the redirect_uri (Form Post Response Mode §2).
    FormPost,
}

impl ResponseMode {
    /// Parses `response_mode`; `None` for values we do not support.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// The one inline script we ever serve: it submits the form-post page. The CSP allows exactly
/// this script by hash; without JavaScript the page shows a button instead.
const AUTO_SUBMIT: &str = "document.forms[0].submit();";

static AUTO_SUBMIT_HASH: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha256(AUTO_SUBMIT.as_bytes()))
    )
});

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    script: &'a str,
}

/// Sends `pairs` (those with a value) to `redirect_uri` the way `mode` says.
pub fn deliver(redirect_uri: &str, mode: ResponseMode, pairs: &[(&str, Option<&str>)]) -> Response {
    match mode {
        ResponseMode::Query => {
            let location = redirect_with(redirect_uri, pairs);
            match HeaderValue::from_str(&location) {
                Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            }
        }
        ResponseMode::FormPost => {
            let page = FormPostPage {
                action: redirect_uri,
                fields: pairs
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| (*k, v)))
                    .collect(),
                script: AUTO_SUBMIT,
            };
            let body = page.render().unwrap_or_default();
            let form_action = form_action_source(redirect_uri).unwrap_or_default();
            let csp = format!(
                "default-src 'none'; style-src 'self'; img-src 'self'; script-src {}; base-uri 'none'; \
                 frame-ancestors 'none'; form-action {form_action}",
                *AUTO_SUBMIT_HASH
            );
            html_with_csp(StatusCode::OK, body, &csp)
        }
    }
}

/// Appends `pairs` to `redirect_uri`'s query, keeping any query it already has (RFC 6749 §3.1.2).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(redirect_uri) {
        // With nothing to add the URI goes back exactly as registered: no empty `?`.
        Ok(_) if pairs.iter().all(|(_, v)| v.is_none()) => redirect_uri.to_owned(),
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            url.to_string()
        }
        // Registered URIs are validated as absolute URLs at registration.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// After a form POST, a redirect must be 303 so every browser follows with GET.
pub fn see_other(mut res: Response) -> Response {
    if res.status() == StatusCode::FOUND {
        *res.status_mut() = StatusCode::SEE_OTHER;
    }
    res
}
