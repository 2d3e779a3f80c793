//! Integration tests: the real server on an ephemeral port, a fresh database per test, driven
//! over HTTP as relying parties and browsers do.

mod admin;
mod authorize;
mod browser;
mod chromium;
mod cli;
mod conformance;
mod discovery;
mod flow;
mod helpers;
mod keys;
mod lifecycle;
mod operations;
mod registration;
mod scale;
mod throttle;
mod tls;
mod token;
mod userinfo;
