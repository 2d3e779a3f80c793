//! RP-Initiated Logout 1.0: id_token_hint, registered post-logout URIs, the confirmation page.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::helpers::{LoginForm, assert_page_headers, form, location_params, param, spawn_app};

#[tokio::test]
async fn logout_with_hint_redirects_to_a_registered_uri_with_state_and_ends_the_session() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let tokens: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let hint = tokens["id_token"].as_str().expect("id");
    let bye = format!("{}/logged-out", crate::helpers::REDIRECT_URI);
    let url = format!(
        "{}?{}",
        app.url("/logout"),
        form(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", &bye),
            ("state", "s-123")
        ])
    );
    let res = app.browser.get(url).send().await.expect("logout");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (url, pairs) = location_params(&res);
    assert!(url.as_str().starts_with(&bye));
    assert_eq!(param(&pairs, "state"), Some("s-123"));
    // The session is gone server-side: the form is shown again.
    assert_eq!(
        app.get_authorize(&app.confidential, &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_to_an_unregistered_uri_does_not_redirect() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let tokens: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let url = format!(
        "{}?{}",
        app.url("/logout"),
        form(&[
            ("id_token_hint", tokens["id_token"].as_str().expect("id")),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ])
    );
    let res = app.browser.get(url).send().await.expect("logout");
    // RP-Initiated Logout §3: no redirect; the person is logged out and told why they stay.
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(LOCATION).is_none());
    let html = res.text().await.expect("html");
    assert!(html.contains("You are signed out."), "{html}");
    assert!(
        html.contains("<code id=\"error-code\">unregistered_post_logout_redirect_uri</code>"),
        "{html}"
    );
    assert_eq!(
        app.get_authorize(&app.confidential, &[]).await.status(),
        StatusCode::OK,
        "the login form again: the session ended"
    );
}

#[tokio::test]
async fn logout_without_hint_asks_for_confirmation_protected_by_csrf() {
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let res = app
        .browser
        .get(app.url("/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::OK);
    assert_page_headers(&res);
    let html = res.text().await.expect("html");
    let f = LoginForm::parse(&html);
    assert!(f.get("csrf_token").is_some());
    // A cross-site POST without the token does not log out.
    let res = app
        .browser
        .post(app.url("/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("confirm", "yes")]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_authorize(&app.confidential, &[]).await.status(),
        StatusCode::FOUND,
        "still logged in"
    );
    // "Stay signed in" keeps the session and says so.
    let stay = crate::helpers::submit(&app.browser, &f.clone_with("confirm", "no")).await;
    assert_eq!(stay.status(), StatusCode::OK);
    assert!(
        stay.text()
            .await
            .expect("html")
            .contains("id=\"still-signed-in\"")
    );
    assert_eq!(
        app.get_authorize(&app.confidential, &[]).await.status(),
        StatusCode::FOUND,
        "still logged in after choosing to stay"
    );
    // Confirming logs out.
    let f = f.with("confirm", "yes");
    let res = crate::helpers::submit(&app.browser, &f).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get_authorize(&app.confidential, &[]).await.status(),
        StatusCode::OK,
        "logged out"
    );
}

#[tokio::test]
async fn logout_with_an_unknown_client_id_is_an_error_page() {
    let app = spawn_app().await;
    let url = format!(
        "{}?{}",
        app.url("/logout"),
        form(&[("client_id", "<b>nope</b>")])
    );
    let res = app.browser.get(url).send().await.expect("logout");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!res.text().await.expect("html").contains("<b>nope</b>"));
}
