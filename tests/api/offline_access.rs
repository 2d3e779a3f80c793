//! Refresh tokens without re-consent every time (OIDC Core §11 "other conditions"):
//! `offline_access` is granted without `prompt=consent` to a first-party client, or when the
//! user's stored consent for the client already covers it; a third-party client asking for it
//! the first time shows the consent page.

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;
use serde_json::Value;

use crate::helpers::{
    TestApp, TestClient, USER_EMAIL, USER_PASSWORD, location_params, param, register_with,
    spawn_app,
};

const OFFLINE: &str = "Stay connected: access the above while you are away";

async fn third_party(app: &TestApp) -> TestClient {
    let r = ClientRegistration::new("Third <Party>", &["https://rp.example/cb".into()], false);
    register_with(&app.store, r).await
}

async fn redeem(app: &TestApp, client: &TestClient, res: &reqwest::Response) -> Value {
    let (url, pairs) = location_params(res);
    assert!(url.as_str().starts_with(&client.redirect_uri), "{url}");
    let code = param(&pairs, "code").expect("code in redirect");
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &client.redirect_uri),
            ],
            Some((
                &client.client_id,
                client.client_secret.as_deref().unwrap_or_default(),
            )),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("JSON body")
}

#[tokio::test]
async fn a_first_party_client_gets_a_refresh_token_without_prompt_consent() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let code = app
        .authorize_and_login(&app.confidential, &[("scope", "openid offline_access")])
        .await;
    let body: Value = app.redeem(&code, &[]).await.json().await.expect("json");

    // Assert
    assert!(body["refresh_token"].is_string(), "{body}");
    assert_eq!(body["scope"], "openid offline_access");
}

#[tokio::test]
async fn a_third_party_client_shows_consent_once_then_refreshes_without_it() {
    // Arrange
    let app = spawn_app().await;
    let client = third_party(&app).await;
    let scope = [("scope", "openid profile offline_access")];

    // Act 1: first time, no prompt=consent.
    let login = app.get_authorize(&client, &scope).await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.expect("html");
    let consent = app.post_login(&html, USER_EMAIL, USER_PASSWORD).await;

    // Assert 1: the consent page, listing offline access.
    assert_eq!(consent.status(), StatusCode::OK);
    let page = consent.text().await.expect("html");
    assert!(page.contains("name=\"decision\""), "consent page expected");
    assert!(page.contains(OFFLINE), "offline_access is shown");
    let res = app.post_consent(&page, "allow").await;
    let first = redeem(&app, &client, &res).await;
    assert!(first["refresh_token"].is_string(), "{first}");

    // Act 2: again, still without prompt=consent.
    let res = app.get_authorize(&client, &scope).await;

    // Assert 2: straight back with a code, and a refresh token.
    assert_eq!(res.status(), StatusCode::FOUND, "no page this time");
    let second = redeem(&app, &client, &res).await;
    assert!(second["refresh_token"].is_string(), "{second}");
    assert_eq!(second["scope"], "openid profile offline_access");
}

#[tokio::test]
async fn consent_without_offline_access_asks_again_when_it_is_requested() {
    // Arrange: the user allowed the client openid profile only.
    let app = spawn_app().await;
    let client = third_party(&app).await;
    let res = app
        .get_authorize(&client, &[("scope", "openid profile")])
        .await;
    let res = app.through_login_and_consent(res).await;
    let body = redeem(&app, &client, &res).await;
    assert!(body.get("refresh_token").is_none());

    // Act: now it asks for offline_access.
    let res = app
        .get_authorize(&client, &[("scope", "openid profile offline_access")])
        .await;

    // Assert: the consent page, for the new permission.
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.expect("html");
    assert!(page.contains(OFFLINE));
}

#[tokio::test]
async fn prompt_none_ignores_offline_access_the_user_never_allowed() {
    // Arrange: consent for openid profile.
    let app = spawn_app().await;
    let client = third_party(&app).await;
    let res = app
        .get_authorize(&client, &[("scope", "openid profile")])
        .await;
    let res = app.through_login_and_consent(res).await;
    redeem(&app, &client, &res).await;

    // Act: no page can be shown with prompt=none.
    let res = app
        .get_authorize(
            &client,
            &[
                ("scope", "openid profile offline_access"),
                ("prompt", "none"),
            ],
        )
        .await;

    // Assert: OIDC Core §11: offline_access is ignored, the rest is granted.
    assert_eq!(res.status(), StatusCode::FOUND);
    let body = redeem(&app, &client, &res).await;
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["scope"], "openid profile");
}
