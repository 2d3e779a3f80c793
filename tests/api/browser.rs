//! The person in the browser, at the HTTP level: consent, prompt and hints, languages,
//! form_post, the claims parameter, logout, CSRF, throttling and page headers.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use sekimori::cli::ClientRegistration;
use serde_json::Value;

use crate::helpers::{
    LoginForm, TestApp, TestClient, USER_EMAIL, USER_PASSWORD, form, jwt_claims, location_params,
    param, register_with, spawn_app,
};

/// A third-party client whose name is hostile markup.
async fn third_party(app: &TestApp) -> TestClient {
    let mut r = ClientRegistration::new(
        "<script>alert(1)</script>",
        &["https://rp.example/cb".to_owned()],
        false,
    );
    r.post_logout_redirect_uris = vec!["https://rp.example/bye".to_owned()];
    register_with(&app.store, r).await
}

async fn login_page(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let res = app.get_authorize(client, extra).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("html")
}

fn assert_page_headers(res: &reqwest::Response) {
    let h = res.headers();
    let csp = h
        .get(CONTENT_SECURITY_POLICY)
        .expect("CSP")
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("default-src 'self'") || csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        h.get("referrer-policy").and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    assert_eq!(
        h.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

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
async fn form_post_response_mode_posts_the_code_with_a_hashed_script() {
    let app = spawn_app().await;
    let page = login_page(&app, &app.confidential, &[("response_mode", "form_post")]).await;
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .expect("csp")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("form-action http://localhost:9999"), "{csp}");
    let html = res.text().await.expect("html");
    let f = LoginForm::parse(&html);
    assert_eq!(f.action, crate::helpers::REDIRECT_URI);
    assert_eq!(f.get("state"), Some("af0ifjsldkj"));
    assert_eq!(f.get("iss"), Some(app.issuer.as_str()));
    let code = f.get("code").expect("code").to_owned();
    assert!(html.contains("<button"), "works without JavaScript");
    assert_eq!(app.redeem(&code, &[]).await.status(), StatusCode::OK);
    // Errors travel the same way.
    let res = app
        .get_authorize(
            &app.confidential,
            &[("response_mode", "form_post"), ("scope", "profile")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let f = LoginForm::parse(&res.text().await.expect("html"));
    assert_eq!(f.get("error"), Some("invalid_scope"));
}

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

#[tokio::test]
async fn a_form_post_authorization_request_that_is_not_utf8_is_refused() {
    let app = spawn_app().await;
    let mut body = app
        .authorize_url(&app.confidential, &[])
        .split_once('?')
        .expect("query")
        .1
        .as_bytes()
        .to_vec();
    body.extend_from_slice(b"&state=\xff\xfe");
    let res = app
        .browser
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST /authorize");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}
