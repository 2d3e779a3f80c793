//! The demo's relying-party side: what any confidential client of Sekimori does, over HTTP and
//! from the discovery document alone. Nothing here reads Sekimori's state directly, so the code
//! doubles as a worked example.
//!
//! - Discovery: OpenID Connect Discovery 1.0 §4 (`/.well-known/openid-configuration`).
//! - Code exchange and refresh: RFC 6749 §4.1.3 and §6, client_secret_basic (§2.3.1), PKCE
//!   (RFC 7636 §4.5).
//! - ID token validation: OIDC Core §3.1.3.7 (signature with a JWKS key, `iss`, `aud`, `exp`,
//!   `nonce`) and §3.1.3.8 (`at_hash`); after a refresh, §12.2.
//! - Access token: RFC 9068 §4 (`typ: at+jwt`, signature, `iss`).
//! - Userinfo: OIDC Core §5.3 (Bearer, RFC 6750 §2.1); its `sub` must be the ID token's (§5.3.2).

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// How long one HTTP call to the provider may take, in seconds.
const HTTP_TIMEOUT_SECS: u64 = 10;

/// The largest response body the demo reads from the provider, in bytes.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why a step of the flow failed, in words for the demo's error page (never a token or secret).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The provider could not be reached, or did not answer in time.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The endpoint called.
        url: String,
        /// What the HTTP client said.
        reason: String,
    },
    /// The provider answered with an error status (RFC 6749 §5.2 `error` and
    /// `error_description` when it sent them).
    #[error("{endpoint} answered {status}: {detail}")]
    Refused {
        /// Which endpoint.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// `error: error_description`, or the start of the body.
        detail: String,
    },
    /// An answer that is not what the specifications say it must be.
    #[error("{0}")]
    Invalid(String),
}

/// The parts of the discovery document (Discovery §3) the demo uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Provider {
    /// `issuer`: must be the issuer we asked (Discovery §4.3).
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: String,
    /// `end_session_endpoint` (RP-Initiated Logout 1.0 §2.1).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// `id_token_signing_alg_values_supported`: the only algorithms accepted on our tokens.
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// A token endpoint answer (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token (an RFC 9068 JWT at Sekimori).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token, in seconds.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// A refresh token, when `offline_access` was granted (OIDC Core §11).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The ID token (always on a code exchange; optional on a refresh, §12.2).
    #[serde(default)]
    pub id_token: Option<String>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A verified ID token: its header's `alg` and `kid`, and its claims.
#[derive(Clone, Debug)]
pub struct VerifiedIdToken {
    /// The signing algorithm (`RS256`, …).
    pub alg: String,
    /// The JWKS key that verified it.
    pub kid: String,
    /// Every claim, as sent.
    pub claims: Value,
}

/// A confidential client of the provider at `issuer`, with an HTTP client of its own.
pub struct RelyingParty {
    http: reqwest::Client,
    issuer: String,
    /// Our client_id.
    pub client_id: String,
    client_secret: String,
    /// Our registered redirect URI (`<issuer>/demo/callback`).
    pub redirect_uri: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// A client of `issuer` with these credentials.
    ///
    /// Errors: the HTTP client cannot be built (no TLS backend).
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: String,
        redirect_uri: String,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            // Every endpoint answers directly; a redirect would be a misconfiguration.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(HTTP_TIMEOUT_SECS))
            .user_agent(concat!("sekimori-demo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            redirect_uri,
        })
    }

    /// Reads the discovery document and checks it names our issuer (Discovery §4.3).
    ///
    /// Errors: the provider is unreachable, refuses, or names another issuer.
    pub async fn discover(&self) -> Result<Provider, Error> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let body = self.read("discovery", self.http.get(&url), &url).await?;
        let provider: Provider = serde_json::from_slice(&body)
            .map_err(|e| Error::Invalid(format!("the discovery document is malformed: {e}")))?;
        if provider.issuer != self.issuer {
            return Err(Error::Invalid(format!(
                "the discovery document names the issuer {:?}, not {:?}",
                provider.issuer, self.issuer
            )));
        }
        Ok(provider)
    }

    /// Exchanges an authorization code (RFC 6749 §4.1.3) with its PKCE verifier.
    ///
    /// Errors: the token endpoint's (e.g. `invalid_grant` for an expired code).
    pub async fn exchange_code(
        &self,
        provider: &Provider,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, Error> {
        self.token(
            provider,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", code_verifier),
            ],
        )
        .await
    }

    /// Uses a refresh token (RFC 6749 §6); the answer carries its successor (rotation).
    ///
    /// Errors: the token endpoint's (`invalid_grant` for a spent or revoked token).
    pub async fn refresh(
        &self,
        provider: &Provider,
        refresh_token: &str,
    ) -> Result<TokenResponse, Error> {
        self.token(
            provider,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    async fn token(
        &self,
        provider: &Provider,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, Error> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        // RFC 6749 §2.3.1: client_id and secret are form-encoded before going into Basic.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let request = self
            .http
            .post(&provider.token_endpoint)
            .basic_auth(encode(&self.client_id), Some(encode(&self.client_secret)))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let body = self
            .read("the token endpoint", request, &provider.token_endpoint)
            .await?;
        let tokens: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::Invalid(format!("the token response is malformed: {e}")))?;
        if !tokens.token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::Invalid(format!(
                "token_type is {:?}, not Bearer",
                tokens.token_type
            )));
        }
        Ok(tokens)
    }

    /// The provider's signing keys (RFC 7517), fetched fresh.
    ///
    /// Errors: unreachable, refused, or not a JWK Set.
    pub async fn jwks(&self, provider: &Provider) -> Result<JwkSet, Error> {
        let body = self
            .read(
                "the JWKS",
                self.http.get(&provider.jwks_uri),
                &provider.jwks_uri,
            )
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Invalid(format!("the JWKS is malformed: {e}")))
    }

    /// Validates an ID token (OIDC Core §3.1.3.7): an algorithm discovery advertises, a JWKS
    /// key named by `kid`, the signature, `iss`, `aud` (our client_id), `exp`, the `nonce` we
    /// sent (when given: a refreshed ID token has none, §12.2), and `at_hash` when present and
    /// the token came with `access_token` (§3.1.3.8).
    ///
    /// Errors: [`Error::Invalid`] naming the first check that failed.
    pub fn verify_id_token(
        &self,
        provider: &Provider,
        jwks: &JwkSet,
        id_token: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<VerifiedIdToken, Error> {
        let (alg, kid, claims) = verify_jwt(provider, jwks, id_token, "JWT", |v| {
            v.set_audience(&[&self.client_id]);
            v.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
        })?;
        let invalid = |what: &str| Error::Invalid(format!("the ID token's {what}"));
        if let Some(nonce) = nonce
            && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
        {
            return Err(invalid("nonce is not the one this sign-in sent"));
        }
        if let (Some(at_hash), Some(access_token)) =
            (claims.get("at_hash").and_then(Value::as_str), access_token)
            && Some(at_hash) != expected_at_hash(&alg, access_token).as_deref()
        {
            return Err(invalid("at_hash does not match the access token"));
        }
        Ok(VerifiedIdToken { alg, kid, claims })
    }

    /// Validates a JWT access token (RFC 9068 §4: `typ` `at+jwt`, signature, `iss`, `exp`) and
    /// returns its claims.
    ///
    /// Errors: [`Error::Invalid`] naming the check that failed.
    pub fn verify_access_token(
        &self,
        provider: &Provider,
        jwks: &JwkSet,
        access_token: &str,
    ) -> Result<Value, Error> {
        // The audience is the resource server's business (here: the provider's userinfo).
        verify_jwt(provider, jwks, access_token, "at+jwt", |v| {
            v.validate_aud = false;
        })
        .map(|(_, _, claims)| claims)
    }

    /// Calls userinfo with the access token (OIDC Core §5.3.1) and checks its `sub` (§5.3.2).
    ///
    /// Errors: the endpoint's refusal (RFC 6750 §3.1), or a `sub` other than `expected_sub`.
    pub async fn userinfo(
        &self,
        provider: &Provider,
        access_token: &str,
        expected_sub: &str,
    ) -> Result<Value, Error> {
        let request = self
            .http
            .get(&provider.userinfo_endpoint)
            .bearer_auth(access_token);
        let body = self
            .read("userinfo", request, &provider.userinfo_endpoint)
            .await?;
        let claims: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Invalid(format!("the userinfo response is malformed: {e}")))?;
        if claims.get("sub").and_then(Value::as_str) != Some(expected_sub) {
            return Err(Error::Invalid(
                "userinfo's sub is not the ID token's (OIDC Core §5.3.2)".into(),
            ));
        }
        Ok(claims)
    }

    /// Sends `request`, and returns the body of a 2xx answer.
    async fn read(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<bytes::Bytes, Error> {
        let unreachable = |e: reqwest::Error| Error::Unreachable {
            url: url.to_owned(),
            // Without the URL reqwest may append: it is already named.
            reason: e.without_url().to_string(),
        };
        let res = request.send().await.map_err(unreachable)?;
        let status = res.status();
        let body = res.bytes().await.map_err(unreachable)?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(Error::Invalid(format!(
                "{endpoint} answered with a too large body"
            )));
        }
        if !status.is_success() {
            return Err(Error::Refused {
                endpoint,
                status: status.as_u16(),
                detail: error_detail(&body),
            });
        }
        Ok(body)
    }
}

/// `error: error_description` of an RFC 6749 §5.2 error body, else its first 200 characters.
fn error_detail(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(error) = v.get("error").and_then(Value::as_str)
    {
        return match v.get("error_description").and_then(Value::as_str) {
            Some(d) => format!("{error}: {d}"),
            None => error.to_owned(),
        };
    }
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// Checks a JWS: `typ`, an algorithm discovery advertises, the `kid`'s JWKS key, the signature,
/// `iss` and `exp` (60 s leeway), plus whatever `adjust` sets; returns (alg, kid, claims).
fn verify_jwt(
    provider: &Provider,
    jwks: &JwkSet,
    token: &str,
    typ: &str,
    adjust: impl FnOnce(&mut Validation),
) -> Result<(String, String, Value), Error> {
    let invalid = |what: String| Error::Invalid(format!("the {typ} token {what}"));
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| invalid("has a malformed header".into()))?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(typ))
    {
        return Err(invalid(format!("has typ {:?}", header.typ)));
    }
    let alg = alg_name(header.alg);
    let alg = alg.as_str();
    // Never the token's own choice alone (RFC 8725 §3.1): only what the provider advertises.
    if !provider
        .id_token_signing_alg_values_supported
        .iter()
        .any(|a| a == alg)
    {
        return Err(invalid(format!(
            "is signed with {alg}, which discovery does not list"
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| invalid("names no key (kid)".into()))?;
    let jwk = jwks.find(&kid).ok_or_else(|| {
        invalid(format!(
            "names the key {kid:?}, which the JWKS does not publish"
        ))
    })?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| invalid(format!("has an unusable key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&provider.issuer]);
    validation.leeway = 60;
    adjust(&mut validation);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| invalid(format!("does not verify: {e}")))?;
    Ok((alg.to_owned(), kid, data.claims))
}

/// The JOSE name of `alg` (its variant's name, as jsonwebtoken spells them).
fn alg_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// OIDC Core §3.1.3.8: base64url of the left half of the access token's hash, the hash being
/// the ID token algorithm's (SHA-256 for RS256 and ES256; SHA-512 for EdDSA with Ed25519).
fn expected_at_hash(alg: &str, access_token: &str) -> Option<String> {
    let algorithm = match alg {
        "RS256" | "ES256" | "PS256" => &aws_lc_rs::digest::SHA256,
        "EdDSA" => &aws_lc_rs::digest::SHA512,
        _ => return None,
    };
    let digest = aws_lc_rs::digest::digest(algorithm, access_token.as_bytes());
    let bytes = digest.as_ref();
    Some(crate::crypto::b64url(&bytes[..bytes.len() / 2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_one_line() {
        assert_eq!(
            error_detail(br#"{"error":"invalid_grant","error_description":"the code is used"}"#),
            "invalid_grant: the code is used"
        );
        assert_eq!(
            error_detail(br#"{"error":"invalid_client"}"#),
            "invalid_client"
        );
        assert_eq!(error_detail(b"plain text"), "plain text");
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OIDC Core §A.3's example: access token and at_hash for RS256.
        assert_eq!(
            expected_at_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
        assert_eq!(expected_at_hash("HS256", "x"), None);
    }
}
