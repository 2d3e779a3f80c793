//! Browser pages only work on the issuer's host: the session cookie is set for it, and the
//! Content-Security-Policy (`form-action 'self'`) and the forms' targets name it. A browser that
//! reached a page through another name for the same server (`localhost` for `127.0.0.1`, an
//! alias, a node's own address) would get a form that silently does nothing, so such a request
//! is sent to the issuer's address (GET, HEAD) or refused with an error page that names it.
//!
//! Which host the browser addressed is only known for sure in two cases, and only then is it
//! checked (a proxy that rewrites `Host`, as nginx does by default, must never cause a redirect
//! loop):
//! - the TCP peer is a proxy listed in `--trusted-proxies` and sends `X-Forwarded-Host`: its
//!   first entry;
//! - the peer is not a trusted proxy and the issuer is `http://` (so nothing terminated TLS in
//!   front of us): the `Host` header, or the request target's authority.
//!
//! An `https://` issuer reached without a trusted proxy's `X-Forwarded-Host`, and a request with
//! no host at all (HTTP/1.0), pass unchecked. `--allow-any-host` turns the check off.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::Issuer;

/// Middleware for the page routes: passes requests addressed to the issuer's host, redirects
/// (303) other GET and HEAD requests to the same path and query on the issuer, and answers
/// other methods with the `wrong_host` error page (400).
pub async fn require_issuer_host(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if state.allow_any_host {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let via = if peer.is_some_and(|ip| state.trusted_proxies.trusts(ip)) {
        Via::TrustedProxy
    } else if state.issuer.is_https() {
        Via::Unknown
    } else {
        Via::Direct
    };
    let Some(host) = request_host(req.headers(), req.uri(), via) else {
        return next.run(req).await;
    };
    if same_authority(&state.issuer, &host) {
        return next.run(req).await;
    }
    // Inside the router nested under the issuer's path, the path is relative to the issuer.
    let mut target = state.issuer.endpoint(req.uri().path());
    if let Some(q) = req.uri().query() {
        target.push('?');
        target.push_str(q);
    }
    tracing::info!(host = %host, "page request through another host; sending it to the issuer");
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let Ok(location) = HeaderValue::from_str(&target) else {
            return next.run(req).await;
        };
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response();
    }
    let lang = super::i18n::Lang::negotiate(None, req.headers());
    super::pages::wrong_host_page(lang, &state.issuer.endpoint(req.uri().path()))
}

/// How a request reached us, as far as the host it was addressed to is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// From a trusted proxy: believe its `X-Forwarded-Host`.
    TrustedProxy,
    /// Straight from the browser, over plain http: `Host` is what the browser used.
    Direct,
    /// Through something that terminated TLS and is not trusted: `Host` may be rewritten.
    Unknown,
}

/// The host the browser addressed (see the module doc): `X-Forwarded-Host`'s first entry (the
/// client's) from a trusted proxy; `Host`, else the request target's authority (absolute-form),
/// on a direct connection. `None` when unknown, absent or not a valid authority.
fn request_host(headers: &HeaderMap, uri: &axum::http::Uri, via: Via) -> Option<Authority> {
    let header_value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    match via {
        Via::TrustedProxy => header_value(header::HeaderName::from_static("x-forwarded-host"))
            .and_then(|raw| raw.parse().ok()),
        Via::Direct => match header_value(header::HOST) {
            Some(raw) => raw.parse().ok(),
            None => uri.authority().cloned(),
        },
        Via::Unknown => None,
    }
}

/// Whether `host` names the issuer's host and port (a missing port is the scheme's default).
fn same_authority(issuer: &Issuer, host: &Authority) -> bool {
    let Ok(url) = url::Url::parse(issuer.as_str()) else {
        return true;
    };
    let (Some(issuer_host), Some(issuer_port)) = (url.host_str(), url.port_or_known_default())
    else {
        return true;
    };
    let default_port = if issuer.is_https() { 443 } else { 80 };
    host.host().eq_ignore_ascii_case(issuer_host)
        && host.port_u16().unwrap_or(default_port) == issuer_port
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(s: &str) -> Authority {
        s.parse().expect("authority")
    }

    #[test]
    fn the_issuers_host_matches_with_or_without_its_default_port() {
        let https = Issuer::parse("https://id.example.com/auth").expect("issuer");
        assert!(same_authority(&https, &authority("id.example.com")));
        assert!(same_authority(&https, &authority("ID.Example.com:443")));
        assert!(!same_authority(&https, &authority("id.example.com:8443")));
        assert!(!same_authority(&https, &authority("auth.example.com")));
        let local = Issuer::parse("http://127.0.0.1:9000").expect("issuer");
        assert!(same_authority(&local, &authority("127.0.0.1:9000")));
        assert!(!same_authority(&local, &authority("localhost:9000")));
        assert!(!same_authority(&local, &authority("127.0.0.1")));
        let v6 = Issuer::parse("http://[::1]:9000").expect("issuer");
        assert!(same_authority(&v6, &authority("[::1]:9000")));
    }

    #[test]
    fn the_host_is_read_only_where_it_is_what_the_browser_used() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8080"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("id.example.com, proxy.internal"),
        );
        let uri = axum::http::Uri::from_static("/authorize");
        let host = |h: &HeaderMap, via| request_host(h, &uri, via).map(|a| a.to_string());
        assert_eq!(
            host(&headers, Via::TrustedProxy),
            Some("id.example.com".to_owned())
        );
        assert_eq!(
            host(&headers, Via::Direct),
            Some("10.0.0.5:8080".to_owned())
        );
        assert_eq!(host(&headers, Via::Unknown), None);
        // A trusted proxy that sends no X-Forwarded-Host may have rewritten Host: unchecked.
        headers.remove("x-forwarded-host");
        assert_eq!(host(&headers, Via::TrustedProxy), None);
    }
}
