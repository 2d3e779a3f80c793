//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.3, §4.4, §5, §6; OIDC Core §3.1.3, §12;
//! RFC 7636 §4.5–4.6; RFC 9700 §2.4, §4.14).
//!
//! Every response carries `Cache-Control: no-store` (§5.1). One `grant_<grant_type>` function
//! per grant type.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::access_token::{self, AccessTokenInput};
use super::client_form::{ClientForm, TokenForm};
use super::error::{TokenError, TokenErrorCode, no_store_json};
use super::params::Params;
use super::pkce;
use super::types::{AuthorizationCode, RefreshToken, Scope, TokenHash};
use crate::app::AppState;
use crate::audit::{Audit, Event, Origin};
use crate::client_addr::RequestOrigin;
use crate::crypto::random_token;
use crate::login_throttle::{LoginOutcome, MAX_EMAIL_BYTES, attempt_login};
use crate::oidc::claims::{self, OFFLINE_ACCESS, OPENID};
use crate::oidc::id_token::{self, IdTokenInput};
use crate::store::{Client, ConsumeCode, NewRefreshToken, RotateOutcome};

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
///
/// Units: `expires_in` is seconds from now. `Debug` shows which tokens are present, never
/// their values.
#[derive(Serialize)]
pub struct TokenResponse {
    /// RFC 9068 JWT access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes (space-delimited on the wire).
    pub scope: Scope,
    /// The ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token, when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |t: &Option<String>| t.as_ref().map(|_| "***");
        f.debug_struct("TokenResponse")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("id_token", &redacted(&self.id_token))
            .field("refresh_token", &redacted(&self.refresh_token))
            .finish()
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = no_store_json(StatusCode::OK, self);
        res.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
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
    TokenError::server_error("token endpoint", e)
}

/// `POST /token`.
pub async fn token_post(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    form: Result<ClientForm<TokenForm>, TokenError>,
) -> Response {
    let result = match form {
        Ok(form) => token(&state, &form.client, &form.params, &origin).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => r.into_response(),
        Err(e) => {
            tracing::info!(error = %e.code.name(), "token request refused");
            e.into_response()
        }
    }
}

async fn token(
    state: &AppState,
    client: &Client,
    params: &Params,
    origin: &Origin,
) -> Result<TokenResponse, TokenError> {
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is required"))?;
    // The password grant alone needs the client's address (for its failure budgets).
    let grant: Option<GrantFn> = match grant_type {
        "authorization_code" => Some(grant_authorization_code),
        "refresh_token" => Some(grant_refresh_token),
        "client_credentials" => Some(grant_client_credentials),
        "password" => None,
        _ => {
            return Err(TokenError::new(
                TokenErrorCode::UnsupportedGrantType,
                "unsupported grant_type",
            ));
        }
    };
    if !client.allows_grant(grant_type) {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            format!("the client is not registered for {grant_type}"),
        ));
    }
    let response = match grant {
        Some(grant) => grant(state, client, params).await?,
        None => grant_password(state, client, params, origin).await?,
    };
    tracing::info!(client_id = %client.client_id, grant_type, "tokens issued");
    metrics::counter!(
        "sekimori_tokens_issued_total",
        "grant_type" => grant_type.to_owned(),
        "client_id" => client.client_id.clone()
    )
    .increment(1);
    Ok(response)
}

/// A boxed future, so the grant functions can share one dispatch table.
type GrantFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<TokenResponse, TokenError>> + Send + 'a>,
>;

/// A grant function of the dispatch table.
type GrantFn = for<'a> fn(&'a AppState, &'a Client, &'a Params) -> GrantFuture<'a>;

/// RFC 6749 §4.1.3 with RFC 7636 §4.6 and OIDC Core §3.1.3.2.
fn grant_authorization_code<'a>(
    state: &'a AppState,
    client: &'a Client,
    params: &'a Params,
) -> GrantFuture<'a> {
    Box::pin(async move {
        let code = params
            .get("code")
            .map(AuthorizationCode::new)
            .ok_or_else(|| invalid_request("code is required"))?;
        // RFC 6749 §4.1.3: identical to the authorization request's redirect_uri, which the
        // code stores as the request sent it (a loopback URI with the app's port, RFC 8252
        // §7.3): compared exactly, so the two endpoints agree.
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or_else(|| invalid_request("redirect_uri is required"))?;
        let verifier = params.get("code_verifier");
        if verifier.is_some_and(|v| !pkce::is_valid_verifier(v)) {
            return Err(invalid_grant("malformed code_verifier"));
        }
        let challenge = verifier.map(pkce::s256);
        let now = state.clock.now();
        let code_hash = code.hash();
        let grant_id = random_token(16).map_err(|_| server_error("rng"))?;
        // One atomic statement that also checks every binding: under concurrent redemptions
        // exactly one wins, and a request that fails a check does not spend the code.
        let consumed = state
            .store
            .consume_code(ConsumeCode {
                code_hash: &code_hash,
                client_id: &client.client_id,
                redirect_uri,
                code_challenge: challenge.as_deref(),
                grant_id: &grant_id,
                now,
            })
            .await?;
        let Some(row) = consumed else {
            return Err(explain_failed_redemption(
                state,
                client,
                &code_hash,
                redirect_uri,
                verifier,
                now,
            )
            .await?);
        };
        let user = grant_user(state, &row.sub, row.security_stamp)
            .await?
            .ok_or_else(|| {
                invalid_grant("the user changed their password, or is disabled or removed")
            })?;
        let scope = Scope::parse(&row.scope);
        let id_token_claims = Scope::parse(&row.id_token_claims);
        let grant = UserGrant {
            user: &user,
            id_token_claims: &id_token_claims,
            scope: &scope,
            auth_time: row.auth_time,
            grant_id: &grant_id,
            code_hash: Some(&code_hash),
            security_stamp: row.security_stamp,
        };
        let refresh = if scope.contains(OFFLINE_ACCESS) && client.allows_grant("refresh_token") {
            let family_expires_at = now.saturating_add(state.lifetimes.refresh_token_absolute_secs);
            Some(issue_refresh_token(state, client, &grant, family_expires_at).await?)
        } else {
            None
        };
        issue_tokens(state, client, &grant, &scope, row.nonce.as_deref(), refresh)
    })
}

/// Why a code could not be redeemed, for the client developer; revokes the first redemption's
/// grant on a replay (RFC 6749 §4.1.2: the server SHOULD revoke all tokens issued from it).
async fn explain_failed_redemption(
    state: &AppState,
    client: &Client,
    code_hash: &TokenHash,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: i64,
) -> Result<TokenError, TokenError> {
    let generic = || invalid_grant("the code is invalid, expired, or already used");
    let Some(row) = state.store.find_code(code_hash).await? else {
        return Ok(generic());
    };
    if row.consumed_at.is_some() {
        if let Some(first_grant) = &row.grant_id {
            state
                .store
                .revoke_grant(first_grant, now, now + state.lifetimes.access_token_secs)
                .await?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; its tokens are revoked");
            metrics::counter!("sekimori_code_replay_total").increment(1);
        }
        return Ok(generic());
    }
    // Say no more than "invalid" to a client the code does not belong to.
    if row.client_id != client.client_id || row.expires_at <= now {
        return Ok(generic());
    }
    Ok(if row.redirect_uri != redirect_uri {
        // RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
        invalid_grant("redirect_uri does not match the authorization request")
    } else {
        match (&row.code_challenge, verifier) {
            (Some(_), None) => invalid_grant("code_verifier is required"),
            // RFC 9700 §2.1.1: a verifier without a challenge signals a PKCE downgrade attempt.
            (None, Some(_)) => invalid_grant(
                "code_verifier sent but no code_challenge was in the authorization request",
            ),
            _ => invalid_grant("code_verifier does not match the code_challenge"),
        }
    })
}

/// RFC 6749 §6 with rotation (RFC 9700 §4.14.2) and OIDC Core §12.2.
fn grant_refresh_token<'a>(
    state: &'a AppState,
    client: &'a Client,
    params: &'a Params,
) -> GrantFuture<'a> {
    Box::pin(async move {
        let presented = params
            .get("refresh_token")
            .map(RefreshToken::new)
            .ok_or_else(|| invalid_request("refresh_token is required"))?;
        // Refresh tokens come only with offline_access (OIDC Core §11); a client whose
        // registration no longer includes it keeps no offline access.
        if !client.allows_scope(OFFLINE_ACCESS) {
            return Err(invalid_grant(
                "the client is no longer registered for offline_access",
            ));
        }
        let now = state.clock.now();
        let hash = presented.hash();
        let requested = params.get("scope").map(Scope::parse);
        // RFC 6749 §6: a narrower scope is allowed, a wider one is not. Checked before rotating so
        // a mistaken request does not cost the client its grant.
        if let Some(requested) = &requested
            && let Some(original) = state
                .store
                .refresh_token_scope(&hash, &client.client_id)
                .await?
            && !requested.is_subset(&Scope::parse(&original))
        {
            return Err(TokenError::new(
                TokenErrorCode::InvalidScope,
                "the requested scope exceeds the original grant",
            ));
        }
        let row = match state
            .store
            .rotate_refresh_token(&hash, &client.client_id, now)
            .await?
        {
            RotateOutcome::Rotated(row) => row,
            RotateOutcome::Reused(family) => {
                // RFC 9700 §4.14.2: a rotated token used again means one of the two parties is
                // an attacker; the whole grant goes, access tokens included.
                state
                    .store
                    .revoke_grant(&family, now, now + state.lifetimes.access_token_secs)
                    .await?;
                tracing::warn!(client_id = %client.client_id, "refresh token reused; grant revoked");
                metrics::counter!("sekimori_refresh_token_reuse_total").increment(1);
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
        // The client's registration may have shrunk since the grant (`client update --scope`):
        // what it may no longer have leaves this response and the rest of the grant.
        let allowed = |s: &str| client.allows_scope(s);
        let mut grant_scope = Scope::parse(&row.scope);
        grant_scope.retain(allowed);
        let scope = match requested {
            Some(mut r) if !r.is_empty() => {
                r.retain(allowed);
                r
            }
            _ => grant_scope.clone(),
        };
        let mut id_token_claims = Scope::parse(&row.id_token_claims);
        id_token_claims
            .retain(|c| claims::scope_of_claim(c).is_some_and(|s| client.allows_scope(s)));
        let Some(user) = grant_user(state, &row.sub, row.security_stamp).await? else {
            // RFC 9700 §4.14.2 / issue 11 §2: a password change or disable ends the grant; the
            // rotation above already spent this token, the rest of the family goes too.
            state
                .store
                .revoke_grant(&row.family_id, now, now + state.lifetimes.access_token_secs)
                .await?;
            return Err(invalid_grant(
                "the refresh token is invalid, expired, or revoked",
            ));
        };
        let family_code_hash = row.code_hash.clone().map(TokenHash::from_stored);
        let grant = UserGrant {
            user: &user,
            id_token_claims: &id_token_claims,
            // RFC 6749 §6: the new refresh token keeps the scope of the one presented.
            scope: &grant_scope,
            auth_time: row.auth_time,
            grant_id: &row.family_id,
            code_hash: family_code_hash.as_ref(),
            security_stamp: row.security_stamp,
        };
        let refresh = issue_refresh_token(state, client, &grant, row.family_expires_at).await?;
        issue_tokens(state, client, &grant, &scope, None, Some(refresh))
    })
}

/// RFC 6749 §4.4: a confidential client acting on its own behalf. No ID token, no refresh token;
/// the token's `sub` is the client_id (RFC 9068 §2.2).
fn grant_client_credentials<'a>(
    state: &'a AppState,
    client: &'a Client,
    params: &'a Params,
) -> GrantFuture<'a> {
    Box::pin(async move {
        if client.is_public() {
            // §4.4: "MUST only be used by confidential clients".
            return Err(TokenError::new(
                TokenErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            ));
        }
        let scope = match params.get("scope") {
            None => Scope::new(),
            Some(requested) => {
                let requested = Scope::parse(requested);
                // User-centric scopes make no sense without a user.
                if requested
                    .iter()
                    .any(|s| !client.allows_scope(s) || claims::needs_user(s))
                {
                    return Err(TokenError::new(
                        TokenErrorCode::InvalidScope,
                        "the requested scope is not allowed for this client",
                    ));
                }
                requested
            }
        };
        let now = state.clock.now();
        let published = state.published();
        let ttl = state.lifetimes.access_token_secs;
        let (access_token, _) = access_token::mint(
            &published.keys,
            AccessTokenInput {
                issuer: state.issuer.as_str(),
                client_id: &client.client_id,
                sub: &client.client_id,
                scope: &scope.to_string(),
                auth_time: None,
                grant_id: None,
                security_stamp: 0,
                now,
                ttl_secs: ttl,
                alg: client.access_token_alg,
            },
        )
        .map_err(server_error)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope,
            id_token: None,
            refresh_token: None,
        })
    })
}

/// RFC 6749 §4.3, the legacy resource owner password credentials grant — what older applications use —
/// only for clients registered for it. RFC 9700 §2.4: it MUST NOT be used; it exists to migrate
/// old applications.
fn grant_password<'a>(
    state: &'a AppState,
    client: &'a Client,
    params: &'a Params,
    origin: &'a Origin,
) -> GrantFuture<'a> {
    Box::pin(async move {
        let (Some(username), Some(password)) = (params.get("username"), params.get("password"))
        else {
            return Err(invalid_request("username and password are required"));
        };
        let username = username.trim();
        // RFC 5321 §4.5.3.1.3: no address is longer; refused before any budget is read or spent.
        if username.len() > MAX_EMAIL_BYTES {
            Audit::new(Event::LoginFailure)
                .client(&client.client_id)
                .origin(origin)
                .reason("invalid_input")
                .emit();
            return Err(invalid_request(&format!(
                "username is longer than {MAX_EMAIL_BYTES} bytes"
            )));
        }
        // The login form's failure budgets, without a device cookie: per (account, source),
        // per account and per source (login_throttle).
        let user = match attempt_login(state, username, password, origin, None, &client.client_id)
            .await?
        {
            LoginOutcome::Success(user) => user,
            LoginOutcome::Throttled(secs) => return Err(TokenError::throttled(secs)),
            LoginOutcome::Failed(_) => {
                return Err(invalid_grant("the username or password is incorrect"));
            }
        };
        let mut scope = Scope::parse(params.get("scope").unwrap_or(OPENID));
        scope.retain(|s| s != OFFLINE_ACCESS && client.allows_scope(s));
        let id_token_claims = Scope::new();
        let now = state.clock.now();
        let grant_id = random_token(16).map_err(|_| server_error("rng"))?;
        let grant = UserGrant {
            user: &user,
            id_token_claims: &id_token_claims,
            scope: &scope,
            auth_time: now,
            grant_id: &grant_id,
            code_hash: None,
            security_stamp: user.security_stamp,
        };
        issue_tokens(state, client, &grant, &scope, None, None)
    })
}

/// The user a code or refresh token was issued for under `security_stamp`, if that still
/// counts (`Store::current_user`): `None` once the account is removed or disabled, or its
/// password changed since.
async fn grant_user(
    state: &AppState,
    sub: &str,
    security_stamp: i64,
) -> Result<Option<crate::store::User>, TokenError> {
    Ok(state.store.current_user(sub, security_stamp).await?)
}

/// A grant made by a user: what every token issued under it carries.
struct UserGrant<'a> {
    user: &'a crate::store::User,
    /// Claim names asked for in ID tokens (OIDC Core §5.5).
    id_token_claims: &'a Scope,
    /// The scope of the grant (and of its refresh tokens).
    scope: &'a Scope,
    auth_time: i64,
    grant_id: &'a str,
    code_hash: Option<&'a TokenHash>,
    /// The user's security stamp the grant was made under, carried by every token it issues.
    security_stamp: i64,
}

/// Issues a refresh token of `grant` that lives until the idle lifetime from now, or until
/// `family_expires_at` (the grant's absolute end), whichever comes first.
async fn issue_refresh_token(
    state: &AppState,
    client: &Client,
    grant: &UserGrant<'_>,
    family_expires_at: i64,
) -> Result<String, TokenError> {
    let token = RefreshToken::new(random_token(32).map_err(|_| server_error("rng"))?);
    let now = state.clock.now();
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            token_hash: &token.hash(),
            family_id: grant.grant_id,
            code_hash: grant.code_hash,
            client_id: &client.client_id,
            sub: &grant.user.sub,
            scope: &grant.scope.to_string(),
            id_token_claims: &grant.id_token_claims.to_string(),
            auth_time: grant.auth_time,
            security_stamp: grant.security_stamp,
            now,
            expires_at: now.saturating_add(state.lifetimes.refresh_token_idle_secs),
            family_expires_at,
        })
        .await?;
    Ok(token.into_exposed())
}

/// Mints the access token (and the ID token when `openid` is in `scope`).
fn issue_tokens(
    state: &AppState,
    client: &Client,
    grant: &UserGrant<'_>,
    scope: &Scope,
    nonce: Option<&str>,
    refresh_token: Option<String>,
) -> Result<TokenResponse, TokenError> {
    let now = state.clock.now();
    let issuer = state.issuer.as_str();
    let ttl = state.lifetimes.access_token_secs;
    let published = state.published();
    let (access_token, _) = access_token::mint(
        &published.keys,
        AccessTokenInput {
            issuer,
            client_id: &client.client_id,
            sub: &grant.user.sub,
            scope: &scope.to_string(),
            auth_time: Some(grant.auth_time),
            grant_id: Some(grant.grant_id),
            security_stamp: grant.security_stamp,
            now,
            ttl_secs: ttl,
            alg: client.access_token_alg,
        },
    )
    .map_err(server_error)?;
    let id_token = if scope.contains(OPENID) {
        Some(
            id_token::mint(
                &published.keys,
                IdTokenInput {
                    issuer,
                    client_id: &client.client_id,
                    sub: &grant.user.sub,
                    auth_time: grant.auth_time,
                    nonce,
                    access_token: Some(&access_token),
                    now,
                    ttl_secs: state.lifetimes.id_token_secs,
                    alg: client.id_token_alg,
                    // Requested claims, within the scope of *this* response (a narrowed refresh
                    // releases less).
                    extra: crate::oidc::userinfo::user_claims(
                        grant.user,
                        grant.id_token_claims.iter().filter(|c| {
                            claims::scope_of_claim(c).is_some_and(|s| scope.contains(s))
                        }),
                    ),
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
        scope: scope.clone(),
        id_token,
        refresh_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_debug_shows_no_token() {
        let res = TokenResponse {
            access_token: "at-secret".into(),
            token_type: "Bearer",
            expires_in: 60,
            scope: Scope::parse("openid"),
            id_token: Some("idt-secret".into()),
            refresh_token: None,
        };
        let shown = format!("{res:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("refresh_token: None"), "{shown}");
    }
}
