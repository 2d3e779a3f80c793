//! OpenID Connect: discovery (Discovery 1.0 §3–4), the JWKS (RFC 7517), ID tokens (Core §2),
//! userinfo (Core §5.3) and the scope catalog (Core §5.4, §11).

pub mod claims;
pub mod discovery;
pub mod id_token;
pub mod userinfo;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// Discovery, JWKS and userinfo routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration_get),
        )
        .route("/jwks", get(discovery::jwks_get))
        .route(
            "/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .layer(crate::headers::api_cors())
        .layer(axum::middleware::map_response(
            crate::oauth::error::too_large_as_bearer_invalid_request,
        ))
}
