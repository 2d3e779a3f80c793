//! The application: shared state, the router, binding and serving, `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderName;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::{CommonConfig, Issuer, ServeConfig};
use crate::keys::KeySet;
use crate::password::PasswordChecker;
use crate::store::{Client, Store};

/// Token and code lifetimes, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Authorization code.
    pub code_secs: i64,
    /// Access token.
    pub access_token_secs: i64,
    /// ID token.
    pub id_token_secs: i64,
    /// Refresh token, idle.
    pub refresh_token_idle_secs: i64,
    /// Refresh-token grant, absolute (from the login).
    pub refresh_token_absolute_secs: i64,
    /// Browser session idle timeout.
    pub session_secs: i64,
}

impl From<&ServeConfig> for Lifetimes {
    fn from(c: &ServeConfig) -> Self {
        Self {
            code_secs: c.code_ttl_secs,
            access_token_secs: c.access_token_ttl_secs,
            id_token_secs: c.id_token_ttl_secs,
            refresh_token_idle_secs: c.refresh_token_idle_ttl_secs,
            refresh_token_absolute_secs: c.refresh_token_absolute_ttl_secs,
            session_secs: c.session_ttl_secs,
        }
    }
}

/// Everything a request handler needs. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// Our issuer identifier.
    pub issuer: Issuer,
    /// The database.
    pub store: Store,
    /// Where the keys live (reloaded on SIGHUP and every [`KEY_RELOAD_SECS`]).
    pub keys_dir: std::path::PathBuf,
    /// Keys and the documents derived from them, swapped atomically on reload.
    published: ArcSwap<Published>,
    /// The only source of time.
    pub clock: Clock,
    /// Lifetimes of what we issue.
    pub lifetimes: Lifetimes,
    /// argon2id verification, bounded.
    pub passwords: PasswordChecker,
    /// Whether `/register` accepts requests without an initial access token.
    pub open_registration: bool,
    /// Login failure budgets (in the database) and the device-cookie key.
    pub login_throttle: crate::login_throttle::LoginThrottle,
    /// Proxies whose forwarded client addresses we believe.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// Scopes and grant types a dynamically registered client may get (RFC 7591 §2, §5).
    pub registration_policy: crate::oauth::registration::RegistrationPolicy,
    /// Registered clients read recently, so the token endpoint does not read the same row on
    /// every request. Entries live [`CLIENT_CACHE_SECS`]: a change to a client reaches every
    /// node within that time. Bounded by [`CLIENT_CACHE_BYTES`] (entries weighed by
    /// [`client_weight`]), since dynamic registration lets anyone make large clients.
    clients: moka::future::Cache<String, Arc<Client>>,
    /// Where the operators' listener (`--admin-bind`: `/metrics`, `/healthz`, `/readyz`) is
    /// bound, if it is.
    pub admin_addr: Option<SocketAddr>,
    /// Serve the browser pages under any `Host` (`--allow-any-host`).
    pub allow_any_host: bool,
    /// The built-in demo relying party (`serve --demo`), when it is served.
    pub demo: Option<crate::demo::Demo>,
}

/// The signing keys and the discovery document that advertises their algorithms.
#[derive(Debug)]
pub struct Published {
    /// Signing and verification keys.
    pub keys: KeySet,
    /// The discovery document, serialized once per key load.
    pub discovery: crate::oidc::discovery::Document,
}

/// How long a node may serve a client registration from memory, in seconds.
pub const CLIENT_CACHE_SECS: u64 = 10;

/// The most memory the client cache may hold, in bytes (approximate: see [`client_weight`]).
pub const CLIENT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The approximate heap size of a cached client, in bytes: its key, every string it owns, and
/// a fixed overhead for the struct, the `Arc` and moka's bookkeeping. Saturates at `u32::MAX`.
pub fn client_weight(client_id: &str, client: &Client) -> u32 {
    /// Struct, `Arc` and per-entry cache overhead, measured loosely; an over-estimate is safe.
    const OVERHEAD: usize = 512;
    let strings = |v: &[String]| {
        v.iter()
            .map(|s| s.len() + std::mem::size_of::<String>())
            .sum::<usize>()
    };
    let optional = |o: &Option<String>| o.as_ref().map_or(0, String::len);
    let bytes = OVERHEAD
        + client_id.len()
        + client.client_id.len()
        + client.name.len()
        + optional(&client.secret_hash)
        + strings(&client.redirect_uris)
        + strings(&client.scope)
        + strings(&client.grant_types)
        + strings(&client.post_logout_redirect_uris)
        + optional(&client.logo_uri)
        + optional(&client.policy_uri)
        + optional(&client.tos_uri)
        + optional(&client.registration_token_hash);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The client cache: entries weighed in bytes, at most [`CLIENT_CACHE_BYTES`] in all, each
/// living [`CLIENT_CACHE_SECS`].
fn client_cache() -> moka::future::Cache<String, Arc<Client>> {
    moka::future::Cache::builder()
        .weigher(|id: &String, c: &Arc<Client>| client_weight(id, c))
        .max_capacity(CLIENT_CACHE_BYTES)
        .time_to_live(std::time::Duration::from_secs(CLIENT_CACHE_SECS))
        .build()
}

/// How often each node re-reads the key folder, in seconds (SIGHUP reloads at once).
pub const KEY_RELOAD_SECS: u64 = 30;

impl Inner {
    /// The registered client `client_id`, from the cache or the database.
    ///
    /// Errors: the database's, when it must be read and cannot be.
    pub async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<Client>>, crate::store::Error> {
        if let Some(c) = self.clients.get(client_id).await {
            return Ok(Some(c));
        }
        let Some(client) = self.store.find_client(client_id).await? else {
            // Unknown ids are not cached: a flood of random ids must not fill memory.
            return Ok(None);
        };
        let client = Arc::new(client);
        self.clients
            .insert(client_id.to_owned(), client.clone())
            .await;
        Ok(Some(client))
    }

    /// Drops a cached client, so the next [`Self::client`] reads the database (a presented
    /// secret that does not match the cached one may be a freshly rotated secret).
    pub async fn forget_client(&self, client_id: &str) {
        self.clients.invalidate(client_id).await;
    }

    /// The current keys and discovery document.
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
    }

    /// Re-reads the key folder if it changed. A folder that no longer loads keeps the old keys
    /// (and logs why), so a half-copied key file cannot take the provider down.
    pub fn reload_keys(&self, force: bool) {
        let current = self.published();
        if !force && !current.keys.folder_changed(&self.keys_dir) {
            return;
        }
        match KeySet::load(&self.keys_dir) {
            Ok(keys) if !keys.algs().is_empty() => {
                let kids: Vec<&str> = keys.all().map(|k| k.kid()).collect();
                tracing::info!(keys = ?kids, "signing keys reloaded");
                let discovery = crate::oidc::discovery::Document::new(&self.issuer, &keys);
                self.published
                    .store(Arc::new(Published { keys, discovery }));
            }
            Ok(_) => tracing::error!("key folder has no usable key; keeping the previous keys"),
            Err(e) => tracing::error!(error = %e, "cannot reload keys; keeping the previous keys"),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A built, bound application, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The operators' listener and its router (`--admin-bind`).
    admin: Option<(TcpListener, Router)>,
    limits: crate::server::Limits,
    state: AppState,
}

impl Application {
    /// Connects to the database, runs migrations, loads (or generates) keys, binds the listener.
    ///
    /// Errors: a readable message for a bad DATABASE_URL, an unreachable database, an unusable
    /// key, or an address in use.
    pub async fn build(
        common: &CommonConfig,
        serve: &ServeConfig,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&serve.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", serve.bind))?;
        Self::build_on(listener, common, serve, clock).await
    }

    /// Like [`Self::build`], on a listener bound by the caller (tests bind port 0 first so the
    /// issuer can name the real port).
    pub async fn build_on(
        listener: TcpListener,
        common: &CommonConfig,
        serve: &ServeConfig,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        // The checks `config check` runs, so a setting it refuses never starts a server.
        crate::config::validate(common, serve).map_err(anyhow::Error::msg)?;
        let issuer = common.issuer_for(&serve.bind).map_err(anyhow::Error::msg)?;
        let admin_listener = match &serve.admin_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (admin): {e}"))?,
            ),
            None => None,
        };
        let admin_addr = admin_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let store = Store::connect(&common.database_url, common.db_acquire_timeout())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
        // Issue 11 §4: accounts from before email normalization are normalized now; those that
        // collide or no longer normalize are reported, never merged.
        for problem in store
            .normalize_stored_emails()
            .await
            .map_err(|e| anyhow::anyhow!("cannot check stored emails: {e}"))?
        {
            tracing::warn!(%problem, "account email needs attention");
        }
        let (keys, generated) = KeySet::load_or_generate(&common.keys_dir)
            .map_err(|e| anyhow::anyhow!("cannot load signing keys: {e}"))?;
        for path in generated {
            tracing::info!(path = %path.display(), "generated a signing key");
        }
        for k in keys.all() {
            tracing::info!(kid = k.kid(), alg = %k.alg(), signs_from = k.signs_from(), path = %k.path().display(), "signing key loaded");
        }
        let trusted_proxies = crate::client_addr::TrustedProxies::parse(&serve.trusted_proxies)
            .map_err(anyhow::Error::msg)?
            .with_header(
                crate::client_addr::ProxyHeader::parse(&serve.proxy_header)
                    .map_err(anyhow::Error::msg)?,
            );
        let login_throttle = crate::login_throttle::LoginThrottle::load(&store, clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the device-cookie key: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let passwords = PasswordChecker::new(cores);
        let discovery = crate::oidc::discovery::Document::new(&issuer, &keys);
        let demo = if serve.demo {
            Some(
                crate::demo::Demo::prepare(&store, &issuer, clock.now())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot set up the demo: {e}"))?,
            )
        } else {
            None
        };
        let state = AppState(Arc::new(Inner {
            issuer,
            store,
            keys_dir: common.keys_dir.clone(),
            published: ArcSwap::from_pointee(Published { keys, discovery }),
            clock,
            lifetimes: Lifetimes::from(serve),
            passwords,
            login_throttle,
            trusted_proxies,
            registration_policy: crate::oauth::registration::RegistrationPolicy::parse(
                &serve.registration_scopes,
                &serve.registration_grant_types,
            )
            .map_err(anyhow::Error::msg)?,
            open_registration: serve.open_registration,
            clients: client_cache(),
            admin_addr,
            allow_any_host: serve.allow_any_host,
            demo,
        }));
        for warning in crate::config::startup_warnings(common, serve) {
            tracing::warn!("{warning}");
        }
        let router =
            router(state.clone()).layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                std::time::Duration::from_secs(serve.request_timeout_secs),
            ));
        let admin = admin_listener.map(|l| (l, admin_router(state.clone())));
        Ok(Self {
            listener,
            router,
            admin,
            limits: crate::server::Limits {
                header_read_timeout: std::time::Duration::from_secs(serve.header_read_timeout_secs),
                max_connections: serve.max_connections,
            },
            state,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests use its store and clock).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves (and the admin listener, if any) until `shutdown` resolves, then finishes
    /// in-flight requests. Meanwhile reloads keys (periodically and on SIGHUP) and purges
    /// expired rows.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let background = tokio::spawn(background_tasks(self.state.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopper = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let admin = self.admin.map(|(listener, router)| {
            tokio::spawn(crate::server::serve(
                listener,
                router,
                crate::server::Limits {
                    max_connections: 64,
                    ..self.limits
                },
                stop_rx.clone(),
            ))
        });
        crate::server::serve(self.listener, self.router, self.limits, stop_rx).await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        stopper.abort();
        background.abort();
        Ok(())
    }
}

async fn purge_expired(state: &AppState) {
    match state.store.purge_expired(state.clock.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "purged expired rows"),
        Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
    }
}

/// Key reloads (every [`KEY_RELOAD_SECS`] and on SIGHUP) and housekeeping (hourly purge of
/// expired rows; safe on several nodes at once).
async fn background_tasks(state: AppState) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut reload = tokio::time::interval(std::time::Duration::from_secs(KEY_RELOAD_SECS));
    let mut purge = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        let hup_recv = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = hup_recv => state.reload_keys(true),
            _ = reload.tick() => state.reload_keys(false),
            _ = purge.tick() => purge_expired(&state).await,
        }
    }
}

/// The whole router, nested under the issuer's path.
pub fn router(state: AppState) -> Router {
    crate::telemetry::metrics_handle();
    let request_id = HeaderName::from_static("x-request-id");
    let inner = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::oidc::router())
        .merge(crate::oauth::router())
        .merge(crate::web::router(&state))
        .merge(crate::demo::router(&state))
        // Every body we accept is a small form; larger ones are hostile. Each router turns the
        // limit's 413 into its own error format (`too_large_*` response mappers).
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            crate::oauth::error::log_internal_errors,
        ))
        .route_layer(axum::middleware::from_fn(crate::telemetry::track_http))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                    // Method, route and request id only: the query string may carry state,
                    // codes in error reports, or login hints.
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or_else(|| req.uri().path(), |p| p.as_str());
                    tracing::info_span!("request", method = %req.method(), route, request_id = id)
                }))
                .layer(PropagateRequestIdLayer::new(request_id)),
        )
        .with_state(state.clone());
    let path = state.issuer.path();
    // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
    let oauth_metadata = Router::new()
        .route(
            &format!("/.well-known/oauth-authorization-server{path}"),
            get(crate::oidc::discovery::openid_configuration_get),
        )
        .layer(crate::web::headers::api_cors())
        .with_state(state.clone());
    let app = if path.is_empty() {
        inner
    } else {
        // Browsers ask the origin's root for /favicon.ico whatever the issuer's path.
        Router::new()
            .nest(&path, inner)
            .route("/favicon.ico", get(crate::web::favicon))
    };
    app.merge(oauth_metadata)
}

/// The operators' router (`--admin-bind`): Prometheus `/metrics`, `/healthz` and `/readyz`,
/// at the root whatever the issuer's path.
pub fn admin_router(state: AppState) -> Router {
    crate::telemetry::metrics_handle();
    Router::new()
        .route("/metrics", get(crate::telemetry::metrics_get))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// The largest request body any endpoint reads, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Liveness: the process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, redirect_uri_bytes: usize) -> Client {
        Client {
            client_id: id.to_owned(),
            name: "App".to_owned(),
            secret_hash: None,
            redirect_uris: vec!["x".repeat(redirect_uri_bytes)],
            scope: vec!["openid".to_owned()],
            grant_types: vec!["authorization_code".to_owned()],
            id_token_alg: crate::keys::Alg::RS256,
            access_token_alg: crate::keys::Alg::RS256,
            post_logout_redirect_uris: Vec::new(),
            first_party: false,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
            registration_token_hash: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_clients_weight_grows_with_what_it_holds() {
        let small = client_weight("c1", &client("c1", 10));
        let large = client_weight("c1", &client("c1", 100_000));
        assert!(small >= 512);
        assert!((100_000..101_000).contains(&large), "{large}");
    }

    #[tokio::test]
    async fn the_client_cache_stays_within_its_byte_budget() {
        // Arrange: 64 clients of about 1 MiB each, four times the budget.
        let cache = client_cache();

        // Act
        for i in 0..64 {
            let id = format!("client-{i}");
            let c = Arc::new(client(&id, 1024 * 1024));
            cache.insert(id, c).await;
        }
        cache.run_pending_tasks().await;

        // Assert
        assert!(
            cache.weighted_size() <= CLIENT_CACHE_BYTES,
            "{}",
            cache.weighted_size()
        );
        assert!(cache.entry_count() <= 16, "{}", cache.entry_count());
        assert!(cache.entry_count() > 0);
    }
}
