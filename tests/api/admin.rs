//! The admin command line against a running server: disabling, re-enabling, changing the
//! password of and removing users; showing, rotating the secret of and removing clients.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    TestApp, USER_EMAIL, USER_PASSWORD, offline_tokens, spawn_app, userinfo_status,
};

fn cli(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("SEKIMORI_KEYS_DIR", app.keys_dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sekimori");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test]
async fn disabling_a_user_revokes_tokens_and_sessions_and_enabling_restores_login() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    cli(&app, &["user", "disable", USER_EMAIL], None);

    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
    let c = app.confidential.clone();
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            Some((&c.client_id, c.client_secret.as_deref().expect("secret"))),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The browser session no longer counts, and the password no longer works (the right
    // password is told the account is disabled: issue 19).
    let page = app.get_authorize(&c, &[]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    let res = app.post_login(&html, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("This account is disabled.")
    );
    let list = cli(&app, &["user", "list", "--json"], None);
    let line: Value =
        serde_json::from_slice(list.stdout.split(|b| *b == b'\n').next().expect("line"))
            .expect("json");
    assert_eq!(line["status"], "disabled");

    cli(&app, &["user", "enable", USER_EMAIL], None);
    app.authorize_and_login(&c, &[("prompt", "login")]).await;
}

#[tokio::test]
async fn passwd_replaces_the_password_and_remove_revokes_everything() {
    let app = spawn_app().await;
    cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "the old password fails");
    let res = app
        .post_login(&page, USER_EMAIL, "a brand new passphrase")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the new one works");

    let tokens = offline_tokens(&app, "openid offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(userinfo_status(&app, at).await, StatusCode::OK);
    cli(&app, &["user", "remove", USER_EMAIL], None);
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_show_rotate_secret_and_remove() {
    let app = spawn_app().await;
    let c = app.confidential.clone();
    let old = c.client_secret.clone().expect("secret");
    let shown = cli(&app, &["client", "show", &c.client_id], None);
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["client_id"], c.client_id.as_str());
    assert!(shown.get("client_secret").is_none());
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&shown).expect("json")).contains(&old));

    let tokens = offline_tokens(&app, "openid offline_access").await; // caches the client on the server
    let rotated = cli(&app, &["client", "rotate-secret", &c.client_id], None);
    let rotated: Value = serde_json::from_slice(&rotated.stdout).expect("json");
    let new = rotated["client_secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    // The new secret works at once, even where the old registration is cached.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("rt"),
                ),
            ],
            Some((&c.client_id, &new)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.expect("json");

    cli(&app, &["client", "remove", &c.client_id], None);
    let at = refreshed["access_token"].as_str().expect("at");
    assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
    let list = cli(&app, &["client", "list"], None);
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&c.client_id));
}

#[tokio::test]
async fn imported_bcrypt_users_log_in_and_are_upgraded_to_argon2id() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The tutorial's users table stored bcrypt hashes.
    let carol = bcrypt::hash("carol's old password", 4).expect("bcrypt");
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        format!("email,name,password_hash\ncarol@example.com,Carol,{carol}\nbad@example.com,Bad,md5:abc\n"),
    )
    .expect("write");
    let out = cli(&app, &["user", "import", csv.to_str().expect("path")], None);
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("imported 1 user(s), skipped 1"), "{report}");
    let dave = bcrypt::hash("dave's password", 4).expect("bcrypt");
    let jsonl = dir.path().join("users.jsonl");
    std::fs::write(
        &jsonl,
        format!(
            "{}\n",
            serde_json::json!({"email": "dave@example.com", "name": "Dave", "password_hash": dave})
        ),
    )
    .expect("write");
    cli(
        &app,
        &["user", "import", jsonl.to_str().expect("path")],
        None,
    );

    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let res = app
        .post_login(&page, "carol@example.com", "carol's old password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let stored = app
        .store
        .find_user_by_email("carol@example.com")
        .await
        .expect("db")
        .expect("carol");
    assert!(stored.password_hash.starts_with("$argon2id$"), "upgraded");
    assert!(
        app.store
            .find_user_by_email("dave@example.com")
            .await
            .expect("db")
            .is_some()
    );
}

#[tokio::test]
async fn client_update_changes_only_what_is_given() {
    let app = spawn_app().await;
    let c = app.confidential.clone();
    let out = cli(
        &app,
        &[
            "client",
            "update",
            &c.client_id,
            "--name",
            "Renamed",
            "--redirect-uri",
            "https://new.example/cb",
        ],
        None,
    );
    let updated: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        serde_json::json!(["https://new.example/cb"])
    );
    assert_eq!(
        updated["scope"], "openid profile email offline_access",
        "unchanged"
    );
    assert_eq!(updated["first_party"], true, "unchanged");
    let mut moved = c.clone();
    moved.redirect_uri = "https://new.example/cb".into();
    let code = app.authorize_and_login(&moved, &[]).await;
    assert!(!code.is_empty());
    // The old URI is no longer registered.
    let res = app.get_authorize(&c, &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
