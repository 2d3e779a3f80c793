//! The main job, as a real relying party does it with the `openidconnect` crate: discovery →
//! authorization URL with PKCE and nonce → login page → code → token exchange → ID token verified
//! against our JWKS → userinfo.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;

use crate::helpers::{
    LoginForm, TestApp, TestClient, USER_EMAIL, USER_NAME, USER_PASSWORD, location_params, param,
    spawn_app,
};

/// Runs the whole flow for `client` with `auth_type`; returns the ID token's `sub` and `auth_time`.
async fn relying_party_flow(
    app: &TestApp,
    client: &TestClient,
    auth_type: AuthType,
    expect_form: bool,
) -> (String, i64) {
    // Arrange: discovery, as every RP library starts.
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.issuer.clone()).expect("issuer"),
        &app.rp,
    )
    .await
    .expect("discovery document accepted by openidconnect");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.client_id.clone()),
        client.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).expect("redirect"))
    .set_auth_type(auth_type);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Act: the browser part.
    let res = app
        .browser
        .get(auth_url.as_str())
        .send()
        .await
        .expect("authorize");
    let redirect = if expect_form {
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.expect("html");
        let form = LoginForm::parse(&html);
        assert!(form.get("csrf_token").is_some_and(|t| t.len() >= 32));
        let res = app.post_login(&html, USER_EMAIL, USER_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        res
    } else {
        assert_eq!(
            res.status(),
            StatusCode::FOUND,
            "an existing session skips the form"
        );
        res
    };
    let (url, pairs) = location_params(&redirect);
    assert!(url.as_str().starts_with(&client.redirect_uri));
    assert_eq!(param(&pairs, "state"), Some(csrf_state.secret().as_str()));
    assert_eq!(
        param(&pairs, "iss"),
        Some(app.issuer.as_str()),
        "RFC 9207 iss"
    );
    let code = param(&pairs, "code").expect("code").to_owned();

    // The RP part: exchange and verify.
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&app.rp)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("id_token");
    let verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");
    assert_eq!(claims.issuer().as_str(), app.issuer);
    assert_eq!(claims.subject().as_str(), app.user_sub);
    let auth_time = claims
        .auth_time()
        .expect("auth_time always present")
        .timestamp();

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint known")
        .request_async(&app.rp)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), app.user_sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some(USER_EMAIL));
    let name = info
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    assert_eq!(name.as_deref(), Some(USER_NAME));
    (claims.subject().as_str().to_owned(), auth_time)
}

#[tokio::test]
async fn confidential_client_with_basic_auth_completes_the_flow() {
    let app = spawn_app().await;
    let client = app.confidential.clone();
    relying_party_flow(&app, &client, AuthType::BasicAuth, true).await;
}

#[tokio::test]
async fn confidential_client_with_post_auth_completes_the_flow() {
    let app = spawn_app().await;
    let client = app.confidential.clone();
    relying_party_flow(&app, &client, AuthType::RequestBody, true).await;
}

#[tokio::test]
async fn public_client_with_pkce_completes_the_flow() {
    let app = spawn_app().await;
    let client = app.public.clone();
    relying_party_flow(&app, &client, AuthType::RequestBody, true).await;
}

#[tokio::test]
async fn second_login_from_another_client_reuses_the_session() {
    // Arrange
    let app = spawn_app().await;
    let (conf, public) = (app.confidential.clone(), app.public.clone());
    let (sub1, auth_time1) = relying_party_flow(&app, &conf, AuthType::BasicAuth, true).await;
    // Act: the same browser, another client: no form.
    let (sub2, auth_time2) = relying_party_flow(&app, &public, AuthType::RequestBody, false).await;
    // Assert
    assert_eq!(sub1, sub2);
    assert_eq!(auth_time1, auth_time2, "auth_time is the original login");
}
