//! Integration tests: the real server on an ephemeral port, a fresh database per test, driven
//! over HTTP as relying parties and browsers do.

mod account_events;
mod admin;
mod audit_log;
mod authorize;
mod browser;
mod chromium;
mod cli;
mod conformance;
mod demo;
mod discovery;
mod flow;
mod helpers;
mod hostile;
mod key_rotation;
mod keys;
mod lifecycle;
mod login_disabled;
mod loopback_redirect;
mod offline_access;
mod operations;
mod registration;
mod registration_policy;
mod scale;
mod throttle;
mod tls;
mod token;
mod userinfo;
