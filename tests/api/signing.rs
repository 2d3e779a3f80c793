//! ID tokens as a relying party verifies them: ES256 and EdDSA keys, key rotation keeping old
//! tokens verifiable, and an issuer with a path (both metadata documents).

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
    TestApp, TestClient, json, register_with, spawn_app, spawn_app_at, userinfo_status,
};

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
