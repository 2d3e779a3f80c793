//! The grants without a browser: client_credentials (RFC 6749 §4.4) and the password grant
//! (§4.3), only for clients registered for it.

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;

use crate::helpers::{basic, introspect, json, register_with, spawn_app};

#[tokio::test]
async fn client_credentials_issues_an_access_token_only() {
    let app = spawn_app().await;
    let mut reg =
        ClientRegistration::new("Backend", &["https://backend.example/cb".to_owned()], false);
    reg.grant_types = vec!["client_credentials".into()];
    reg.scope = "api:read api:write".into();
    let backend = register_with(&app.store, reg).await;
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
            basic(&backend),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "api:read");
    let at = body["access_token"].as_str().expect("at");
    let intro = introspect(&app, &backend, at).await;
    assert_eq!(intro["sub"], backend.client_id.as_str());
    // Scopes it does not have, or OpenID scopes, are refused.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            basic(&backend),
        )
        .await;
    assert_eq!(json(res).await["error"], "invalid_scope");
    // A client not registered for it.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            basic(&app.confidential),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "unauthorized_client");
    // A public client.
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app.public.client_id),
            ],
            None,
        )
        .await;
    assert_eq!(json(res).await["error"], "unauthorized_client");
}

#[tokio::test]
async fn password_grant_is_refused_unless_the_client_is_registered_for_it() {
    let app = spawn_app().await;
    let pairs = [
        ("grant_type", "password"),
        ("username", crate::helpers::USER_EMAIL),
        ("password", crate::helpers::USER_PASSWORD),
        ("scope", "openid profile"),
    ];
    let res = app.post_token(&pairs, basic(&app.confidential)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "unauthorized_client");

    let mut reg = ClientRegistration::new(
        "Tutorial app",
        &["https://legacy.example/cb".to_owned()],
        false,
    );
    reg.grant_types = vec!["password".into()];
    let legacy = register_with(&app.store, reg).await;
    let res = app.post_token(&pairs, basic(&legacy)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    assert!(body["id_token"].is_string());
    let wrong = [
        ("grant_type", "password"),
        ("username", crate::helpers::USER_EMAIL),
        ("password", "wrong"),
    ];
    let res = app.post_token(&wrong, basic(&legacy)).await;
    assert_eq!(json(res).await["error"], "invalid_grant");
    // Guessing is throttled like the login form (failures only, per account and source): after
    // ten failures from one address the right password from there waits too, with 429.
    for _ in 0..9 {
        app.post_token(&wrong, basic(&legacy)).await;
    }
    let res = app.post_token(&pairs, basic(&legacy)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = json(res).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("too many attempts")),
        "{body}"
    );
}
