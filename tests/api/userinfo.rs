//! UserInfo as an RFC 6750 protected resource: every bad token is a 401 `invalid_token`.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::Value;

use sekimori::cli::ClientRegistration;

use crate::helpers::base64_decode;
use crate::helpers::{REDIRECT_URI, TestApp, TestClient, form, register_with, spawn_app};

async fn access_token(app: &TestApp, scope: &str) -> String {
    let code = app
        .authorize_and_login(&app.confidential, &[("scope", scope)])
        .await;
    let body: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    body["access_token"].as_str().expect("at").to_owned()
}

async fn assert_invalid_token(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("WWW-Authenticate")
        .to_str()
        .expect("ascii");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn userinfo_returns_claims_allowed_by_scope() {
    let app = spawn_app().await;
    let at = access_token(&app, "openid email").await;
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["sub"], app.user_sub.as_str());
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["email_verified"], false);
    assert!(body.get("name").is_none(), "profile was not granted");
}

#[tokio::test]
async fn userinfo_accepts_post_with_header_or_form_body() {
    let app = spawn_app().await;
    let at = access_token(&app, "openid profile").await;
    let res = app
        .rp
        .post(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .rp
        .post(app.url("/userinfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("access_token", &at)]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["name"], "Alice Liddell");
    // Both ways at once: RFC 6750 §2 "MUST NOT use more than one method".
    let res = app
        .rp
        .post(app.url("/userinfo"))
        .bearer_auth(&at)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("access_token", &at)]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn userinfo_without_authorization_is_401_not_500() {
    let app = spawn_app().await;
    // A missing or malformed token is 401 invalid_token, whatever the method.
    assert_invalid_token(app.rp.get(app.url("/userinfo")).send().await.expect("get")).await;
    assert_invalid_token(
        app.rp
            .post(app.url("/userinfo"))
            .send()
            .await
            .expect("post"),
    )
    .await;
    let res = app
        .rp
        .post(app.url("/userinfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("access_token=%FF")
        .send()
        .await
        .expect("post");
    assert_invalid_token(res).await;
    // Authorization headers that carry no usable Bearer token.
    for authorization in ["Basic YTpi", "Bearer ", "Bearer not.a.jwt"] {
        let res = app
            .rp
            .get(app.url("/userinfo"))
            .header("authorization", authorization)
            .send()
            .await
            .expect("get");
        assert_invalid_token(res).await;
    }
}

#[tokio::test]
async fn userinfo_rejects_tampered_token() {
    let app = spawn_app().await;
    let at = access_token(&app, "openid profile").await;
    let mut parts: Vec<String> = at.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&base64_decode(&parts[1])).expect("claims");
    claims["sub"] = Value::from("mallory");
    parts[1] = sekimori::crypto::b64url(&serde_json::to_vec(&claims).expect("json"));
    let tampered = parts.join(".");
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .bearer_auth(&tampered)
        .send()
        .await
        .expect("get");
    assert_invalid_token(res).await;
}

#[tokio::test]
async fn userinfo_rejects_alg_none_and_hs256_tokens() {
    let app = spawn_app().await;
    let at = access_token(&app, "openid").await;
    let claims = at.split('.').nth(1).expect("claims").to_owned();
    let kid = {
        let h: Value =
            serde_json::from_slice(&base64_decode(at.split('.').next().expect("h"))).expect("h");
        h["kid"].as_str().expect("kid").to_owned()
    };
    for alg in ["none", "None", "HS256"] {
        let header = sekimori::crypto::b64url(
            serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": kid})
                .to_string()
                .as_bytes(),
        );
        for sig in ["", "c2lnbmF0dXJl"] {
            let forged = format!("{header}.{claims}.{sig}");
            let res = app
                .rp
                .get(app.url("/userinfo"))
                .bearer_auth(&forged)
                .send()
                .await
                .expect("get");
            assert_invalid_token(res).await;
        }
    }
}

#[tokio::test]
async fn userinfo_rejects_expired_token_and_id_tokens() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let body: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    // An ID token is not an access token (typ JWT, aud = client).
    let id_token = body["id_token"].as_str().expect("id");
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .bearer_auth(id_token)
        .send()
        .await
        .expect("get");
    assert_invalid_token(res).await;
    let at = body["access_token"].as_str().expect("at");
    app.clock.advance(3601);
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .expect("get");
    assert_invalid_token(res).await;
}

fn sekimori_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .output()
        .expect("run sekimori")
}

#[tokio::test]
async fn phone_and_address_come_from_user_update_under_their_scopes() {
    // OIDC Core §5.4: the phone and address scopes; §5.1.1: address is a JSON object.
    let app = spawn_app().await;
    let out = sekimori_cli(
        &app,
        &[
            "user",
            "update",
            crate::helpers::USER_EMAIL,
            "--phone-number",
            "+81 3 1234 5678",
            "--phone-number-verified",
            "true",
            "--address",
            r#"{"locality":"Tokyo","country":"JP"}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in [
        ["--phone-number", "call me maybe"],
        ["--address", r#"{"planet":"Mars"}"#],
    ] {
        let mut args = vec!["user", "update", crate::helpers::USER_EMAIL];
        args.extend(bad);
        let out = sekimori_cli(&app, &args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(bad[0]), "names the flag: {err}");
        assert_eq!(err.lines().count(), 1, "one readable line: {err}");
    }

    let mut r = ClientRegistration::new("Contacts", &[REDIRECT_URI.to_owned()], false);
    r.first_party = true;
    r.scope = "openid address phone".into();
    let client = register_with(&app.store, r).await;
    let userinfo = |client: TestClient| {
        let app = &app;
        async move {
            let code = app
                .authorize_and_login(&client, &[("scope", "openid address phone")])
                .await;
            let tokens: Value = app
                .post_token(
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT_URI),
                    ],
                    Some((
                        &client.client_id,
                        client.client_secret.as_deref().expect("s"),
                    )),
                )
                .await
                .json()
                .await
                .expect("json");
            let res = app
                .rp
                .get(app.url("/userinfo"))
                .bearer_auth(tokens["access_token"].as_str().expect("at"))
                .send()
                .await
                .expect("userinfo");
            res.json::<Value>().await.expect("json")
        }
    };
    let body = userinfo(client.clone()).await;
    assert_eq!(body["phone_number"], "+81 3 1234 5678");
    assert_eq!(body["phone_number_verified"], true);
    assert_eq!(
        body["address"],
        serde_json::json!({"locality": "Tokyo", "country": "JP"})
    );
    assert!(body.get("email").is_none());

    let out = sekimori_cli(
        &app,
        &[
            "user",
            "update",
            crate::helpers::USER_EMAIL,
            "--phone-number",
            "",
        ],
    );
    assert!(out.status.success());
    let body = userinfo(client).await;
    assert!(body.get("phone_number").is_none(), "removed");
    assert!(body.get("phone_number_verified").is_none());
    assert!(body["address"].is_object());
}
