//! Dynamic registration cannot grant itself power (RFC 7591 §2, §5): scopes and grant types
//! come only from the operator's allow-lists (`--registration-scopes`,
//! `--registration-grant-types`), at registration and at an RFC 7592 update; `client add`
//! stays unlimited.

use reqwest::StatusCode;
use sekimori::config::ServeConfig;
use serde_json::{Value, json};

use crate::helpers::{Spawn, TestApp, spawn};

/// A server with open registration and the given policy (`None`: the default).
async fn open_app(scopes: Option<&str>, grant_types: Option<&str>) -> TestApp {
    let mut serve = ServeConfig {
        open_registration: true,
        ..ServeConfig::default()
    };
    if let Some(s) = scopes {
        serve.registration_scopes = s.to_owned();
    }
    if let Some(g) = grant_types {
        serve.registration_grant_types = g.to_owned();
    }
    spawn(Spawn {
        serve: Some(serve),
        ..Spawn::default()
    })
    .await
}

async fn register(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app
        .rp
        .post(app.url("/register"))
        .json(&body)
        .send()
        .await
        .expect("POST /register");
    let status = res.status();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, res.json().await.expect("JSON body"))
}

fn assert_refused(status: StatusCode, body: &Value, needle: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    let description = body["error_description"].as_str().expect("description");
    assert!(description.contains(needle), "{description}");
}

#[tokio::test]
async fn registration_refuses_a_scope_outside_the_allow_list() {
    // Arrange
    let app = open_app(None, None).await;

    // Act + Assert: an unknown scope, and a scope an operator would give only by hand.
    for scope in ["openid profile admin", "openid introspection"] {
        let (status, body) = register(
            &app,
            json!({"redirect_uris": ["https://app.example/cb"], "scope": scope}),
        )
        .await;
        let bad = scope.rsplit(' ').next().expect("last scope");
        assert_refused(status, &body, &format!("{bad:?}"));
    }
    // Every default OpenID scope is fine.
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid profile email address phone offline_access"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["scope"],
        "openid profile email address phone offline_access"
    );
    // No scope asked: the OpenID defaults, plus offline_access for a refresh_token client.
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn registration_refuses_client_credentials_and_password_by_default() {
    let app = open_app(None, None).await;
    let (status, body) = register(
        &app,
        json!({"grant_types": ["client_credentials"], "response_types": []}),
    )
    .await;
    assert_refused(status, &body, "\"client_credentials\"");
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "password"]}),
    )
    .await;
    assert_refused(status, &body, "\"password\"");
}

#[tokio::test]
async fn client_credentials_registration_works_when_the_policy_allows_it() {
    // Arrange
    let app = open_app(
        None,
        Some("authorization_code,refresh_token,client_credentials"),
    )
    .await;

    // Act
    let (status, body) = register(
        &app,
        json!({"grant_types": ["client_credentials"], "response_types": [], "scope": "openid profile"}),
    )
    .await;

    // Assert: registered, and the grant really works at the token endpoint.
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["client_id"].as_str().expect("client_id");
    let secret = body["client_secret"].as_str().expect("client_secret");
    let res = app
        .post_token(&[("grant_type", "client_credentials")], Some((id, secret)))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // password stays refused: only what the policy names.
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["password"]}),
    )
    .await;
    assert_refused(status, &body, "\"password\"");
}

#[tokio::test]
async fn a_narrower_allow_list_narrows_registration() {
    let app = open_app(Some("openid profile"), None).await;
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid email"}),
    )
    .await;
    assert_refused(status, &body, "\"email\"");
    // Defaults are cut to the list; offline_access is not added when it is not on it.
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scope"], "openid profile");
}

#[tokio::test]
async fn a_registration_update_obeys_the_same_policy() {
    // Arrange
    let app = open_app(None, None).await;
    let (status, created) = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid profile"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let uri = created["registration_client_uri"].as_str().expect("uri");
    let rat = created["registration_access_token"].as_str().expect("rat");
    let put = |body: Value| app.rp.put(uri).bearer_auth(rat).json(&body).send();

    // Act + Assert: widening the scope or the grant types is refused (RFC 7592 §2.2).
    let res = put(json!({"client_id": created["client_id"], "redirect_uris": ["https://app.example/cb"], "scope": "openid admin"}))
        .await
        .expect("PUT");
    let status = res.status();
    assert_refused(status, &res.json().await.expect("json"), "\"admin\"");
    let res = put(json!({"client_id": created["client_id"], "redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "client_credentials"]}))
        .await
        .expect("PUT");
    let status = res.status();
    assert_refused(
        status,
        &res.json().await.expect("json"),
        "\"client_credentials\"",
    );
    // Nothing changed.
    let now: Value = app
        .rp
        .get(uri)
        .bearer_auth(rat)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(now["scope"], "openid profile");
    assert_eq!(now["grant_types"], json!(["authorization_code"]));
    // An update inside the policy is fine.
    let res = put(json!({"client_id": created["client_id"], "redirect_uris": ["https://app.example/cb"], "scope": "openid email"}))
        .await
        .expect("PUT");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_operator_may_give_any_scope_with_client_add() {
    let app = open_app(None, None).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args([
            "client",
            "add",
            "--name",
            "Back office",
            "--redirect-uri",
            "https://office.example/cb",
            "--scope",
            "openid admin:all",
            "--grant-type",
            "client_credentials",
        ])
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "info")
        .env_remove("SEKIMORI_LOG_FORMAT")
        .output()
        .expect("client add");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = v["client_id"].as_str().expect("client_id");
    let client = app
        .store
        .find_client(id)
        .await
        .expect("db")
        .expect("client");
    assert_eq!(client.scope, vec!["openid", "admin:all"]);
    // The registration is an audit event.
    assert!(stderr.contains("client_registered"), "{stderr}");
}

#[tokio::test]
async fn a_bad_policy_setting_stops_the_server_with_a_reason() {
    let keys = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    let common = sekimori::config::CommonConfig {
        config: None,
        database_url: format!("sqlite://{}/s.db?mode=rwc", db.path().display()),
        keys_dir: keys.path().to_owned(),
        issuer: Some("http://127.0.0.1:1".into()),
        db_acquire_timeout_ms: 3000,
    };
    for (scopes, grants, needle) in [
        ("openid bad\"scope", "authorization_code", "bad\\\"scope"),
        ("openid", "authorization_code implicit", "\"implicit\""),
    ] {
        let serve = ServeConfig {
            registration_scopes: scopes.into(),
            registration_grant_types: grants.into(),
            ..ServeConfig::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let err = sekimori::app::Application::build_on(
            listener,
            &common,
            &serve,
            sekimori::clock::Clock::system(),
        )
        .await
        .err()
        .expect("refused");
        assert!(err.to_string().contains(needle), "{err}");
    }
}
