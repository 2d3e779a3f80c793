//! Sekimori (関守, "keeper of the gate"): an OpenID Connect / OAuth 2.0 authorization provider.
//!
//! # Layout
//! - [`cli`]: the `sekimori` command line (serve, migrate, user, client, keys).
//! - [`config`]: settings from flags and `SEKIMORI_*` environment variables.
//! - [`accounts`]: the user-account service (add, import, update, passwd, disable, remove).
//! - [`clients`]: the client-registration service for the CLI and RFC 7591/7592.
//! - [`login_throttle`]: failure budgets per account, source and device cookie.
//! - [`telemetry`]: the tracing subscriber.
//! - [`audit`]: the audit log, one structured event per security-relevant action.
//! - [`client_addr`]: the client address behind trusted proxies (RFC 7239).
//! - [`app`]: shared state, the router, binding and serving, `/healthz` and `/readyz`.
//! - [`server`]: the accept loop: header read timeout, connection limit, graceful stop.
//! - [`clock`]: the only source of wall-clock time, settable in tests.
//! - [`crypto`]: random secrets, SHA-256 digests (`TokenHash`, the only key store lookups of
//!   secrets take) and constant-time comparison.
//! - [`keys`]: signing keys in the key folder, `kid` thumbprints (RFC 7638), the JWKS (RFC 7517).
//! - [`email`]: the one email normalization (NFC, PRECIS local part, IDNA domain; RFC 8265).
//! - [`password`]: argon2id hashing and bounded verification.
//! - [`store`]: sqlx repositories over SQLite or PostgreSQL (users, clients, codes, tokens, sessions).
//! - [`oauth`]: RFC 6749 endpoints: authorize, token, client authentication, PKCE, error enums;
//!   `oauth::types`: `Scope`, identifiers and the secret newtypes.
//! - [`oidc`]: OpenID Connect: discovery, ID tokens, access tokens, userinfo; `oidc::claims`:
//!   the scope catalog (claims per scope, consent texts).
//! - [`demo`]: the built-in demo relying party (`serve --demo`, under `/demo/`), a client of our
//!   own public endpoints over HTTP.
//! - [`headers`]: response headers every surface shares: the pages' Content-Security-Policy
//!   and security headers, CORS for the JSON endpoints.
//! - [`web`]: the HTML side: login page (and the device cookie it reads), CSRF tokens,
//!   browser session, page headers.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod cli;
pub mod client_addr;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod email;
pub mod headers;
pub mod keys;
pub mod login_throttle;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod web;
