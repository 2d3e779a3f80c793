//! The token endpoint: code exchange rules, client authentication, refresh rotation, errors.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::helpers::{REDIRECT_URI, TestApp, base64_decode, json, pkce_pair, spawn_app};

/// Asserts a §5.2 error with `Cache-Control: no-store`.
async fn assert_token_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = json(res).await;
    assert_eq!(body["error"], error, "{body}");
}

fn creds(app: &TestApp) -> (String, String) {
    let c = &app.confidential;
    (
        c.client_id.clone(),
        c.client_secret.clone().expect("secret"),
    )
}

#[tokio::test]
async fn code_exchange_returns_tokens_with_no_store() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let res = app.redeem(&code, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = json(res).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email");
    assert!(body["id_token"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    // The access token is an RFC 9068 JWT.
    let at = body["access_token"].as_str().expect("at");
    let header: Value =
        serde_json::from_slice(&base64_decode(at.split('.').next().expect("header")))
            .expect("header json");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let claims: Value =
        serde_json::from_slice(&base64_decode(at.split('.').nth(1).expect("claims")))
            .expect("claims");
    for claim in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "iat",
        "exp",
        "jti",
    ] {
        assert!(claims.get(claim).is_some(), "access token has {claim}");
    }
    assert_eq!(claims["client_id"], app.confidential.client_id.as_str());
}

#[tokio::test]
async fn token_rejects_reused_code() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    assert_eq!(app.redeem(&code, &[]).await.status(), StatusCode::OK);
    assert_token_error(
        app.redeem(&code, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn code_replay_revokes_the_refresh_token_of_the_first_redemption() {
    let app = spawn_app().await;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;
    let first = json(app.redeem(&code, &[]).await).await;
    let refresh = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    assert_token_error(
        app.redeem(&code, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let (id, secret) = creds(&app);
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&id, &secret)),
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn token_rejects_expired_code() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    app.clock.advance(61);
    assert_token_error(
        app.redeem(&code, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn token_rejects_code_from_another_client() {
    let app = spawn_app().await;
    let (verifier, challenge) = pkce_pair();
    let code = app
        .authorize_and_login(
            &app.public,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    // The confidential client tries to redeem the public client's code.
    let res = app.redeem(&code, &[("code_verifier", &verifier)]).await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The rightful client still can.
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &app.public.redirect_uri),
                ("client_id", &app.public.client_id),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_rejects_missing_or_wrong_code_verifier() {
    let app = spawn_app().await;
    let (verifier, challenge) = pkce_pair();
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = app.authorize_and_login(&app.confidential, &pkce).await;
    assert_token_error(
        app.redeem(&code, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    let code = app.authorize_and_login(&app.confidential, &pkce).await;
    let (other, _) = pkce_pair();
    let res = app.redeem(&code, &[("code_verifier", &other)]).await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let code = app.authorize_and_login(&app.confidential, &pkce).await;
    assert_eq!(
        app.redeem(&code, &[("code_verifier", &verifier)])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_failed_redemption_does_not_spend_the_code() {
    // Someone holding a public client's code but not its verifier cannot burn it.
    let app = spawn_app().await;
    let (verifier, challenge) = pkce_pair();
    let code = app
        .authorize_and_login(
            &app.public,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let (wrong, _) = pkce_pair();
    let public = app.public.clone();
    let attempt = |v: &str, redirect: &str| {
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("client_id", public.client_id.as_str()),
            ("code_verifier", v),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.post_token(&pairs, None).await
        }
    };
    let res = attempt(&wrong, &public.redirect_uri).await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = attempt(&verifier, "http://127.0.0.1:7777/other").await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = attempt(&verifier, &public.redirect_uri).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorize_refuses_invalid_utf8_instead_of_rewriting_state() {
    let app = spawn_app().await;
    let url = format!(
        "{}&ui_locales=%C0%AF",
        app.authorize_url(&app.confidential, &[])
    );
    let res = app.browser.get(url).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, pairs) = crate::helpers::location_params(&res);
    assert_eq!(
        crate::helpers::param(&pairs, "error"),
        Some("invalid_request")
    );
    assert_eq!(crate::helpers::param(&pairs, "state"), Some("af0ifjsldkj"));
}

#[tokio::test]
async fn token_rejects_verifier_when_no_challenge_was_sent() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let (verifier, _) = pkce_pair();
    let res = app.redeem(&code, &[("code_verifier", &verifier)]).await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn token_rejects_mismatched_redirect_uri() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let (id, secret) = creds(&app);
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:9999/other"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client_with_www_authenticate() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let id = app.confidential.client_id.clone();
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
            Some((&id, "not-the-secret")),
        )
        .await;
    assert!(res.headers().get(WWW_AUTHENTICATE).is_some());
    assert_token_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Secret in the body, wrong.
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &id),
                ("client_secret", "nope"),
            ],
            None,
        )
        .await;
    assert_token_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // A confidential client that omits its secret.
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &id),
            ],
            None,
        )
        .await;
    assert_token_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Unknown client.
    let res = app
        .post_token(
            &[("grant_type", "authorization_code"), ("code", &code)],
            Some(("ghost", "x")),
        )
        .await;
    assert_token_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // The code survived all of that.
    assert_eq!(app.redeem(&code, &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn basic_and_post_credentials_together_are_invalid_request() {
    let app = spawn_app().await;
    let (id, secret) = creds(&app);
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_secret", &secret),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn client_id_in_body_beside_basic_is_accepted() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let (id, secret) = creds(&app);
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &id),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn unsupported_grant_type_and_malformed_requests() {
    let app = spawn_app().await;
    let (id, secret) = creds(&app);
    let res = app
        .post_token(&[("grant_type", "urn:example:magic")], Some((&id, &secret)))
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let res = app.post_token(&[], Some((&id, &secret))).await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("grant_type", "refresh_token"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // JSON instead of a form.
    let res = app
        .rp
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"authorization_code"}"#)
        .send()
        .await
        .expect("post");
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A body over the limit is refused, not buffered.
    let huge = "a".repeat(200 * 1024);
    let res = app
        .rp
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={huge}"))
        .send()
        .await
        .expect("post");
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn refresh_token_is_issued_with_offline_access_and_rotates() {
    let app = spawn_app().await;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[
                ("scope", "openid profile offline_access"),
                ("prompt", "consent"),
            ],
        )
        .await;
    let first = json(app.redeem(&code, &[]).await).await;
    let r1 = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (id, secret) = creds(&app);

    // Narrowing is allowed; the new ID token keeps auth_time and has no nonce.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = json(res).await;
    assert_eq!(second["scope"], "openid");
    let r2 = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(r1, r2);
    let id1: Value = serde_json::from_slice(&base64_decode(
        first["id_token"]
            .as_str()
            .expect("id")
            .split('.')
            .nth(1)
            .expect("p"),
    ))
    .expect("json");
    let id2: Value = serde_json::from_slice(&base64_decode(
        second["id_token"]
            .as_str()
            .expect("id")
            .split('.')
            .nth(1)
            .expect("p"),
    ))
    .expect("json");
    assert_eq!(id1["auth_time"], id2["auth_time"]);
    assert!(id2.get("nonce").is_none());

    // Widening is refused, and does not burn the token.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r2),
                ("scope", "openid email"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Another client cannot use it.
    let public = app.public.client_id.clone();
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r2),
                ("client_id", &public),
            ],
            None,
        )
        .await;
    assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Reusing r1 (already rotated) revokes the family, r2 included.
    for refresh_token in [&r1, &r2] {
        let res = app
            .post_token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
                Some((&id, &secret)),
            )
            .await;
        assert_token_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    }
}

#[tokio::test]
async fn each_token_exp_is_computed_at_its_own_issue_time() {
    let app = spawn_app().await;
    let code1 = app.authorize_and_login(&app.confidential, &[]).await;
    let t1 = json(app.redeem(&code1, &[]).await).await;
    app.clock.advance(2);
    let code2 = app.authorize_and_login(&app.confidential, &[]).await;
    let t2 = json(app.redeem(&code2, &[]).await).await;
    let exp = |t: &Value, name: &str| -> i64 {
        let claims: Value = serde_json::from_slice(&base64_decode(
            t[name].as_str().expect("jwt").split('.').nth(1).expect("p"),
        ))
        .expect("json");
        claims["exp"].as_i64().expect("exp")
    };
    assert!(exp(&t2, "access_token") - exp(&t1, "access_token") >= 2);
    assert!(exp(&t2, "id_token") - exp(&t1, "id_token") >= 2);
}

#[tokio::test]
async fn an_oversized_body_gets_each_endpoints_own_error() {
    let app = spawn_app().await;
    let big = format!(
        "grant_type=authorization_code&pad={}",
        "x".repeat(70 * 1024)
    );
    let post = |path: &str| {
        app.rp
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
    };
    for path in ["/token", "/revoke", "/introspect", "/userinfo"] {
        let res = post(path).await.expect("POST");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body: Value = res.json().await.expect("JSON error");
        assert_eq!(body["error"], "invalid_request", "{path}");
        if path == "/userinfo" {
            assert!(challenge.is_some_and(|c| c.contains("invalid_request")));
        }
    }
    for path in ["/login", "/consent", "/logout", "/authorize"] {
        let res = post(path).await.expect("POST");
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let html = res.text().await.expect("html");
        assert!(html.contains(">request_too_large<"), "{path}: {html}");
    }
}
