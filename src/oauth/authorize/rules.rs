//! The rules an authorization request must pass, one function per parameter group, in the order
//! `validate` applies them (RFC 6749 §3.1, §4.1.1, §4.1.2.1; OIDC Core §3.1.2.1,
//! §3.1.2.6, §5.5, §6; RFC 7636 §4.3; RFC 9700 §2.1.1).
//!
//! These are the tier-2 rules: each returns a [`Refusal`], which `validate` redirects to the
//! client. (Tier 1, which answers with an HTML page, is `trusted_client` beside `validate`.)

use crate::app::AppState;
use crate::oauth::error::{AuthorizeErrorCode, AuthorizeErrorCode as E};
use crate::oauth::params::{self, Params};
use crate::oauth::pkce;
use crate::oauth::response::ResponseMode;
use crate::oauth::types::Scope;
use crate::oidc::claims;
use crate::store::Client;

/// Parameters that must not appear more than once.
const SINGLE_VALUED: &[&str] = &[
    "response_type",
    "response_mode",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "display",
    "claims",
    "claims_locales",
    "acr_values",
    "request",
    "request_uri",
    "registration",
];

/// A tier-2 refusal: what is redirected to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The `error` code.
    pub(super) code: AuthorizeErrorCode,
    /// The `error_description`.
    pub(super) description: String,
}

/// The outcome of a tier-2 rule.
pub(super) type Checked<T> = Result<T, Refusal>;

fn refuse(code: AuthorizeErrorCode, description: impl Into<String>) -> Refusal {
    Refusal {
        code,
        description: description.into(),
    }
}

/// The `state` to echo (RFC 6749 §4.1.2.1): dropped when too long to send back.
pub(super) fn client_state(params: &Params) -> Option<String> {
    params
        .get("state")
        .filter(|s| s.len() <= params::MAX_VALUE_LEN)
        .map(str::to_owned)
}

/// The mode errors are delivered in (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
/// Form Post Response Mode §2): an unsupported `response_mode` is answered in the default mode.
pub(super) fn error_response_mode(params: &Params) -> ResponseMode {
    params
        .get("response_mode")
        .and_then(ResponseMode::parse)
        .unwrap_or_default()
}

/// RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"; each
/// must also be valid UTF-8 and within [`params::MAX_VALUE_LEN`].
pub(super) fn single_values(params: &Params) -> Checked<()> {
    if let Some(name) = params.first_repeated(SINGLE_VALUED) {
        return Err(refuse(
            E::InvalidRequest,
            format!("parameter {name} must not be repeated"),
        ));
    }
    if let Some(name) = params.first_malformed(SINGLE_VALUED) {
        // RFC 6749 §4.1.2: state must come back exactly; a rewritten value would not.
        return Err(refuse(
            E::InvalidRequest,
            format!("parameter {name} is not valid UTF-8"),
        ));
    }
    if let Some(name) = params.first_oversized(SINGLE_VALUED) {
        return Err(refuse(
            E::InvalidRequest,
            format!("parameter {name} is too long"),
        ));
    }
    Ok(())
}

/// OIDC Core §6.1/§6.2 (and RFC 9101), §7.2.1 and §3.1.2.6: `request`, `request_uri` and
/// `registration` are not supported, and saying so beats silently ignoring parameters the
/// client relies on.
pub(super) fn no_request_objects(params: &Params) -> Checked<()> {
    if params.get("request").is_some() {
        return Err(refuse(
            E::RequestNotSupported,
            "the request parameter is not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(refuse(
            E::RequestUriNotSupported,
            "the request_uri parameter is not supported",
        ));
    }
    if params.get("registration").is_some() {
        return Err(refuse(
            E::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    Ok(())
}

/// RFC 6749 §3.1.1 and §4.1.1: `response_type` is required and only `code` is supported; then
/// `response_mode` (Multiple Response Type Encoding Practices §2.1, Form Post Response Mode
/// §2), if sent, is `query` or `form_post`.
pub(super) fn response_type_and_mode(params: &Params) -> Checked<()> {
    match params.get("response_type") {
        None => return Err(refuse(E::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                E::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(mode) = params.get("response_mode")
        && ResponseMode::parse(mode).is_none()
    {
        return Err(refuse(
            E::InvalidRequest,
            "unsupported response_mode; query and form_post are supported",
        ));
    }
    Ok(())
}

/// RFC 6749 §4.1.2.1 `unauthorized_client`: the client must be registered for the
/// authorization code grant.
pub(super) fn code_flow_allowed(client: &Client) -> Checked<()> {
    if !client.allows_grant("authorization_code") {
        return Err(refuse(
            E::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        ));
    }
    Ok(())
}

/// OIDC Core §3.1.2.1: the requested `scope`, which MUST contain `openid`.
pub(super) fn requested_scope(params: &Params) -> Checked<Scope> {
    let requested = Scope::parse(params.get("scope").unwrap_or_default());
    if !requested.contains(claims::OPENID) {
        return Err(refuse(E::InvalidScope, "scope must include openid"));
    }
    Ok(requested)
}

/// OIDC Core §3.1.2.1: the `prompt` values, each one we know; `none` stands alone.
pub(super) fn prompt(params: &Params) -> Checked<Vec<String>> {
    let prompt: Vec<String> = params
        .get("prompt")
        .map(|p| {
            p.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for p in &prompt {
        if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(refuse(E::InvalidRequest, "unsupported prompt value"));
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(refuse(
            E::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// RFC 6749 §3.3 (we may grant less) and OIDC Core §11: the requested scopes the client may
/// have, `offline_access` only for a client that may refresh; `openid` must survive.
pub(super) fn granted_scope(requested: Scope, client: &Client) -> Checked<Scope> {
    let mut granted = requested;
    // OIDC Core §11: offline_access only for a client that may refresh. Whether it is granted
    // without prompt=consent (first-party client, or stored consent) is decided in
    // `continue_as`, once the user is known.
    granted.retain(|s| {
        client.allows_scope(s)
            && (s != claims::OFFLINE_ACCESS || client.allows_grant("refresh_token"))
    });
    if !granted.contains(claims::OPENID) {
        return Err(refuse(E::InvalidScope, "the client may not request openid"));
    }
    Ok(granted)
}

/// OIDC Core §3.1.2.1: `max_age`, a non-negative number of seconds.
pub(super) fn max_age(params: &Params) -> Checked<Option<i64>> {
    match params.get("max_age") {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n)),
            _ => Err(refuse(
                E::InvalidRequest,
                "max_age must be a non-negative integer",
            )),
        },
    }
}

/// RFC 7636 §4.3 and RFC 9700 §2.1.1: the S256 `code_challenge`; public clients MUST use PKCE
/// and `plain` is refused.
pub(super) fn code_challenge(params: &Params, public_client: bool) -> Checked<Option<&str>> {
    let code_challenge = params.get("code_challenge");
    match (code_challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => Err(refuse(
            E::InvalidRequest,
            "code_challenge_method without code_challenge",
        )),
        // RFC 7636 §4.3 would default to plain, which we do not accept.
        (Some(_), None) => Err(refuse(
            E::InvalidRequest,
            "code_challenge_method=S256 is required",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(refuse(
            E::InvalidRequest,
            "only code_challenge_method=S256 is supported",
        )),
        (Some(c), Some(_)) if !pkce::is_valid_challenge(c) => {
            Err(refuse(E::InvalidRequest, "malformed code_challenge"))
        }
        (None, None) if public_client => Err(refuse(
            E::InvalidRequest,
            "public clients must use PKCE (code_challenge with S256)",
        )),
        _ => Ok(code_challenge),
    }
}

/// OIDC Core §5.5: the `claims` parameter, bounded by the `granted` scopes.
pub(super) fn requested_claims(params: &Params, granted: &Scope) -> Checked<RequestedClaims> {
    match params.get("claims") {
        None => Ok(RequestedClaims::default()),
        Some(raw) => RequestedClaims::parse(raw, granted).ok_or_else(|| {
            refuse(
                E::InvalidRequest,
                "claims must be a JSON object (OIDC Core §5.5)",
            )
        }),
    }
}

/// OIDC Core §3.1.2.1 (`id_token_hint`) and §5.5.1 (a `sub` value in the claims request): the
/// only user the client accepts, if it named one; the two must agree.
pub(super) fn required_subject(
    state: &AppState,
    params: &Params,
    requested_claims: &RequestedClaims,
) -> Checked<Option<String>> {
    let hinted_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(hinted_subject(state, hint).ok_or_else(|| {
            refuse(
                E::InvalidRequest,
                "id_token_hint is not an ID token we issued",
            )
        })?),
    };
    // OIDC Core §5.5.1: a sub value in the claims request binds the response to that user, as
    // id_token_hint does; the two must agree.
    match (hinted_sub, requested_claims.sub_value.clone()) {
        (Some(h), Some(v)) if h != v => Err(refuse(
            E::InvalidRequest,
            "the sub value in claims contradicts id_token_hint",
        )),
        (h, v) => Ok(h.or(v)),
    }
}

/// What a `claims` request parameter asks for (OIDC Core §5.5). The granted scopes bound what
/// is released: the `id_token` member can move claims of those scopes into the ID token, and
/// the `userinfo` member adds nothing the scopes do not already release there. Values
/// (`essential`, `value`, `values`) only ask.
#[derive(Debug, Default)]
pub(super) struct RequestedClaims {
    /// Names in the `id_token` member that the granted scopes allow.
    pub(super) id_token: Scope,
    /// `{"id_token":{"sub":{"value":…}}}`: the only user the client accepts (§5.5.1).
    pub(super) sub_value: Option<String>,
}

impl RequestedClaims {
    /// `None` when `raw` is not a JSON object whose members are objects.
    fn parse(raw: &str, granted: &Scope) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(raw).ok()?;
        let obj = value.as_object()?;
        let names = |member: &str| -> Option<Scope> {
            match obj.get(member) {
                None | Some(serde_json::Value::Null) => Some(Scope::new()),
                Some(serde_json::Value::Object(m)) => Some(
                    m.keys()
                        .map(String::as_str)
                        .filter(|k| claims::scope_of_claim(k).is_some_and(|s| granted.contains(s)))
                        .collect(),
                ),
                Some(_) => None,
            }
        };
        let sub_value = match obj.get("id_token").and_then(|m| m.get("sub")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(sub)) => match sub.get("value") {
                None => None,
                Some(serde_json::Value::String(v)) => Some(v.clone()),
                Some(_) => return None,
            },
            Some(_) => return None,
        };
        // Checked for shape only: at userinfo the granted scopes already release these.
        names("userinfo")?;
        Some(Self {
            id_token: names("id_token")?,
            sub_value,
        })
    }
}

/// The `sub` of an ID token we issued (expired ones too: the hint names a user, it grants
/// nothing).
fn hinted_subject(state: &AppState, hint: &str) -> Option<String> {
    let claims: serde_json::Value = state.published().keys.verify(hint, "JWT").ok()?;
    if claims.get("iss").and_then(|v| v.as_str()) != Some(state.issuer.as_str()) {
        return None;
    }
    claims
        .get("sub")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
