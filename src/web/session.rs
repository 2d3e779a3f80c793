//! Typed values in the browser session (tower-sessions): the SSO login, the CSRF token, and
//! authorization requests waiting for the user to log in.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::crypto::{constant_time_eq, random_token};
use crate::oauth::authorize::AuthorizationRequest;

const SSO_KEY: &str = "sso";
const CSRF_KEY: &str = "csrf";
const PENDING_KEY: &str = "pending";
/// At most this many authorization requests wait in one browser (several tabs, several apps).
const MAX_PENDING: usize = 4;
/// A login form older than this (seconds) is refused as expired.
pub const PENDING_TTL_SECS: i64 = 30 * 60;

/// Who is logged in in this browser (OIDC Core §3.1.2.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sso {
    /// Subject identifier.
    pub sub: String,
    /// When the user authenticated (Unix seconds): the ID token's `auth_time`.
    pub auth_time: i64,
    /// The user's security stamp at login: once the password changes or the account is
    /// disabled, the stamp moves on and this login no longer counts, on every node (sessions
    /// from before the stamp existed read 0, the stamp of an account never changed).
    #[serde(default)]
    pub security_stamp: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    created_at: i64,
    /// Which page the request waits on: a login form's request id cannot complete a consent,
    /// or a consent's skip the login that `prompt=login` or `max_age` demanded.
    stage: Stage,
    request: AuthorizationRequest,
}

/// The page a waiting authorization request was shown on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// The login form.
    Login,
    /// The consent page.
    Consent,
}

/// The logged-in user of this browser, if any.
pub async fn sso(session: &Session) -> Option<Sso> {
    session.get::<Sso>(SSO_KEY).await.ok().flatten()
}

/// The logged-in user of this browser if the login still counts: the account exists, is
/// enabled, and its security stamp is the one the session was made under (one indexed read of
/// the user). A login that no longer counts is dropped from the session, which is then anonymous
/// (issue 11 §2: a password change or disable ends every session, a later enable none).
///
/// Errors: the database's.
pub async fn current(
    store: &crate::store::Store,
    session: &Session,
) -> Result<Option<(Sso, crate::store::User)>, crate::store::Error> {
    let Some(sso) = sso(session).await else {
        return Ok(None);
    };
    match store.current_user(&sso.sub, sso.security_stamp).await? {
        Some(user) => Ok(Some((sso, user))),
        None => {
            tracing::info!(sub = %sso.sub, "browser session ended: account changed, disabled or removed");
            // Best effort: the stale login is refused on every request anyway.
            let _ = session.remove::<Sso>(SSO_KEY).await;
            Ok(None)
        }
    }
}

/// Records a successful login. The session id and the CSRF token change first, so values
/// planted or seen before login (session fixation) are worthless afterwards; the session then
/// lives for the configured idle lifetime.
pub async fn log_in(
    session: &Session,
    sso: Sso,
    idle_secs: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.remove::<String>(CSRF_KEY).await?;
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(
        time::Duration::seconds(idle_secs),
    )));
    session.insert(SSO_KEY, sso).await
}

/// This session's CSRF token, created on first use (per-session synchronizer token).
pub async fn csrf_token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(t) = session.get::<String>(CSRF_KEY).await? {
        return Ok(t);
    }
    let t = random_token(32).map_err(|_| {
        tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend(
            "rng".into(),
        ))
    })?;
    session.insert(CSRF_KEY, &t).await?;
    Ok(t)
}

/// Whether `presented` equals this session's CSRF token (constant time).
pub async fn csrf_ok(session: &Session, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    match session.get::<String>(CSRF_KEY).await {
        Ok(Some(expected)) => constant_time_eq(expected.as_bytes(), presented.as_bytes()),
        _ => false,
    }
}

/// Stores a validated request until the login form comes back; returns its id.
pub async fn put_pending(
    session: &Session,
    stage: Stage,
    request: AuthorizationRequest,
    now: i64,
) -> Result<String, tower_sessions::session::Error> {
    let mut pending: HashMap<String, Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    pending.retain(|_, p| now - p.created_at < PENDING_TTL_SECS);
    while pending.len() >= MAX_PENDING {
        let oldest = pending
            .iter()
            .min_by_key(|(_, p)| p.created_at)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => pending.remove(&k),
            None => break,
        };
    }
    let id = random_token(16).map_err(|_| {
        tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend(
            "rng".into(),
        ))
    })?;
    pending.insert(
        id.clone(),
        Pending {
            created_at: now,
            stage,
            request,
        },
    );
    session.insert(PENDING_KEY, pending).await?;
    if sso(session).await.is_none() {
        // Anonymous browsers only hold a login in progress: keep their rows short-lived so
        // a flood of /authorize requests cannot fill the database for a day.
        session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(
            time::Duration::seconds(PENDING_TTL_SECS),
        )));
    }
    Ok(id)
}

/// The request `id` waiting on `stage`, if it exists and has not expired.
pub async fn get_pending(
    session: &Session,
    id: &str,
    stage: Stage,
    now: i64,
) -> Option<AuthorizationRequest> {
    let pending: HashMap<String, Pending> = session.get(PENDING_KEY).await.ok().flatten()?;
    pending
        .get(id)
        .filter(|p| p.stage == stage && now - p.created_at < PENDING_TTL_SECS)
        .map(|p| p.request.clone())
}

/// Removes the waiting request `id` (it is being completed).
pub async fn remove_pending(
    session: &Session,
    id: &str,
) -> Result<(), tower_sessions::session::Error> {
    let mut pending: HashMap<String, Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    pending.remove(id);
    session.insert(PENDING_KEY, pending).await
}
