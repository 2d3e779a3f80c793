//! Token revocation (RFC 7009).
//!
//! `token_type_hint` orders the search but is not trusted (§2.1). Revoking a refresh token
//! revokes its whole grant, access tokens included (§2.1 SHOULD); revoking an access token puts
//! its `jti` on the deny-list until it would have expired. Unknown, malformed or other clients'
//! tokens get the same 200 and nothing happens (§2.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate_client;
use super::error::{TokenError, TokenErrorCode};
use super::params::Params;
use super::token::is_form;
use super::types::RefreshToken;
use crate::app::AppState;
use crate::oauth::access_token::AccessTokenClaims;
use std::sync::Arc;

use crate::store::Client;

const SINGLE_VALUED: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

/// Parses and authenticates a revocation or introspection request (both are RFC 6749 §2.3
/// client-authenticated form posts carrying `token`).
///
/// Errors: `invalid_request` for a non-form body, repeated parameters or a missing token;
/// `invalid_client` (401) from client authentication.
pub async fn token_request(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Arc<Client>, Params), TokenError> {
    if !is_form(headers) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.first_repeated(SINGLE_VALUED) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            format!("parameter {name} must not be repeated"),
        ));
    }
    if let Some(name) = params.first_malformed(SINGLE_VALUED) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            format!("parameter {name} is not valid UTF-8"),
        ));
    }
    let (client, _) = authenticate_client(state, headers, &params).await?;
    if params.get("token").is_none() {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "token is required",
        ));
    }
    Ok((client, params))
}

/// The claims of a JWT access token we signed, whatever its expiry or revocation state.
pub fn our_access_token(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    state.published().keys.verify(token, "at+jwt").ok()
}

/// `POST /revoke`.
pub async fn revoke_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match super::token::form_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (client, params) = match token_request(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let token = params.get("token").unwrap_or_default();
    let now = state.clock.now();
    // Cheap and unambiguous: our access tokens are JWTs, our refresh tokens are not.
    let result = match our_access_token(&state, token) {
        Some(claims) if claims.client_id == client.client_id && claims.exp > now => {
            tracing::info!(client_id = %client.client_id, "access token revoked");
            state.store.deny(&claims.jti, claims.exp).await
        }
        Some(_) => Ok(()),
        None => match state
            .store
            .find_refresh_token(&RefreshToken::new(token).hash())
            .await
        {
            Ok(Some(row)) if row.client_id == client.client_id => {
                tracing::info!(client_id = %client.client_id, "refresh token revoked with its grant");
                state
                    .store
                    .revoke_grant(&row.family_id, now, now + state.lifetimes.access_token_secs)
                    .await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "revocation failed");
        // RFC 7009 §2.2.1: 503 tells the client to retry later.
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return res;
    }
    let mut res = StatusCode::OK.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
