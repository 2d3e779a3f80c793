//! Logs and metrics.
//!
//! Logs: human-readable lines on stderr, or JSON objects with `SEKIMORI_LOG_FORMAT=json`;
//! filtered by `RUST_LOG` (default `info`); every request's span carries its `x-request-id`.
//! Never log passwords, secrets, codes, tokens or cookies (STYLE §4): request spans record the
//! method and the matched route, never the query string or body.
//!
//! Metrics: Prometheus text at `GET /metrics` (the `metrics` facade with
//! `metrics-exporter-prometheus`).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber once; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let json = std::env::var("SEKIMORI_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

/// The process-wide Prometheus recorder (installed on first use; one per process, shared by
/// every server instance in it, as in tests).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts every request by route and status, and records its latency
/// (`sekimori_http_requests_total`, `sekimori_http_request_duration_seconds`).
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The matched route template (`/authorize`), never the raw path: bounded label values.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sekimori_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("sekimori_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics_get(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
) -> Response {
    let pool = state.store.pool_status();
    metrics::gauge!("sekimori_db_pool_connections", "state" => "open").set(pool.0 as f64);
    metrics::gauge!("sekimori_db_pool_connections", "state" => "idle").set(pool.1 as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}
