//! Issue 11 §2, §4 and §8: events end what they should (a password change or disable ends every
//! browser session on every node, every refresh token and every access token, whatever grant
//! issued it; enabling again revives none of them), accounts that cannot be confused (one email
//! normalization, twins refused saying why, no bidirectional overrides in names), and CLI
//! commands that neither create a stray database nor hide which one they changed.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    LoginForm, TestApp, TestClient, USER_EMAIL, USER_PASSWORD, basic, form, fresh_database_url,
    offline_tokens, refresh, register_with, spawn_app, userinfo,
};

/// Runs `sekimori` against the test's database; returns its output whatever the exit status.
fn sekimori(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("SEKIMORI_ISSUER")
        .env_remove("SEKIMORI_BIND")
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
    child.wait_with_output().expect("wait")
}

/// Runs `sekimori` against the app's database and asserts success.
fn cli(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let out = sekimori(&app.database_url, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `GET /authorize` for the confidential client on the node at `base` (same issuer, another
/// port: the browser's cookie goes along, as behind a load balancer).
async fn authorize_on(app: &TestApp, base: &str) -> reqwest::Response {
    let url = app
        .authorize_url(&app.confidential, &[])
        .replacen(&app.issuer, base, 1);
    app.browser.get(url).send().await.expect("GET /authorize")
}

/// Whether an `/authorize` answer is the login form (the browser is not logged in).
async fn shows_login_form(res: reqwest::Response) -> bool {
    res.status() == StatusCode::OK
        && res
            .text()
            .await
            .is_ok_and(|html| html.contains("name=\"password\""))
}

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
    res.json().await.expect("json")
}

/// Asserts an RFC 6750 `invalid_token` answer.
async fn assert_invalid_token(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

/// Asserts a `400 invalid_grant` token answer.
async fn assert_invalid_grant(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

/// A confidential client registered for the password grant (as lifecycle.rs does).
async fn password_client(app: &TestApp) -> TestClient {
    let mut reg = sekimori::cli::ClientRegistration::new(
        "Tutorial app",
        &["https://legacy.example/cb".to_owned()],
        false,
    );
    reg.grant_types = vec!["password".into()];
    register_with(&app.store, reg).await
}

async fn password_grant(app: &TestApp, client: &TestClient, username: &str) -> reqwest::Response {
    app.post_token(
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", USER_PASSWORD),
            ("scope", "openid profile"),
        ],
        basic(client),
    )
    .await
}

// ---- §2: events end what they should ----

#[tokio::test]
async fn password_change_ends_browser_sessions_on_another_node_and_every_token() {
    // Arrange: two nodes on one database; the browser logged in on A, with tokens.
    let app = spawn_app().await;
    let node_b = app.spawn_node().await;
    let tokens = offline_tokens(&app, "openid offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let before = authorize_on(&app, &node_b).await;
    assert_eq!(before.status(), StatusCode::FOUND, "B honours A's session");

    // Act
    let out = cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );

    // Assert: the session is over on both nodes, the tokens are dead.
    assert!(
        stderr(&out).contains("password_changed"),
        "{}",
        stderr(&out)
    );
    assert!(shows_login_form(authorize_on(&app, &node_b).await).await);
    assert!(shows_login_form(authorize_on(&app, &app.issuer).await).await);
    assert_invalid_token(userinfo(&app, at).await).await;
    assert_eq!(
        introspect(&app, &app.confidential, at).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &app.confidential, rt).await,
        json!({"active": false})
    );
    assert_invalid_grant(refresh(&app, rt).await).await;
}

#[tokio::test]
async fn refresh_with_a_token_from_before_a_password_change_is_invalid_grant() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt");
    // The grant works before the change.
    let res = refresh(&app, rt).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.expect("json");
    let rt = rotated["refresh_token"].as_str().expect("rotated rt");

    cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );

    assert_invalid_grant(refresh(&app, rt).await).await;
    // A new login with the new password starts a grant that works.
    let page = app
        .get_authorize(
            &app.confidential,
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;
    let html = page.text().await.expect("html");
    let res = app
        .post_login(&html, USER_EMAIL, "a brand new passphrase")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_code_issued_before_a_password_change_is_not_redeemed() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;

    cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );

    assert_invalid_grant(app.redeem(&code, &[]).await).await;
}

#[tokio::test]
async fn userinfo_with_an_access_token_from_before_a_password_change_is_invalid_token() {
    let app = spawn_app().await;
    let tokens = offline_tokens(&app, "openid offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(userinfo(&app, at).await.status(), StatusCode::OK);

    cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );

    assert_invalid_token(userinfo(&app, at).await).await;
}

#[tokio::test]
async fn disable_ends_sessions_on_another_node_and_enable_revives_nothing() {
    // Arrange
    let app = spawn_app().await;
    let node_b = app.spawn_node().await;
    let tokens = offline_tokens(&app, "openid offline_access").await;
    let at = tokens["access_token"].as_str().expect("at");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    assert_eq!(
        authorize_on(&app, &node_b).await.status(),
        StatusCode::FOUND
    );

    // Act: disable, then enable again, with no request in between (nothing saw the session
    // while the account was disabled).
    let disabled = cli(&app, &["user", "disable", USER_EMAIL], None);
    let enabled = cli(&app, &["user", "enable", USER_EMAIL], None);

    // Assert: nothing from before comes back, on either node.
    assert!(stderr(&disabled).contains("account_disabled"));
    assert!(stderr(&enabled).contains("account_enabled"));
    assert!(shows_login_form(authorize_on(&app, &node_b).await).await);
    assert!(shows_login_form(authorize_on(&app, &app.issuer).await).await);
    assert_invalid_token(userinfo(&app, at).await).await;
    assert_eq!(
        introspect(&app, &app.confidential, at).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &app.confidential, rt).await,
        json!({"active": false})
    );
    assert_invalid_grant(refresh(&app, rt).await).await;
    // The account itself works again: a new login.
    app.authorize_and_login(&app.confidential, &[]).await;
}

#[tokio::test]
async fn disable_ends_browser_sessions_on_another_node() {
    let app = spawn_app().await;
    let node_b = app.spawn_node().await;
    app.authorize_and_login(&app.confidential, &[]).await;
    assert_eq!(
        authorize_on(&app, &node_b).await.status(),
        StatusCode::FOUND
    );

    cli(&app, &["user", "disable", USER_EMAIL], None);

    assert!(shows_login_form(authorize_on(&app, &node_b).await).await);
    // The password no longer logs in either.
    let page = app.get_authorize(&app.confidential, &[]).await;
    let html = page.text().await.expect("html");
    let res = app.post_login(&html, USER_EMAIL, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn introspection_of_a_disabled_users_password_grant_token_is_inactive() {
    // Arrange
    let app = spawn_app().await;
    let legacy = password_client(&app).await;
    let res = password_grant(&app, &legacy, USER_EMAIL).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.expect("json");
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(introspect(&app, &legacy, at).await["active"], true);

    // Act + Assert: inactive once disabled, and still after enable (RFC 7662 §2.2).
    cli(&app, &["user", "disable", USER_EMAIL], None);
    assert_eq!(
        introspect(&app, &legacy, at).await,
        json!({"active": false})
    );
    cli(&app, &["user", "enable", USER_EMAIL], None);
    assert_eq!(
        introspect(&app, &legacy, at).await,
        json!({"active": false})
    );
    assert_invalid_token(userinfo(&app, at).await).await;

    // A removed user's password-grant token is inactive too.
    let res = password_grant(&app, &legacy, USER_EMAIL).await;
    let fresh: Value = res.json().await.expect("json");
    let at = fresh["access_token"].as_str().expect("at");
    assert_eq!(introspect(&app, &legacy, at).await["active"], true);
    cli(&app, &["user", "remove", USER_EMAIL], None);
    assert_eq!(
        introspect(&app, &legacy, at).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn a_password_change_ends_password_grant_tokens() {
    let app = spawn_app().await;
    let legacy = password_client(&app).await;
    let res = password_grant(&app, &legacy, USER_EMAIL).await;
    let tokens: Value = res.json().await.expect("json");
    let at = tokens["access_token"].as_str().expect("at");

    cli(
        &app,
        &["user", "passwd", USER_EMAIL, "--password-stdin"],
        Some("a brand new passphrase\n"),
    );

    assert_eq!(
        introspect(&app, &legacy, at).await,
        json!({"active": false})
    );
    assert_invalid_token(userinfo(&app, at).await).await;
}

#[tokio::test]
async fn withdrawing_consent_at_the_cli_is_an_audit_event() {
    let app = spawn_app().await;
    let consent = sekimori::cli::ClientRegistration::new(
        "Third party",
        &["https://third.example/cb".to_owned()],
        false,
    );
    let third = register_with(&app.store, consent).await;
    app.store
        .save_consent(&app.user_sub, &third.client_id, "openid", 1)
        .await
        .expect("consent");
    let out = cli(
        &app,
        &["user", "consents", USER_EMAIL, "--revoke", &third.client_id],
        None,
    );
    let err = stderr(&out);
    assert!(err.contains("consent_revoked"), "{err}");
    assert!(err.contains(&third.client_id), "{err}");
}

// ---- §4: accounts that cannot be confused ----

#[tokio::test]
async fn a_user_added_with_capitals_logs_in_with_lower_case() {
    // Arrange
    let app = spawn_app().await;
    let out = cli(
        &app,
        &[
            "user",
            "add",
            "--email",
            "Bob@Example.COM",
            "--name",
            "Bob",
            "--password-stdin",
        ],
        Some(&format!("{USER_PASSWORD}\n")),
    );
    let added: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(added["email"], "bob@example.com");

    // Act
    let page = app.get_authorize(&app.confidential, &[]).await;
    let html = page.text().await.expect("html");
    let res = app
        .post_login(&html, "bob@example.com", USER_PASSWORD)
        .await;

    // Assert
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Fullwidth and upper-case spellings reach the same account, at login and in a hint.
    let page = app
        .get_authorize(
            &app.confidential,
            &[("prompt", "login"), ("login_hint", "BOB@EXAMPLE.COM")],
        )
        .await;
    let html = page.text().await.expect("html");
    assert_eq!(
        LoginForm::parse(&html).get("email"),
        Some("bob@example.com")
    );
    let res = app
        .post_login(&html, "\u{FF42}\u{FF4F}\u{FF42}@example.com", USER_PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn twins_of_an_existing_address_are_refused_saying_which() {
    let app = spawn_app().await;
    let add = |email: &str| {
        sekimori(
            &app.database_url,
            &[
                "user",
                "add",
                "--email",
                email,
                "--name",
                "Twin",
                "--password-stdin",
            ],
            Some("a long enough password\n"),
        )
    };
    let first = add("jos\u{e9}@example.com");
    assert!(first.status.success(), "{}", stderr(&first));

    // Duplicates: the NFD twin, the fullwidth twin, another case.
    for twin in [
        "jose\u{301}@example.com",
        "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}@example.com",
        "ALICE@Example.com",
    ] {
        let out = add(twin);
        assert!(!out.status.success(), "{twin:?} was accepted");
        let err = stderr(&out);
        assert!(err.starts_with("error: duplicate email"), "{twin:?}: {err}");
        assert!(
            err.contains("jos\u{e9}@example.com") || err.contains(USER_EMAIL),
            "names the existing account: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // Invalid: a zero-width character, named.
    let out = add("al\u{200B}ice@example.com");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("error: invalid email"), "{err}");
    assert!(err.contains("U+200B"), "{err}");
    // Longer than RFC 5321 allows.
    let out = add(&format!("{}@example.com", "a".repeat(250)));
    assert!(stderr(&out).contains("254 bytes"), "{}", stderr(&out));
}

#[tokio::test]
async fn bidirectional_overrides_in_names_are_refused() {
    let app = spawn_app().await;
    // A user's name at the CLI.
    let out = sekimori(
        &app.database_url,
        &[
            "user",
            "add",
            "--email",
            "eve@example.com",
            "--name",
            "Eve\u{202E}moc.elgoog",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("bidirectional") && err.contains("U+202E"),
        "{err}"
    );
    // A client's name at the CLI, and an isolate in an update.
    let out = sekimori(
        &app.database_url,
        &[
            "client",
            "add",
            "--name",
            "Bank\u{2067}",
            "--redirect-uri",
            "https://app.example/cb",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("U+2067"), "{}", stderr(&out));
    let out = sekimori(
        &app.database_url,
        &["user", "update", USER_EMAIL, "--name", "Alice\u{200F}"],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("U+200F"), "{}", stderr(&out));

    // Dynamic registration (RFC 7591 §3.2.2).
    let token = cli(
        &app,
        &["client", "initial-token", "--ttl-secs", "600"],
        None,
    );
    let token: Value = serde_json::from_slice(&token.stdout).expect("json");
    let res = app
        .rp
        .post(app.url("/register"))
        .bearer_auth(token["initial_access_token"].as_str().expect("token"))
        .json(&json!({
            "redirect_uris": ["https://newapp.example/cb"],
            "client_name": "Pay\u{202D}Pal",
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("bidirectional")),
        "{body}"
    );
}

#[tokio::test]
async fn accounts_that_collide_once_normalized_are_reported_not_merged() {
    // Arrange: two accounts from before normalization, NFC and NFD spellings of one address.
    let app = spawn_app().await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .expect("connect");
    for (sub, email, at) in [
        ("legacy-nfc", "jos\u{e9}@example.com", 1),
        ("legacy-nfd", "jose\u{301}@example.com", 2),
    ] {
        sqlx::query(&format!(
            "INSERT INTO users (sub, email, name, password_hash, created_at, updated_at) \
             VALUES ('{sub}', '{email}', 'Legacy', 'x', {at}, {at})"
        ))
        .execute(&mut conn)
        .await
        .expect("insert legacy user");
    }

    // Act
    let migrated = cli(&app, &["migrate"], None);
    let listed = cli(&app, &["user", "list"], None);

    // Assert: reported by both, naming both accounts; both rows still there.
    for out in [&migrated, &listed] {
        let err = stderr(out);
        assert!(
            err.contains("legacy-nfd") && err.contains("collides"),
            "{err}"
        );
    }
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.contains("legacy-nfc") && stdout.contains("legacy-nfd"));
    // The older account holds the normalized address; the other keeps its exact spelling.
    let nfd = app
        .store
        .find_user_by_email("jose\u{301}@example.com")
        .await
        .expect("db")
        .expect("found");
    assert_eq!(nfd.sub, "legacy-nfd");
    let nfc = app
        .store
        .find_user_by_email("JOS\u{c9}@example.com")
        .await
        .expect("db")
        .expect("found");
    assert_eq!(nfc.sub, "legacy-nfc");
}

// ---- §8: the CLI and its database ----

#[tokio::test]
async fn cli_commands_refuse_a_missing_sqlite_database_and_name_the_one_they_change() {
    // Arrange: a SQLite path that does not exist (the rule is about SQLite files).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nowhere.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());

    // Act + Assert: commands other than migrate refuse, naming the path and the remedy.
    for args in [
        &["user", "list"][..],
        &[
            "client",
            "add",
            "--name",
            "App",
            "--redirect-uri",
            "https://a.example/cb",
        ],
        &["client", "initial-token"],
    ] {
        let out = sekimori(&url, args, None);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("sekimori migrate"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let out = sekimori(
        &url,
        &[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(!out.status.success());
    assert!(!path.exists(), "no database was created");

    // migrate creates it and says so.
    let out = sekimori(&url, &["migrate"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(path.exists());
    assert!(
        stderr(&out).contains(&format!("database: {url}")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn changing_commands_print_the_database_on_stderr_and_keep_stdout_json() {
    // Both backends; a PostgreSQL password is redacted.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_database_url(dir.path()).await;
    assert!(sekimori(&db, &["migrate"], None).status.success());

    let out = sekimori(
        &db,
        &[
            "client",
            "add",
            "--name",
            "App",
            "--redirect-uri",
            "https://a.example/cb",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let registered: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    assert!(registered["client_id"].is_string());
    let shown = sekimori::cli::redacted_url(&db);
    assert!(
        stderr(&out).contains(&format!("database: {shown}")),
        "{}",
        stderr(&out)
    );

    // A read-only command does not.
    let out = sekimori(&db, &["client", "list"], None);
    assert!(out.status.success());
    assert!(!stderr(&out).contains("database:"), "{}", stderr(&out));
    assert_eq!(
        sekimori::cli::redacted_url("postgres://u:hunter2@db/s"),
        "postgres://u:***@db/s"
    );
}
