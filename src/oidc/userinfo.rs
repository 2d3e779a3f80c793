//! The UserInfo endpoint (OIDC Core §5.3) as an RFC 6750 protected resource.
//!
//! The bearer token comes from `Authorization: Bearer` (§2.1) or, on POST, the form body's
//! `access_token` (§2.2) — never both. It must be an access token we signed (RS256 pinned, `typ`
//! `at+jwt`, known `kid`), from our issuer, for our audience, and not expired by our clock.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::oauth::access_token;
pub use crate::oauth::error::BearerError;
use crate::oauth::error::{BearerErrorCode, no_store_json};
use crate::oauth::params::Params;

/// The token from `Authorization: Bearer …`, if that header is present.
///
/// Errors: `invalid_token` for another scheme or an empty/malformed value.
fn bearer_from_header(headers: &HeaderMap) -> Result<Option<String>, BearerError> {
    crate::oauth::params::bearer_token(headers)
        .map(|t| t.map(str::to_owned))
        .map_err(|()| BearerError::invalid_token("expected an Authorization: Bearer access token"))
}

/// `GET /userinfo`.
pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match bearer_from_header(&headers) {
        Ok(Some(token)) => respond(&state, &token).await,
        // RFC 6750 §3.1 would send a bare challenge here; we answer invalid_token on a
        // missing token too, as node-oidc-provider answers, so clients see one error shape.
        Ok(None) => BearerError::invalid_token("no access token provided").into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /userinfo`: the token in the header or, with a form body, as `access_token`.
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_header = match bearer_from_header(&headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = if is_form {
        Params::parse(&body)
    } else {
        Params::default()
    };
    if params.is_repeated("access_token") {
        return BearerError::invalid_request("access_token repeated").into_response();
    }
    if params.first_malformed(&["access_token"]).is_some() {
        return BearerError::invalid_token("the access token is invalid").into_response();
    }
    let from_body = params.get("access_token").map(str::to_owned);
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token".
            return BearerError::invalid_request("the access token was sent in more than one way")
                .into_response();
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => {
            return BearerError::invalid_token("no access token provided").into_response();
        }
    };
    respond(&state, &token).await
}

async fn respond(state: &AppState, token: &str) -> Response {
    match userinfo(state, token).await {
        Ok(body) => no_store_json(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

/// The claims of the token's user that its scopes release (OIDC Core §5.4).
async fn userinfo(state: &AppState, token: &str) -> Result<Value, BearerError> {
    // Signature and claims here; the deny-list with the user read below, in one query.
    let claims = match access_token::verify(state, token) {
        Ok(c) => c,
        Err(why) => {
            tracing::debug!(why, "userinfo: access token rejected");
            return Err(BearerError::invalid_token("the access token is invalid"));
        }
    };
    if !claims.scope.contains(crate::oidc::claims::OPENID) {
        return Err(BearerError::Bearer {
            code: BearerErrorCode::InsufficientScope,
            description: "the access token lacks the openid scope",
        });
    }
    let user = state
        .store
        .find_user_for_token(
            &claims.sub,
            claims.security_stamp,
            &claims.jti,
            claims.grant_id.as_deref(),
        )
        .await?
        .ok_or_else(|| BearerError::invalid_token("the access token is invalid"))?;
    let released = claims
        .scope
        .iter()
        .flat_map(crate::oidc::claims::claims_of_scope)
        .copied();
    let mut out = user_claims(&user, released);
    out.insert("sub".into(), json!(user.sub));
    Ok(Value::Object(out))
}

/// The user's values for the named claims (OIDC Core §5.1); unknown names, and claims the user
/// has no value for, are skipped.
pub fn user_claims<'a>(
    user: &crate::store::User,
    names: impl IntoIterator<Item = &'a str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for name in names {
        let value = match name {
            "name" => json!(user.name),
            "preferred_username" => json!(user.email),
            "updated_at" => json!(user.updated_at),
            "email" => json!(user.email),
            "email_verified" => json!(user.email_verified),
            "phone_number" => match &user.phone_number {
                Some(p) => json!(p),
                None => continue,
            },
            "phone_number_verified" if user.phone_number.is_some() => {
                json!(user.phone_number_verified)
            }
            // Stored as a JSON object by `user update --address`; anything else is not shown.
            "address" => match user
                .address
                .as_deref()
                .and_then(|a| serde_json::from_str::<Value>(a).ok())
                .filter(Value::is_object)
            {
                Some(a) => a,
                None => continue,
            },
            _ => continue,
        };
        out.insert(name.to_owned(), value);
    }
    out
}
