//! The token endpoint (RFC 6749 §3.2, §4.1.3, §5, §6; OIDC Core §3.1.3, §12; RFC 7636 §4.5–4.6).
//!
//! Every response carries `Cache-Control: no-store` (§5.1). One `grant_<grant_type>` function
//! per grant type.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::access_token;
use super::client_auth::authenticate_client;
use super::error::{TokenError, TokenErrorCode};
use super::params::Params;
use super::pkce;
use crate::app::AppState;
use crate::crypto::{random_token, sha256_hex};
use crate::oidc::id_token::{self, IdTokenInput};
use crate::store::{Client, NewRefreshToken, RotateOutcome};

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
///
/// Units: `expires_in` is seconds from now.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// RFC 9068 JWT access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// The ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token, when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = Json(self).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    }
}

fn invalid_request(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidRequest, description)
}

fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, description)
}

fn server_error(e: impl std::fmt::Display) -> TokenError {
    tracing::error!(error = %e, "token endpoint failure");
    invalid_request("temporarily unavailable")
}

/// Parameters that must not be repeated (RFC 6749 §3.2).
const SINGLE_VALUED: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
];

/// `POST /token`.
pub async fn token_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token(&state, &headers, &body).await {
        Ok(r) => r.into_response(),
        Err(e) => {
            tracing::info!(error = %e.code.name(), "token request refused");
            e.into_response()
        }
    }
}

async fn token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, TokenError> {
    // RFC 6749 §3.2: parameters come as application/x-www-form-urlencoded.
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.first_repeated(SINGLE_VALUED) {
        return Err(invalid_request(&format!(
            "parameter {name} must not be repeated"
        )));
    }
    if let Some(name) = params.first_oversized(SINGLE_VALUED) {
        return Err(invalid_request(&format!("parameter {name} is too long")));
    }
    let (client, _method) = authenticate_client(&state.store, headers, &params).await?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is required"))?;
    let response = match grant_type {
        "authorization_code" => {
            require_grant(&client, grant_type)?;
            grant_authorization_code(state, &client, &params).await?
        }
        "refresh_token" => {
            require_grant(&client, grant_type)?;
            grant_refresh_token(state, &client, &params).await?
        }
        _ => {
            return Err(TokenError::new(
                TokenErrorCode::UnsupportedGrantType,
                "unsupported grant_type",
            ));
        }
    };
    tracing::info!(client_id = %client.client_id, grant_type, "tokens issued");
    Ok(response)
}

fn require_grant(client: &Client, grant_type: &str) -> Result<(), TokenError> {
    if client.allows_grant(grant_type) {
        Ok(())
    } else {
        Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            format!("the client is not registered for {grant_type}"),
        ))
    }
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.6 and OIDC Core §3.1.3.2.
async fn grant_authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, TokenError> {
    let code = params
        .get("code")
        .ok_or_else(|| invalid_request("code is required"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| invalid_request("redirect_uri is required"))?;
    let now = state.clock.now();
    let code_hash = sha256_hex(code);
    // One atomic statement: under concurrent redemptions exactly one wins.
    let Some(row) = state
        .store
        .consume_code(&code_hash, &client.client_id, now)
        .await?
    else {
        if state.store.code_was_consumed(&code_hash).await? {
            // RFC 6749 §4.1.2: a reused code SHOULD revoke what it already produced.
            state.store.revoke_refresh_by_code(&code_hash, now).await?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; tokens revoked");
        }
        return Err(invalid_grant(
            "the code is invalid, expired, or already used",
        ));
    };
    // RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
    if row.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&row.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !pkce::is_valid_verifier(verifier) || !pkce::verify_s256(verifier, challenge) {
                return Err(invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        // RFC 9700 §2.1.1: a verifier without a challenge signals a PKCE downgrade attempt.
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier sent but no code_challenge was in the authorization request",
            ));
        }
        (None, None) => {}
    }
    let user = state
        .store
        .find_user_by_sub(&row.sub)
        .await?
        .ok_or_else(|| invalid_grant("the user no longer exists"))?;
    let refresh = if row.scope.split(' ').any(|s| s == "offline_access")
        && client.allows_grant("refresh_token")
    {
        let family_id = random_token(16).map_err(|_| server_error("rng"))?;
        Some(
            issue_refresh_token(
                state,
                client,
                &user.sub,
                &row.scope,
                row.auth_time,
                &family_id,
                Some(&code_hash),
            )
            .await?,
        )
    } else {
        None
    };
    issue_tokens(
        state,
        client,
        &user.sub,
        &row.scope,
        row.auth_time,
        row.nonce.as_deref(),
        refresh,
    )
}

/// RFC 6749 §6 with rotation (RFC 9700 §4.14.2) and OIDC Core §12.2.
async fn grant_refresh_token(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, TokenError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is required"))?;
    let now = state.clock.now();
    let hash = sha256_hex(presented);
    let requested: Option<Vec<&str>> = params
        .get("scope")
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect());
    // RFC 6749 §6: a narrower scope is allowed, a wider one is not. Checked before rotating so a
    // mistaken request does not cost the client its grant.
    if let Some(requested) = &requested
        && let Some(original) = state
            .store
            .refresh_token_scope(&hash, &client.client_id)
            .await?
    {
        let original: Vec<&str> = original.split(' ').collect();
        if requested.iter().any(|s| !original.contains(s)) {
            return Err(TokenError::new(
                TokenErrorCode::InvalidScope,
                "the requested scope exceeds the original grant",
            ));
        }
    }
    let row = match state
        .store
        .rotate_refresh_token(&hash, &client.client_id, now)
        .await?
    {
        RotateOutcome::Rotated(row) => row,
        RotateOutcome::Reused => {
            tracing::warn!(client_id = %client.client_id, "refresh token reused; family revoked");
            return Err(invalid_grant(
                "the refresh token is invalid, expired, or revoked",
            ));
        }
        RotateOutcome::Invalid => {
            return Err(invalid_grant(
                "the refresh token is invalid, expired, or revoked",
            ));
        }
    };
    let scope = match requested {
        Some(r) if !r.is_empty() => r.join(" "),
        _ => row.scope.clone(),
    };
    let user = state
        .store
        .find_user_by_sub(&row.sub)
        .await?
        .ok_or_else(|| invalid_grant("the user no longer exists"))?;
    // RFC 6749 §6: the new refresh token keeps the scope of the one presented.
    let refresh = issue_refresh_token(
        state,
        client,
        &user.sub,
        &row.scope,
        row.auth_time,
        &row.family_id,
        row.code_hash.as_deref(),
    )
    .await?;
    issue_tokens(
        state,
        client,
        &user.sub,
        &scope,
        row.auth_time,
        None,
        Some(refresh),
    )
}

async fn issue_refresh_token(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &str,
    auth_time: i64,
    family_id: &str,
    code_hash: Option<&str>,
) -> Result<String, TokenError> {
    let token = random_token(32).map_err(|_| server_error("rng"))?;
    let now = state.clock.now();
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            token_hash: &sha256_hex(&token),
            family_id,
            code_hash,
            client_id: &client.client_id,
            sub,
            scope,
            auth_time,
            now,
            expires_at: now.saturating_add(state.lifetimes.refresh_token_secs),
        })
        .await?;
    Ok(token)
}

fn issue_tokens(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &str,
    auth_time: i64,
    nonce: Option<&str>,
    refresh_token: Option<String>,
) -> Result<TokenResponse, TokenError> {
    let now = state.clock.now();
    let issuer = state.issuer.as_str();
    let ttl = state.lifetimes.access_token_secs;
    let access_token = access_token::mint(
        &state.keys,
        issuer,
        &client.client_id,
        sub,
        scope,
        Some(auth_time),
        now,
        ttl,
    )
    .map_err(server_error)?;
    let id_token = if scope.split(' ').any(|s| s == "openid") {
        Some(
            id_token::mint(
                &state.keys,
                IdTokenInput {
                    issuer,
                    client_id: &client.client_id,
                    sub,
                    auth_time,
                    nonce,
                    access_token: Some(&access_token),
                    now,
                    ttl_secs: state.lifetimes.id_token_secs,
                },
            )
            .map_err(server_error)?,
        )
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope.to_owned(),
        id_token,
        refresh_token,
    })
}
