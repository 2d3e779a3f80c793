//! Test helpers, one file per concern, re-exported here so tests write `crate::helpers::X`:
//! - `app`: `spawn_app` and friends, `TestApp`, the seeded clients and user, extra nodes;
//! - `forms`: HTML forms, form posts, redirect parameters, the test user playing the pages;
//! - `jwt`: decoding compact JWTs;
//! - `rp`: the relying party's requests (authorize, token, refresh, userinfo).

mod app;
mod forms;
mod jwt;
mod rp;

pub use app::*;
pub use forms::*;
pub use jwt::*;
pub use rp::*;
