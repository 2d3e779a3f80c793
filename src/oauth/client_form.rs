//! The client-authenticated form post shared by the token (RFC 6749 §3.2), revocation (RFC 7009
//! §2.1) and introspection (RFC 7662 §2.1) endpoints: one extractor checks the content type,
//! the body size, repeated and malformed parameters, and authenticates the client
//! (`client_secret_basic`, `client_secret_post` or `none`, RFC 6749 §2.3.1).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};

use super::client_auth::{AuthMethod, authenticate_client};
use super::error::{TokenError, TokenErrorCode};
use super::params::Params;
use crate::app::AppState;
use crate::store::Client;

/// What one endpoint's form must satisfy, beyond being a client-authenticated form post.
pub trait FormRules: Send + Sync + 'static {
    /// Parameters that must not be repeated (RFC 6749 §3.2: "MUST NOT be included more than
    /// once") nor be invalid UTF-8.
    const SINGLE_VALUED: &'static [&'static str];
    /// Whether values longer than [`super::params::MAX_VALUE_LEN`] bytes are refused.
    const LENGTH_CHECKED: bool;
    /// A parameter required once the client is authenticated, if any.
    const REQUIRED: Option<&'static str>;
}

/// The token endpoint's form (RFC 6749 §3.2, §4.1.3, §4.3, §4.4, §6).
pub struct TokenForm;

impl FormRules for TokenForm {
    const SINGLE_VALUED: &'static [&'static str] = &[
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "client_id",
        "client_secret",
        "username",
        "password",
    ];
    const LENGTH_CHECKED: bool = true;
    const REQUIRED: Option<&'static str> = None;
}

/// The form of revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1): a `token` and its
/// optional `token_type_hint`.
pub struct TokenReferenceForm;

impl FormRules for TokenReferenceForm {
    const SINGLE_VALUED: &'static [&'static str] =
        &["token", "token_type_hint", "client_id", "client_secret"];
    const LENGTH_CHECKED: bool = false;
    const REQUIRED: Option<&'static str> = Some("token");
}

/// A form post from an authenticated client.
///
/// Errors (as [`TokenError`], in this order): `invalid_request` (400) for an unreadable or
/// oversized body, a content type other than `application/x-www-form-urlencoded`, a repeated,
/// too long (token endpoint) or non-UTF-8 parameter; client authentication's `invalid_request`
/// or `invalid_client` (401, see [`authenticate_client`]); `invalid_request` when `R`'s required
/// parameter is missing; `temporarily_unavailable` (503) when the client cannot be read.
pub struct ClientForm<R> {
    /// The authenticated client.
    pub client: Arc<Client>,
    /// How it authenticated.
    pub method: AuthMethod,
    /// The form's parameters.
    pub params: Params,
    rules: PhantomData<R>,
}

/// Whether the request body is declared `application/x-www-form-urlencoded` (RFC 6749 §3.2).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn invalid_request(description: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidRequest, description)
}

impl<R: FormRules> FromRequest<AppState> for ClientForm<R> {
    type Rejection = TokenError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, TokenError> {
        let headers = req.headers().clone();
        // An oversized or unreadable body is `invalid_request`, not axum's plain-text rejection.
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            invalid_request(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is too large"
            } else {
                "the request body could not be read"
            })
        })?;
        if !is_form(&headers) {
            return Err(invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(&body);
        if let Some(name) = params.first_repeated(R::SINGLE_VALUED) {
            return Err(invalid_request(format!(
                "parameter {name} must not be repeated"
            )));
        }
        if R::LENGTH_CHECKED
            && let Some(name) = params.first_oversized(R::SINGLE_VALUED)
        {
            return Err(invalid_request(format!("parameter {name} is too long")));
        }
        if let Some(name) = params.first_malformed(R::SINGLE_VALUED) {
            return Err(invalid_request(format!(
                "parameter {name} is not valid UTF-8"
            )));
        }
        let (client, method) = authenticate_client(state, &headers, &params).await?;
        if let Some(name) = R::REQUIRED
            && params.get(name).is_none()
        {
            return Err(invalid_request(format!("{name} is required")));
        }
        Ok(Self {
            client,
            method,
            params,
            rules: PhantomData,
        })
    }
}
