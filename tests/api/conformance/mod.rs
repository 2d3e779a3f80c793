//! The OpenID Foundation conformance suite's OP modules, mirrored one test per module with the
//! module's name (../shared/OIDF-PLAN.md, docs/conformance.md): the Basic plan, its Form Post
//! variant, the Config plan and the RP-Initiated Logout plan, all over https.

mod basic;
mod config;
mod logout;
pub mod suite;
