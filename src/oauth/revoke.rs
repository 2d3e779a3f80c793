//! Token revocation (RFC 7009).
//!
//! `token_type_hint` orders the search but is not trusted (§2.1). Revoking a refresh token
//! revokes its whole grant, access tokens included (§2.1 SHOULD); revoking an access token puts
//! its `jti` on the deny-list until it would have expired. Unknown, malformed or other clients'
//! tokens get the same 200 and nothing happens (§2.2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::client_form::{ClientForm, TokenReferenceForm};
use super::error::{InternalError, TokenError, no_store, temporarily_unavailable};
use super::types::RefreshToken;
use crate::app::AppState;
use crate::oauth::access_token::AccessTokenClaims;

/// The claims of a JWT access token we signed, whatever its expiry or revocation state.
pub fn our_access_token(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    state.published().keys.verify(token, "at+jwt").ok()
}

/// `POST /revoke`.
pub async fn revoke_post(
    State(state): State<AppState>,
    form: Result<ClientForm<TokenReferenceForm>, TokenError>,
) -> Response {
    let ClientForm { client, params, .. } = match form {
        Ok(f) => f,
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
        // RFC 7009 §2.2.1: 503 tells the client to retry later.
        return InternalError::new("revocation", e).attach(temporarily_unavailable());
    }
    no_store(StatusCode::OK.into_response())
}
