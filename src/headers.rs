//! Response headers for HTML pages (a strict Content-Security-Policy and friends) and CORS for
//! the JSON endpoints that browser-based relying parties call.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{Any, CorsLayer};

/// CORS for discovery, JWKS, token and userinfo: any origin may call them (they are
/// authenticated by client credentials or bearer tokens, never by cookies). `WWW-Authenticate`
/// is exposed so a browser app can read the RFC 6750 §3 error of a refused bearer token.
pub fn api_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}

/// The CSP source allowing form submissions (and the redirects that follow them) to reach
/// `redirect_uri`: its origin for http(s), its scheme for a native app's custom scheme.
pub fn form_action_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// An HTML page with our security headers. `form_action` adds one CSP `form-action` source
/// besides `'self'` (the client's redirect target, so the post-login redirect is allowed).
pub fn html(status: StatusCode, body: String, form_action: Option<&str>) -> Response {
    let csp = format!(
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'{}",
        form_action.map(|s| format!(" {s}")).unwrap_or_default()
    );
    html_with_csp(status, body, &csp)
}

/// An HTML page with our security headers and the given Content-Security-Policy.
pub fn html_with_csp(status: StatusCode, body: String, csp: &str) -> Response {
    let mut res = (status, body).into_response();
    let h: &mut HeaderMap = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
