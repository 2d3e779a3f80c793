//! Token introspection (RFC 7662) for resource servers.
//!
//! Only confidential clients may ask (§2.1), and only about tokens issued to them: anything
//! else — expired, revoked, malformed, unknown, or another client's — is `{"active": false}` and
//! nothing more (§2.2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access_token::{self, Rejected};
use super::client_form::{ClientForm, TokenReferenceForm};
use super::error::{
    InternalError, TokenError, TokenErrorCode, no_store_json, temporarily_unavailable,
};
use super::types::RefreshToken;
use crate::app::AppState;

/// `POST /introspect`.
pub async fn introspect_post(
    State(state): State<AppState>,
    form: Result<ClientForm<TokenReferenceForm>, TokenError>,
) -> Response {
    let ClientForm { client, params, .. } = match form {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if client.is_public() {
        return TokenError::new(
            TokenErrorCode::InvalidClient,
            "introspection requires a confidential client",
        )
        .into_response();
    }
    let token = params.get("token").unwrap_or_default();
    let issuer = state.issuer.as_str();
    let inactive = || json!({"active": false});
    let answer: Result<Value, crate::store::Error> =
        match access_token::validate(&state, token).await {
            Ok(c) if c.client_id == client.client_id => Ok(json!({
                "active": true,
                "scope": c.scope,
                "client_id": c.client_id,
                "sub": c.sub,
                "aud": c.aud,
                "exp": c.exp,
                "iat": c.iat,
                "iss": c.iss,
                "jti": c.jti,
                "token_type": "Bearer",
            })),
            Ok(_) | Err(Rejected::Invalid(_)) => {
                // Not a live access token of this client: perhaps a refresh token.
                let now = state.clock.now();
                let live = match state
                    .store
                    .find_refresh_token(&RefreshToken::new(token).hash())
                    .await
                {
                    Ok(Some(r))
                        if r.client_id == client.client_id
                            && r.rotated_at.is_none()
                            && r.revoked_at.is_none()
                            && r.expires_at > now =>
                    {
                        // §2.2: a token of a disabled or removed user, or one from before a
                        // password change, is not active (issue 11 §2).
                        let current = state.store.current_user(&r.sub, r.security_stamp).await;
                        current.map(|user| user.map(|_| r))
                    }
                    Ok(_) => Ok(None),
                    Err(e) => Err(e),
                };
                match live {
                    Ok(Some(r)) => Ok(json!({
                        "active": true,
                        "scope": r.scope,
                        "client_id": r.client_id,
                        "sub": r.sub,
                        "exp": r.expires_at,
                        "iat": r.created_at,
                        "iss": issuer,
                        "token_type": "refresh_token",
                    })),
                    Ok(None) => Ok(inactive()),
                    Err(e) => Err(e),
                }
            }
            Err(Rejected::Store(e)) => Err(e),
        };
    match answer {
        Ok(body) => no_store_json(StatusCode::OK, body),
        Err(e) => InternalError::new("introspection", e).attach(temporarily_unavailable()),
    }
}
