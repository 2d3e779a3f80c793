//! The token lifecycle as a resource server or an attacker sees it over HTTP: rotation, reuse
//! detection, code replay, revocation (RFC 7009), introspection (RFC 7662), client credentials,
//! the password grant, key rotation and the ES256/EdDSA algorithms.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, RedirectUrl,
    TokenResponse,
};
use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;
use sekimori::keys::Alg;
use serde_json::Value;

use crate::helpers::{
    TestApp, TestClient, basic, form, json, offline_tokens, refresh, register_with, spawn_app,
    spawn_app_at, userinfo_status,
};

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let res = app
        .rp
        .post(app.url("/introspect"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .expect("introspect");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    json(res).await
}

async fn revoke(app: &TestApp, client: &TestClient, token: &str, hint: Option<&str>) -> StatusCode {
    let mut pairs = vec![("token", token)];
    if let Some(h) = hint {
        pairs.push(("token_type_hint", h));
    }
    app.rp
        .post(app.url("/revoke"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("revoke")
        .status()
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_grant_including_the_newest_access_token() {
    // Arrange: rotate once, so r1 is spent and (r2, at2) are the live pair.
    let app = spawn_app().await;
    let first = offline_tokens(&app, "openid profile offline_access").await;
    let r1 = first["refresh_token"].as_str().expect("r1").to_owned();
    let second = json(refresh(&app, &r1).await).await;
    let r2 = second["refresh_token"].as_str().expect("r2").to_owned();
    let at2 = second["access_token"].as_str().expect("at2").to_owned();
    assert_eq!(userinfo_status(&app, &at2).await, StatusCode::OK);
    assert_eq!(
        introspect(&app, &app.confidential, &at2).await["active"],
        true
    );

    // Act: the spent r1 comes back (an attacker, or the victim after theft).
    let res = refresh(&app, &r1).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "invalid_grant");

    // Assert: everything of the grant is dead.
    assert_eq!(refresh(&app, &r2).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(userinfo_status(&app, &at2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        introspect(&app, &app.confidential, &at2).await,
        serde_json::json!({"active": false})
    );
    let first_at = first["access_token"].as_str().expect("at1");
    assert_eq!(
        userinfo_status(&app, first_at).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn code_replay_revokes_the_access_token_of_the_first_redemption() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let first = json(app.redeem(&code, &[]).await).await;
    let at = first["access_token"].as_str().expect("at").to_owned();
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::OK);
    assert_eq!(
        app.redeem(&code, &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_access_token_is_inactive_and_refused_at_userinfo() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let intro = introspect(&app, &app.confidential, at).await;
    assert_eq!(intro["active"], true);
    for field in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "token_type",
        "jti",
    ] {
        assert!(intro.get(field).is_some(), "introspection has {field}");
    }
    assert_eq!(intro["sub"], app.user_sub.as_str());
    // The hint is only a hint: a wrong one still finds the token.
    assert_eq!(
        revoke(&app, &app.confidential, at, Some("refresh_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        introspect(&app, &app.confidential, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
    // The refresh token is untouched by revoking the access token.
    let rt = tokens["refresh_token"].as_str().expect("rt");
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(
        introspect(&app, &app.confidential, rt).await["active"],
        true
    );
    assert_eq!(
        revoke(&app, &app.confidential, rt, None).await,
        StatusCode::OK
    );
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&app, &app.confidential, rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_unknown_and_malformed_tokens_are_200_and_change_nothing() {
    let app = spawn_app().await;
    let other = register_with(
        &app.store,
        ClientRegistration::new("Other", &["https://other.example/cb".to_owned()], false),
    )
    .await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    for t in [at, rt, "unknown-token", "a.b.c", ""] {
        let status = revoke(&app, &other, t, None).await;
        if t.is_empty() {
            assert_eq!(status, StatusCode::BAD_REQUEST, "token is required");
        } else {
            assert_eq!(status, StatusCode::OK);
        }
    }
    // Other client's introspection sees nothing; the owner still sees them active.
    assert_eq!(
        introspect(&app, &other, at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &other, rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &app.confidential, at).await["active"],
        true
    );
    assert_eq!(userinfo_status(&app, at).await, StatusCode::OK);
    assert_eq!(refresh(&app, rt).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn introspection_and_revocation_require_client_authentication() {
    let app = spawn_app().await;
    for path in ["/introspect", "/revoke"] {
        let res = app
            .rp
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", "x")]))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(res.headers().get("www-authenticate").is_some());
        assert_eq!(json(res).await["error"], "invalid_client");
    }
    // A public client may not introspect.
    let res = app
        .rp
        .post(app.url("/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", "x"),
            ("client_id", &app.public.client_id),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials_issues_an_access_token_only() {
    let app = spawn_app().await;
    let mut reg =
        ClientRegistration::new("Backend", &["https://backend.example/cb".to_owned()], false);
    reg.grant_types = vec!["client_credentials".into()];
    reg.scope = "api:read api:write".into();
    let backend = register_with(&app.store, reg).await;
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
            basic(&backend),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "api:read");
    let at = body["access_token"].as_str().expect("at");
    let intro = introspect(&app, &backend, at).await;
    assert_eq!(intro["sub"], backend.client_id.as_str());
    // Scopes it does not have, or OpenID scopes, are refused.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            basic(&backend),
        )
        .await;
    assert_eq!(json(res).await["error"], "invalid_scope");
    // A client not registered for it.
    let res = app
        .post_token(
            &[("grant_type", "client_credentials")],
            basic(&app.confidential),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "unauthorized_client");
    // A public client.
    let res = app
        .post_token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app.public.client_id),
            ],
            None,
        )
        .await;
    assert_eq!(json(res).await["error"], "unauthorized_client");
}

#[tokio::test]
async fn password_grant_is_refused_unless_the_client_is_registered_for_it() {
    let app = spawn_app().await;
    let pairs = [
        ("grant_type", "password"),
        ("username", crate::helpers::USER_EMAIL),
        ("password", crate::helpers::USER_PASSWORD),
        ("scope", "openid profile"),
    ];
    let res = app.post_token(&pairs, basic(&app.confidential)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "unauthorized_client");

    let mut reg = ClientRegistration::new(
        "Tutorial app",
        &["https://legacy.example/cb".to_owned()],
        false,
    );
    reg.grant_types = vec!["password".into()];
    let legacy = register_with(&app.store, reg).await;
    let res = app.post_token(&pairs, basic(&legacy)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    assert!(body["id_token"].is_string());
    let wrong = [
        ("grant_type", "password"),
        ("username", crate::helpers::USER_EMAIL),
        ("password", "wrong"),
    ];
    let res = app.post_token(&wrong, basic(&legacy)).await;
    assert_eq!(json(res).await["error"], "invalid_grant");
    // Guessing is throttled like the login form (failures only, per account and source): after
    // ten failures from one address the right password from there waits too, with 429.
    for _ in 0..9 {
        app.post_token(&wrong, basic(&legacy)).await;
    }
    let res = app.post_token(&pairs, basic(&legacy)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let body = json(res).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("too many attempts")),
        "{body}"
    );
}

#[tokio::test]
async fn a_narrowed_refresh_releases_only_the_narrowed_claims() {
    let app = spawn_app().await;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[
                ("scope", "openid email offline_access"),
                ("prompt", "consent"),
                ("claims", r#"{"id_token":{"email":null}}"#),
            ],
        )
        .await;
    let first = json(app.redeem(&code, &[]).await).await;
    let claims = |t: &Value| -> Value {
        serde_json::from_slice(&crate::helpers::base64_decode(
            t["id_token"]
                .as_str()
                .expect("id")
                .split('.')
                .nth(1)
                .expect("p"),
        ))
        .expect("json")
    };
    assert_eq!(claims(&first)["email"], crate::helpers::USER_EMAIL);
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    first["refresh_token"].as_str().expect("rt"),
                ),
                ("scope", "openid"),
            ],
            basic(&app.confidential),
        )
        .await;
    let second = json(res).await;
    assert!(claims(&second).get("email").is_none());
}

/// A relying party for `client` that verifies ID tokens with any of our algorithms.
async fn rp_for(
    app: &TestApp,
    client: &TestClient,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).expect("issuer"),
        &app.rp,
    )
    .await
    .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.client_id.clone()),
        client.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).expect("redirect"))
    .set_auth_type(AuthType::BasicAuth)
}

fn verifier_for<'a>(
    rp: &'a CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
) -> CoreIdTokenVerifier<'a> {
    rp.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ])
}

/// Logs in through the RP and returns the verified ID token's header alg and kid.
async fn login_and_verify(
    app: &TestApp,
    client: &TestClient,
) -> (openidconnect::core::CoreIdToken, String) {
    let rp = rp_for(app, client).await;
    let (url, _state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let res = app
        .browser
        .get(url.as_str())
        .send()
        .await
        .expect("authorize");
    let res = app.through_login_and_consent(res).await;
    let (_, pairs) = crate::helpers::location_params(&res);
    let code = crate::helpers::param(&pairs, "code")
        .expect("code")
        .to_owned();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .request_async(&app.rp)
        .await
        .expect("exchange");
    let id_token = tokens.id_token().expect("id token").clone();
    let verifier = verifier_for(&rp);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("verifies against our JWKS");
    let access_token = openidconnect::OAuth2TokenResponse::access_token(&tokens);
    let expected = openidconnect::AccessTokenHash::from_token(
        access_token,
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    (id_token, access_token.secret().clone())
}

#[tokio::test]
async fn es256_and_eddsa_id_tokens_verify_with_openidconnect() {
    let app = spawn_app().await;
    for (alg, expected) in [
        (Alg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        (Alg::EdDSA, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let mut reg = ClientRegistration::new(
            &format!("{alg} app"),
            &[format!(
                "https://{}.example/cb",
                alg.as_str().to_lowercase()
            )],
            false,
        );
        reg.id_token_alg = alg;
        reg.access_token_alg = alg;
        let client = register_with(&app.store, reg).await;
        let (id_token, access_token) = login_and_verify(&app, &client).await;
        assert_eq!(id_token.signing_alg().expect("alg"), &expected);
        // Access tokens signed with the same algorithm work at userinfo.
        assert_eq!(userinfo_status(&app, &access_token).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifiable() {
    // Arrange: an ID token signed by the first key.
    let app = spawn_app().await;
    let client = app.confidential.clone();
    let (old_token, old_access) = login_and_verify(&app, &client).await;
    let old_kid = header_kid(&old_token.to_string());

    // Act: `keys rotate` adds a newer key; the server reloads.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["keys", "rotate", "--alg", "RS256"])
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .output()
        .expect("keys rotate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The test key has no sidecar: it counts as published at its modification time; make
    // that long ago, so it is plainly the older key.
    let old_path = app.keys_dir.path().join("test-key.pem");
    let f = std::fs::File::options()
        .write(true)
        .open(&old_path)
        .expect("open");
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
        .expect("set mtime");
    app.state.reload_keys(true);
    // The new key is published first and signs only once cached key sets have it.
    let (still_old, _) = login_and_verify(&app, &client).await;
    assert_eq!(header_kid(&still_old.to_string()), old_kid);
    app.clock
        .advance(sekimori::keys::PUBLISH_BEFORE_SIGNING_SECS + 1);

    // Assert: new tokens use the new key; the old ID token still verifies through the JWKS,
    // and the old access token still works at userinfo.
    let (new_token, _) = login_and_verify(&app, &client).await;
    let new_kid = header_kid(&new_token.to_string());
    assert_ne!(old_kid, new_kid);
    let rp = rp_for(&app, &client).await;
    let verifier = verifier_for(&rp).require_issuer_match(true);
    old_token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("old ID token verifies with the rotated JWKS");
    assert_eq!(userinfo_status(&app, &old_access).await, StatusCode::OK);

    // Pruning: nothing while tokens may live; the old key once its successor is old enough.
    let keys = sekimori::keys::KeySet::load(app.keys_dir.path()).expect("load");
    let now = app.clock.now();
    assert!(sekimori::keys::prunable(&keys, now, 3900).is_empty());
    let later = sekimori::keys::prunable(&keys, now + 4000, 3900);
    assert_eq!(later, vec![old_path]);
}

fn header_kid(jwt: &str) -> String {
    let header = crate::helpers::jwt_header(jwt);
    header["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn issuer_with_a_path_serves_both_metadata_documents() {
    let app = spawn_app_at("/auth").await;
    let origin = app.issuer.trim_end_matches("/auth").to_owned();
    let oidc: Value = json(
        app.rp
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("oidc"),
    )
    .await;
    assert_eq!(oidc["issuer"], app.issuer.as_str());
    assert_eq!(oidc["token_endpoint"], app.url("/token"));
    // RFC 8414 §3: path insertion.
    let res = app
        .rp
        .get(format!(
            "{origin}/.well-known/oauth-authorization-server/auth"
        ))
        .send()
        .await
        .expect("rfc8414");
    assert_eq!(res.status(), StatusCode::OK);
    let oauth: Value = json(res).await;
    assert_eq!(oauth["issuer"], app.issuer.as_str());
    // The whole flow works below the path.
    let client = app.confidential.clone();
    login_and_verify(&app, &client).await;
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle_and_at_the_absolute_lifetime() {
    let app = spawn_app().await;
    const DAY: i64 = 24 * 3600;
    // Idle: unused for longer than 14 days.
    let rt = offline_tokens(&app, "openid profile offline_access").await["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    app.clock.advance(15 * DAY);
    assert_eq!(refresh(&app, &rt).await.status(), StatusCode::BAD_REQUEST);

    // Absolute: used every 13 days, the grant still ends 90 days after the login.
    let mut rt = offline_tokens(&app, "openid profile offline_access").await["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    for _ in 0..6 {
        app.clock.advance(13 * DAY);
        let res = refresh(&app, &rt).await;
        assert_eq!(res.status(), StatusCode::OK);
        rt = json(res).await["refresh_token"]
            .as_str()
            .expect("rt")
            .to_owned();
    }
    app.clock.advance(13 * DAY); // day 91
    let res = refresh(&app, &rt).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "invalid_grant");
}

/// `sekimori client update CLIENT_ID --scope SCOPE` against the test's database; the server
/// then forgets its cached copy (otherwise it would see the change within 10 s).
async fn set_client_scope(app: &TestApp, scope: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args([
            "client",
            "update",
            &app.confidential.client_id,
            "--scope",
            scope,
        ])
        .env("DATABASE_URL", &app.database_url)
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.state.forget_client(&app.confidential.client_id).await;
}

#[tokio::test]
async fn a_refresh_keeps_only_what_the_client_is_still_registered_for() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid profile offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    // The operator takes profile away from the client.
    set_client_scope(&app, "openid email offline_access").await;
    let res = refresh(&app, &rt).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json(res).await;
    assert_eq!(body["scope"], "openid offline_access");
    let at = body["access_token"].as_str().expect("at");
    let info: Value = json(
        app.rp
            .get(app.url("/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .expect("userinfo"),
    )
    .await;
    assert!(info.get("name").is_none(), "profile is no longer released");

    // Without offline_access in its registration, the client keeps no offline access.
    set_client_scope(&app, "openid").await;
    let rt = body["refresh_token"].as_str().expect("rt");
    let res = refresh(&app, rt).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(res).await["error"], "invalid_grant");
}
