//! `spawn_app`: the real server on an ephemeral port with a fresh database (SQLite, or a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` is set), seeded with a confidential client, a
//! public client and a user; and a browser-like HTTP client (cookies on, redirects off).

use std::sync::OnceLock;

use sekimori::app::{AppState, Application};
use sekimori::cli::ClientRegistration;
use sekimori::clock::Clock;
use sekimori::config::{CommonConfig, ServeConfig};
use sekimori::store::Store;
use sqlx::Connection;
use url::Url;

pub const USER_EMAIL: &str = "alice@example.com";
pub const USER_NAME: &str = "Alice Liddell";
pub const USER_PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT_URI: &str = "http://localhost:9999/callback";
pub const PUBLIC_REDIRECT_URI: &str = "http://127.0.0.1:7777/cb";

/// A client registered in the test database.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// The issuer (`http://127.0.0.1:PORT`).
    pub issuer: String,
    /// A browser: cookie store on, redirects off.
    pub browser: reqwest::Client,
    /// A relying party's HTTP client: no cookies, redirects off.
    pub rp: reqwest::Client,
    pub store: Store,
    /// The server's state (to reload keys, say).
    pub state: AppState,
    pub clock: Clock,
    pub confidential: TestClient,
    pub public: TestClient,
    pub user_sub: String,
    pub keys_dir: tempfile::TempDir,
    _db_dir: tempfile::TempDir,
    /// The database every node of this test shares.
    pub database_url: String,
    /// The PostgreSQL database to drop when the test ends, if any.
    pg_cleanup: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Each test made its own PostgreSQL database; leave the server as we found it.
        if let Some((admin_url, name)) = self.pg_cleanup.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// One RSA key for the whole test run: generating one per test costs time and proves nothing new.
fn shared_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = sekimori::keys::generate_key_file(dir.path(), sekimori::keys::Alg::RS256)
            .expect("generate key");
        std::fs::read_to_string(path).expect("read key")
    })
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!(
                "sekimori_test_{}",
                sekimori::crypto::random_token(9)
                    .expect("rng")
                    .to_lowercase()
                    .replace(['-', '_'], "x")
            );
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => format!("sqlite://{}/sekimori.db?mode=rwc", dir.display()),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn(Spawn::default()).await
}

/// Spawns the app after letting the test adjust the keys folder (e.g. put its own key there).
pub async fn spawn_app_with(prepare_keys: impl FnOnce(&std::path::Path)) -> TestApp {
    let keys_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(keys_dir.path().join("test-key.pem"), shared_key_pem()).expect("write key");
    prepare_keys(keys_dir.path());
    spawn(Spawn {
        keys_dir: Some(keys_dir),
        ..Spawn::default()
    })
    .await
}

/// Spawns the app with an issuer that has a path (e.g. `/auth`).
pub async fn spawn_app_at(issuer_path: &str) -> TestApp {
    spawn(Spawn {
        issuer_path: issuer_path.to_owned(),
        ..Spawn::default()
    })
    .await
}

/// How to spawn a test server; `Default` is the common case.
#[derive(Default)]
pub struct Spawn {
    /// Appended to `http://127.0.0.1:PORT` to form the issuer.
    pub issuer_path: String,
    /// A prepared key folder (default: a fresh one with the shared RSA key).
    pub keys_dir: Option<tempfile::TempDir>,
    /// A database to use instead of a fresh one (the caller owns its lifetime).
    pub database_url: Option<String>,
    /// Pool acquire timeout, in milliseconds.
    pub db_acquire_timeout_ms: Option<u64>,
    /// Serve over https: a TLS front (see [`crate::tls`]) on its own port, the issuer
    /// `https://127.0.0.1:PORT`, and clients that trust the test certificate authority.
    pub tls: bool,
    /// Server settings (default: `ServeConfig::default()`); `bind` is ignored.
    pub serve: Option<ServeConfig>,
}

/// Builds and starts a server on `listener` with `issuer`; returns its state. Its pages answer
/// under any `Host` (`allow_any_host`): tests reach such a node at its own address, where a load
/// balancer would pass the issuer's host.
pub async fn start_node(
    listener: tokio::net::TcpListener,
    issuer: &str,
    database_url: &str,
    keys_dir: &std::path::Path,
    db_acquire_timeout_ms: u64,
    clock: Clock,
) -> AppState {
    start_node_with(
        listener,
        issuer,
        database_url,
        keys_dir,
        db_acquire_timeout_ms,
        clock,
        &ServeConfig {
            allow_any_host: true,
            ..ServeConfig::default()
        },
    )
    .await
}

/// Like [`start_node`], with server settings.
pub async fn start_node_with(
    listener: tokio::net::TcpListener,
    issuer: &str,
    database_url: &str,
    keys_dir: &std::path::Path,
    db_acquire_timeout_ms: u64,
    clock: Clock,
    serve: &ServeConfig,
) -> AppState {
    let common = CommonConfig {
        config: None,
        database_url: database_url.to_owned(),
        keys_dir: keys_dir.to_owned(),
        issuer: Some(issuer.to_owned()),
        db_acquire_timeout_ms,
    };
    let app = Application::build_on(listener, &common, serve, clock)
        .await
        .expect("build app");
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    state
}

pub async fn spawn(opts: Spawn) -> TestApp {
    let keys_dir = match opts.keys_dir {
        Some(d) => d,
        None => {
            let d = tempfile::tempdir().expect("tempdir");
            std::fs::write(d.path().join("test-key.pem"), shared_key_pem()).expect("write key");
            d
        }
    };
    let db_dir = tempfile::tempdir().expect("tempdir");
    let owns_database = opts.database_url.is_none();
    let database_url = match opts.database_url {
        Some(u) => u,
        None => fresh_database_url(db_dir.path()).await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let backend = listener.local_addr().expect("addr");
    let issuer = if opts.tls {
        let front = crate::tls::front(backend).await;
        format!("https://{front}{}", opts.issuer_path)
    } else {
        format!("http://{backend}{}", opts.issuer_path)
    };
    let clock = Clock::system();
    let state = start_node_with(
        listener,
        &issuer,
        &database_url,
        keys_dir.path(),
        opts.db_acquire_timeout_ms.unwrap_or(3000),
        clock.clone(),
        &opts.serve.unwrap_or_default(),
    )
    .await;
    let store = state.store.clone();

    let user_sub = sekimori::cli::add_user(&store, USER_EMAIL, USER_NAME, USER_PASSWORD)
        .await
        .expect("seed user");
    // First-party, so flows that are not about consent go straight from login to the code.
    let first_party = |name: &str, uri: &str, public: bool| {
        let mut r = ClientRegistration::new(name, &[uri.to_owned()], public);
        r.first_party = true;
        r.post_logout_redirect_uris = vec![format!("{uri}/logged-out")];
        r
    };
    let confidential = register_with(
        &store,
        first_party("Confidential <App>", REDIRECT_URI, false),
    )
    .await;
    let public = register_with(&store, first_party("Public SPA", PUBLIC_REDIRECT_URI, true)).await;

    let browser = http_client(opts.tls)
        .cookie_store(true)
        .build()
        .expect("client");
    let rp = http_client(opts.tls).build().expect("client");
    TestApp {
        issuer,
        browser,
        rp,
        store,
        state,
        clock,
        confidential,
        public,
        user_sub,
        keys_dir,
        _db_dir: db_dir,
        database_url: database_url.clone(),
        pg_cleanup: std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty() && owns_database)
            .and_then(|admin| {
                let name = Url::parse(&database_url)
                    .ok()?
                    .path()
                    .trim_start_matches('/')
                    .to_owned();
                Some((admin, name))
            }),
    }
}

/// A client builder with redirects off that, for `tls`, trusts the test certificate authority.
pub fn http_client(tls: bool) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if tls {
        b.add_root_certificate(crate::tls::ca_certificate())
    } else {
        b
    }
}

pub async fn register_with(store: &Store, registration: ClientRegistration) -> TestClient {
    let redirect_uri = registration.redirect_uris[0].clone();
    let out = sekimori::cli::add_client(store, &registration)
        .await
        .expect("seed client");
    TestClient {
        client_id: out["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: out["client_secret"].as_str().map(str::to_owned),
        redirect_uri,
    }
}

impl TestApp {
    /// Starts another node on the same database and key folder with the same issuer (as behind
    /// a load balancer); returns its base URL.
    pub async fn spawn_node(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        start_node(
            listener,
            &self.issuer,
            &self.database_url,
            self.keys_dir.path(),
            3000,
            self.clock.clone(),
        )
        .await;
        base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// A third-party client (it asks consent) whose name is hostile markup.
pub async fn third_party(app: &TestApp) -> TestClient {
    let mut r = ClientRegistration::new(
        "<script>alert(1)</script>",
        &["https://rp.example/cb".to_owned()],
        false,
    );
    r.post_logout_redirect_uris = vec!["https://rp.example/bye".to_owned()];
    register_with(&app.store, r).await
}
