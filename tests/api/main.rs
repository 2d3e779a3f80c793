//! Integration tests: the real server on an ephemeral port, a fresh database per test, driven
//! over HTTP as relying parties and browsers do.

mod account_events;
mod admin;
mod audit_log;
mod authorize;
mod chromium;
mod claims_parameter;
mod cli;
mod conformance;
mod consent;
mod discovery;
mod error_bodies;
mod flow;
mod form_post;
mod grants;
mod helpers;
mod hostile;
mod introspect;
mod key_rotation;
mod keys;
mod layering;
mod login;
mod logout;
mod loopback_redirect;
mod offline_access;
mod operations;
mod refresh;
mod registration;
mod registration_policy;
mod revoke;
mod scale;
mod signing;
mod throttle;
mod tls;
mod token;
mod userinfo;
