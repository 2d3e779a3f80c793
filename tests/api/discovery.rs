//! Discovery (OIDC Discovery 1.0 §3–4) and the JWKS (RFC 7517).

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn discovery_advertises_what_is_implemented() {
    let app = spawn_app().await;
    let res = app
        .rp
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(CACHE_CONTROL).is_some());
    let d: Value = res.json().await.expect("json");
    assert_eq!(d["issuer"], app.issuer.as_str());
    assert_eq!(d["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(d["token_endpoint"], app.url("/token"));
    assert_eq!(d["userinfo_endpoint"], app.url("/userinfo"));
    assert_eq!(d["jwks_uri"], app.url("/jwks"));
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(d["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(d["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(d["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(
        d["scopes_supported"]
            .as_array()
            .expect("scopes")
            .contains(&Value::from("openid"))
    );
}

#[tokio::test]
async fn discovery_and_jwks_answer_if_none_match_with_304() {
    let app = spawn_app().await;
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let res = app.rp.get(app.url(path)).send().await.expect("get");
        let etag = res.headers().get(ETAG).expect("etag").clone();
        let res = app
            .rp
            .get(app.url(path))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[tokio::test]
async fn jwks_holds_public_keys_only() {
    let app = spawn_app().await;
    let jwks: Value = app
        .rp
        .get(app.url("/jwks"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3, "one key per supported algorithm");
    for k in keys {
        for member in ["kid", "kty", "alg", "use"] {
            assert!(k.get(member).is_some(), "{member}");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private member {private} leaked");
        }
        assert_eq!(k["use"], "sig");
    }
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    let res = app.rp.get(app.url("/healthz")).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.rp.get(app.url("/readyz")).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
}
