//! `response_mode=form_post` (OAuth 2.0 Form Post Response Mode) and form-posted
//! authorization requests.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};

use crate::helpers::{LoginForm, USER_EMAIL, USER_PASSWORD, login_page, spawn_app};

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
