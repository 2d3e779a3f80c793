//! The refresh_token grant (RFC 6749 §6): rotation, reuse detection, narrowing, lifetimes, and
//! what a client is still registered for.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    TestApp, basic, introspect, json, offline_tokens, refresh, spawn_app, userinfo_status,
};

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
