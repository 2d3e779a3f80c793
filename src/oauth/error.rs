//! The response kit of every protocol surface: the error code enums, each wire name derived once
//! by serde (STYLE §2); the authorize ([`ErrorRedirect`]), token ([`TokenError`], RFC 6749 §5.2),
//! bearer ([`BearerError`], RFC 6750 §3) and registration ([`RegistrationError`], RFC 7591
//! §3.2.2) errors; the `Cache-Control: no-store` JSON response ([`no_store_json`]); the one
//! `temporarily_unavailable` 503 ([`temporarily_unavailable`]); the Bearer challenge
//! ([`bearer_challenge`]).
//!
//! Conversions have no side effects: a 5xx caused by an internal failure carries an
//! [`InternalError`] in its response extensions, and [`log_internal_errors`] (a middleware on
//! the whole router) logs it once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::response::{ResponseMode, deliver};

/// Seconds a client is told to wait (`Retry-After`, RFC 9110 §10.2.3) after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The `error_description` of every `temporarily_unavailable` 503.
pub const UNAVAILABLE_DESCRIPTION: &str = "the service is temporarily unavailable; retry later";

/// The realm of our `WWW-Authenticate` challenges (RFC 9110 §11.5).
const REALM: &str = "sekimori";

/// An internal failure behind a response (a storage error, say), kept in the response's
/// extensions for [`log_internal_errors`]; never sent to the client.
#[derive(Clone, Debug)]
pub struct InternalError {
    /// What was being done (`"token endpoint"`, `"revocation"`, …).
    pub context: &'static str,
    /// The error's text, for the log only.
    pub message: String,
}

impl InternalError {
    /// An internal error of `context`.
    pub fn new(context: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            context,
            message: e.to_string(),
        }
    }

    /// `res` with this error attached for the logging middleware.
    pub fn attach(self, mut res: Response) -> Response {
        res.extensions_mut().insert(self);
        res
    }
}

/// Middleware: logs, once, the [`InternalError`] a handler's response carries.
pub async fn log_internal_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    if let Some(e) = res.extensions().get::<InternalError>() {
        tracing::error!(error = %e.message, status = res.status().as_u16(), "{} failed", e.context);
    }
    res
}

/// `res` with `Cache-Control: no-store` (RFC 6749 §5.1, RFC 7662 §2.2, OIDC Core §5.3.2): the
/// body holds tokens, claims or errors no cache may keep.
pub fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A JSON response with `Cache-Control: no-store`.
///
/// Shape: `status`, `Content-Type: application/json`, `body` serialized.
pub fn no_store_json(status: StatusCode, body: impl Serialize) -> Response {
    no_store((status, Json(body)).into_response())
}

/// The one `temporarily_unavailable` response of the JSON endpoints (token, revoke,
/// introspect, userinfo, registration), when the database cannot be reached or a value cannot
/// be stored (RFC 7009 §2.2.1 names the 503 for revocation).
///
/// Shape: 503, `Retry-After: 5` (seconds), `Cache-Control: no-store`, JSON
/// `{"error":"temporarily_unavailable","error_description":`[`UNAVAILABLE_DESCRIPTION`]`}`.
pub fn temporarily_unavailable() -> Response {
    let mut res = no_store_json(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable", "error_description": UNAVAILABLE_DESCRIPTION}),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

/// The `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) with `error` and, when given,
/// `error_description`.
///
/// Shape: `Bearer realm="sekimori", error="invalid_token", error_description="…"`. The
/// description must be one of our fixed sentences (no quotes or backslashes, nothing a client
/// sent); one that is not a valid header value is left out.
pub fn bearer_challenge(code: BearerErrorCode, description: Option<&str>) -> HeaderValue {
    let challenge = format!(r#"Bearer realm="{REALM}", error="{}""#, code.name());
    description
        .and_then(|d| {
            HeaderValue::from_str(&format!(r#"{challenge}, error_description="{d}""#)).ok()
        })
        .or_else(|| HeaderValue::from_str(&challenge).ok())
        .unwrap_or_else(|| HeaderValue::from_static(r#"Bearer realm="sekimori""#))
}

/// The description of a body over the router's limit ([`crate::app::MAX_BODY_BYTES`]).
const TOO_LARGE: &str = "the request body is larger than 64 KiB";

/// Response mapper of the JSON API routers: the body limit's plain-text 413 becomes the 400
/// `invalid_request` [`TokenError`] (RFC 6749 §5.2; RFC 7591 §3.2.2 uses the same shape).
pub async fn too_large_as_invalid_request(res: Response) -> Response {
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    TokenError::new(TokenErrorCode::InvalidRequest, TOO_LARGE).into_response()
}

/// Response mapper of the protected resources' router (userinfo): as
/// [`too_large_as_invalid_request`], with the RFC 6750 §3.1 `invalid_request` challenge.
pub async fn too_large_as_bearer_invalid_request(res: Response) -> Response {
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    let mut res = TokenError::new(TokenErrorCode::InvalidRequest, TOO_LARGE).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        bearer_challenge(BearerErrorCode::InvalidRequest, None),
    );
    res
}

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

/// A token-endpoint error response (RFC 6749 §5.2), also sent by revocation (RFC 7009 §2.2.1)
/// and introspection (RFC 7662 §2.3).
///
/// Shape: JSON `{"error": code, "error_description": text?}`, status 400, or 401 with
/// `WWW-Authenticate: Basic` for `invalid_client`, or 429 with `Retry-After` (seconds) for a
/// throttled password grant, or 500 for `server_error`, or [`temporarily_unavailable`]'s 503;
/// always `Cache-Control: no-store` and `Pragma: no-cache`.
#[derive(Debug)]
pub struct TokenError {
    /// The error code.
    pub code: TokenErrorCode,
    /// A sentence for the client developer; never internal details or secrets.
    pub description: Option<String>,
    /// Seconds to wait: sent as 429 with `Retry-After` (RFC 6585 §4) instead of 400.
    pub retry_after: Option<u64>,
    /// The internal failure behind a 5xx, for the log only.
    pub internal: Option<InternalError>,
}

impl TokenError {
    /// An error with a description.
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            retry_after: None,
            internal: None,
        }
    }

    /// `server_error` (500) caused by `e`, which is logged, never sent.
    pub fn server_error(context: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(InternalError::new(context, e)),
            ..Self::new(TokenErrorCode::ServerError, "internal error")
        }
    }

    /// A throttled login (password grant): `invalid_grant`, as before the limits existed, but
    /// with status 429 and `Retry-After: secs`.
    pub fn throttled(secs: u64) -> Self {
        let unit = if secs == 1 { "second" } else { "seconds" };
        Self {
            retry_after: Some(secs),
            ..Self::new(
                TokenErrorCode::InvalidGrant,
                format!("too many attempts; retry in {secs} {unit}"),
            )
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
        let mut res = if self.code == TokenErrorCode::TemporarilyUnavailable {
            temporarily_unavailable()
        } else {
            let status = match self.code {
                TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
                TokenErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                _ if self.retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_REQUEST,
            };
            no_store_json(
                status,
                ErrorBody {
                    error: &self.code.name(),
                    error_description: self.description.as_deref(),
                },
            )
        };
        let h = res.headers_mut();
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == TokenErrorCode::InvalidClient {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="sekimori", charset="UTF-8""#),
            );
        }
        match self.internal {
            Some(e) => e.attach(res),
            None => res,
        }
    }
}

impl From<crate::store::Error> for TokenError {
    fn from(e: crate::store::Error) -> Self {
        // The client learns nothing internal; the middleware logs `e`.
        if matches!(e, crate::store::Error::Unavailable(_)) {
            Self {
                internal: Some(InternalError::new("storage", &e)),
                ..Self::new(
                    TokenErrorCode::TemporarilyUnavailable,
                    UNAVAILABLE_DESCRIPTION,
                )
            }
        } else {
            Self::server_error("storage", &e)
        }
    }
}

/// An error of a protected resource such as userinfo (RFC 6750 §3): the status its code implies
/// and a [`bearer_challenge`], or [`temporarily_unavailable`] when the token cannot be checked.
///
/// Shape: 400 `invalid_request`, 401 `invalid_token`, 403 `insufficient_scope`, each with
/// `WWW-Authenticate`, `Cache-Control: no-store` and the JSON
/// `{"error": code, "error_description": text}`.
#[derive(Debug)]
pub enum BearerError {
    /// A protocol error.
    Bearer {
        /// The RFC 6750 error code.
        code: BearerErrorCode,
        /// One of our fixed sentences.
        description: &'static str,
    },
    /// The token could not be checked right now: 503 with `Retry-After`.
    Unavailable(InternalError),
}

impl BearerError {
    /// `invalid_token` (401).
    pub fn invalid_token(description: &'static str) -> Self {
        Self::Bearer {
            code: BearerErrorCode::InvalidToken,
            description,
        }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: &'static str) -> Self {
        Self::Bearer {
            code: BearerErrorCode::InvalidRequest,
            description,
        }
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (code, description) = match self {
            Self::Bearer { code, description } => (code, description),
            Self::Unavailable(e) => return e.attach(temporarily_unavailable()),
        };
        let status = match code {
            BearerErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            BearerErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            BearerErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        };
        let mut res = no_store_json(
            status,
            ErrorBody {
                error: &code.name(),
                error_description: Some(description),
            },
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            bearer_challenge(code, Some(description)),
        );
        res
    }
}

impl From<crate::store::Error> for BearerError {
    fn from(e: crate::store::Error) -> Self {
        Self::Unavailable(InternalError::new("userinfo storage", e))
    }
}

/// Errors of dynamic client registration (RFC 7591 §3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationErrorCode {
    /// A redirect URI is missing or unacceptable.
    InvalidRedirectUri,
    /// Some other metadata value is unacceptable.
    InvalidClientMetadata,
}

impl RegistrationErrorCode {
    /// The wire name.
    pub fn name(self) -> String {
        wire_name(&self)
    }
}

/// An RFC 7591 §3.2.2 error (400), an RFC 6750 bearer error for a bad initial or registration
/// access token (401), or [`temporarily_unavailable`].
///
/// Shape: JSON `{"error": code, "error_description": text}` with `Cache-Control: no-store`;
/// the 401 carries `WWW-Authenticate: Bearer realm="sekimori", error="invalid_token"`.
#[derive(Debug)]
pub enum RegistrationError {
    /// A redirect URI is missing or unacceptable.
    InvalidRedirectUri(String),
    /// Some other metadata value is unacceptable.
    InvalidClientMetadata(String),
    /// The initial or registration access token is missing or wrong.
    InvalidToken,
    /// The database failed (logged by the middleware; no detail for the client).
    Store(crate::store::Error),
    /// Registration failed on our side (logged where it happened; no detail for the client).
    Unavailable,
}

impl From<crate::store::Error> for RegistrationError {
    fn from(e: crate::store::Error) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let (code, description) = match self {
            Self::InvalidRedirectUri(d) => (RegistrationErrorCode::InvalidRedirectUri, d),
            Self::InvalidClientMetadata(d) => (RegistrationErrorCode::InvalidClientMetadata, d),
            Self::InvalidToken => {
                let code = BearerErrorCode::InvalidToken;
                let mut res = no_store_json(
                    StatusCode::UNAUTHORIZED,
                    ErrorBody {
                        error: &code.name(),
                        error_description: Some("a valid access token is required"),
                    },
                );
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, bearer_challenge(code, None));
                return res;
            }
            Self::Unavailable => return temporarily_unavailable(),
            Self::Store(e) => {
                return InternalError::new("registration storage", e)
                    .attach(temporarily_unavailable());
            }
        };
        no_store_json(
            StatusCode::BAD_REQUEST,
            ErrorBody {
                error: &code.name(),
                error_description: Some(&description),
            },
        )
    }
}

/// An authorization error sent back to the client at its redirect_uri (RFC 6749 §4.1.2.1, OIDC
/// Core §3.1.2.6), once client and redirect_uri are trusted; before that the authorization
/// endpoint renders an HTML page (the browser layer's error page) and never redirects.
#[derive(Debug)]
pub struct ErrorRedirect {
    /// The validated redirect_uri.
    pub redirect_uri: String,
    /// How to deliver it.
    pub response_mode: ResponseMode,
    /// The client's state, if it sent one.
    pub state: Option<String>,
    /// The error code.
    pub code: AuthorizeErrorCode,
    /// A sentence for the client developer.
    pub description: String,
}

impl ErrorRedirect {
    /// An error for `req`'s client.
    pub fn for_request(
        req: &super::authorize::AuthorizationRequest,
        code: AuthorizeErrorCode,
        description: &str,
    ) -> Self {
        Self {
            redirect_uri: req.redirect_uri.to_string(),
            response_mode: req.response_mode,
            state: req.state.clone(),
            code,
            description: description.to_owned(),
        }
    }

    /// The response: 302 with the error in the query, or a form post (RFC 6749 §4.1.2.1), with
    /// `iss` (RFC 9207 §2).
    pub fn into_response(self, issuer: &str) -> Response {
        deliver(
            &self.redirect_uri,
            self.response_mode,
            &[
                ("error", Some(&self.code.name())),
                ("error_description", Some(&self.description)),
                ("state", self.state.as_deref()),
                ("iss", Some(issuer)),
            ],
        )
    }
}

#[cfg(test)]
mod tests;
