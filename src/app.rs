//! The application: shared state, the router, binding and serving, `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::{CommonConfig, Issuer, ServeConfig};
use crate::keys::KeySet;
use crate::password::PasswordChecker;
use crate::store::Store;

/// Token and code lifetimes, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Authorization code.
    pub code_secs: i64,
    /// Access token.
    pub access_token_secs: i64,
    /// ID token.
    pub id_token_secs: i64,
    /// Refresh token.
    pub refresh_token_secs: i64,
    /// Browser session idle timeout.
    pub session_secs: i64,
}

impl From<&ServeConfig> for Lifetimes {
    fn from(c: &ServeConfig) -> Self {
        Self {
            code_secs: c.code_ttl_secs,
            access_token_secs: c.access_token_ttl_secs,
            id_token_secs: c.id_token_ttl_secs,
            refresh_token_secs: c.refresh_token_ttl_secs,
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
    /// Signing and verification keys.
    pub keys: KeySet,
    /// The only source of time.
    pub clock: Clock,
    /// Lifetimes of what we issue.
    pub lifetimes: Lifetimes,
    /// argon2id verification, bounded.
    pub passwords: PasswordChecker,
    /// The discovery document, serialized once at start.
    pub discovery: crate::oidc::discovery::Document,
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
        let listener = TcpListener::bind(serve.bind)
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
        let issuer = Issuer::parse(&common.issuer).map_err(anyhow::Error::msg)?;
        let store = Store::connect(&common.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
        let (keys, generated) = KeySet::load_or_generate(&common.keys_dir)
            .map_err(|e| anyhow::anyhow!("cannot load signing keys: {e}"))?;
        if let Some(path) = generated {
            tracing::info!(path = %path.display(), "no signing key found; generated an RSA-2048 key");
        }
        tracing::info!(kid = keys.active().kid(), "signing with key");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let passwords = PasswordChecker::new(cores).map_err(anyhow::Error::msg)?;
        let discovery = crate::oidc::discovery::Document::new(&issuer);
        let state = AppState(Arc::new(Inner {
            issuer,
            store,
            keys,
            clock,
            lifetimes: Lifetimes::from(serve),
            passwords,
            discovery,
        }));
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
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

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// The whole router, nested under the issuer's path.
pub fn router(state: AppState) -> Router {
    let inner = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::oidc::router())
        .merge(crate::oauth::router())
        .merge(crate::web::router(&state))
        // Every body we accept is a small form; larger ones are hostile.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TraceLayer::new_for_http())
        .with_state(state.clone());
    let path = state.issuer.path();
    if path.is_empty() {
        inner
    } else {
        Router::new().nest(&path, inner)
    }
}

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
