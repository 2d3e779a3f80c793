//! The built-in demo relying party (`serve --demo`), under `<issuer>/demo/`: the place a newcomer
//! lands after signing in. It is a separate confidential client (`sekimori-demo`, third-party,
//! so the consent page shows) that uses only the public endpoints, over HTTP, as any
//! application would ([`rp`]): the authorization code flow with PKCE S256 (RFC 7636), the code
//! exchanged at the token endpoint, the ID token verified against the JWKS (OIDC Core
//! §3.1.3.7), userinfo (§5.3); then refresh (RFC 6749 §6), RP-Initiated Logout 1.0 with
//! `id_token_hint` and `post_logout_redirect_uri`, and `prompt=login` (§3.1.2.1).
//!
//! Its own state (the pending sign-in's `state`, `nonce` and `code_verifier`; then the tokens)
//! lives in memory, in a bounded cache with an idle timeout, under a random id in its own
//! cookie (`sekimori_demo`, HttpOnly, SameSite=Lax, path `/demo/`): never in the provider's
//! session. It is meant for one node on a laptop; a restart forgets it.
//!
//! Pages: `GET /demo/` (start, or the result once signed in), `GET /demo/start[?prompt=login]`,
//! `GET /demo/callback` (the redirect URI), `POST /demo/refresh`, `POST /demo/logout`. They
//! need no JavaScript, and carry the same headers and host check as the provider's pages.

mod pages;
pub mod rp;
mod state;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::config::Issuer;
use crate::crypto::{b64url, constant_time_eq, random_token, sha256, sha256_hex};
use crate::keys::Alg;
use crate::store::{NewClient, Store};
use crate::web::i18n::Lang;
use pages::{Frame, ResultPage, StartPage, error_page, pretty, redirect_to, render};
use state::{Current, DemoSession, Pending, SignedIn, with_cookie};

/// The demo client's `client_id`.
pub const CLIENT_ID: &str = "sekimori-demo";

/// The demo client's display name, shown on the consent page.
pub const CLIENT_NAME: &str = "Sekimori demo app";

/// Scopes the demo asks for; `offline_access` so it gets a refresh token to show.
pub const SCOPE: &str = "openid profile email offline_access";

/// Name of the demo's cookie (the id of its state in memory).
pub const COOKIE: &str = "sekimori_demo";

/// How many browsers' demo states are kept at most; the least used go first.
const MAX_SESSIONS: u64 = 1024;

/// How long a demo state lives unused, in seconds.
const SESSION_IDLE_SECS: u64 = 3600;

/// How long a started sign-in may take to come back to the callback, in seconds.
const PENDING_TTL_SECS: i64 = 600;

/// The demo: its client's credentials and its browsers' states.
pub struct Demo {
    rp: rp::RelyingParty,
    sessions: moka::future::Cache<String, Arc<DemoSession>>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("rp", &self.rp)
            .field("sessions", &self.sessions.entry_count())
            .finish()
    }
}

/// Why the demo could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client could not be registered.
    #[error("cannot register the demo client: {0}")]
    Store(#[from] crate::store::Error),
    /// The OS random generator failed.
    #[error("the OS random generator failed")]
    Random,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Rp(#[from] rp::Error),
}

impl Demo {
    /// Registers the demo client (or updates it to this issuer's URLs) with a fresh secret,
    /// which only this process knows: redirect URI `<issuer>/demo/callback`, post-logout
    /// redirect URI `<issuer>/demo/`, scopes [`SCOPE`], not first-party.
    ///
    /// Errors: the database's, the random generator's, the HTTP client's.
    pub async fn prepare(store: &Store, issuer: &Issuer, now: i64) -> Result<Self, Error> {
        let secret = random_token(32).map_err(|_| Error::Random)?;
        let secret_hash = sha256_hex(&secret);
        let redirect_uri = issuer.endpoint("/demo/callback");
        let redirect_uris = [redirect_uri.clone()];
        let post_logout = [issuer.endpoint("/demo/")];
        let scope: Vec<String> = SCOPE.split(' ').map(str::to_owned).collect();
        let grant_types = ["authorization_code".to_owned(), "refresh_token".to_owned()];
        let client = || NewClient {
            client_id: CLIENT_ID,
            name: CLIENT_NAME,
            secret_hash: Some(&secret_hash),
            redirect_uris: &redirect_uris,
            scope: &scope,
            grant_types: &grant_types,
            id_token_alg: Alg::RS256,
            access_token_alg: Alg::RS256,
            post_logout_redirect_uris: &post_logout,
            first_party: false,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
            registration_token_hash: None,
            now,
        };
        if store.find_client(CLIENT_ID).await?.is_some() {
            store.update_client(client()).await?;
            store
                .set_client_secret(CLIENT_ID, &crate::crypto::TokenHash::of(&secret))
                .await?;
        } else {
            store.create_client(client()).await?;
        }
        let rp = rp::RelyingParty::new(issuer.as_str(), CLIENT_ID, secret, redirect_uri)?;
        let sessions = moka::future::Cache::builder()
            .max_capacity(MAX_SESSIONS)
            .time_to_idle(std::time::Duration::from_secs(SESSION_IDLE_SECS))
            .build();
        Ok(Self { rp, sessions })
    }
}

/// The demo's routes, or none when the demo is off. The pages check the host like the
/// provider's (their cookie and the flow's redirect URI belong to the issuer's host).
pub fn router(state: &AppState) -> Router<AppState> {
    if state.demo.is_none() {
        return Router::new();
    }
    Router::new()
        .route("/demo", get(|| async { redirect_to("demo/") }))
        .route("/demo/", get(index_get))
        .route("/demo/start", get(start_get))
        .route("/demo/callback", get(callback_get))
        .route("/demo/refresh", post(refresh_post))
        .route("/demo/logout", post(logout_post))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::web::host::require_issuer_host,
        ))
        // A person's pages: an oversized form gets the HTML 413 page, as the provider's do.
        .layer(axum::middleware::map_response(
            crate::web::pages::too_large_page,
        ))
}

/// The query the demo's pages understand.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    ui_locales: Option<String>,
    prompt: Option<String>,
}

/// The callback's query (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 `iss`).
#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /demo/`: the start page, or what the last sign-in received.
async fn index_get(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut current = Current::read(demo, &headers).await;
    let lang = current.lang(q.ui_locales.as_deref(), &headers);
    if q.ui_locales.is_some() {
        // Kept as one of our tags, never as sent.
        current.session.ui_locales = Some(
            Lang::negotiate(q.ui_locales.as_deref(), &headers)
                .tag()
                .to_owned(),
        );
    }
    let f = Frame::new(&state, lang);
    let Some(signed_in) = current.session.signed_in.clone() else {
        let start_href = match &q.ui_locales {
            Some(l) => format!(
                "start?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("ui_locales", l)
                    .finish()
            ),
            None => "start".to_owned(),
        };
        let page = StartPage {
            f: &f,
            html_lang: lang.tag(),
            start_href: &start_href,
            notice: None,
        };
        let res = render(page.render(), StatusCode::OK, lang);
        let cookie = if q.ui_locales.is_some() {
            current.save(demo, &state.issuer).await
        } else {
            None
        };
        return with_cookie(res, cookie);
    };
    if current.session.csrf.is_empty() {
        current.session.csrf = random_token(16).unwrap_or_default();
    }
    let email = signed_in
        .userinfo
        .get("email")
        .or_else(|| signed_in.id_claims.get("sub"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let page = ResultPage {
        f: &f,
        html_lang: lang.tag(),
        email: &email,
        id_claims: &pretty(&signed_in.id_claims),
        access_claims: &pretty(&signed_in.access_claims),
        userinfo: &pretty(&signed_in.userinfo),
        token_response: &pretty(&signed_in.token_response),
        id_token_alg: &signed_in.id_token_alg,
        id_token_kid: &signed_in.id_token_kid,
        has_refresh_token: signed_in.refresh_token.is_some(),
        refreshed: signed_in.refreshed,
        csrf: &current.session.csrf,
        ui_locales: lang.tag(),
    };
    let res = render(page.render(), StatusCode::OK, lang);
    let cookie = current.save(demo, &state.issuer).await;
    with_cookie(res, cookie)
}

/// `GET /demo/start[?prompt=login][&ui_locales=…]`: a fresh `state`, `nonce` and PKCE
/// verifier, remembered for the callback, then off to the authorization endpoint (RFC 6749
/// §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
async fn start_get(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut current = Current::read(demo, &headers).await;
    if q.ui_locales.is_some() {
        // Kept as one of our tags, never as sent.
        current.session.ui_locales = Some(
            Lang::negotiate(q.ui_locales.as_deref(), &headers)
                .tag()
                .to_owned(),
        );
    }
    let lang = current.lang(None, &headers);
    let t = lang.demo_texts();
    let provider = match demo.rp.discover().await {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                &state,
                lang,
                StatusCode::BAD_GATEWAY,
                t.failed,
                &e.to_string(),
            );
        }
    };
    let (Ok(pending_state), Ok(nonce), Ok(code_verifier)) =
        (random_token(16), random_token(16), random_token(32))
    else {
        return crate::web::pages::error_page(lang, crate::web::pages::PageError::Unavailable);
    };
    // RFC 7636 §4.2: S256, BASE64URL(SHA256(ASCII(code_verifier))).
    let challenge = b64url(&sha256(code_verifier.as_bytes()));
    // A block: the serializer is not Send, and the handler awaits below.
    let location = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &demo.rp.client_id)
            .append_pair("redirect_uri", &demo.rp.redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", &pending_state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if q.prompt.as_deref() == Some("login") {
            query.append_pair("prompt", "login");
        }
        if let Some(l) = &current.session.ui_locales {
            query.append_pair("ui_locales", l);
        }
        format!("{}?{}", provider.authorization_endpoint, query.finish())
    };
    current.session.pending = Some(Pending {
        state: pending_state,
        nonce,
        code_verifier,
        started_at: state.clock.now(),
    });
    let cookie = current.save(demo, &state.issuer).await;
    with_cookie(redirect_to(&location), cookie)
}

/// `GET /demo/callback`: the redirect URI. Checks `state` (RFC 6749 §10.12) and `iss` (RFC
/// 9207 §2.4), exchanges the code, verifies the tokens, calls userinfo, then shows the result
/// at `/demo/` (303, so reloading the page does not replay the code).
async fn callback_get(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut current = Current::read(demo, &headers).await;
    let lang = current.lang(None, &headers);
    let res = callback(&state, demo, &mut current.session, &q, lang).await;
    let cookie = current.save(demo, &state.issuer).await;
    with_cookie(res, cookie)
}

async fn callback(
    state: &AppState,
    demo: &Demo,
    session: &mut DemoSession,
    q: &CallbackQuery,
    lang: Lang,
) -> Response {
    let t = lang.demo_texts();
    let now = state.clock.now();
    // One use only, whatever comes next.
    let pending = session.pending.take();
    let matches = pending.as_ref().is_some_and(|p| {
        now - p.started_at < PENDING_TTL_SECS
            && q.state
                .as_deref()
                .is_some_and(|s| constant_time_eq(s.as_bytes(), p.state.as_bytes()))
    });
    let Some(pending) = pending.filter(|_| matches) else {
        return error_page(state, lang, StatusCode::BAD_REQUEST, t.state_mismatch, "");
    };
    if q.iss
        .as_deref()
        .is_some_and(|iss| iss != state.issuer.as_str())
    {
        return error_page(
            state,
            lang,
            StatusCode::BAD_REQUEST,
            t.provider_said,
            "the iss parameter names another issuer (RFC 9207 §2.4)",
        );
    }
    if let Some(error) = &q.error {
        let detail = match &q.error_description {
            Some(d) => format!("{error}: {d}"),
            None => error.clone(),
        };
        return error_page(state, lang, StatusCode::OK, t.provider_said, &detail);
    }
    let Some(code) = &q.code else {
        return error_page(
            state,
            lang,
            StatusCode::BAD_REQUEST,
            t.provider_said,
            "the callback has neither code nor error",
        );
    };
    match sign_in(demo, code, &pending).await {
        Ok(signed_in) => {
            session.signed_in = Some(Arc::new(signed_in));
            redirect_to(&state.issuer.endpoint("/demo/"))
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo sign-in failed");
            error_page(
                state,
                lang,
                StatusCode::BAD_GATEWAY,
                t.failed,
                &e.to_string(),
            )
        }
    }
}

/// The code exchange and every check after it.
async fn sign_in(demo: &Demo, code: &str, pending: &Pending) -> Result<SignedIn, rp::Error> {
    let provider = demo.rp.discover().await?;
    let tokens = demo
        .rp
        .exchange_code(&provider, code, &pending.code_verifier)
        .await?;
    let id_token = tokens
        .id_token
        .clone()
        .ok_or_else(|| rp::Error::Invalid("the token response has no id_token".into()))?;
    verified(
        demo,
        &provider,
        &tokens,
        (&id_token, true),
        Some(&pending.nonce),
        false,
    )
    .await
}

/// Verifies the tokens of a token response and calls userinfo. `id_token` is the ID token and
/// whether it came in this response (else it is the previous one, and `at_hash` names another
/// access token).
async fn verified(
    demo: &Demo,
    provider: &rp::Provider,
    tokens: &rp::TokenResponse,
    (id_token, issued_with_these): (&str, bool),
    nonce: Option<&str>,
    refreshed: bool,
) -> Result<SignedIn, rp::Error> {
    let jwks = demo.rp.jwks(provider).await?;
    let access_token = issued_with_these.then_some(tokens.access_token.as_str());
    let id = demo
        .rp
        .verify_id_token(provider, &jwks, id_token, nonce, access_token)?;
    let access_claims = demo
        .rp
        .verify_access_token(provider, &jwks, &tokens.access_token)?;
    let sub = id
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let userinfo = demo
        .rp
        .userinfo(provider, &tokens.access_token, &sub)
        .await?;
    Ok(SignedIn {
        id_token: id_token.to_owned(),
        id_token_alg: id.alg,
        id_token_kid: id.kid,
        id_claims: id.claims,
        access_claims,
        userinfo,
        refresh_token: tokens.refresh_token.clone(),
        // Never the tokens themselves: they are shown decoded above.
        token_response: serde_json::json!({
            "token_type": tokens.token_type,
            "expires_in": tokens.expires_in,
            "scope": tokens.scope,
            "refresh_token": tokens.refresh_token.as_ref().map(|_| "(received, not shown)"),
        }),
        refreshed,
    })
}

/// The refresh and logout forms' fields.
#[derive(Debug, Default, Deserialize)]
struct ButtonForm {
    csrf_token: Option<String>,
}

/// The signed-in state a button needs, after its CSRF check; else the page to show.
async fn button_session(
    state: &AppState,
    demo: &Demo,
    headers: &HeaderMap,
    form: &ButtonForm,
) -> Result<(Current, Arc<SignedIn>, Lang), Response> {
    let current = Current::read(demo, headers).await;
    let lang = current.lang(None, headers);
    let Some(signed_in) = current.session.signed_in.clone() else {
        let t = lang.demo_texts();
        return Err(error_page(
            state,
            lang,
            StatusCode::BAD_REQUEST,
            t.session_expired,
            "",
        ));
    };
    let csrf_ok = form.csrf_token.as_deref().is_some_and(|t| {
        !current.session.csrf.is_empty()
            && constant_time_eq(t.as_bytes(), current.session.csrf.as_bytes())
    });
    if !csrf_ok {
        return Err(crate::web::pages::error_page(
            lang,
            crate::web::pages::PageError::CsrfFailed,
        ));
    }
    Ok((current, signed_in, lang))
}

/// `POST /demo/refresh`: the refresh-token grant (RFC 6749 §6), the new tokens verified (OIDC
/// Core §12.2) and userinfo called again.
async fn refresh_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ButtonForm>,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (mut current, signed_in, lang) = match button_session(&state, demo, &headers, &form).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let t = lang.demo_texts();
    let Some(refresh_token) = &signed_in.refresh_token else {
        return error_page(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            t.no_refresh_token,
            "",
        );
    };
    let result = async {
        let provider = demo.rp.discover().await?;
        let tokens = demo.rp.refresh(&provider, refresh_token).await?;
        // §12.2: an ID token may come back; its iss, sub and aud must be the original's.
        let fresh = match &tokens.id_token {
            Some(new) => verified(demo, &provider, &tokens, (new, true), None, true).await?,
            None => {
                let old = &signed_in.id_token;
                verified(demo, &provider, &tokens, (old, false), None, true).await?
            }
        };
        if fresh.id_claims.get("sub") != signed_in.id_claims.get("sub") {
            return Err(rp::Error::Invalid(
                "the refreshed ID token names another sub (OIDC Core §12.2)".into(),
            ));
        }
        Ok(SignedIn {
            // The rotated token replaces the spent one (RFC 9700 §4.14.2).
            refresh_token: fresh
                .refresh_token
                .clone()
                .or_else(|| signed_in.refresh_token.clone()),
            ..fresh
        })
    }
    .await;
    match result {
        Ok(fresh) => {
            current.session.signed_in = Some(Arc::new(fresh));
            let cookie = current.save(demo, &state.issuer).await;
            with_cookie(redirect_to(&state.issuer.endpoint("/demo/")), cookie)
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo refresh failed");
            error_page(
                &state,
                lang,
                StatusCode::BAD_GATEWAY,
                t.failed,
                &e.to_string(),
            )
        }
    }
}

/// `POST /demo/logout`: forgets the demo's state, then RP-Initiated Logout 1.0 §2: the end-session
/// endpoint with `id_token_hint` and `post_logout_redirect_uri` `<issuer>/demo/`.
async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ButtonForm>,
) -> Response {
    let Some(demo) = &state.demo else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (current, signed_in, lang) = match button_session(&state, demo, &headers, &form).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let ui_locales = current.session.ui_locales.clone();
    let cookie = current.forget(demo, &state.issuer).await;
    let t = lang.demo_texts();
    let provider = match demo.rp.discover().await {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                &state,
                lang,
                StatusCode::BAD_GATEWAY,
                t.failed,
                &e.to_string(),
            );
        }
    };
    let Some(end_session) = provider.end_session_endpoint else {
        return with_cookie(redirect_to(&state.issuer.endpoint("/demo/")), cookie);
    };
    let location = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("id_token_hint", &signed_in.id_token)
            .append_pair("post_logout_redirect_uri", &state.issuer.endpoint("/demo/"));
        if let Some(l) = &ui_locales {
            query.append_pair("ui_locales", l);
        }
        format!("{end_session}?{}", query.finish())
    };
    with_cookie(redirect_to(&location), cookie)
}
