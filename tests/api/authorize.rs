//! The authorization endpoint and the login page: every error path, headers, session rules.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};

use crate::helpers::{
    LoginForm, REDIRECT_URI, USER_EMAIL, USER_PASSWORD, form, location_params, param, pkce_pair,
    spawn_app,
};

/// Asserts an error redirect to the registered URI with error, state and iss.
fn assert_error_redirect(res: &reqwest::Response, app_issuer: &str, error: &str) {
    assert_eq!(res.status(), StatusCode::FOUND);
    let (url, pairs) = location_params(res);
    assert!(
        url.as_str().starts_with(REDIRECT_URI),
        "redirects only to the registered URI"
    );
    assert_eq!(param(&pairs, "error"), Some(error));
    assert!(param(&pairs, "error_description").is_some());
    assert_eq!(param(&pairs, "state"), Some("af0ifjsldkj"));
    assert_eq!(param(&pairs, "iss"), Some(app_issuer));
    assert_eq!(param(&pairs, "code"), None);
}

#[tokio::test]
async fn authorize_with_unknown_client_renders_error_page() {
    let app = spawn_app().await;
    let mut ghost = app.confidential.clone();
    ghost.client_id = "no-such-client".into();
    let res = app.get_authorize(&ghost, &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
    let body = res.text().await.expect("body");
    assert!(body.contains("not registered"));
}

#[tokio::test]
async fn authorize_with_unregistered_redirect_uri_renders_error_page() {
    let app = spawn_app().await;
    for evil in [
        "https://evil.example/callback",
        "http://localhost:9999/callback/",
        "http://localhost:9999/callback?x=1",
        "http://LOCALHOST:9999/callback",
    ] {
        let res = app
            .get_authorize(&app.confidential, &[("redirect_uri", evil)])
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(
            res.headers().get(LOCATION).is_none(),
            "{evil} must not be redirected to"
        );
    }
}

#[tokio::test]
async fn authorize_without_redirect_uri_renders_error_page() {
    let app = spawn_app().await;
    let res = app
        .get_authorize(&app.confidential, &[("redirect_uri", "")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn authorize_with_repeated_redirect_uri_renders_error_page() {
    let app = spawn_app().await;
    let url = format!(
        "{}&redirect_uri={}",
        app.authorize_url(&app.confidential, &[]),
        urlencode(REDIRECT_URI)
    );
    let res = app.browser.get(url).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn authorize_with_repeated_parameter_redirects_invalid_request() {
    let app = spawn_app().await;
    let url = format!("{}&scope=openid", app.authorize_url(&app.confidential, &[]));
    let res = app.browser.get(url).send().await.expect("get");
    assert_error_redirect(&res, &app.issuer, "invalid_request");
}

#[tokio::test]
async fn authorize_refuses_request_objects_explicitly() {
    let app = spawn_app().await;
    for (param, value, error) in [
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://rp.example/req.jwt",
            "request_uri_not_supported",
        ),
    ] {
        let res = app
            .get_authorize(&app.confidential, &[(param, value)])
            .await;
        assert_error_redirect(&res, &app.issuer, error);
    }
}

#[tokio::test]
async fn authorize_rejects_other_response_types() {
    let app = spawn_app().await;
    for rt in ["token", "id_token", "code id_token"] {
        let res = app
            .get_authorize(&app.confidential, &[("response_type", rt)])
            .await;
        assert_error_redirect(&res, &app.issuer, "unsupported_response_type");
    }
    let res = app
        .get_authorize(&app.confidential, &[("response_type", "")])
        .await;
    assert_error_redirect(&res, &app.issuer, "invalid_request");
}

#[tokio::test]
async fn authorize_without_openid_scope_is_invalid_scope() {
    let app = spawn_app().await;
    let res = app
        .get_authorize(&app.confidential, &[("scope", "profile email")])
        .await;
    assert_error_redirect(&res, &app.issuer, "invalid_scope");
}

#[tokio::test]
async fn public_client_must_use_pkce_s256() {
    let app = spawn_app().await;
    let public = app.public.clone();
    // No PKCE at all.
    let res = app.get_authorize(&public, &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (url, pairs) = location_params(&res);
    assert!(url.as_str().starts_with(&public.redirect_uri));
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    // plain is refused even with a well-formed challenge.
    let (verifier, _) = pkce_pair();
    let res = app
        .get_authorize(
            &public,
            &[
                ("code_challenge", &verifier),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
    // A challenge without a method would default to plain (RFC 7636 §4.3): refused.
    let (_, challenge) = pkce_pair();
    let res = app
        .get_authorize(&public, &[("code_challenge", &challenge)])
        .await;
    let (_, pairs) = location_params(&res);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));
}

#[tokio::test]
async fn authorize_rejects_malformed_max_age_and_prompt() {
    let app = spawn_app().await;
    for bad in [
        ("max_age", "-1"),
        ("max_age", "soon"),
        ("prompt", "none login"),
        ("prompt", "bogus"),
    ] {
        let res = app.get_authorize(&app.confidential, &[bad]).await;
        assert_error_redirect(&res, &app.issuer, "invalid_request");
    }
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let app = spawn_app().await;
    let res = app
        .get_authorize(&app.confidential, &[("prompt", "none")])
        .await;
    assert_error_redirect(&res, &app.issuer, "login_required");
}

#[tokio::test]
async fn prompt_none_with_session_succeeds_silently() {
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let res = app
        .get_authorize(&app.confidential, &[("prompt", "none")])
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, pairs) = location_params(&res);
    assert!(param(&pairs, "code").is_some());
}

#[tokio::test]
async fn prompt_login_and_stale_max_age_force_the_form_again() {
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    let res = app
        .get_authorize(&app.confidential, &[("prompt", "login")])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "prompt=login shows the form");
    // A fresh session satisfies max_age; an older one does not.
    let res = app
        .get_authorize(&app.confidential, &[("max_age", "300")])
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    app.clock.advance(301);
    let res = app
        .get_authorize(&app.confidential, &[("max_age", "300")])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "stale session shows the form");
    let res = app
        .get_authorize(&app.confidential, &[("max_age", "300"), ("prompt", "none")])
        .await;
    assert_error_redirect(&res, &app.issuer, "login_required");
}

#[tokio::test]
async fn authorize_accepts_a_form_post() {
    let app = spawn_app().await;
    let c = &app.confidential;
    let body = form(&[
        ("response_type", "code"),
        ("client_id", &c.client_id),
        ("redirect_uri", &c.redirect_uri),
        ("scope", "openid"),
        ("state", "af0ifjsldkj"),
        ("unknown_extension", "ignored"),
    ]);
    let res = app
        .browser
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post");
    // Answered with a GET of the same request, so a cross-site POST cannot replace the
    // browser's session (its SameSite=Lax cookie is not sent on a cross-site POST).
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("set-cookie").is_none());
    let location = res
        .headers()
        .get(LOCATION)
        .expect("location")
        .to_str()
        .expect("ascii");
    assert!(location.starts_with(&app.url("/authorize?")));
    let res = app.browser.get(location).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("name=\"password\"")
    );
}

#[tokio::test]
async fn login_page_has_security_headers_and_escapes_the_client_name() {
    let app = spawn_app().await;
    let res = app
        .get_authorize(
            &app.confidential,
            &[("login_hint", "\"><script>x</script>")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(
        h.get(CACHE_CONTROL).map(|v| v.to_str().ok()),
        Some(Some("no-store"))
    );
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.to_str().ok()),
        Some(Some("nosniff"))
    );
    assert_eq!(
        h.get("referrer-policy").map(|v| v.to_str().ok()),
        Some(Some("no-referrer"))
    );
    let csp = h
        .get(CONTENT_SECURITY_POLICY)
        .expect("CSP")
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(
        csp.contains("form-action 'self' http://localhost:9999"),
        "{csp}"
    );
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Confidential &#60;App&#62;") || body.contains("Confidential &lt;App&gt;"),
        "client name escaped"
    );
    assert!(!body.contains("<script>x</script>"), "login_hint escaped");
    assert!(body.contains("autocomplete=\"current-password\""));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_message_and_no_code() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let wrong = app.post_login(&page, USER_EMAIL, "wrong password!").await;
    assert_eq!(wrong.status(), StatusCode::OK);
    assert!(wrong.headers().get(LOCATION).is_none());
    let wrong_body = wrong.text().await.expect("body");
    assert!(wrong_body.contains("The email or password is incorrect."));
    let unknown = app
        .post_login(&page, "nobody@example.com", USER_PASSWORD)
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    assert!(
        unknown
            .text()
            .await
            .expect("body")
            .contains("The email or password is incorrect.")
    );
    // The form still works afterwards.
    let ok = app.post_login(&wrong_body, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_with_a_bad_csrf_token_is_refused() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let f = LoginForm::parse(&page)
        .with("csrf_token", "forged")
        .with("email", USER_EMAIL)
        .with("password", USER_PASSWORD);
    let res = crate::helpers::submit(&app.browser, &f).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn login_form_from_another_browser_is_expired() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    // A different browser (no cookies) submitting the same form.
    let f = LoginForm::parse(&page)
        .with("email", USER_EMAIL)
        .with("password", USER_PASSWORD);
    let res = crate::helpers::submit(&app.rp, &f).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn session_cookie_is_http_only_lax_and_changes_at_login() {
    let app = spawn_app().await;
    let res = app.get_authorize(&app.confidential, &[]).await;
    let before = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sekimori_session="))
        .expect("session cookie")
        .to_owned();
    assert!(before.contains("HttpOnly"));
    assert!(before.contains("SameSite=Lax"));
    let page = res.text().await.expect("html");
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    let after = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sekimori_session="))
        .expect("new session cookie at login")
        .to_owned();
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_owned();
    assert_ne!(id(&before), id(&after), "session id rotates at login");
}
