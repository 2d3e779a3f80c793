//! The built-in demo relying party (`serve --demo`, issue 19): driven end to end over HTTP by
//! the test browser (cookies on, redirects off): start → login → consent → callback → the
//! result page with the verified ID token and userinfo; refresh; prompt=login; log out back to
//! `/demo/`.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use sekimori::config::ServeConfig;
use url::Url;

use crate::helpers::{LoginForm, Spawn, TestApp, USER_EMAIL, USER_PASSWORD, spawn, spawn_app};

async fn spawn_demo() -> TestApp {
    spawn(Spawn {
        serve: Some(ServeConfig {
            demo: true,
            ..ServeConfig::default()
        }),
        ..Spawn::default()
    })
    .await
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .expect("Location")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The text of the element with `id`, if the page has it.
fn text_of(html: &str, id: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("#{id}")).expect("selector");
    doc.select(&sel).next().map(|e| e.text().collect())
}

/// The form whose action is `action` on a demo page, its action made absolute.
fn demo_form(app: &TestApp, html: &str, action: &str) -> LoginForm {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("form[action=\"{action}\"]")).expect("selector");
    let form = doc.select(&sel).next().expect("form");
    let mut f = LoginForm::parse(&form.html());
    f.action = app.url(&format!("/demo/{action}"));
    f
}

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.browser.get(url).send().await.expect("GET")
}

/// Start → login → consent → callback; returns the result page's HTML.
async fn sign_in(app: &TestApp) -> String {
    let start = get(app, &app.url("/demo/start")).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = get(app, &location(&start)).await;
    let back = app.through_login_and_consent(authorize).await;
    let callback = location(&back);
    assert!(
        callback.starts_with(&app.url("/demo/callback?")),
        "{callback}"
    );
    let done = get(app, &callback).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        done.text().await
    );
    assert_eq!(location(&done), app.url("/demo/"));
    let page = get(app, &app.url("/demo/")).await;
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.expect("html")
}

#[tokio::test]
async fn demo_start_sends_a_pkce_s256_request_for_its_own_client_and_sets_its_own_cookie() {
    // Arrange
    let app = spawn_demo().await;

    // Act
    let index = get(&app, &app.url("/demo/")).await;
    let index_html = index.text().await.expect("html");
    let start = get(&app, &app.url("/demo/start")).await;

    // Assert: the start page links to the flow; the flow is a real authorization request.
    assert!(text_of(&index_html, "demo-start").is_some(), "{index_html}");
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let url = Url::parse(&location(&start)).expect("url");
    assert_eq!(
        url.as_str().split('?').next(),
        Some(app.url("/authorize").as_str())
    );
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], sekimori::demo::CLIENT_ID);
    assert_eq!(q["redirect_uri"], app.url("/demo/callback"));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    assert!(!q["state"].is_empty() && !q["nonce"].is_empty());
    let cookie = start
        .headers()
        .get(SET_COOKIE)
        .expect("cookie")
        .to_str()
        .expect("ascii");
    assert!(cookie.starts_with("sekimori_demo="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/demo/"),
        "{cookie}"
    );
    let client = app
        .store
        .find_client(sekimori::demo::CLIENT_ID)
        .await
        .expect("db")
        .expect("registered");
    assert!(!client.first_party && !client.is_public());
    assert_eq!(client.post_logout_redirect_uris, vec![app.url("/demo/")]);
}

#[tokio::test]
async fn demo_signs_in_shows_verified_claims_refreshes_and_logs_out_back_to_the_demo() {
    // Arrange
    let app = spawn_demo().await;

    // Act: the whole sign-in, as a person clicking through.
    let html = sign_in(&app).await;

    // Assert: the decoded ID token, access token and userinfo, side by side.
    let id_token: serde_json::Value =
        serde_json::from_str(&text_of(&html, "demo-id-token").expect("id token")).expect("json");
    assert_eq!(id_token["iss"], app.issuer.as_str());
    assert_eq!(id_token["aud"], sekimori::demo::CLIENT_ID);
    assert_eq!(id_token["sub"], app.user_sub.as_str());
    assert!(id_token["nonce"].is_string());
    let userinfo: serde_json::Value =
        serde_json::from_str(&text_of(&html, "demo-userinfo").expect("userinfo")).expect("json");
    assert_eq!(userinfo["email"], USER_EMAIL);
    assert_eq!(userinfo["sub"], app.user_sub.as_str());
    let access: serde_json::Value =
        serde_json::from_str(&text_of(&html, "demo-access-token").expect("at")).expect("json");
    assert_eq!(access["client_id"], sekimori::demo::CLIENT_ID);
    assert_eq!(text_of(&html, "demo-email").as_deref(), Some(USER_EMAIL));
    for id in ["demo-refresh", "demo-logout", "demo-prompt-login"] {
        assert!(text_of(&html, id).is_some(), "{id} missing");
    }
    // Tokens are shown decoded, never raw (the refresh token least of all).
    let tokens = text_of(&html, "demo-token-response").expect("token response");
    assert!(tokens.contains("(received, not shown)"), "{tokens}");

    // Act: refresh.
    let refreshed = crate::helpers::submit(&app.browser, &demo_form(&app, &html, "refresh")).await;

    // Assert: new tokens, verified again, and the page says so.
    assert_eq!(refreshed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&refreshed), app.url("/demo/"));
    let html = get(&app, &app.url("/demo/"))
        .await
        .text()
        .await
        .expect("html");
    assert!(text_of(&html, "demo-refreshed").is_some(), "{html}");
    assert!(
        text_of(&html, "demo-userinfo")
            .expect("userinfo")
            .contains(USER_EMAIL)
    );

    // Act: log out.
    let out = crate::helpers::submit(&app.browser, &demo_form(&app, &html, "logout")).await;

    // Assert: RP-Initiated Logout with the hint, and back to the demo's start page.
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let end_session = Url::parse(&location(&out)).expect("url");
    assert_eq!(end_session.path(), "/logout");
    let q: std::collections::HashMap<String, String> =
        end_session.query_pairs().into_owned().collect();
    assert!(q.contains_key("id_token_hint"));
    assert_eq!(q["post_logout_redirect_uri"], app.url("/demo/"));
    let provider = get(&app, end_session.as_str()).await;
    assert_eq!(provider.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&provider), app.url("/demo/"));
    let html = get(&app, &app.url("/demo/"))
        .await
        .text()
        .await
        .expect("html");
    assert!(text_of(&html, "demo-start").is_some(), "{html}");
    assert!(text_of(&html, "demo-id-token").is_none());
    // The provider's session ended too: signing in again asks for the password.
    let start = get(&app, &app.url("/demo/start")).await;
    let login = get(&app, &location(&start)).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        login
            .text()
            .await
            .expect("html")
            .contains("name=\"password\"")
    );
}

#[tokio::test]
async fn demo_prompt_login_asks_for_the_password_again() {
    // Arrange
    let app = spawn_demo().await;
    let html = sign_in(&app).await;
    let form = demo_form(&app, &html, "start");

    // Act: the "try prompt=login" button (a GET form).
    let start = get(&app, &format!("{}?{}", form.action, form.body())).await;
    let authorize = location(&start);
    let page = get(&app, &authorize).await;

    // Assert: the provider shows its login form although the session is alive.
    assert!(authorize.contains("prompt=login"), "{authorize}");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("name=\"password\""));
    let back = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;
    let back = app.through_login_and_consent(back).await;
    let done = get(&app, &location(&back)).await;
    assert_eq!(location(&done), app.url("/demo/"));
}

#[tokio::test]
async fn demo_callback_refuses_an_unknown_state_and_shows_a_denial() {
    // Arrange
    let app = spawn_demo().await;

    // Act: a callback nobody started.
    let forged = get(&app, &app.url("/demo/callback?code=abc&state=forged")).await;

    // Assert
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(text_of(&forged.text().await.expect("html"), "demo-error").is_some());

    // Act: the person denies consent.
    let start = get(&app, &app.url("/demo/start")).await;
    let login = get(&app, &location(&start))
        .await
        .text()
        .await
        .expect("html");
    let consent = app.post_login(&login, USER_EMAIL, USER_PASSWORD).await;
    let consent = consent.text().await.expect("html");
    let denied = app.post_consent(&consent, "deny").await;
    let page = get(&app, &location(&denied)).await;

    // Assert: the provider's error, shown, with a way to start again.
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(
        text_of(&page, "demo-error")
            .expect("error")
            .contains("access_denied"),
        "{page}"
    );
    assert!(text_of(&page, "demo-start").is_some());
}

#[tokio::test]
async fn demo_buttons_need_the_forms_csrf_token() {
    // Arrange
    let app = spawn_demo().await;
    let html = sign_in(&app).await;
    let form = demo_form(&app, &html, "refresh").with("csrf_token", "forged");

    // Act
    let res = crate::helpers::submit(&app.browser, &form).await;

    // Assert
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn demo_routes_exist_only_with_demo() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let res = get(&app, &app.url("/demo/")).await;

    // Assert
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        app.store
            .find_client(sekimori::demo::CLIENT_ID)
            .await
            .expect("db")
            .is_none()
    );
}

#[tokio::test]
async fn demo_works_under_an_issuer_path() {
    // Arrange
    let app = spawn(Spawn {
        issuer_path: "/auth".into(),
        serve: Some(ServeConfig {
            demo: true,
            ..ServeConfig::default()
        }),
        ..Spawn::default()
    })
    .await;

    // Act
    let html = sign_in(&app).await;

    // Assert: the stylesheet link and the claims.
    assert!(
        html.contains("href=\"/auth/static/sekimori.css\""),
        "{html}"
    );
    assert!(
        text_of(&html, "demo-userinfo")
            .expect("userinfo")
            .contains(USER_EMAIL)
    );
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_demo_prints_the_demo_link_and_an_export_line_that_work() {
    // Arrange: a free port, a fresh SQLite database and key folder.
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let issuer = format!("http://127.0.0.1:{port}");

    // Act
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/s.db?mode=rwc", dir.path().display()),
        )
        .env("SEKIMORI_KEYS_DIR", dir.path().join("certs"))
        .env_remove("SEKIMORI_ISSUER")
        .env_remove("SEKIMORI_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start sekimori");
    let mut child = Child(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let export = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no export line; printed: {printed:#?}"));
        if line.trim_start().starts_with("export ") {
            break line;
        }
        printed.push(line);
    };

    // Assert: the link to the demo, and an export line a shell can paste.
    assert!(
        printed
            .iter()
            .any(|l| l.trim() == format!("{issuer}/demo/start")),
        "{printed:#?}"
    );
    let vars: std::collections::HashMap<&str, &str> = export
        .trim()
        .trim_start_matches("export ")
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    assert_eq!(vars["ISSUER"], issuer);
    assert!(!vars["CLIENT_ID"].is_empty() && !vars["CLIENT_SECRET"].is_empty());
    // The printed credentials authenticate: a made-up code gets invalid_grant, not
    // invalid_client.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let token = http
        .post(format!("{issuer}/token"))
        .basic_auth(vars["CLIENT_ID"], Some(vars["CLIENT_SECRET"]))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", "http://localhost:9999/callback"),
        ])
        .send()
        .await
        .expect("token");
    let body: serde_json::Value = token.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let start = http
        .get(format!("{issuer}/demo/start"))
        .send()
        .await
        .expect("demo start");
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    assert!(location(&start).starts_with(&format!("{issuer}/authorize?")));
}

#[test]
fn version_names_the_commit() {
    // Act
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .arg("--version")
        .output()
        .expect("run sekimori --version");

    // Assert: "sekimori 0.1.0 (commit abc123…)" or "(commit unknown)" outside git.
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(out.status.success());
    assert!(
        text.starts_with(&format!("sekimori {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.trim_end().ends_with(')'), "{text}");
}
