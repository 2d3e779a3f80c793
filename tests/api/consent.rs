//! The consent page (OIDC Core §3.1.2.4): what it shows, allow and deny, its CSRF and
//! request binding, and withdrawing a consent.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use sekimori::cli::ClientRegistration;
use serde_json::Value;

use crate::helpers::{
    LoginForm, USER_EMAIL, USER_PASSWORD, assert_page_headers, location_params, login_page, param,
    register_with, spawn_app, third_party,
};

#[tokio::test]
async fn consent_page_names_the_client_escaped_and_allow_issues_a_code() {
    let app = spawn_app().await;
    let rp = third_party(&app).await;
    let page = login_page(&app, &rp, &[]).await;
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "consent page after login");
    assert_page_headers(&res);
    let csp = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .expect("csp")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://rp.example"),
        "{csp}"
    );
    let html = res.text().await.expect("html");
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "client name is escaped"
    );
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
    assert!(html.contains("See your email address"));
    assert!(html.contains("See your name and profile"));
    let res = app.post_consent(&html, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (url, pairs) = location_params(&res);
    assert!(url.as_str().starts_with("https://rp.example/cb"));
    assert!(param(&pairs, "code").is_some());
    // Remembered: the same scopes do not ask again.
    let res = app.get_authorize(&rp, &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    // A new scope asks again; prompt=consent always asks.
    let res = app
        .get_authorize(
            &rp,
            &[
                ("scope", "openid profile email offline_access"),
                ("prompt", "consent"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("html").contains("Stay connected"));
}

#[tokio::test]
async fn consent_deny_is_access_denied_with_state_and_iss() {
    let app = spawn_app().await;
    let rp = third_party(&app).await;
    let page = login_page(&app, &rp, &[]).await;
    let consent = app
        .post_login(&page, USER_EMAIL, USER_PASSWORD)
        .await
        .text()
        .await
        .expect("html");
    let res = app.post_consent(&consent, "deny").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (url, pairs) = location_params(&res);
    assert!(url.as_str().starts_with("https://rp.example/cb"));
    assert_eq!(param(&pairs, "error"), Some("access_denied"));
    assert_eq!(param(&pairs, "state"), Some("af0ifjsldkj"));
    assert_eq!(param(&pairs, "iss"), Some(app.issuer.as_str()));
    assert_eq!(param(&pairs, "code"), None);
}

#[tokio::test]
async fn consent_with_a_forged_csrf_token_is_refused() {
    let app = spawn_app().await;
    let rp = third_party(&app).await;
    let page = login_page(&app, &rp, &[]).await;
    let consent = app
        .post_login(&page, USER_EMAIL, USER_PASSWORD)
        .await
        .text()
        .await
        .expect("html");
    let forged = LoginForm::parse(&consent)
        .with("csrf_token", "forged")
        .with("decision", "allow");
    let res = crate::helpers::submit(&app.browser, &forged).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn withdrawing_a_consent_asks_again_and_revokes_its_tokens() {
    let app = spawn_app().await;
    let rp = third_party(&app).await;
    let res = app.get_authorize(&rp, &[]).await;
    let res = app.through_login_and_consent(res).await;
    let (_, pairs) = location_params(&res);
    let code = param(&pairs, "code").expect("code").to_owned();
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rp.example/cb"),
            ],
            Some((&rp.client_id, rp.client_secret.as_deref().expect("secret"))),
        )
        .await;
    let tokens: Value = res.json().await.expect("json");
    let at = tokens["access_token"].as_str().expect("at");
    let userinfo = |t: String| {
        let (http, url) = (app.rp.clone(), app.url("/userinfo"));
        async move {
            http.get(url)
                .bearer_auth(t)
                .send()
                .await
                .expect("get")
                .status()
        }
    };
    assert_eq!(userinfo(at.to_owned()).await, StatusCode::OK);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["user", "consents", USER_EMAIL])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&rp.client_id));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args([
            "user",
            "consents",
            USER_EMAIL,
            &format!("--revoke={}", rp.client_id),
        ])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(userinfo(at.to_owned()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_authorize(&rp, &[]).await.status(),
        StatusCode::OK,
        "asks again"
    );
}

#[tokio::test]
async fn a_login_form_request_id_cannot_complete_a_consent() {
    // prompt=login shows the form; its request id must not let /consent skip the login.
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let page = login_page(&app, &app.confidential, &[("prompt", "login")]).await;
    let mut f = LoginForm::parse(&page).with("decision", "allow");
    f.action = app.url("/consent");
    let res = crate::helpers::submit(&app.browser, &f).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn a_client_logo_is_shown_only_as_a_single_csp_source() {
    let app = spawn_app().await;
    let consent_for = |logo: &'static str| {
        let app = &app;
        async move {
            let mut r =
                ClientRegistration::new("Logo app", &["https://rp.example/cb".to_owned()], false);
            r.logo_uri = Some(logo.to_owned());
            let rp = register_with(&app.store, r).await;
            let res = app.get_authorize(&rp, &[]).await;
            let res = if res.status() == StatusCode::OK {
                let html = res.text().await.expect("html");
                if html.contains("name=\"password\"") {
                    app.post_login(&html, USER_EMAIL, USER_PASSWORD).await
                } else {
                    return (String::new(), html);
                }
            } else {
                res
            };
            let csp = res.headers()[CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii")
                .to_owned();
            (csp, res.text().await.expect("html"))
        }
    };
    let (csp, html) = consent_for("https://rp.example/logo.png").await;
    assert!(
        csp.contains("img-src 'self' https://rp.example/logo.png;"),
        "{csp}"
    );
    assert!(
        html.contains("src=\"https://rp.example/logo.png\""),
        "{html}"
    );
    // `;` would end the directive and smuggle in others (sandbox, an empty form-action).
    let (csp, html) = consent_for("https://evil.example/l.png;sandbox;form-action").await;
    assert!(!csp.contains("evil") && !csp.contains("sandbox"), "{csp}");
    assert!(!html.contains("evil.example"), "{html}");
}
