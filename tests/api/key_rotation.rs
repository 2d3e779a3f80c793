//! Key rotation that never breaks a relying party: a new key is published in the JWKS first
//! and signs only after every cached JWKS has expired (`PUBLISH_BEFORE_SIGNING_SECS`), at a
//! time every node derives from the key's sidecar.

use std::collections::HashSet;

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;
use serde_json::Value;

use crate::helpers::{TestApp, TestClient, register_with, spawn_app};

/// A confidential client that may use client_credentials: tokens on demand, no browser.
async fn service_client(app: &TestApp) -> TestClient {
    let mut r = ClientRegistration::new("Service", &["https://svc.example/cb".into()], false);
    r.grant_types = vec!["client_credentials".into()];
    register_with(&app.store, r).await
}

/// The `kid` of a fresh access token from `base`'s token endpoint.
async fn token_kid(app: &TestApp, base: &str, client: &TestClient) -> String {
    let res = app
        .rp
        .post(format!("{base}/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("POST /token");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let jwt = body["access_token"].as_str().expect("access_token");
    let header: Value = serde_json::from_slice(&crate::helpers::base64_decode(
        jwt.split('.').next().expect("header"),
    ))
    .expect("header json");
    header["kid"].as_str().expect("kid").to_owned()
}

/// A relying party's JWKS cache: the kids it holds, when it fetched them, for how long.
struct CachedJwks {
    kids: HashSet<String>,
    fetched_at: i64,
    max_age: i64,
}

impl CachedJwks {
    async fn fetch(app: &TestApp, base: &str) -> Self {
        let res = app
            .rp
            .get(format!("{base}/jwks"))
            .send()
            .await
            .expect("GET /jwks");
        let max_age = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("max-age=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .expect("Cache-Control max-age");
        let jwks: Value = res.json().await.expect("json");
        Self {
            kids: jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| k["kid"].as_str().expect("kid").to_owned())
                .collect(),
            fetched_at: app.clock.now(),
            max_age,
        }
    }
}

/// Records that the test key (written at spawn, no sidecar) has signed since long ago, as the
/// key of a running deployment has.
fn age_test_key(app: &TestApp) {
    let path = app.keys_dir.path().join("test-key.pem");
    std::fs::write(sekimori::keys::meta_path(&path), r#"{"signs_from": 0}"#).expect("sidecar");
    app.state.reload_keys(true);
}

fn rotate(app: &TestApp) -> (Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["keys", "rotate", "--alg", "RS256"])
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .env("RUST_LOG", "info")
        .env_remove("SEKIMORI_LOG_FORMAT")
        .output()
        .expect("keys rotate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).expect("json"), stderr)
}

#[tokio::test]
async fn a_relying_party_caching_the_jwks_never_meets_an_unknown_kid_during_rotation() {
    // Arrange: two nodes behind one issuer, a relying party that cached the JWKS, a client.
    let app = spawn_app().await;
    age_test_key(&app);
    let client = service_client(&app).await;
    let node_a = app.issuer.clone();
    let mut cache = CachedJwks::fetch(&app, &node_a).await;
    assert_eq!(cache.max_age, sekimori::keys::JWKS_MAX_AGE_SECS);
    let old_kid = token_kid(&app, &node_a, &client).await;

    // Act: `keys rotate`; node A reloads at once, node B starts afterwards (both load it).
    let (rotated, stderr) = rotate(&app);
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    let signs_from = rotated["signs_from"].as_i64().expect("signs_from");
    assert!(stderr.contains("sign with it from"), "{stderr}");
    assert!(stderr.contains("key_rotated"), "audit event: {stderr}");
    app.state.reload_keys(true);
    let node_b = app.spawn_node().await;
    let start = app.clock.now();
    assert!(
        signs_from >= start + sekimori::keys::JWKS_MAX_AGE_SECS,
        "the key signs only after every cached JWKS expired"
    );

    // Assert: for the next 150 s, every token from either node has a kid the relying party
    // holds (it refetches only when its copy is older than max-age), and both nodes switch at
    // the same second.
    let mut seen_new_at = None;
    for step in 0..150u8 {
        let now = app.clock.now();
        if now - cache.fetched_at >= cache.max_age {
            cache = CachedJwks::fetch(&app, &node_a).await;
        }
        let kid_a = token_kid(&app, &node_a, &client).await;
        let kid_b = token_kid(&app, &node_b, &client).await;
        assert!(
            cache.kids.contains(&kid_a) && cache.kids.contains(&kid_b),
            "step {step}: unknown kid for a relying party whose JWKS is {} s old",
            now - cache.fetched_at
        );
        // A wall-clock second may tick between our reading and the server's: the step just
        // before the switch may go either way.
        if now + 1 < signs_from {
            assert_eq!(
                (kid_a.as_str(), kid_b.as_str()),
                (old_kid.as_str(), old_kid.as_str()),
                "step {step}: the old key signs on both nodes until {signs_from}"
            );
        } else if now >= signs_from {
            assert_eq!(
                (kid_a.as_str(), kid_b.as_str()),
                (new_kid.as_str(), new_kid.as_str()),
                "step {step}: the new key signs on both nodes from {signs_from}"
            );
            // The clock's time, not the step: the test clock runs on with the wall clock, so
            // under load more than one second may pass per step.
            seen_new_at.get_or_insert(now);
        }
        app.clock.advance(1);
    }
    // The switch came at the recorded time: the first step that saw the new key ran in the
    // second it starts signing or just after (wall-clock seconds tick on between steps; the
    // per-step checks above already pin the switch to the recorded second).
    let switched = seen_new_at.expect("the new key signed in the end");
    assert!(
        (0..=3).contains(&(switched - signs_from)),
        "switched at {switched}, expected {signs_from} (rotation at {start})"
    );
}

#[tokio::test]
async fn keys_list_shows_a_published_key_and_when_it_will_sign() {
    // Arrange
    let app = spawn_app().await;
    age_test_key(&app);
    let (rotated, _) = rotate(&app);
    let new_kid = rotated["kid"].as_str().expect("kid");

    // Act
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["keys", "list"])
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .output()
        .expect("keys list");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);

    // Assert: the new key is published and signs later; the old RS256 key still signs.
    let line = |kid: &str| {
        stdout
            .lines()
            .find(|l| l.contains(kid))
            .unwrap_or_else(|| panic!("{kid} listed in {stdout}"))
            .to_owned()
    };
    assert!(
        line(new_kid).contains("\tpublished, signs from 20"),
        "{stdout}"
    );
    let rs256_signing = stdout
        .lines()
        .filter(|l| l.starts_with("RS256\t") && l.contains("\tsigning\t"))
        .count();
    assert_eq!(rs256_signing, 1, "{stdout}");
    // A sidecar next to the key records the switch time every node reads.
    let path = std::path::PathBuf::from(rotated["path"].as_str().expect("path"));
    let meta: Value =
        serde_json::from_slice(&std::fs::read(sekimori::keys::meta_path(&path)).expect("sidecar"))
            .expect("json");
    assert_eq!(meta["signs_from"], rotated["signs_from"]);
}
