//! Native apps and the loopback redirect (RFC 8252 §7.3, §8.3): a registered `http` redirect
//! URI on a loopback IP literal matches a request with any port and otherwise the identical
//! URI; nothing else varies, and `localhost` or other hosts never get port freedom.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use sekimori::cli::ClientRegistration;
use serde_json::Value;

use crate::helpers::{TestApp, TestClient, location_params, param, register_with, spawn_app};

const REGISTERED: &[&str] = &[
    "http://127.0.0.1/cb",
    "http://127.0.0.1:8080/port",
    "http://[::1]/cb",
    "http://[::1]:8080/port",
    "http://localhost:8080/cb",
    "https://127.0.0.1/secure",
    "http://app.example:8080/cb",
];

/// A first-party confidential client (no consent page) registered with [`REGISTERED`].
async fn native_client(app: &TestApp) -> TestClient {
    let uris: Vec<String> = REGISTERED.iter().map(|s| (*s).to_owned()).collect();
    let mut r = ClientRegistration::new("Native app", &uris, false);
    r.first_party = true;
    register_with(&app.store, r).await
}

fn with_uri(client: &TestClient, uri: &str) -> TestClient {
    TestClient {
        redirect_uri: uri.to_owned(),
        ..client.clone()
    }
}

async fn exchange(app: &TestApp, client: &TestClient, code: &str, uri: &str) -> reqwest::Response {
    app.post_token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", uri),
        ],
        Some((
            &client.client_id,
            client.client_secret.as_deref().unwrap_or_default(),
        )),
    )
    .await
}

#[tokio::test]
async fn a_loopback_ip_redirect_matches_any_port_through_the_token_exchange() {
    // Arrange
    let app = spawn_app().await;
    let client = native_client(&app).await;

    // (request URI, the registered URI it matches)
    for (requested, registered) in [
        ("http://127.0.0.1:51004/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:1/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:9090/port", "http://127.0.0.1:8080/port"),
        ("http://127.0.0.1/port", "http://127.0.0.1:8080/port"),
        ("http://[::1]:51004/cb", "http://[::1]/cb"),
        ("http://[::1]:9090/port", "http://[::1]:8080/port"),
        ("http://[::1]/port", "http://[::1]:8080/port"),
    ] {
        // Act: the whole code flow with the app's port.
        let variant = with_uri(&client, requested);
        let page = app.get_authorize(&variant, &[]).await;
        let res = app.through_login_and_consent(page).await;

        // Assert: the code goes to the port the app listens on…
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_owned();
        assert!(
            location.starts_with(&format!("{requested}?")),
            "{requested}: redirected to {location}"
        );
        let (_, pairs) = location_params(&res);
        let code = param(&pairs, "code").expect("code").to_owned();
        // …and the token request must repeat that URI exactly (RFC 6749 §4.1.3).
        let res = exchange(&app, &client, &code, registered).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{requested}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant");
        let res = exchange(&app, &client, &code, requested).await;
        assert_eq!(res.status(), StatusCode::OK, "{requested}");
        let body: Value = res.json().await.expect("json");
        assert!(body["id_token"].is_string());
    }
}

#[tokio::test]
async fn every_other_variation_of_a_loopback_redirect_renders_the_error_page() {
    // Arrange
    let app = spawn_app().await;
    let client = native_client(&app).await;

    for requested in [
        // Path, host, scheme, query, userinfo, fragment, trailing slash.
        "http://127.0.0.1:51004/other",
        "http://127.0.0.2:51004/cb",
        "http://127.0.0.2/cb",
        "http://localhost:51004/cb",
        "http://localhost/cb",
        "https://127.0.0.1:51004/cb",
        "https://127.0.0.1/cb",
        "HTTP://127.0.0.1:51004/cb",
        "http://127.0.0.1:51004/cb?x=1",
        "http://127.0.0.1/cb?x=1",
        "http://user@127.0.0.1:51004/cb",
        "http://user:pw@127.0.0.1/cb",
        "http://127.0.0.1:51004/cb#frag",
        "http://127.0.0.1:51004/cb/",
        "http://127.0.0.1/cb/",
        "http://[::1]:51004/other",
        "http://[::1]:51004/cb?x=1",
        "http://[0:0:0:0:0:0:0:1]:51004/cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:65536/cb",
        "http://127.0.0.1:51004",
        // localhost never gets port freedom (RFC 8252 §8.3), nor https, nor other hosts.
        "http://localhost:8081/cb",
        "http://localhost/cb",
        "https://127.0.0.1:8443/secure",
        "http://app.example:8081/cb",
        "http://app.example/cb",
    ] {
        // Act
        let res = app.get_authorize(&with_uri(&client, requested), &[]).await;

        // Assert: the error page, never a redirect (RFC 6749 §4.1.2.1).
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{requested}");
        assert!(res.headers().get(LOCATION).is_none(), "{requested}");
        let html = res.text().await.expect("html");
        assert!(html.contains("unregistered_redirect_uri"), "{requested}");
    }
    // The registered non-loopback URIs still work exactly as registered.
    for exact in [
        "http://localhost:8080/cb",
        "https://127.0.0.1/secure",
        "http://app.example:8080/cb",
    ] {
        let code = app
            .authorize_and_login(&with_uri(&client, exact), &[])
            .await;
        let res = exchange(&app, &client, &code, exact).await;
        assert_eq!(res.status(), StatusCode::OK, "{exact}");
    }
}
