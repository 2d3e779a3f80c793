//! Running it like infrastructure: metrics after a flow, JSON logs with request ids, and no
//! secret in the logs of a whole flow (the real binary, its stderr captured).

use std::io::Read;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use sekimori::config::ServeConfig;

use crate::helpers::{
    LoginForm, Spawn, USER_EMAIL, USER_PASSWORD, form, fresh_database_url, location_params, param,
    spawn,
};

#[tokio::test]
async fn metrics_expose_requests_tokens_and_logins_after_a_flow() {
    let app = spawn(Spawn {
        serve: Some(ServeConfig {
            admin_bind: Some("127.0.0.1:0".into()),
            ..ServeConfig::default()
        }),
        ..Spawn::default()
    })
    .await;
    let admin = app.state.admin_addr.expect("admin listener");
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    assert_eq!(app.redeem(&code, &[]).await.status(), StatusCode::OK);
    let res = app
        .rp
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("text");
    for series in [
        "sekimori_http_requests_total",
        "sekimori_http_request_duration_seconds",
        "sekimori_tokens_issued_total",
        "sekimori_logins_total",
        "sekimori_db_pool_connections",
    ] {
        assert!(text.contains(series), "{series} missing from /metrics");
    }
    assert!(text.contains("route=\"/token\""));
    assert!(text.contains("grant_type=\"authorization_code\""));
}

/// Runs `sekimori` with the test's database and keys.
fn sekimori(db: &str, keys: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sekimori"));
    cmd.env("DATABASE_URL", db).env("SEKIMORI_KEYS_DIR", keys);
    cmd
}

#[tokio::test]
async fn a_full_flow_logs_no_secret_and_json_logs_carry_request_ids() {
    // Arrange: a real server process logging everything, as JSON.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_database_url(dir.path()).await;
    let keys = dir.path().join("keys");
    let migrated = sekimori(&db, &keys)
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(migrated.status.success());
    let out = sekimori(&db, &keys)
        .args([
            "client",
            "add",
            "--name",
            "App",
            "--first-party",
            "--redirect-uri",
            "http://localhost:9999/cb",
        ])
        .args(["--scope", "openid profile email offline_access"])
        .output()
        .expect("client add");
    let client: Value = serde_json::from_slice(&out.stdout).expect("json");
    let (id, secret) = (
        client["client_id"].as_str().expect("id").to_owned(),
        client["client_secret"].as_str().expect("secret").to_owned(),
    );
    let mut add = sekimori(&db, &keys)
        .args([
            "user",
            "add",
            "--email",
            USER_EMAIL,
            "--name",
            "Alice",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    use std::io::Write;
    add.stdin
        .take()
        .expect("stdin")
        .write_all(USER_PASSWORD.as_bytes())
        .expect("write");
    assert!(add.wait().expect("wait").success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = sekimori(&db, &keys)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "trace")
        .env("SEKIMORI_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for _ in 0..100 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Act: a whole flow, with refresh and a failed login.
    let authorize = format!(
        "{base}/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", "http://localhost:9999/cb"),
            ("scope", "openid profile offline_access"),
            ("prompt", "consent"),
            ("state", "st4te-value"),
        ])
    );
    let page = http
        .get(&authorize)
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    let login = LoginForm::parse(&page);
    let csrf = login.get("csrf_token").expect("csrf").to_owned();
    let submit = |password: &str| {
        let f = LoginForm::parse(&page)
            .with("email", USER_EMAIL)
            .with("password", password);
        let pairs: Vec<(String, String)> = f.fields.clone();
        let (http, action) = (http.clone(), f.action.clone());
        async move {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            http.post(action)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&pairs))
                .send()
                .await
                .expect("login")
        }
    };
    submit("a wrong password for the log test").await;
    let res = submit(USER_PASSWORD).await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sekimori_session="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("session cookie");
    let (_, pairs) = location_params(&res);
    let code = param(&pairs, "code").expect("code").to_owned();
    let tokens: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9999/cb"),
        ]))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let (at, rt, idt) = (
        tokens["access_token"].as_str().expect("at").to_owned(),
        tokens["refresh_token"].as_str().expect("rt").to_owned(),
        tokens["id_token"].as_str().expect("id").to_owned(),
    );
    http.get(format!("{base}/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .expect("userinfo");
    let refreshed: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ]))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let rt2 = refreshed["refresh_token"].as_str().expect("rt2").to_owned();
    // Replay the code and reuse the refresh token: the warning paths log too.
    http.post(format!("{base}/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ]))
        .send()
        .await
        .expect("reuse");

    // Assert: stop the server, read everything it logged.
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read logs");
    let _ = server.wait();
    assert!(logs.contains("tokens issued"), "the flow was logged");
    for (what, secret_value) in [
        ("password", USER_PASSWORD),
        ("wrong password", "a wrong password for the log test"),
        ("client secret", secret.as_str()),
        ("code", code.as_str()),
        ("access token", at.as_str()),
        ("refresh token", rt.as_str()),
        ("rotated refresh token", rt2.as_str()),
        ("ID token", idt.as_str()),
        ("session cookie", cookie.as_str()),
        ("CSRF token", csrf.as_str()),
    ] {
        assert!(
            !logs.contains(secret_value),
            "the {what} appears in the logs"
        );
    }
    let mut with_request_id = 0;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if v.pointer("/span/request_id")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            with_request_id += 1;
        }
    }
    assert!(with_request_id > 0, "request spans carry x-request-id");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_database_url(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut server = sekimori(&db, &dir.path().join("keys"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    // Ready means serving (the port is bound before migrations finish).
    let mut ready = false;
    for _ in 0..200 {
        let probe = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
        if probe.is_ok_and(|r| r.status() == StatusCode::OK) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "server started");

    // A slow request: headers now, half the body, then SIGTERM, then the rest.
    let body = "grant_type=client_credentials&client_id=nobody";
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(&body.as_bytes()[..10]).await.expect("half");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    conn.write_all(&body.as_bytes()[10..]).await.expect("rest");
    let mut response = String::new();
    conn.read_to_string(&mut response).await.expect("response");
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the in-flight request was answered: {response}"
    );
    assert!(response.contains("invalid_client"));

    // And the process exits by itself.
    let mut exited = false;
    for _ in 0..100 {
        if server.try_wait().expect("wait").is_some() {
            exited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(exited, "the server stopped after the request finished");
}
