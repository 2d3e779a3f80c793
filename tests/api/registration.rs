//! Dynamic Client Registration (RFC 7591) and management (RFC 7592), driven by the
//! `openidconnect` crate's registration client where it can be.

use openidconnect::core::{CoreClientRegistrationRequest, CoreGrantType, CoreResponseType};
use openidconnect::{AccessToken, RedirectUrl, RegistrationUrl, ResponseTypes};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn initial_token(app: &TestApp) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["client", "initial-token", "--ttl-secs", "600"])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("initial-token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["initial_access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn register(app: &TestApp, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.rp.post(app.url("/register")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("register")
}

#[tokio::test]
async fn a_relying_party_registers_itself_and_logs_a_user_in() {
    let app = spawn_app().await;
    let token = initial_token(&app);
    let registration = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new("https://newapp.example/cb".into()).expect("url")],
        Default::default(),
    )
    .set_grant_types(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .set_response_types(Some(vec![ResponseTypes::new(vec![CoreResponseType::Code])]))
    .set_initial_access_token(Some(AccessToken::new(token.clone())))
    .register_async(
        &RegistrationUrl::new(app.url("/register")).expect("url"),
        &app.rp,
    )
    .await
    .expect("registration accepted by openidconnect");
    let client = crate::helpers::TestClient {
        client_id: registration.client_id().as_str().to_owned(),
        client_secret: registration.client_secret().map(|s| s.secret().clone()),
        redirect_uri: "https://newapp.example/cb".into(),
    };
    assert!(client.client_secret.is_some());
    // The initial access token is spent.
    let again = register(
        &app,
        Some(&token),
        json!({"redirect_uris": ["https://x.example/cb"]}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    // The new client goes through consent (it is third-party) and gets a code.
    let res = app.get_authorize(&client, &[]).await;
    let res = app.through_login_and_consent(res).await;
    let (_, pairs) = crate::helpers::location_params(&res);
    assert!(crate::helpers::param(&pairs, "code").is_some());
}

#[tokio::test]
async fn registration_rejects_bad_metadata_and_missing_tokens() {
    let app = spawn_app().await;
    let ok = json!({"redirect_uris": ["https://app.example/cb"]});
    assert_eq!(
        register(&app, None, ok.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        register(&app, Some("wrong"), ok).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for (body, error) in [
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["/relative"]}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
        ),
    ] {
        let token = initial_token(&app);
        let res = register(&app, Some(&token), body.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"], error, "{body}");
    }
    // Loopback http and native-app schemes are fine (RFC 8252).
    let token = initial_token(&app);
    let res = register(
        &app,
        Some(&token),
        json!({"redirect_uris": ["http://127.0.0.1:4000/cb", "com.example.app:/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.expect("json");
    assert!(v.get("client_secret").is_none(), "public client");
}

#[tokio::test]
async fn the_registration_access_token_reads_updates_and_deletes_only_its_client() {
    let app = spawn_app().await;
    let token = initial_token(&app);
    let res = register(
        &app,
        Some(&token),
        json!({"redirect_uris": ["https://app.example/cb"], "client_name": "First name", "policy_uri": "https://app.example/privacy"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    let uri = created["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let rat = created["registration_access_token"]
        .as_str()
        .expect("rat")
        .to_owned();
    let get = |t: &str| app.rp.get(&uri).bearer_auth(t).send();
    assert_eq!(get(&rat).await.expect("get").status(), StatusCode::OK);
    assert_eq!(
        get("nope").await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    // Another client's registration URI with this token: 401.
    let other = app.url(&format!("/register/{}", app.confidential.client_id));
    let res = app
        .rp
        .get(&other)
        .bearer_auth(&rat)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = app
        .rp
        .put(&uri)
        .bearer_auth(&rat)
        .json(&json!({"client_id": created["client_id"], "redirect_uris": ["https://app.example/new"], "client_name": "New name"}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.expect("json");
    assert_eq!(updated["client_name"], "New name");
    assert_eq!(updated["redirect_uris"], json!(["https://app.example/new"]));

    let res = app
        .rp
        .delete(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&rat).await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_consent_page_shows_a_registered_clients_logo_policy_and_terms() {
    let app = spawn_app().await;
    let token = initial_token(&app);
    let res = register(
        &app,
        Some(&token),
        json!({
            "redirect_uris": ["https://shop.example/cb"],
            "client_name": "Shop",
            "logo_uri": "https://shop.example/logo.png",
            "policy_uri": "https://shop.example/privacy",
            "tos_uri": "https://shop.example/terms"
        }),
    )
    .await;
    let created: Value = res.json().await.expect("json");
    let client = crate::helpers::TestClient {
        client_id: created["client_id"].as_str().expect("id").to_owned(),
        client_secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: "https://shop.example/cb".into(),
    };
    let page = app
        .get_authorize(&client, &[])
        .await
        .text()
        .await
        .expect("html");
    let res = app
        .post_login(
            &page,
            crate::helpers::USER_EMAIL,
            crate::helpers::USER_PASSWORD,
        )
        .await;
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' https://shop.example/logo.png"),
        "{csp}"
    );
    let html = res.text().await.expect("html");
    assert!(html.contains("src=\"https://shop.example/logo.png\""));
    assert!(html.contains("href=\"https://shop.example/privacy\""));
    assert!(html.contains("href=\"https://shop.example/terms\""));
}

#[tokio::test]
async fn rejected_metadata_does_not_spend_the_initial_access_token() {
    let app = spawn_app().await;
    let token = initial_token(&app);
    let res = register(
        &app,
        Some(&token),
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid bad\"scope"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"], "invalid_client_metadata");
    // Corrected, the same token still works — once.
    let ok = json!({"redirect_uris": ["https://app.example/cb"]});
    assert_eq!(
        register(&app, Some(&token), ok.clone()).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        register(&app, Some(&token), ok).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
