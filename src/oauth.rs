//! OAuth 2.0 (RFC 6749) endpoints and their building blocks: the authorization endpoint
//! (§4.1, OIDC Core §3.1.2), the token endpoint (§4.1.3, §6, OIDC Core §3.1.3), client
//! authentication (§2.3.1), PKCE (RFC 7636), revocation (RFC 7009), introspection (RFC 7662),
//! the protocol error enums (§4.1.2.1, §5.2) and the typed protocol values (`types`: scope
//! §3.3, identifiers, secrets).

pub mod access_token;
pub mod authorize;
pub mod client_auth;
pub mod client_form;
pub mod error;
pub mod introspect;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod response;
pub mod revoke;
pub mod token;
pub mod types;

use axum::Router;
use axum::routing::post;

use crate::app::AppState;

/// The token endpoint. The authorization endpoint needs the browser session and is mounted by
/// the browser router in `web`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/token", post(token::token_post))
        .route("/revoke", post(revoke::revoke_post))
        .route("/introspect", post(introspect::introspect_post))
        .route("/register", post(registration::register_post))
        .route(
            "/register/{client_id}",
            axum::routing::get(registration::register_get)
                .put(registration::register_put)
                .delete(registration::register_delete),
        )
        .layer(crate::headers::api_cors())
        .layer(axum::middleware::map_response(
            error::too_large_as_invalid_request,
        ))
}
