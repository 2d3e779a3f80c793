//! Login throttling (issue 11 §1): failures only, budgets shared through the database, device
//! cookies that keep the owner in while strangers guess, the trusted-proxy address, bounded keys.
//! Many source addresses are simulated with `X-Forwarded-For` from a trusted 127.0.0.1.

use reqwest::StatusCode;
use sekimori::cli::ClientRegistration;
use sekimori::config::ServeConfig;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::{
    LoginForm, Spawn, TestApp, TestClient, USER_EMAIL, USER_PASSWORD, form, http_client,
    register_with, spawn, spawn_app,
};

/// A server that believes 127.0.0.1's `X-Forwarded-For`.
async fn behind_proxy() -> TestApp {
    spawn(Spawn {
        serve: Some(ServeConfig {
            trusted_proxies: vec!["127.0.0.1".into()],
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
}

/// A fresh browser (its own cookie jar, so no device cookie) and a login form for it.
async fn stranger(app: &TestApp, extra: &[(&str, &str)]) -> (reqwest::Client, LoginForm) {
    let http = http_client(false)
        .cookie_store(true)
        .build()
        .expect("client");
    let form = login_form(app, &http, extra).await;
    (http, form)
}

/// The login form `/authorize` shows to `http` (`prompt=login` forces it for a logged-in one).
async fn login_form(app: &TestApp, http: &reqwest::Client, extra: &[(&str, &str)]) -> LoginForm {
    let res = http
        .get(app.authorize_url(&app.confidential, extra))
        .send()
        .await
        .expect("GET /authorize");
    assert_eq!(res.status(), StatusCode::OK);
    LoginForm::parse(&res.text().await.expect("html"))
}

/// Posts the login form with these credentials, as if from `source` (via the proxy header),
/// to `action` (default: the form's own).
async fn post_as(
    http: &reqwest::Client,
    form: &LoginForm,
    action: Option<&str>,
    email: &str,
    password: &str,
    source: &str,
) -> reqwest::Response {
    let f = form.clone_with("email", email).with("password", password);
    http.post(action.unwrap_or(&f.action))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", source)
        .body(f.body())
        .send()
        .await
        .expect("POST /login")
}

/// A distinct documentation-range address per `i` (198.18.0.0/15, RFC 2544).
fn addr(i: usize) -> String {
    format!("198.18.{}.{}", i / 250, 1 + i % 250)
}

fn has_device_cookie(res: &reqwest::Response) -> bool {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| {
            c.starts_with("sekimori_device_")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Lax")
                && c.contains("Path=/")
                && c.contains("Max-Age=31536000")
        })
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owner_with_a_device_cookie_logs_in_while_strangers_guess() {
    // Arrange: the owner logs in once and gets a device cookie.
    let app = behind_proxy().await;
    let owner_ip = "203.0.113.7";
    let form = login_form(&app, &app.browser, &[]).await;
    let res = post_as(
        &app.browser,
        &form,
        None,
        USER_EMAIL,
        USER_PASSWORD,
        owner_ip,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(has_device_cookie(&res), "a device cookie after login");

    // Act: 100 failures for the account from 100 addresses, all at once, while the owner logs
    // in again (from the same address; the device cookie is what vouches).
    let (http, guess_form) = stranger(&app, &[]).await;
    let guess_form = std::sync::Arc::new(guess_form);
    let mut guesses = JoinSet::new();
    for i in 0..100 {
        let (http, f) = (http.clone(), guess_form.clone());
        guesses.spawn(async move {
            post_as(&http, &f, None, USER_EMAIL, "guess", &addr(i))
                .await
                .status()
        });
    }
    let mut owner_logins = Vec::new();
    for _ in 0..3 {
        let form = login_form(&app, &app.browser, &[("prompt", "login")]).await;
        let res = post_as(
            &app.browser,
            &form,
            None,
            USER_EMAIL,
            USER_PASSWORD,
            owner_ip,
        )
        .await;
        owner_logins.push(res.status());
    }
    let mut refused = 0;
    while let Some(status) = guesses.join_next().await {
        match status.expect("task") {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }

    // Assert: the owner got in every time, during and after; strangers hit the account budget.
    assert_eq!(owner_logins, vec![StatusCode::SEE_OTHER; 3]);
    let form = login_form(&app, &app.browser, &[("prompt", "login")]).await;
    let res = post_as(
        &app.browser,
        &form,
        None,
        USER_EMAIL,
        USER_PASSWORD,
        owner_ip,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "after the flood too");
    // The account burst is 30; concurrency may overshoot it only by the hashes running at once.
    assert!(
        refused >= 60,
        "the account budget refused most of 100 guesses: {refused}"
    );
    // Without a device cookie, even the right password from a fresh address waits.
    let (http, f) = stranger(&app, &[]).await;
    let res = post_as(&http, &f, None, USER_EMAIL, USER_PASSWORD, "192.0.2.99").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn without_a_device_cookie_the_account_budget_applies() {
    // Arrange: 30 failures (the account burst), each from its own address.
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    for i in 0..30 {
        let res = post_as(&http, &f, None, USER_EMAIL, "guess", &addr(i)).await;
        assert_eq!(res.status(), StatusCode::OK, "failure {i} is answered");
    }
    // Act: a stranger from a fresh address, with the right password but no device cookie.
    let (http, f) = stranger(&app, &[]).await;
    let res = post_as(&http, &f, None, USER_EMAIL, USER_PASSWORD, "192.0.2.1").await;
    // Assert
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res) >= 1);
    // Another account is untouched.
    let res = post_as(&http, &f, None, "bob@example.com", "guess", "192.0.2.1").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn failures_on_two_nodes_add_up() {
    // Arrange: a second node on the same database; the browser's session cookie is good on both.
    let app = behind_proxy().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let node2 = format!("http://{}/login", listener.local_addr().expect("addr"));
    crate::helpers::start_node_with(
        listener,
        &app.issuer,
        &app.database_url,
        app.keys_dir.path(),
        3000,
        app.clock.clone(),
        &ServeConfig {
            trusted_proxies: vec!["127.0.0.1".into()],
            ..Default::default()
        },
    )
    .await;
    let (http, f) = stranger(&app, &[]).await;
    // Act: five failures on each node from one address (the pair burst is ten).
    for i in 0..10 {
        let action = (i % 2 == 1).then_some(node2.as_str());
        let res = post_as(&http, &f, action, USER_EMAIL, "guess", "192.0.2.5").await;
        assert_eq!(res.status(), StatusCode::OK, "failure {i}");
    }
    // Assert: the eleventh is refused on either node.
    for action in [None, Some(node2.as_str())] {
        let res = post_as(&http, &f, action, USER_EMAIL, "guess", "192.0.2.5").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn successful_logins_never_throttle() {
    let app = spawn_app().await;
    // 30 logins in a row from one address, each from a browser without a device cookie.
    for i in 0..30 {
        let (http, f) = stranger(&app, &[]).await;
        let res = post_as(&http, &f, None, USER_EMAIL, USER_PASSWORD, "ignored").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login {i}");
    }
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 0);
}

#[tokio::test]
async fn a_success_clears_the_failures_of_its_account_and_source() {
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    for _ in 0..9 {
        let res = post_as(&http, &f, None, USER_EMAIL, "typo", "192.0.2.8").await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let (owner, f2) = stranger(&app, &[]).await;
    let res = post_as(&owner, &f2, None, USER_EMAIL, USER_PASSWORD, "192.0.2.8").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A full burst of ten again (without the clear, the second would be refused).
    for i in 0..10 {
        let res = post_as(&http, &f, None, USER_EMAIL, "typo", "192.0.2.8").await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "failure {i} after the success"
        );
    }
    let res = post_as(&http, &f, None, USER_EMAIL, "typo", "192.0.2.8").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spraying_many_accounts_from_one_source_is_limited() {
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    let f = std::sync::Arc::new(f);
    // Batches of ten accounts at once until the source budget (100) answers 429.
    let mut failures = 0;
    let mut refused = false;
    for batch in 0..15 {
        let mut set = JoinSet::new();
        for i in 0..10 {
            let (http, f) = (http.clone(), f.clone());
            set.spawn(async move {
                let email = format!("user{batch}-{i}@example.com");
                post_as(&http, &f, None, &email, "Winter2026!", "192.0.2.66")
                    .await
                    .status()
            });
        }
        while let Some(status) = set.join_next().await {
            match status.expect("task") {
                StatusCode::OK => failures += 1,
                StatusCode::TOO_MANY_REQUESTS => refused = true,
                other => panic!("unexpected {other}"),
            }
        }
        if refused {
            break;
        }
    }
    assert!(refused, "the source budget ran out");
    assert!(
        (100..=130).contains(&failures),
        "about the burst of 100 was allowed: {failures}"
    );
    // Another source is not affected.
    let res = post_as(&http, &f, None, "carol@example.com", "x", "192.0.2.67").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_address_is_ignored() {
    // No trusted proxies: every request below comes from 127.0.0.1 whatever it claims.
    let app = spawn_app().await;
    let (http, f) = stranger(&app, &[]).await;
    for i in 0..10 {
        let res = post_as(&http, &f, None, USER_EMAIL, "guess", &addr(i)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = post_as(&http, &f, None, USER_EMAIL, "guess", &addr(10)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn password_client(app: &TestApp) -> TestClient {
    let mut reg = ClientRegistration::new(
        "Legacy app",
        &["https://legacy.example/cb".to_owned()],
        false,
    );
    reg.grant_types = vec!["password".into()];
    register_with(&app.store, reg).await
}

async fn password_grant(
    app: &TestApp,
    client: &TestClient,
    password: &str,
    source: &str,
) -> reqwest::Response {
    app.rp
        .post(app.url("/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", source)
        .body(form(&[
            ("grant_type", "password"),
            ("username", USER_EMAIL),
            ("password", password),
        ]))
        .send()
        .await
        .expect("POST /token")
}

#[tokio::test]
async fn the_password_grant_counts_failures_only_per_forwarded_address() {
    let app = behind_proxy().await;
    let client = password_client(&app).await;
    // Successes never spend.
    for i in 0..30 {
        let res = password_grant(&app, &client, USER_PASSWORD, "192.0.2.10").await;
        assert_eq!(res.status(), StatusCode::OK, "grant {i}");
    }
    // Ten failures from one address exhaust that (account, source) budget...
    for _ in 0..10 {
        let res = password_grant(&app, &client, "wrong", "192.0.2.10").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = password_grant(&app, &client, USER_PASSWORD, "192.0.2.10").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res) >= 1);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // ...and no other address's.
    let res = password_grant(&app, &client, USER_PASSWORD, "192.0.2.11").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_429_page_says_when_to_try_again() {
    let app = behind_proxy().await;
    for (locale, source) in [("en", "192.0.2.20"), ("ja", "192.0.2.21")] {
        let (http, f) = stranger(&app, &[("ui_locales", locale)]).await;
        for _ in 0..10 {
            post_as(&http, &f, None, USER_EMAIL, "guess", source).await;
        }
        let res = post_as(&http, &f, None, USER_EMAIL, "guess", source).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let secs = retry_after(&res);
        assert!((1..=6).contains(&secs), "{secs}");
        let html = res.text().await.expect("html");
        let expected = match (locale, secs) {
            ("en", 1) => "Too many sign-in attempts. Try again in 1 second.".to_owned(),
            ("en", n) => format!("Too many sign-in attempts. Try again in {n} seconds."),
            (_, n) => format!("ログインの試行回数が多すぎます。{n} 秒後にもう一度お試しください。"),
        };
        assert!(html.contains(&expected), "{expected} in {html}");
    }
}

#[tokio::test]
async fn oversized_emails_are_refused_before_throttling_and_never_stored() {
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    for email in [
        format!("{}@example.com", "a".repeat(60 * 1024)),
        format!("{}@example.com", "a".repeat(255 - "@example.com".len())),
    ] {
        let res = post_as(&http, &f, None, &email, "guess", "192.0.2.30").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.expect("html");
        assert!(
            html.contains("That email address is too long"),
            "a clear message"
        );
        assert!(!html.contains("aaaaaaaaaa"), "not echoed back");
    }
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 0);
    // A 254-byte address is an ordinary (failed) attempt: three counters.
    let email = format!("{}@example.com", "a".repeat(254 - "@example.com".len()));
    let res = post_as(&http, &f, None, &email, "guess", "192.0.2.30").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 3);
    // The password grant refuses the same with invalid_request.
    let client = password_client(&app).await;
    let res = app
        .rp
        .post(app.url("/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "password"),
            ("username", &format!("{}@example.com", "a".repeat(250))),
            ("password", "guess"),
        ]))
        .send()
        .await
        .expect("POST /token");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 3);
}

/// Runs `sekimori` with this database and key folder.
fn sekimori(db: &str, keys: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"));
    cmd.env("DATABASE_URL", db).env("SEKIMORI_KEYS_DIR", keys);
    cmd
}

fn add_user(db: &str, keys: &std::path::Path, email: &str) {
    use std::io::Write;
    let mut add = sekimori(db, keys)
        .args([
            "user",
            "add",
            "--email",
            email,
            "--name",
            "U",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(USER_PASSWORD.as_bytes())
        .expect("write");
    assert!(add.wait().expect("wait").success());
}

#[tokio::test]
async fn every_login_outcome_is_one_audit_event_with_its_reason() {
    use std::io::Read;
    // Arrange: the real binary behind a trusted 127.0.0.1, logging JSON; alice, and bob disabled.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let keys = dir.path().join("keys");
    // The CLI refuses a SQLite file that does not exist yet: create it as an operator would.
    let migrated = sekimori(&db, &keys)
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(migrated.status.success(), "migrate: {migrated:?}");
    let out = sekimori(&db, &keys)
        .args([
            "client",
            "add",
            "--name",
            "Legacy",
            "--grant-type",
            "password",
        ])
        .args(["--redirect-uri", "https://legacy.example/cb"])
        .output()
        .expect("client add");
    let client: Value = serde_json::from_slice(&out.stdout).expect("json");
    let (id, secret) = (
        client["client_id"].as_str().expect("id").to_owned(),
        client["client_secret"].as_str().expect("secret").to_owned(),
    );
    add_user(&db, &keys, USER_EMAIL);
    add_user(&db, &keys, "bob@example.com");
    let disabled = sekimori(&db, &keys)
        .args(["user", "disable", "bob@example.com"])
        .output()
        .expect("disable");
    assert!(disabled.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = sekimori(&db, &keys)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("SEKIMORI_TRUSTED_PROXIES", "127.0.0.1")
        .env("SEKIMORI_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let http = http_client(false).build().expect("client");
    for _ in 0..100 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let grant = |username: String, password: &'static str, source: &'static str| {
        let req = http
            .post(format!("{base}/token"))
            .basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", source)
            .body(form(&[
                ("grant_type", "password"),
                ("username", &username),
                ("password", password),
            ]));
        async move { req.send().await.expect("token").status() }
    };

    // Act: one of each outcome, then ten failures and a throttled attempt from another address.
    let ip = "192.0.2.44";
    assert_eq!(
        grant("carol@example.com".into(), USER_PASSWORD, ip).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        grant(USER_EMAIL.into(), "wrong", ip).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        grant("bob@example.com".into(), USER_PASSWORD, ip).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        grant(USER_EMAIL.into(), USER_PASSWORD, ip).await,
        StatusCode::OK
    );
    assert_eq!(
        grant(format!("{}@example.com", "a".repeat(250)), "x", ip).await,
        StatusCode::BAD_REQUEST
    );
    for _ in 0..10 {
        grant(USER_EMAIL.into(), "wrong", "192.0.2.45").await;
    }
    assert_eq!(
        grant(USER_EMAIL.into(), "wrong", "192.0.2.45").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Assert: the audit lines, in order.
    let _ = std::process::Command::new("kill")
        .arg(server.id().to_string())
        .status();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read logs");
    let _ = server.wait();
    let events: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["audit"] == true && v["event"].as_str().is_some_and(|e| e.starts_with("login_"))
        })
        .collect();
    let summary: Vec<(String, String, String, String)> = events
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (s("event"), s("reason"), s("account"), s("source"))
        })
        .collect();
    let row = |e: &str, r: &str, a: &str, s: &str| (e.into(), r.into(), a.into(), s.into());
    let mut expected = vec![
        row("login_failure", "unknown_account", "carol@example.com", ip),
        row("login_failure", "wrong_password", USER_EMAIL, ip),
        row("login_failure", "disabled", "bob@example.com", ip),
        row("login_success", "", USER_EMAIL, ip),
        row("login_failure", "invalid_input", "", ip),
    ];
    for _ in 0..10 {
        expected.push(row(
            "login_failure",
            "wrong_password",
            USER_EMAIL,
            "192.0.2.45",
        ));
    }
    expected.push(row("login_failure", "throttled", USER_EMAIL, "192.0.2.45"));
    assert_eq!(summary, expected, "{logs}");
    assert!(events.iter().all(|v| v["client_id"] == id.as_str()));
    assert!(!logs.contains(USER_PASSWORD), "no password in the logs");
}

#[tokio::test]
async fn a_device_cookie_has_its_own_budget_then_counts_as_absent() {
    // Arrange: the owner's browser has a device cookie; strangers spend the account budget.
    let app = behind_proxy().await;
    let owner_ip = "203.0.113.8";
    let form = login_form(&app, &app.browser, &[]).await;
    let res = post_as(
        &app.browser,
        &form,
        None,
        USER_EMAIL,
        USER_PASSWORD,
        owner_ip,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (http, f) = stranger(&app, &[]).await;
    for i in 0..30 {
        post_as(&http, &f, None, USER_EMAIL, "guess", &addr(i)).await;
    }
    // Act + Assert: the owner's own ten typos spend only the device cookie's budget...
    let form = login_form(&app, &app.browser, &[("prompt", "login")]).await;
    for i in 0..10 {
        let res = post_as(&app.browser, &form, None, USER_EMAIL, "typo", owner_ip).await;
        assert_eq!(res.status(), StatusCode::OK, "typo {i} is answered");
    }
    // ...and once it is spent, the cookie counts as absent: the spent account budget applies.
    let res = post_as(
        &app.browser,
        &form,
        None,
        USER_EMAIL,
        USER_PASSWORD,
        owner_ip,
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_device_cookie_is_secure_and_scoped_to_an_https_issuers_path() {
    let app = spawn(Spawn {
        tls: true,
        issuer_path: "/auth".into(),
        ..Default::default()
    })
    .await;
    let form = login_form(&app, &app.browser, &[]).await;
    let res = crate::helpers::submit(
        &app.browser,
        &form
            .clone_with("email", USER_EMAIL)
            .with("password", USER_PASSWORD),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sekimori_device_"))
        .expect("device cookie")
        .to_owned();
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/auth",
        "Max-Age=31536000",
    ] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} in {cookie}");
    }
}

#[tokio::test]
async fn budgets_refill_with_time_and_spent_counters_are_purged() {
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    for _ in 0..10 {
        post_as(&http, &f, None, USER_EMAIL, "guess", "192.0.2.50").await;
    }
    let res = post_as(&http, &f, None, USER_EMAIL, "guess", "192.0.2.50").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Retry-After is the truth: that much later one more attempt is answered.
    app.clock
        .advance(i64::try_from(retry_after(&res)).expect("secs"));
    let res = post_as(&http, &f, None, USER_EMAIL, "guess", "192.0.2.50").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 3);
    // Once every failure is forgiven (10 × 20 s at most here), the hourly purge deletes the rows.
    app.clock.advance(3600);
    app.store
        .purge_expired(app.clock.now())
        .await
        .expect("purge");
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 0);
}

#[tokio::test]
async fn an_oversized_password_is_refused_like_any_oversized_field() {
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    let res = post_as(&http, &f, None, USER_EMAIL, &"p".repeat(4097), "192.0.2.31").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.expect("html");
    assert!(html.contains("What you entered is too long."), "{html}");
    assert_eq!(app.store.login_failure_rows().await.expect("count"), 0);
}

#[tokio::test]
async fn a_clients_own_forwarded_header_does_not_choose_its_address() {
    // nginx appends X-Forwarded-For and passes the client's own `Forwarded` through. With the
    // default --proxy-header only X-Forwarded-For counts: ten failures that each claim another
    // `Forwarded: for=` are still ten failures of one source.
    let app = behind_proxy().await;
    let (http, f) = stranger(&app, &[]).await;
    let post = |i: usize| {
        let f = f.clone_with("email", USER_EMAIL).with("password", "guess");
        http.post(f.action.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", "192.0.2.77")
            .header("forwarded", format!("for={}", addr(i)))
            .body(f.body())
            .send()
    };
    for i in 0..10 {
        assert_eq!(post(i).await.expect("POST").status(), StatusCode::OK);
    }
    let res = post(10).await.expect("POST");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_proxy_that_writes_forwarded_is_believed_only_there() {
    // --proxy-header forwarded: the RFC 7239 header names the client, X-Forwarded-For is noise.
    let app = spawn(Spawn {
        serve: Some(ServeConfig {
            trusted_proxies: vec!["127.0.0.1".into()],
            proxy_header: "forwarded".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let client = password_client(&app).await;
    let grant = |forwarded: &'static str, xff: String| {
        app.rp
            .post(app.url("/token"))
            .basic_auth(&client.client_id, client.client_secret.as_deref())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("forwarded", forwarded)
            .header("x-forwarded-for", xff)
            .body(form(&[
                ("grant_type", "password"),
                ("username", USER_EMAIL),
                ("password", "wrong"),
            ]))
            .send()
    };
    for i in 0..10 {
        let res = grant("for=192.0.2.88", addr(i)).await.expect("POST");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = grant("for=192.0.2.88", addr(10)).await.expect("POST");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = grant("for=\"[2001:db8::1]:4711\"", addr(11))
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_login_cannot_write_an_old_hash_back_over_a_password_change() {
    // A login that verified the old password and upgrades its hash must not land after
    // `user passwd`: the upgrade only replaces the hash it read.
    let app = spawn_app().await;
    let user = app
        .store
        .find_user_by_email(USER_EMAIL)
        .await
        .expect("read")
        .expect("user");
    let changed = sekimori::password::hash("a brand new passphrase").expect("hash");
    assert!(
        app.store
            .change_user_password(&app.user_sub, &changed, 1)
            .await
            .expect("passwd")
    );
    let stale_upgrade = sekimori::password::hash(USER_PASSWORD).expect("hash");
    let replaced = app
        .store
        .set_user_password(&app.user_sub, &user.password_hash, &stale_upgrade, 2)
        .await
        .expect("update");
    assert!(!replaced);
    let now = app
        .store
        .find_user_by_email(USER_EMAIL)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(now.password_hash, changed);
}
