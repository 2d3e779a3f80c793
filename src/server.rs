//! The HTTP/1.1 accept loop: bounded connections, a header read timeout, keep-alive, and a
//! graceful stop.
//!
//! `axum::serve` has no header read timeout, so a client that sends a request line and then
//! one header byte every few seconds (slowloris) holds a connection and a task forever. Here
//! hyper's HTTP/1 connection gets a timer: a connection that has not sent complete request
//! headers within [`Limits::header_read_timeout`] is closed (hyper starts that clock whenever it
//! waits for a request's head, so an idle keep-alive connection is closed after the same time).
//! The time a request may take after its headers is bounded by the router's `TimeoutLayer`
//! (`--request-timeout-secs`, 408).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// What one listener allows each client.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to send a request's complete headers (also the keep-alive idle limit).
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` turns `true` (or its sender is dropped), then
/// stops accepting, lets every in-flight request finish, closes idle connections, and returns.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Timeouts and resets end here; they are the client's doing, not ours.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Resolves once `stop` is `true` or its sender is gone (the guard `wait_for` returns is not
/// `Send`, so it must not live in the accept loop's `select!`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Out of file descriptors and the like: wait a little instead of spinning; a connection
/// that failed during its handshake is simply skipped.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
