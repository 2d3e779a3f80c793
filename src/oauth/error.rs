//! Protocol error codes as enums, each wire name derived once by serde (STYLE §2), and the token
//! endpoint's JSON error response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Errors of the authorization endpoint, sent to the client's redirect_uri
/// (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9101 §6.2 / OIDC Core §6.3 for request objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizeErrorCode {
    /// Missing, invalid, repeated or malformed parameter.
    InvalidRequest,
    /// The client may not use this method to obtain a code.
    UnauthorizedClient,
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// `response_type` other than `code`.
    UnsupportedResponseType,
    /// Scope invalid, unknown or malformed (e.g. without `openid`).
    InvalidScope,
    /// An unexpected condition on our side.
    ServerError,
    /// Temporarily overloaded or under maintenance.
    TemporarilyUnavailable,
    /// `prompt=none` but the user is not logged in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` but consent is needed.
    ConsentRequired,
    /// `prompt=none` but some interaction is needed.
    InteractionRequired,
    /// The `request` parameter is not supported.
    RequestNotSupported,
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// The `registration` parameter is not supported.
    RegistrationNotSupported,
}

impl AuthorizeErrorCode {
    /// The wire name (`invalid_request`, …).
    pub fn name(self) -> String {
        wire_name(&self)
    }
}

/// Errors of the token endpoint (RFC 6749 §5.2; `unsupported_token_type` is RFC 7009 §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenErrorCode {
    /// Missing, repeated or malformed parameter, or more than one client authentication method.
    InvalidRequest,
    /// Client authentication failed (401 with `WWW-Authenticate`).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, reused, or bound to something else.
    InvalidGrant,
    /// The client is not registered for this grant type.
    UnauthorizedClient,
    /// We do not support this grant type.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what was granted.
    InvalidScope,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// Not in RFC 6749 §5.2: the database is unreachable; sent with 503 so clients retry
    /// (the authorize endpoint's code of the same name, §4.1.2.1).
    TemporarilyUnavailable,
    /// Not in RFC 6749 §5.2: an unexpected failure on our side; sent with 500.
    ServerError,
}

impl TokenErrorCode {
    /// The wire name.
    pub fn name(self) -> String {
        wire_name(&self)
    }
}

/// Errors of protected resources such as userinfo, carried in `WWW-Authenticate` (RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BearerErrorCode {
    /// Malformed request, or the token sent in more than one way: 400.
    InvalidRequest,
    /// Expired, revoked, malformed or otherwise invalid token: 401.
    InvalidToken,
    /// The token lacks the needed scope: 403.
    InsufficientScope,
}

impl BearerErrorCode {
    /// The wire name.
    pub fn name(self) -> String {
        wire_name(&self)
    }
}

/// The serde wire name of a unit enum variant: the one place each name is spelled.
fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "server_error".to_owned(),
    }
}

/// A token-endpoint error response (RFC 6749 §5.2).
///
/// Shape: JSON `{"error": code, "error_description": text?}`, status 400, or 401 with
/// `WWW-Authenticate: Basic` for `invalid_client`, or 429 with `Retry-After` (seconds) for a
/// throttled password grant; always `Cache-Control: no-store`.
#[derive(Debug)]
pub struct TokenError {
    /// The error code.
    pub code: TokenErrorCode,
    /// A sentence for the client developer; never internal details or secrets.
    pub description: Option<String>,
    /// Seconds to wait: sent as 429 with `Retry-After` (RFC 6585 §4) instead of 400.
    pub retry_after: Option<u64>,
}

impl TokenError {
    /// An error with a description.
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            retry_after: None,
        }
    }

    /// A throttled login (password grant): `invalid_grant`, as before the limits existed, but
    /// with status 429 and `Retry-After: secs`.
    pub fn throttled(secs: u64) -> Self {
        let unit = if secs == 1 { "second" } else { "seconds" };
        Self {
            code: TokenErrorCode::InvalidGrant,
            description: Some(format!("too many attempts; retry in {secs} {unit}")),
            retry_after: Some(secs),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match self.code {
            TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            TokenErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ if self.retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut res = (
            status,
            Json(ErrorBody {
                error: &self.code.name(),
                error_description: self.description.as_deref(),
            }),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="sekimori", charset="UTF-8""#),
            );
        }
        res
    }
}

impl From<crate::store::Error> for TokenError {
    fn from(e: crate::store::Error) -> Self {
        // Logged once here, at the edge; the client learns nothing internal.
        tracing::error!(error = %e, "storage failure");
        if matches!(e, crate::store::Error::Unavailable(_)) {
            Self::new(
                TokenErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; retry later",
            )
        } else {
            Self::new(TokenErrorCode::ServerError, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips_through_its_wire_name() {
        use AuthorizeErrorCode as A;
        for v in [
            A::InvalidRequest,
            A::UnauthorizedClient,
            A::AccessDenied,
            A::UnsupportedResponseType,
            A::InvalidScope,
            A::ServerError,
            A::TemporarilyUnavailable,
            A::LoginRequired,
            A::ConsentRequired,
            A::InteractionRequired,
            A::RequestNotSupported,
            A::RequestUriNotSupported,
            A::RegistrationNotSupported,
        ] {
            let json = serde_json::to_string(&v).expect("ser");
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(serde_json::from_str::<A>(&json).expect("de"), v);
        }
        use TokenErrorCode as T;
        for v in [
            T::InvalidRequest,
            T::InvalidClient,
            T::InvalidGrant,
            T::UnauthorizedClient,
            T::UnsupportedGrantType,
            T::InvalidScope,
            T::UnsupportedTokenType,
            T::TemporarilyUnavailable,
            T::ServerError,
        ] {
            let json = serde_json::to_string(&v).expect("ser");
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(serde_json::from_str::<T>(&json).expect("de"), v);
        }
        for v in [
            BearerErrorCode::InvalidRequest,
            BearerErrorCode::InvalidToken,
            BearerErrorCode::InsufficientScope,
        ] {
            let json = serde_json::to_string(&v).expect("ser");
            assert_eq!(json, format!("\"{}\"", v.name()));
        }
        assert_eq!(
            A::RequestUriNotSupported.name(),
            "request_uri_not_supported"
        );
        assert_eq!(T::InvalidGrant.name(), "invalid_grant");
    }
}
