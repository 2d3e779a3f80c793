//! Revocation (RFC 7009) and what it ends: code replay, revoked access and refresh tokens,
//! foreign and malformed tokens.

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;

use crate::helpers::{
    introspect, json, offline_tokens, refresh, register_with, revoke, spawn_app, userinfo_status,
};

#[tokio::test]
async fn code_replay_revokes_the_access_token_of_the_first_redemption() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let first = json(app.redeem(&code, &[]).await).await;
    let at = first["access_token"].as_str().expect("at").to_owned();
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::OK);
    assert_eq!(
        app.redeem(&code, &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_access_token_is_inactive_and_refused_at_userinfo() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let intro = introspect(&app, &app.confidential, at).await;
    assert_eq!(intro["active"], true);
    for field in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "token_type",
        "jti",
    ] {
        assert!(intro.get(field).is_some(), "introspection has {field}");
    }
    assert_eq!(intro["sub"], app.user_sub.as_str());
    // The hint is only a hint: a wrong one still finds the token.
    assert_eq!(
        revoke(&app, &app.confidential, at, Some("refresh_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        introspect(&app, &app.confidential, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
    // The refresh token is untouched by revoking the access token.
    let rt = tokens["refresh_token"].as_str().expect("rt");
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(
        introspect(&app, &app.confidential, rt).await["active"],
        true
    );
    assert_eq!(
        revoke(&app, &app.confidential, rt, None).await,
        StatusCode::OK
    );
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&app, &app.confidential, rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_unknown_and_malformed_tokens_are_200_and_change_nothing() {
    let app = spawn_app().await;
    let other = register_with(
        &app.store,
        ClientRegistration::new("Other", &["https://other.example/cb".to_owned()], false),
    )
    .await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    for t in [at, rt, "unknown-token", "a.b.c", ""] {
        let status = revoke(&app, &other, t, None).await;
        if t.is_empty() {
            assert_eq!(status, StatusCode::BAD_REQUEST, "token is required");
        } else {
            assert_eq!(status, StatusCode::OK);
        }
    }
    // Other client's introspection sees nothing; the owner still sees them active.
    assert_eq!(
        introspect(&app, &other, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &other, rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &app.confidential, at).await["active"],
        true
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::OK);
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::OK);
}
