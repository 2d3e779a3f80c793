//! Scale-out: single use under races, two stateless nodes over one database, and a database
//! outage survived (PostgreSQL only: SQLite has no network to cut).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::helpers::{
    REDIRECT_URI, Spawn, TestApp, form, json, location_params, param, spawn, spawn_app,
};

/// Fires `n` identical token requests at once; returns (successes, invalid_grant count).
async fn race(app: &TestApp, pairs: Vec<(String, String)>, n: usize) -> (usize, usize) {
    let c = app.confidential.clone();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let http = app.rp.clone();
        let url = app.url("/token");
        let body = form(
            &pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        );
        let (id, secret) = (c.client_id.clone(), c.client_secret.clone());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let res = http
                .post(url)
                .basic_auth(id, secret)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("token");
            let status = res.status();
            let body: Value = res.json().await.expect("json");
            (status, body)
        }));
    }
    let (mut ok, mut invalid_grant) = (0, 0);
    for t in tasks {
        let (status, body) = t.await.expect("task");
        if status == StatusCode::OK {
            ok += 1;
        } else if status == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant" {
            invalid_grant += 1;
        } else {
            panic!("unexpected answer {status}: {body}");
        }
    }
    (ok, invalid_grant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_yield_exactly_one_success() {
    let app = spawn_app().await;
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let pairs = vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT_URI.into()),
    ];
    assert_eq!(race(&app, pairs, 32).await, (1, 31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_yield_exactly_one_success() {
    let app = spawn_app().await;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;
    let tokens = json(app.redeem(&code, &[]).await).await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let pairs = vec![
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), rt),
    ];
    assert_eq!(race(&app, pairs, 32).await, (1, 31));
}

#[tokio::test]
async fn two_nodes_share_codes_tokens_revocations_and_sessions() {
    // Arrange: node A (the TestApp) and node B on the same database and key folder.
    let app = spawn_app().await;
    let node_b = app.spawn_node().await;
    let c = app.confidential.clone();
    let secret = c.client_secret.clone().expect("secret");

    // Log in on A (offline_access so there is a refresh token).
    let code = app
        .authorize_and_login(
            &c,
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;

    // Redeem on B.
    let res = app
        .rp
        .post(format!("{node_b}/token"))
        .basic_auth(&c.client_id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ]))
        .send()
        .await
        .expect("token on B");
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = json(res).await;

    // Refresh on A.
    let res = app
        .post_token(
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("rt"),
                ),
            ],
            Some((&c.client_id, &secret)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed = json(res).await;
    let at = refreshed["access_token"].as_str().expect("at").to_owned();
    let userinfo_a = |token: String| {
        let http = app.rp.clone();
        let url = app.url("/userinfo");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("userinfo")
                .status()
        }
    };
    assert_eq!(userinfo_a(at.clone()).await, StatusCode::OK);

    // Revoke on B; userinfo on A fails.
    let res = app
        .rp
        .post(format!("{node_b}/revoke"))
        .basic_auth(&c.client_id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", &at)]))
        .send()
        .await
        .expect("revoke on B");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(userinfo_a(at).await, StatusCode::UNAUTHORIZED);

    // The browser session made on A is honoured on B: no login form.
    let url = app.authorize_url(&c, &[]).replace(&app.issuer, &node_b);
    let res = app.browser.get(url).send().await.expect("authorize on B");
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, pairs) = location_params(&res);
    assert!(param(&pairs, "code").is_some());
    assert_eq!(param(&pairs, "iss"), Some(app.issuer.as_str()));
}

/// A TCP proxy between Sekimori and PostgreSQL that the test can cut and restore.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (cut2, conns2) = (cut.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().await.push(handle.abort_handle());
            }
        });
        Self { addr, cut, conns }
    }

    async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.conns.lock().await.drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_fails_fast_with_503_and_recovers_without_restart() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("SKIPPED: the outage test needs TEST_DATABASE_URL (PostgreSQL)");
        return;
    };
    // Arrange: a fresh database reached through the proxy.
    let dir = tempfile::tempdir().expect("tempdir");
    let direct = crate::helpers::fresh_database_url(dir.path()).await;
    let mut via_proxy = url::Url::parse(&direct).expect("url");
    let upstream = format!(
        "{}:{}",
        via_proxy.host_str().expect("host"),
        via_proxy.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream).await;
    via_proxy.set_port(Some(proxy.addr.port())).expect("port");
    let app = spawn(Spawn {
        database_url: Some(via_proxy.to_string()),
        db_acquire_timeout_ms: Some(1000),
        ..Spawn::default()
    })
    .await;
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;
    let before = json(app.redeem(&code, &[]).await).await;
    let rt = before["refresh_token"].as_str().expect("rt").to_owned();
    let c = app.confidential.clone();
    let secret = c.client_secret.clone().expect("secret");

    // Act: cut the database off.
    proxy.cut().await;
    let started = Instant::now();
    // (The client itself may come from the node's 10 s cache; the code lookup cannot.)
    let res = app
        .post_token(
            &[
                ("grant_type", "authorization_code"),
                ("code", "a-code-that-needs-the-database"),
                ("redirect_uri", REDIRECT_URI),
            ],
            Some((&c.client_id, &secret)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(json(res).await["error"], "temporarily_unavailable");
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
    let page = app.get_authorize(&c, &[]).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = app.rp.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let live = app
        .rp
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(live.status(), StatusCode::OK);

    // Restore: the node recovers without a restart and nothing written before is lost.
    proxy.restore();
    let mut ready = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        ready = app
            .rp
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status();
        if ready == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, StatusCode::OK);
    let res = app
        .post_token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            Some((&c.client_id, &secret)),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the refresh token written before the cut"
    );
    let code = app.authorize_and_login(&c, &[]).await;
    assert_eq!(app.redeem(&code, &[]).await.status(), StatusCode::OK);
    drop(app);
    // The database was made here, not by spawn(): drop it.
    let name = url::Url::parse(&direct)
        .expect("url")
        .path()
        .trim_start_matches('/')
        .to_owned();
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_of_one_consent_form_yield_exactly_one_code() {
    let app = spawn_app().await;
    let mut r = sekimori::cli::ClientRegistration::new(
        "Third party",
        &["https://rp.example/cb".to_owned()],
        false,
    );
    r.first_party = false;
    let rp = crate::helpers::register_with(&app.store, r).await;
    let page = app
        .get_authorize(&rp, &[])
        .await
        .text()
        .await
        .expect("html");
    let consent = app
        .post_login(
            &page,
            crate::helpers::USER_EMAIL,
            crate::helpers::USER_PASSWORD,
        )
        .await
        .text()
        .await
        .expect("consent page");
    let form = Arc::new(crate::helpers::LoginForm::parse(&consent).with("decision", "allow"));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (browser, form) = (app.browser.clone(), form.clone());
        tasks.push(tokio::spawn(async move {
            crate::helpers::submit(&browser, &form).await.status()
        }));
    }
    let mut codes = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::SEE_OTHER => codes += 1,
            other => assert_eq!(other, StatusCode::BAD_REQUEST),
        }
    }
    assert_eq!(codes, 1, "one consent, one code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_of_one_login_form_yield_exactly_one_code() {
    let app = spawn_app().await;
    let page = app
        .get_authorize(&app.confidential, &[])
        .await
        .text()
        .await
        .expect("html");
    let form = Arc::new(
        crate::helpers::LoginForm::parse(&page)
            .with("email", crate::helpers::USER_EMAIL)
            .with("password", crate::helpers::USER_PASSWORD),
    );
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (browser, form) = (app.browser.clone(), form.clone());
        tasks.push(tokio::spawn(async move {
            crate::helpers::submit(&browser, &form).await.status()
        }));
    }
    let mut codes = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::SEE_OTHER => codes += 1,
            other => assert_eq!(other, StatusCode::BAD_REQUEST),
        }
    }
    assert_eq!(codes, 1, "one login, one code");
}
