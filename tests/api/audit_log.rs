//! Audit events (docs/operations.md): rejected authorization requests, consent, logout and
//! client registration each write one structured `sekimori::audit` line, and none carries a
//! code or token.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;
use sekimori::config::ServeConfig;
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::{
    REDIRECT_URI, Spawn, TestApp, form, location_params, param, register_with, spawn, spawn_app,
};

/// Collects JSON log lines written on this thread. `#[tokio::test]` runs the server's tasks
/// on the test's own thread, so the server's events land here too.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

struct Capture {
    lines: Lines,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Capture {
    fn start() -> Self {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(lines.clone())
            .with_max_level(tracing::Level::INFO)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // Other tests' subscribers come and go on their own threads; make every callsite
        // re-ask which subscribers want it, ours included.
        tracing::callsite::rebuild_interest_cache();
        Self {
            _guard: guard,
            lines,
        }
    }

    /// Call right before the action under test: a callsite registered on another thread at the
    /// same moment our subscriber was installed may have cached "nobody listens" (a known race
    /// in `tracing`'s interest cache between concurrently running tests); ask again.
    fn ready(&self) {
        tracing::callsite::rebuild_interest_cache();
    }

    /// The fields of every audit event named `event`.
    fn events(&self, event: &str) -> Vec<Value> {
        let bytes = self.lines.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "sekimori::audit")
            .map(|v| v["fields"].clone())
            .filter(|f| f["event"] == event)
            .collect()
    }

    fn all_text(&self) -> String {
        String::from_utf8_lossy(&self.lines.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn a_refused_authorization_request_is_logged_with_both_redirect_uris() {
    // Arrange
    let capture = Capture::start();
    let app = spawn_app().await;

    // Act: an unregistered redirect_uri, and an unknown client.
    capture.ready();
    let evil = "https://evil.example/cb";
    let res = app
        .get_authorize(&app.confidential, &[("redirect_uri", evil)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let mut unknown = app.confidential.clone();
    unknown.client_id = "no-such-client".into();
    let res = app.get_authorize(&unknown, &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Assert
    let events = capture.events("authorization_rejected");
    assert_eq!(events.len(), 2, "{}", capture.all_text());
    let e = &events[0];
    assert_eq!(e["reason"], "unregistered_redirect_uri");
    assert_eq!(e["client_id"], app.confidential.client_id.as_str());
    assert_eq!(e["source"], "127.0.0.1");
    let detail = e["detail"].as_str().expect("detail");
    assert!(
        detail.contains(evil) && detail.contains(REDIRECT_URI),
        "{detail}"
    );
    assert_eq!(events[1]["reason"], "unknown_client");
    assert_eq!(events[1]["client_id"], "no-such-client");
}

#[tokio::test]
async fn consent_and_logout_are_logged_without_codes_or_tokens() {
    // Arrange
    let capture = Capture::start();
    let app = spawn_app().await;
    let client = register_with(
        &app.store,
        ClientRegistration::new("Third party", &["https://rp.example/cb".into()], false),
    )
    .await;

    // Act: consent, then RP-initiated logout with the ID token as hint.
    capture.ready();
    let res = app.get_authorize(&client, &[]).await;
    let res = app.through_login_and_consent(res).await;
    let (_, pairs) = location_params(&res);
    let code = param(&pairs, "code").expect("code").to_owned();
    let tokens: Value = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
            ],
            Some((
                &client.client_id,
                client.client_secret.as_deref().unwrap_or_default(),
            )),
        )
        .await
        .json()
        .await
        .expect("json");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let url = format!(
        "{}?{}",
        app.url("/logout"),
        form(&[("id_token_hint", id_token)])
    );
    let res = app.browser.get(url).send().await.expect("logout");
    assert_eq!(res.status(), StatusCode::OK);

    // Assert
    let consent = capture.events("consent_given");
    assert_eq!(consent.len(), 1, "{}", capture.all_text());
    assert_eq!(consent[0]["sub"], app.user_sub.as_str());
    assert_eq!(consent[0]["account"], crate::helpers::USER_EMAIL);
    assert_eq!(consent[0]["client_id"], client.client_id.as_str());
    assert!(
        consent[0]["detail"]
            .as_str()
            .expect("detail")
            .contains("openid profile email")
    );
    let logout = capture.events("logout");
    assert_eq!(logout.len(), 1, "{}", capture.all_text());
    assert_eq!(logout[0]["sub"], app.user_sub.as_str());
    assert_eq!(logout[0]["account"], crate::helpers::USER_EMAIL);
    assert_eq!(logout[0]["client_id"], client.client_id.as_str());
    assert_eq!(logout[0]["reason"], "id_token_hint");
    let text = capture.all_text();
    assert!(!text.contains(&code), "no code in the log");
    assert!(!text.contains(id_token), "no token in the log");
}

#[tokio::test]
async fn a_dynamic_registration_is_logged() {
    // Arrange
    let capture = Capture::start();
    let app: TestApp = spawn(Spawn {
        serve: Some(ServeConfig {
            open_registration: true,
            ..ServeConfig::default()
        }),
        ..Spawn::default()
    })
    .await;

    // Act
    capture.ready();
    let res = app
        .rp
        .post(app.url("/register"))
        .json(&json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid email"}))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");

    // Assert
    let events = capture.events("client_registered");
    assert_eq!(events.len(), 1, "{}", capture.all_text());
    assert_eq!(events[0]["client_id"], body["client_id"]);
    assert_eq!(events[0]["reason"], "dynamic_registration");
    assert!(
        events[0]["detail"]
            .as_str()
            .expect("detail")
            .contains("openid email")
    );
    let secret = body["client_secret"].as_str().expect("secret");
    let rat = body["registration_access_token"].as_str().expect("rat");
    let text = capture.all_text();
    assert!(!text.contains(secret) && !text.contains(rat), "no secrets");
}
