//! OpenID Provider metadata (OIDC Discovery 1.0 §3, §4) and the JWK Set (RFC 7517 §5).
//!
//! Both documents are serialized once at start and served as bytes with an `ETag`, so relying
//! parties that poll them cost almost nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::config::Issuer;
use crate::crypto::{b64url, sha256};
use crate::keys::{Alg, KeySet};
use crate::oidc::claims;

/// Grant types we implement (RFC 6749 §4.1, §4.3, §4.4, §6). `password` is only for clients
/// registered for it.
pub const GRANT_TYPES_SUPPORTED: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];

/// The serialized discovery document and its validator.
#[derive(Debug)]
pub struct Document {
    json: Bytes,
    etag: String,
}

impl Document {
    /// Builds the metadata for `issuer`. It advertises exactly what is implemented.
    pub fn new(issuer: &Issuer, keys: &KeySet) -> Self {
        let algs: Vec<&str> = keys.algs().into_iter().map(Alg::as_str).collect();
        let doc = json!({
            "issuer": issuer.as_str(),
            "authorization_endpoint": issuer.endpoint("/authorize"),
            "token_endpoint": issuer.endpoint("/token"),
            "userinfo_endpoint": issuer.endpoint("/userinfo"),
            "jwks_uri": issuer.endpoint("/jwks"),
            "scopes_supported": claims::scopes_supported(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "end_session_endpoint": issuer.endpoint("/logout"),
            "grant_types_supported": GRANT_TYPES_SUPPORTED,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "revocation_endpoint": issuer.endpoint("/revoke"),
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint": issuer.endpoint("/introspect"),
            "registration_endpoint": issuer.endpoint("/register"),
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": claims::claims_supported(),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "require_request_uri_registration": false,
            "authorization_response_iss_parameter_supported": true,
        });
        let json = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
        let etag = format!("\"{}\"", &b64url(&sha256(&json))[..22]);
        Self { json, etag }
    }
}

/// Serves precomputed JSON with an ETag, answering `If-None-Match` with 304.
fn cached_json(
    headers: &HeaderMap,
    body: &Bytes,
    etag: &str,
    cache_control: HeaderValue,
) -> Response {
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Bytes clones share the buffer: no copy per request.
        ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, cache_control);
    res
}

/// `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4).
pub async fn openid_configuration_get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let published = state.published();
    let d = &published.discovery;
    cached_json(
        &headers,
        &d.json,
        &d.etag,
        HeaderValue::from_static("public, max-age=300"),
    )
}

/// `GET /jwks`: our public signing keys (RFC 7517 §5). Short `max-age` so a rotated key is
/// picked up quickly; relying parties also refetch on an unknown `kid`.
pub async fn jwks_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let published = state.published();
    let keys = &published.keys;
    // A rotated key is published here PUBLISH_BEFORE_SIGNING_SECS before it signs: longer
    // than a node takes to load it plus this max-age, so no cached set lacks a signing key.
    let cache_control = format!("public, max-age={}", crate::keys::JWKS_MAX_AGE_SECS);
    cached_json(
        &headers,
        keys.jwks_json(),
        keys.jwks_etag(),
        HeaderValue::from_str(&cache_control)
            .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=60")),
    )
}
