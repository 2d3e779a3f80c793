//! The `claims` request parameter (OIDC Core §5.5).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{USER_EMAIL, jwt_claims, location_params, param, spawn_app};

#[tokio::test]
async fn claims_parameter_places_allowed_claims_in_the_id_token() {
    // OIDC Core §5.5 within the granted scopes: the id_token member moves claims of those
    // scopes into the ID token; it never releases a claim whose scope was not granted.
    let app = spawn_app().await;
    let claims_param = r#"{"id_token":{"email":{"essential":true},"name":null},"userinfo":{"name":{"essential":true}}}"#;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[("scope", "openid email"), ("claims", claims_param)],
        )
        .await;
    let tokens: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let id = jwt_claims(tokens["id_token"].as_str().expect("id"));
    assert_eq!(id["email"], USER_EMAIL);
    assert!(id.get("name").is_none(), "profile was not granted");
    let info: Value = app
        .rp
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["email"], USER_EMAIL);
    assert!(info.get("name").is_none(), "profile was not granted");
    let res = app
        .get_authorize(&app.confidential, &[("claims", "not json")])
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
}

#[tokio::test]
async fn a_sub_value_in_the_claims_request_binds_the_response_to_that_user() {
    // OIDC Core §5.5.1: only a positive response for the user the sub value names.
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let for_sub = |sub: &str| serde_json::json!({"id_token": {"sub": {"value": sub}}}).to_string();
    let res = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "none"), ("claims", &for_sub("someone-else"))],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    assert_eq!(param(&pairs, "code"), None);
    let res = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "none"), ("claims", &for_sub(&app.user_sub))],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert!(param(&pairs, "code").is_some(), "{pairs:?}");
    // Without prompt=none the login form is shown instead; a malformed value is refused.
    let res = app
        .get_authorize(&app.confidential, &[("claims", &for_sub("someone-else"))])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .get_authorize(
            &app.confidential,
            &[("claims", r#"{"id_token":{"sub":{"value":42}}}"#)],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
}
