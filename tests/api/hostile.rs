//! Bounded resources under hostile load (slowloris, slow bodies), `/metrics` only on the admin
//! listener, CORS that exposes `WWW-Authenticate`, the favicon, page requests through another
//! host, and the startup warnings.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HOST, LOCATION};
use sekimori::config::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{LoginForm, Spawn, TestApp, form, spawn, spawn_app, spawn_app_at};

/// The server's `host:port` (the issuer is `http://127.0.0.1:PORT`).
fn authority(app: &TestApp) -> String {
    url::Url::parse(&app.issuer)
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port().unwrap_or(80)
            )
        })
        .expect("issuer URL")
}

/// Reads until the peer closes (or resets) the connection; `Err` if it stays open past `limit`.
async fn until_closed(conn: &mut TcpStream, limit: Duration) -> Result<String, String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return Err(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(0) | Err(_)) => return Ok(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn with_serve(serve: ServeConfig) -> Spawn {
    Spawn {
        serve: Some(serve),
        ..Spawn::default()
    }
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed_while_others_are_served() {
    // Arrange: a 1 s header read timeout and 200 connections that each send half a request.
    let app = spawn(with_serve(ServeConfig {
        header_read_timeout_secs: 1,
        ..ServeConfig::default()
    }))
    .await;
    let addr = authority(&app);
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        let partial = if i % 2 == 0 {
            "GET /authorize?client_id=x HTT".to_owned()
        } else {
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ")
        };
        conn.write_all(partial.as_bytes()).await.expect("write");
        slow.push(conn);
    }
    let started = Instant::now();

    // Act: a normal request meanwhile.
    let res = app
        .rp
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");

    // Assert: it is served, and every slow connection is closed shortly after the timeout
    // without ever getting a response to its half request.
    assert_eq!(res.status(), StatusCode::OK);
    for (i, conn) in slow.iter_mut().enumerate() {
        let seen = until_closed(conn, Duration::from_secs(5))
            .await
            .unwrap_or_else(|seen| panic!("connection {i} still open after 5 s: {seen:?}"));
        assert!(
            !seen.contains(" 200 "),
            "connection {i} was answered: {seen}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_408() {
    // Arrange: a 1 s request timeout.
    let app = spawn(with_serve(ServeConfig {
        request_timeout_secs: 1,
        ..ServeConfig::default()
    }))
    .await;
    let addr = authority(&app);
    let mut conn = TcpStream::connect(&addr).await.expect("connect");

    // Act: complete headers, then ten bytes of a 100-byte body, then silence.
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type"
    );
    conn.write_all(head.as_bytes()).await.expect("write");

    // Assert: 408 (then the connection ends), well before the test gives up.
    let seen = until_closed(&mut conn, Duration::from_secs(5))
        .await
        .unwrap_or_else(|seen| panic!("still open after 5 s: {seen:?}"));
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    // Arrange: at most two connections, both taken by clients that send nothing yet.
    let app = spawn(with_serve(ServeConfig {
        max_connections: 2,
        ..ServeConfig::default()
    }))
    .await;
    let addr = authority(&app);
    let first = TcpStream::connect(&addr).await.expect("connect");
    let _second = TcpStream::connect(&addr).await.expect("connect");
    let healthz = || async {
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        until_closed(&mut conn, Duration::from_millis(700)).await
    };

    // Act + Assert: a third is not served while both are open…
    let waiting = healthz().await;
    assert!(waiting.is_err(), "served beyond the limit: {waiting:?}");
    // …and is served once one closes.
    drop(first);
    let served = healthz().await.expect("served after a slot freed");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
}

#[tokio::test]
async fn keep_alive_connections_serve_several_requests() {
    let app = spawn_app().await;
    let mut conn = TcpStream::connect(authority(&app)).await.expect("connect");
    for _ in 0..3 {
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 512];
        let n = conn.read(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.ends_with("ok"), "{text}");
    }
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_listener_only() {
    // Arrange
    let app = spawn(with_serve(ServeConfig {
        admin_bind: Some("127.0.0.1:0".into()),
        ..ServeConfig::default()
    }))
    .await;
    let admin = format!("http://{}", app.state.admin_addr.expect("admin listener"));

    // Act
    let public = app.rp.get(app.url("/metrics")).send().await.expect("get");
    let private = app
        .rp
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .expect("get");

    // Assert
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    assert_eq!(private.status(), StatusCode::OK);
    assert!(
        private.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    assert!(private.text().await.expect("text").contains("sekimori_"));
    for (base, path) in [
        (app.issuer.as_str(), "/healthz"),
        (app.issuer.as_str(), "/readyz"),
        (admin.as_str(), "/healthz"),
        (admin.as_str(), "/readyz"),
    ] {
        let res = app
            .rp
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{base}{path}");
    }
}

#[tokio::test]
async fn without_admin_bind_there_is_no_metrics_endpoint() {
    let app = spawn_app().await;
    assert!(app.state.admin_addr.is_none());
    let res = app.rp.get(app.url("/metrics")).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cors_exposes_www_authenticate_on_a_refused_bearer_request() {
    // Arrange
    let app = spawn_app().await;

    // Act: a browser app calls userinfo without a token.
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .header("origin", "https://spa.example")
        .send()
        .await
        .expect("userinfo");

    // Assert: the RFC 6750 challenge is there and the browser may read it.
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[tokio::test]
async fn every_page_links_an_icon_that_is_served() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let login = app.get_authorize(&app.confidential, &[]).await;
    let login_html = login.text().await.expect("html");
    let error = app
        .browser
        .get(app.url("/authorize"))
        .send()
        .await
        .expect("error page");
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    let error_html = error.text().await.expect("html");

    // Assert
    for html in [&login_html, &error_html] {
        assert!(
            html.contains(r#"<link rel="icon" href="static/favicon.svg""#),
            "{html}"
        );
    }
    for path in ["/static/favicon.svg", "/favicon.ico"] {
        let res = app.browser.get(app.url(path)).send().await.expect("icon");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[CONTENT_TYPE], "image/svg+xml", "{path}");
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .expect("ascii")
                .contains("max-age=604800")
        );
    }
}

#[tokio::test]
async fn the_form_post_page_links_the_icon_and_its_policy_allows_it() {
    // Arrange: a browser with a session.
    let app = spawn_app().await;
    app.authorize_and_login(&app.confidential, &[]).await;

    // Act
    let res = app
        .get_authorize(&app.confidential, &[("response_mode", "form_post")])
        .await;

    // Assert
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("img-src 'self'"), "{csp}");
    let html = res.text().await.expect("html");
    assert!(html.contains(r#"<link rel="icon" href="static/favicon.svg""#));
}

#[tokio::test]
async fn favicon_is_served_at_the_origin_root_when_the_issuer_has_a_path() {
    let app = spawn_app_at("/auth").await;
    let root = app.issuer.trim_end_matches("/auth");
    let res = app
        .browser
        .get(format!("{root}/favicon.ico"))
        .send()
        .await
        .expect("icon");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .browser
        .get(app.url("/static/favicon.svg"))
        .send()
        .await
        .expect("icon");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_page_reached_through_another_host_redirects_to_the_issuer() {
    // Arrange: the same server, named `localhost` instead of the issuer's `127.0.0.1`.
    let app = spawn_app().await;
    let port = url::Url::parse(&app.issuer)
        .expect("issuer")
        .port()
        .expect("port");
    let url = app.authorize_url(&app.confidential, &[]);

    // Act
    let res = app
        .browser
        .get(&url)
        .header(HOST, format!("localhost:{port}"))
        .send()
        .await
        .expect("authorize");

    // Assert: the same path and query, on the issuer.
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION].to_str().expect("ascii"), url);
    // Through the issuer's own host the page is served as always.
    let res = app.browser.get(&url).send().await.expect("authorize");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_form_posted_through_another_host_shows_which_address_to_use() {
    // Arrange: a login page from the issuer.
    let app = spawn_app().await;
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let f = LoginForm::parse(&page)
        .with("email", crate::helpers::USER_EMAIL)
        .with("password", crate::helpers::USER_PASSWORD);

    // Act: post it to the same server under another name, in Japanese and in English.
    let post = |lang: &'static str| {
        app.browser
            .post(&f.action)
            .header(HOST, "evil.example")
            .header("accept-language", lang)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(f.body())
            .send()
    };
    let en = post("en").await.expect("login");
    let ja = post("ja").await.expect("login");

    // Assert: an error page with a stable code that names the issuer's address.
    for (res, words) in [(en, "open"), (ja, "開いて")] {
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.expect("html");
        assert!(
            html.contains(r#"<code id="error-code">wrong_host</code>"#),
            "{html}"
        );
        assert!(html.contains(&app.url("/login")), "{html}");
        assert!(html.contains(words), "{html}");
    }
}

#[tokio::test]
async fn api_endpoints_answer_under_any_host() {
    // Arrange
    let app = spawn_app().await;
    let other = "localhost:1";

    // Act + Assert: discovery, token and userinfo ignore the Host.
    let res = app
        .rp
        .get(app.url("/.well-known/openid-configuration"))
        .header(HOST, other)
        .send()
        .await
        .expect("discovery");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .rp
        .post(app.url("/token"))
        .header(HOST, other)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("grant_type", "client_credentials")]))
        .basic_auth("nobody", Some("nothing"))
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .rp
        .get(app.url("/userinfo"))
        .header(HOST, other)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_host_decides() {
    // Arrange: this test's connections come from 127.0.0.1, configured as a trusted proxy.
    let app = spawn(with_serve(ServeConfig {
        trusted_proxies: vec!["127.0.0.1".into()],
        ..ServeConfig::default()
    }))
    .await;
    let url = app.authorize_url(&app.confidential, &[]);
    let get = |forwarded: Option<&'static str>| {
        let mut req = app.browser.get(&url).header(HOST, "backend.internal:8080");
        if let Some(h) = forwarded {
            req = req.header("x-forwarded-host", h);
        }
        req.send()
    };

    // Act
    let proxied_wrong = get(Some("alias.example")).await.expect("get");
    let no_forwarded_host = get(None).await.expect("get");

    // Assert: a wrong forwarded host is redirected; a proxy that sends none (and may have
    // rewritten Host) is never redirected, so a redirect loop cannot happen.
    assert_eq!(proxied_wrong.status(), StatusCode::SEE_OTHER);
    assert_eq!(no_forwarded_host.status(), StatusCode::OK);
    let right = authority(&app);
    let res = app
        .browser
        .get(&url)
        .header(HOST, "backend.internal:8080")
        .header("x-forwarded-host", right)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_https_issuer_without_a_trusted_proxy_never_redirects_pages() {
    // The TLS front passes bytes through; the Host it carries is not checked (a TLS proxy
    // that is not trusted may have rewritten it).
    let app = spawn(Spawn {
        tls: true,
        ..Spawn::default()
    })
    .await;
    let res = app
        .browser
        .get(app.authorize_url(&app.confidential, &[]))
        .header(HOST, "localhost:1")
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::OK);
}

/// `sekimori config check` with this keys folder, issuer and bind; returns (stdout, stderr).
fn config_check(keys: &std::path::Path, issuer: &str, bind: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["config", "check", "--issuer", issuer, "--bind", bind])
        .env("SEKIMORI_KEYS_DIR", keys)
        .env_remove("DATABASE_URL")
        .env_remove("SEKIMORI_CONFIG")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_warns_of_a_readable_key_file_and_a_public_http_issuer() {
    use std::os::unix::fs::PermissionsExt;
    // Arrange: one private key file and one readable by everyone.
    let dir = tempfile::tempdir().expect("tempdir");
    let private = dir.path().join("private.pem");
    let open = dir.path().join("open.pem");
    for (path, mode) in [(&private, 0o600), (&open, 0o644)] {
        std::fs::write(path, "not checked here").expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    // Act
    let (stdout, warned) = config_check(dir.path(), "http://id.example.com", "0.0.0.0:8080");
    let (_, quiet) = config_check(dir.path(), "https://id.example.com", "127.0.0.1:8080");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (_, silent) = config_check(dir.path(), "http://127.0.0.1:8080", "127.0.0.1:8080");

    // Assert: warnings on stderr; stdout stays the TOML configuration.
    assert!(toml::from_str::<toml::Table>(&stdout).is_ok(), "{stdout}");
    let open_path = open.display().to_string();
    assert!(
        warned.contains(&format!("warning: signing key {open_path}"))
            && warned.contains(&format!("chmod 600 {open_path}")),
        "{warned}"
    );
    assert!(!warned.contains("private.pem"), "{warned}");
    assert!(
        warned.contains("warning: issuer http://id.example.com is http://"),
        "{warned}"
    );
    assert!(
        quiet.contains("chmod 600") && !quiet.contains("is http://"),
        "{quiet}"
    );
    assert!(!silent.contains("warning"), "{silent}");
}

#[tokio::test]
async fn serve_logs_the_startup_warnings() {
    use std::os::unix::fs::PermissionsExt;
    // Arrange: a key folder whose key is readable by everyone.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    let key = sekimori::keys::generate_key_file(&keys, sekimori::keys::Alg::ES256).expect("key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();

    // Act: start the server, wait until it is ready, stop it.
    let mut server = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db)
        .env("SEKIMORI_KEYS_DIR", &keys)
        .env_remove("SEKIMORI_ISSUER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut ready = false;
    for _ in 0..200 {
        let probe = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
        if probe.is_ok_and(|r| r.status() == StatusCode::OK) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let mut logs = String::new();
    use std::io::Read;
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read");
    let _ = server.wait();

    // Assert
    assert!(ready, "server started: {logs}");
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains(&format!("chmod 600 {}", key.display())),
        "{logs}"
    );
}
