//! Client authentication at the token endpoint (RFC 6749 §2.3.1; OIDC Core §9):
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::{TokenError, TokenErrorCode};
use super::params::Params;
use super::types::ClientSecret;
use std::sync::Arc;

use crate::app::AppState;
use crate::store::Client;

/// How the client authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with form-urlencoded client_id and client_secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A public client naming itself with client_id only.
    None,
}

fn invalid_client() -> TokenError {
    // One message for unknown clients and wrong secrets: no oracle for registered client ids.
    TokenError::new(
        TokenErrorCode::InvalidClient,
        "client authentication failed",
    )
}

/// Whether `presented` authenticates `client`: a confidential client's secret (SHA-256,
/// compared in constant time), or nothing at all for a public client.
fn secret_matches(client: &Client, presented: Option<&str>) -> bool {
    match (&client.secret_hash, presented) {
        (Some(stored), Some(presented)) => ClientSecret::new(presented).verify(stored),
        // A public client authenticates with `none` only.
        (None, None) => true,
        _ => false,
    }
}

/// Decodes an `Authorization: Basic` value into (client_id, client_secret), undoing the
/// `application/x-www-form-urlencoded` step RFC 6749 §2.3.1 applies to both parts.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unform = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unform(id)?, unform(secret)?))
}

/// Authenticates the client of a token, revocation or introspection request.
///
/// Errors: `invalid_request` when two methods are combined (RFC 6749 §2.3: "MUST NOT use more
/// than one") or the body's client_id contradicts Basic; `invalid_client` (401) for a missing,
/// unknown or wrongly authenticated client, including a confidential client without its secret.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(Arc<Client>, AuthMethod), TokenError> {
    let authorization = headers.get(header::AUTHORIZATION);
    let (client_id, secret, method) = match authorization {
        Some(value) => {
            let (id, secret) = value
                .to_str()
                .ok()
                .and_then(parse_basic)
                .ok_or_else(invalid_client)?;
            if params.get("client_secret").is_some() {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "use only one client authentication method",
                ));
            }
            // Many relying-party libraries also send client_id in the body; it must agree.
            if let Some(body_id) = params.get("client_id")
                && body_id != id
            {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "client_id does not match the authenticated client",
                ));
            }
            (id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        None => {
            let id = params.get("client_id").ok_or_else(invalid_client)?;
            match params.get("client_secret") {
                Some(secret) => (
                    id.to_owned(),
                    Some(secret.to_owned()),
                    AuthMethod::ClientSecretPost,
                ),
                None => (id.to_owned(), None, AuthMethod::None),
            }
        }
    };
    let mut client = state.client(&client_id).await?.ok_or_else(invalid_client)?;
    if !secret_matches(&client, secret.as_deref()) {
        // The cached registration may predate `client rotate-secret`: read it again once.
        state.forget_client(&client_id).await;
        client = state.client(&client_id).await?.ok_or_else(invalid_client)?;
        if !secret_matches(&client, secret.as_deref()) {
            return Err(invalid_client());
        }
    }
    Ok((client, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        // "my%20id:s%3Acret+x" base64
        let value = format!("Basic {}", STANDARD.encode("my%20id:s%3Acret+x"));
        assert_eq!(
            parse_basic(&value),
            Some(("my id".to_owned(), "s:cret x".to_owned()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
