//! The login page and the authorization request's user parameters (OIDC Core §3.1.2.1):
//! prompt, id_token_hint, login_hint, max_age, ui_locales, throttling and error-page headers.

use reqwest::StatusCode;
use reqwest::header::CONTENT_SECURITY_POLICY;
use serde_json::Value;

use crate::helpers::{
    LoginForm, USER_EMAIL, USER_PASSWORD, jwt_claims, location_params, login_page, param,
    spawn_app, third_party,
};

#[tokio::test]
async fn prompt_none_with_session_but_without_consent_is_consent_required() {
    let app = spawn_app().await;
    let rp = third_party(&app).await;
    app.authorize_and_login(&app.confidential, &[]).await; // a session, via a first-party client
    let res = app.get_authorize(&rp, &[("prompt", "none")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (url, pairs) = location_params(&res);
    assert!(url.as_str().starts_with("https://rp.example/cb"));
    assert_eq!(param(&pairs, "error"), Some("consent_required"));
}

#[tokio::test]
async fn prompt_none_with_id_token_hint_keeps_sub_and_auth_time_or_requires_login() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let first: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let hint = first["id_token"].as_str().expect("id").to_owned();
    app.clock.advance(5);
    let res = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "none"), ("id_token_hint", &hint)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, pairs) = location_params(&res);
    let code = param(&pairs, "code").expect("silent code").to_owned();
    let second: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let (a, b) = (
        jwt_claims(&hint),
        jwt_claims(second["id_token"].as_str().expect("id")),
    );
    assert_eq!(a["sub"], b["sub"]);
    assert_eq!(a["auth_time"], b["auth_time"]);

    // A hint naming another user: login_required.
    let bob = sekimori::cli::add_user(&app.store, "bob@example.com", "Bob", "bob's long password")
        .await
        .expect("bob");
    let other_browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = other_browser
        .get(app.authorize_url(&app.confidential, &[]))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let f = LoginForm::parse(&page)
        .with("email", "bob@example.com")
        .with("password", "bob's long password");
    let res = crate::helpers::submit(&other_browser, &f).await;
    let (_, pairs) = location_params(&res);
    let bob_code = param(&pairs, "code").expect("code").to_owned();
    let bob_tokens: Value = app.redeem(&bob_code, &[]).await.json().await.expect("json");
    assert_eq!(
        jwt_claims(bob_tokens["id_token"].as_str().expect("id"))["sub"],
        bob.as_str()
    );
    let bob_hint = bob_tokens["id_token"].as_str().expect("id");
    let res = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "none"), ("id_token_hint", bob_hint)],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    // A forged hint is invalid_request.
    let res = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "none"), ("id_token_hint", "e30.e30.x")],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
}

#[tokio::test]
async fn login_hint_prefills_and_languages_follow_ui_locales_then_accept_language() {
    let app = spawn_app().await;
    let page = login_page(
        &app,
        &app.confidential,
        &[("login_hint", "alice@example.com")],
    )
    .await;
    assert!(page.contains("value=\"alice@example.com\""));
    assert!(page.contains("lang=\"en\""));
    let page = login_page(&app, &app.confidential, &[("ui_locales", "ja-JP en")]).await;
    assert!(page.contains("lang=\"ja\""));
    assert!(page.contains("メールアドレス"));
    let res = app
        .browser
        .get(app.authorize_url(&app.confidential, &[]))
        .header("accept-language", "fr;q=1, ja;q=0.8, en;q=0.5")
        .send()
        .await
        .expect("get");
    assert!(res.text().await.expect("html").contains("パスワード"));
    // display, claims_locales and acr_values are accepted.
    let page = login_page(
        &app,
        &app.confidential,
        &[
            ("display", "page"),
            ("claims_locales", "ja"),
            ("acr_values", "urn:mace:incommon:iap:silver"),
        ],
    )
    .await;
    assert!(page.contains("name=\"password\""));
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_429() {
    let app = spawn_app().await;
    let page = login_page(&app, &app.confidential, &[]).await;
    let mut last = None;
    for _ in 0..11 {
        let res = app.post_login(&page, USER_EMAIL, "wrong password").await;
        last = Some(res);
    }
    let res = last.expect("response");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let html = res.text().await.expect("html");
    assert!(
        html.contains("Too many sign-in attempts. Try again in"),
        "{html}"
    );
    // Without a device cookie (this browser never logged in), the right password from the same
    // source waits too: the (account, source) budget is spent.
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn max_age_zero_always_asks_for_the_password() {
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let res = app
        .get_authorize(&app.confidential, &[("max_age", "0")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .get_authorize(&app.confidential, &[("max_age", "0"), ("prompt", "none")])
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
}

#[tokio::test]
async fn logging_in_as_someone_other_than_the_hinted_user_is_login_required() {
    let app = spawn_app().await;
    sekimori::cli::add_user(&app.store, "bob@example.com", "Bob", "bob's long password")
        .await
        .expect("bob");
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let alice: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let hint = alice["id_token"].as_str().expect("id");
    let page = login_page(
        &app,
        &app.confidential,
        &[("prompt", "login"), ("id_token_hint", hint)],
    )
    .await;
    let res = app
        .post_login(&page, "bob@example.com", "bob's long password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    assert_eq!(param(&pairs, "code"), None);
}

#[tokio::test]
async fn error_pages_carry_security_headers() {
    let app = spawn_app().await;
    let res = app
        .browser
        .get(app.url("/authorize"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let h = res.headers();
    assert!(h.get(CONTENT_SECURITY_POLICY).is_some());
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
}
