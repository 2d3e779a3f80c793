//! Logging. Human-readable lines on stderr, filtered by `RUST_LOG` (default `info`).
//! Never log passwords, secrets, codes, tokens or cookies (STYLE §4).

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber once; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
