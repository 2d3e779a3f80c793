//! Clients (relying parties). Secrets are stored as SHA-256 only.

use super::{Result, Store, is_unique_violation};
use crate::crypto::TokenHash;
use crate::keys::Alg;

/// The columns of [`ClientRow`], named so that a new column is read only where it is wanted.
const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, scope, grant_types, \
     id_token_signed_response_alg, access_token_signed_response_alg, post_logout_redirect_uris, \
     first_party, logo_uri, policy_uri, tos_uri, registration_token_hash, created_at";

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    scope: String,
    grant_types: String,
    id_token_signed_response_alg: String,
    access_token_signed_response_alg: String,
    post_logout_redirect_uris: String,
    first_party: i64,
    logo_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    registration_token_hash: Option<String>,
    created_at: i64,
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    /// RFC 6749 §2.2 client identifier.
    pub client_id: String,
    /// Human-readable name, shown on pages (always escaped).
    pub name: String,
    /// SHA-256 (hex) of the client secret; `None` for a public client (RFC 6749 §2.1).
    pub secret_hash: Option<String>,
    /// Registered redirection URIs, compared by exact string match (RFC 6749 §3.1.2.3).
    pub redirect_uris: Vec<String>,
    /// Scopes the client may be granted.
    pub scope: Vec<String>,
    /// Grant types the client may use (`authorization_code`, `refresh_token`, …).
    pub grant_types: Vec<String>,
    /// Algorithm of this client's ID tokens (OIDC Registration §2; default RS256).
    pub id_token_alg: Alg,
    /// Algorithm of this client's access tokens (default RS256).
    pub access_token_alg: Alg,
    /// Where RP-Initiated Logout may send the browser afterwards (exact strings).
    pub post_logout_redirect_uris: Vec<String>,
    /// A first-party client is trusted: its users see no consent page.
    pub first_party: bool,
    /// RFC 7591 §2 `logo_uri`.
    pub logo_uri: Option<String>,
    /// RFC 7591 §2 `policy_uri`, linked from the consent page.
    pub policy_uri: Option<String>,
    /// RFC 7591 §2 `tos_uri`, linked from the consent page.
    pub tos_uri: Option<String>,
    /// SHA-256 (hex) of the RFC 7592 registration access token, for dynamically registered
    /// clients.
    pub registration_token_hash: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Client {
    /// A public client has no secret and authenticates with `none` (and must use PKCE).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether the client is registered for `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether the client may be granted `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Self {
            client_id: r.client_id,
            name: r.name,
            secret_hash: r.secret_hash,
            redirect_uris: serde_json::from_str(&r.redirect_uris).unwrap_or_default(),
            scope: r.scope.split_whitespace().map(str::to_owned).collect(),
            grant_types: r
                .grant_types
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            id_token_alg: Alg::parse(&r.id_token_signed_response_alg).unwrap_or(Alg::RS256),
            access_token_alg: Alg::parse(&r.access_token_signed_response_alg).unwrap_or(Alg::RS256),
            post_logout_redirect_uris: serde_json::from_str(&r.post_logout_redirect_uris)
                .unwrap_or_default(),
            first_party: r.first_party != 0,
            logo_uri: r.logo_uri,
            policy_uri: r.policy_uri,
            tos_uri: r.tos_uri,
            registration_token_hash: r.registration_token_hash,
            created_at: r.created_at,
        }
    }
}

/// What is needed to register a client.
#[derive(Debug)]
pub struct NewClient<'a> {
    /// The client identifier we generated.
    pub client_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// SHA-256 (hex) of the generated secret, `None` for a public client.
    pub secret_hash: Option<&'a str>,
    /// Exact redirection URIs.
    pub redirect_uris: &'a [String],
    /// Allowed scopes.
    pub scope: &'a [String],
    /// Allowed grant types.
    pub grant_types: &'a [String],
    /// ID token signing algorithm.
    pub id_token_alg: Alg,
    /// Access token signing algorithm.
    pub access_token_alg: Alg,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: &'a [String],
    /// Trusted: no consent page.
    pub first_party: bool,
    /// RFC 7591 URIs: logo, policy, terms of service.
    pub logo_uri: Option<&'a str>,
    /// See `logo_uri`.
    pub policy_uri: Option<&'a str>,
    /// See `logo_uri`.
    pub tos_uri: Option<&'a str>,
    /// SHA-256 (hex) of the RFC 7592 registration access token.
    pub registration_token_hash: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
}

impl Store {
    /// Registers a client. Errors: [`super::Error::Conflict`] if the client_id exists.
    pub async fn create_client(&self, c: NewClient<'_>) -> Result<()> {
        let encode = |e: serde_json::Error| super::Error::Db(sqlx::Error::Encode(e.into()));
        let redirect_uris = serde_json::to_string(c.redirect_uris).map_err(encode)?;
        let post_logout = serde_json::to_string(c.post_logout_redirect_uris).map_err(encode)?;
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, scope, grant_types, \
             id_token_signed_response_alg, access_token_signed_response_alg, \
             post_logout_redirect_uris, first_party, created_at, logo_uri, policy_uri, tos_uri, \
             registration_token_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(c.client_id)
        .bind(c.name)
        .bind(c.secret_hash)
        .bind(redirect_uris)
        .bind(c.scope.join(" "))
        .bind(c.grant_types.join(" "))
        .bind(c.id_token_alg.as_str())
        .bind(c.access_token_alg.as_str())
        .bind(post_logout)
        .bind(i64::from(c.first_party))
        .bind(c.now)
        .bind(c.logo_uri)
        .bind(c.policy_uri)
        .bind(c.tos_uri)
        .bind(c.registration_token_hash)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                super::Error::Conflict("a client with this client_id")
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// The client with this client_id, if registered.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>> {
        Ok(sqlx::query_as::<_, ClientRow>(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?
        .map(Client::from))
    }

    /// Replaces a confidential client's secret hash.
    pub async fn set_client_secret(&self, client_id: &str, secret_hash: &TokenHash) -> Result<()> {
        sqlx::query("UPDATE clients SET secret_hash = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(secret_hash.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces a client's registration (RFC 7592 §2.2 update): everything but its id, secret,
    /// registration token and creation time.
    pub async fn update_client(&self, c: NewClient<'_>) -> Result<bool> {
        let encode = |e: serde_json::Error| super::Error::Db(sqlx::Error::Encode(e.into()));
        let redirect_uris = serde_json::to_string(c.redirect_uris).map_err(encode)?;
        let post_logout = serde_json::to_string(c.post_logout_redirect_uris).map_err(encode)?;
        let done = sqlx::query(
            "UPDATE clients SET name = $2, redirect_uris = $3, scope = $4, grant_types = $5, \
             id_token_signed_response_alg = $6, access_token_signed_response_alg = $7, \
             post_logout_redirect_uris = $8, logo_uri = $9, policy_uri = $10, tos_uri = $11 \
             WHERE client_id = $1",
        )
        .bind(c.client_id)
        .bind(c.name)
        .bind(redirect_uris)
        .bind(c.scope.join(" "))
        .bind(c.grant_types.join(" "))
        .bind(c.id_token_alg.as_str())
        .bind(c.access_token_alg.as_str())
        .bind(post_logout)
        .bind(c.logo_uri)
        .bind(c.policy_uri)
        .bind(c.tos_uri)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an RFC 7591 initial access token (its SHA-256) until `expires_at`.
    pub async fn insert_initial_token(
        &self,
        token_hash: &TokenHash,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO initial_access_tokens (token_hash, expires_at, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash.as_str())
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spends an initial access token: true once for a live token, atomically.
    pub async fn consume_initial_token(&self, token_hash: &TokenHash, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM initial_access_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.as_str())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a client (its codes, refresh tokens and consents go with it).
    pub async fn delete_client(&self, client_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        Ok(sqlx::query_as::<_, ClientRow>(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id"
        ))
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(Client::from)
        .collect())
    }
}
