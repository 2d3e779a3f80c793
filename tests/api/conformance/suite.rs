//! What the OpenID conformance suite does around every module, mirrored: the https server, the
//! two statically registered clients, discovery and JWKS checks, a cookie-keeping browser that
//! logs in by field name, and the checks it runs on every authorization response, token
//! response, ID token and userinfo response (docs/conformance.md).
//!
//! Outcomes follow the suite: a failed check panics (FAILED); `warn` records a WARNING and the
//! test still passes; `skipped` ends the module as SKIPPED. Each test prints its outcome and, when
//! `SEKIMORI_CONFORMANCE_OUT` names a file, appends one JSON line to it (docs/conformance/report.py
//! turns those lines into the table in docs/conformance.md).

use std::io::Write;

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use url::Url;

use crate::helpers::{
    LoginForm, Spawn, TestApp, UserAction, form, http_client, play_page, register_with, spawn,
};

/// Where the suite would live; its callback URLs are registered for our two clients. Nothing
/// listens there: the tests capture the browser's redirect (or form post) instead.
pub const SUITE_BASE: &str = "https://127.0.0.1:8443/test/a/sekimori";

/// How the authorization response reaches the client: the Basic plan's default (query) or the
/// Form Post plan's `response_mode=form_post`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Query,
    FormPost,
}

/// A statically registered client, as the suite's `client` / `client2` configuration.
#[derive(Clone, Debug)]
pub struct SuiteClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug)]
pub enum ClientAuth {
    Basic,
    Post,
}

/// How the access token is presented at userinfo (OIDC Core §5.3.1, RFC 6750 §2).
#[derive(Clone, Copy, Debug)]
pub enum UserinfoCall {
    Get,
    PostHeader,
    PostBody,
}

/// Where the browser ended up after an authorization request.
#[derive(Debug)]
pub enum Front {
    /// The client's redirect_uri was reached with these parameters.
    Callback(Callback),
    /// The OP showed a page that is neither login nor consent (an error page, say).
    Page { status: StatusCode, text: String },
}

/// The authorization response as the client received it.
#[derive(Debug)]
pub struct Callback {
    pub params: Vec<(String, String)>,
    /// Login forms the browser filled on the way.
    pub logins: u32,
    /// Consent pages the browser answered on the way.
    pub consents: u32,
}

impl Callback {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A token endpoint response.
#[derive(Debug)]
pub struct TokenResponse {
    pub status: StatusCode,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub json: Value,
}

impl TokenResponse {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.json.get(name).and_then(Value::as_str)
    }
}

/// One running module: the server, the suite's clients and browser, and the outcome so far.
pub struct Suite {
    pub app: TestApp,
    pub plan: &'static str,
    pub module: String,
    pub mode: Mode,
    pub client: SuiteClient,
    pub client2: SuiteClient,
    pub discovery: Value,
    pub jwks: jsonwebtoken::jwk::JwkSet,
    /// The suite's browser: one cookie jar for the whole module.
    pub browser: reqwest::Client,
    warnings: Vec<String>,
    notes: Vec<String>,
}

impl Suite {
    /// Starts a server over https, registers the suite's two clients and runs the setup every
    /// module runs (AbstractOIDCCServerTest.configure): discovery, JWKS, kids.
    pub async fn start(plan: &'static str, module: &str, mode: Mode) -> Self {
        let app = spawn(Spawn {
            tls: true,
            ..Spawn::default()
        })
        .await;
        // The suite's user has a value for every claim we support, so every scope shows in
        // userinfo (`user update --phone-number … --address …`).
        let update = sekimori::store::ProfileUpdate {
            email_verified: Some(true),
            phone_number: Some(Some("+81 3 1234 5678")),
            phone_number_verified: Some(true),
            address: Some(Some(
                r#"{"formatted":"1-1 Chiyoda, Tokyo 100-8111, Japan","country":"JP"}"#,
            )),
            ..Default::default()
        };
        app.store
            .update_user_profile(&app.user_sub, &update, app.clock.now())
            .await
            .expect("profile");
        let client = suite_client(&app, "Conformance client").await;
        let client2 = suite_client(&app, "Conformance client 2").await;
        let browser = http_client(true)
            .cookie_store(true)
            .build()
            .expect("client");
        let mut s = Self {
            app,
            plan,
            module: module.to_owned(),
            mode,
            client,
            client2,
            discovery: Value::Null,
            jwks: jsonwebtoken::jwk::JwkSet { keys: Vec::new() },
            browser,
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        s.discovery = s.fetch_discovery().await;
        s.jwks = s.fetch_jwks().await;
        s
    }

    /// The suite's "now": the server's clock, which the tests move instead of sleeping.
    pub fn now(&self) -> i64 {
        self.app.clock.now()
    }

    /// The discovery URL, as the suite's `server.discoveryUrl`.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.app.issuer.trim_end_matches('/')
        )
    }

    async fn fetch_discovery(&self) -> Value {
        let url = self.discovery_url();
        assert!(url.starts_with("https://"), "discovery URL must be https");
        let res = self.app.rp.get(&url).send().await.expect("GET discovery");
        assert_eq!(res.status(), StatusCode::OK, "discovery status");
        assert!(
            header(&res, CONTENT_TYPE.as_str()).is_some_and(|t| t.starts_with("application/json")),
            "discovery content type"
        );
        let doc: Value = res.json().await.expect("discovery is JSON");
        for (name, value) in doc.as_object().expect("discovery is an object") {
            if name.ends_with("_endpoint") || name == "jwks_uri" {
                let v = value.as_str().expect("endpoint is a string");
                assert!(v.starts_with("https://"), "{name} must be https: {v}");
            }
        }
        doc
    }

    async fn fetch_jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        let uri = self.discovery["jwks_uri"].as_str().expect("jwks_uri");
        let res = self.app.rp.get(uri).send().await.expect("GET jwks");
        assert_eq!(res.status(), StatusCode::OK, "JWKS status");
        let raw: Value = res.json().await.expect("JWKS is JSON");
        let keys = raw["keys"].as_array().expect("JWKS has keys");
        assert!(!keys.is_empty(), "JWKS is empty");
        let mut kids = Vec::new();
        for k in keys {
            // FAILURE in the suite: every key must carry a kid, and kids must be distinct.
            let kid = k["kid"].as_str().expect("every JWK has a kid");
            assert!(!kids.contains(&kid), "duplicate kid {kid}");
            kids.push(kid);
            assert!(k.get("d").is_none(), "JWKS must not publish private keys");
        }
        serde_json::from_value(raw).expect("JWKS parses")
    }

    /// Discovery's list `name` contains `value`.
    pub fn advertises(&self, name: &str, value: &str) -> bool {
        self.discovery[name]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == value))
    }

    /// Setup for a static client: the auth method under test must be advertised.
    pub fn require_auth_method(&self, auth: ClientAuth) {
        let m = match auth {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        };
        assert!(
            self.advertises("token_endpoint_auth_methods_supported", m),
            "token_endpoint_auth_methods_supported lacks {m}"
        );
    }

    /// A WARNING: the module passes, but the suite would flag it.
    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        println!("WARNING: {msg}");
        self.warnings.push(msg);
    }

    /// Records which branch of an "err-or-ok" module was taken, or other information.
    pub fn note(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        println!("INFO: {msg}");
        self.notes.push(msg);
    }

    /// Ends the module as PASSED (or WARNING if a warning was recorded).
    pub fn finish(self) {
        let status = if self.warnings.is_empty() {
            "PASSED"
        } else {
            "WARNING"
        };
        let detail = self
            .warnings
            .iter()
            .chain(&self.notes)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        self.record(status, &detail);
    }

    /// Ends the module as SKIPPED, as the suite does when the OP does not offer the feature.
    pub fn skipped(self, reason: &str) {
        println!("SKIPPED: {reason}");
        self.record("SKIPPED", reason);
    }

    fn record(&self, status: &str, detail: &str) {
        println!("{} {} {status}", self.plan, self.module);
        if let Ok(path) = std::env::var("SEKIMORI_CONFORMANCE_OUT")
            && !path.is_empty()
        {
            let line = serde_json::json!({
                "plan": self.plan, "module": self.module, "status": status, "detail": detail,
            });
            // One short append per test: whole lines even with tests running in parallel.
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open SEKIMORI_CONFORMANCE_OUT");
            f.write_all(format!("{line}\n").as_bytes())
                .expect("write result");
        }
    }

    /// The authorization request the suite starts from: code flow, scope openid, fresh state and
    /// nonce, the plan's response_mode.
    pub fn request(&self, client: &SuiteClient) -> Vec<(String, String)> {
        let mut p = vec![
            ("client_id".to_owned(), client.client_id.clone()),
            ("redirect_uri".to_owned(), client.redirect_uri.clone()),
            ("scope".to_owned(), "openid".to_owned()),
            ("state".to_owned(), random(16)),
            ("nonce".to_owned(), random(16)),
            ("response_type".to_owned(), "code".to_owned()),
        ];
        if self.mode == Mode::FormPost {
            p.push(("response_mode".to_owned(), "form_post".to_owned()));
        }
        p
    }

    /// Sends the browser to the authorization endpoint with `params` (GET, or a form POST) and
    /// plays the user until the client's redirect_uri is reached or a page stops the flow.
    pub async fn authorize(&self, params: &[(String, String)], post: bool) -> Front {
        let endpoint = self.discovery["authorization_endpoint"]
            .as_str()
            .expect("authorization_endpoint");
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = if post {
            self.browser
                .post(endpoint)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&pairs))
                .send()
                .await
        } else {
            self.browser
                .get(format!("{endpoint}?{}", form(&pairs)))
                .send()
                .await
        }
        .expect("authorization request");
        let redirect_uri = params
            .iter()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.play_user(res, &redirect_uri).await
    }

    async fn play_user(&self, mut res: Response, redirect_uri: &str) -> Front {
        let (mut logins, mut consents) = (0, 0);
        for _ in 0..8 {
            let status = res.status();
            if status.is_redirection() {
                let loc = header(&res, LOCATION.as_str()).expect("redirect has a Location");
                let url = Url::parse(&loc)
                    .or_else(|_| Url::parse(&self.app.issuer).and_then(|b| b.join(&loc)))
                    .expect("Location is a URL");
                if url.as_str().starts_with(&self.app.issuer) {
                    res = self.browser.get(url).send().await.expect("follow");
                    continue;
                }
                // Anything else must be the exact registered redirect_uri (plus the response).
                let mut bare = url.clone();
                bare.set_query(None);
                bare.set_fragment(None);
                assert!(
                    self.client_redirect_uris().contains(&bare.to_string()),
                    "redirected to an unregistered URI: {url}"
                );
                assert_eq!(
                    self.mode,
                    Mode::Query,
                    "form_post asked, yet the response came as a redirect: {url}"
                );
                return Front::Callback(Callback {
                    params: url.query_pairs().into_owned().collect(),
                    logins,
                    consents,
                });
            }
            let html = res.text().await.expect("page body");
            if !status.is_success() {
                return Front::Page { status, text: html };
            }
            // The suite's browser task: fill the fields by name, press the button (the same
            // user the other tests play).
            if let Some((action, next)) = play_page(&self.browser, &html).await {
                match action {
                    UserAction::LoggedIn => logins += 1,
                    UserAction::Consented => consents += 1,
                }
                res = next;
                continue;
            }
            if let Some(cb) = form_post_callback(&html, redirect_uri) {
                assert_eq!(
                    self.mode,
                    Mode::FormPost,
                    "a form post arrived though response_mode was not form_post"
                );
                return Front::Callback(Callback {
                    params: cb,
                    logins,
                    consents,
                });
            }
            return Front::Page { status, text: html };
        }
        panic!("the browser went round in circles");
    }

    fn client_redirect_uris(&self) -> [String; 2] {
        [
            self.client.redirect_uri.clone(),
            self.client2.redirect_uri.clone(),
        ]
    }

    /// The common checks on a successful authorization response (RFC 6749 §4.1.2, RFC 9207):
    /// no error, `state` unchanged, `iss` (if present) the issuer, a code with ≥128 bits.
    /// Returns the code.
    pub fn check_success(&self, front: Front, request: &[(String, String)]) -> String {
        let cb = match front {
            Front::Callback(cb) => cb,
            Front::Page { status, text } => {
                panic!("expected the callback, got a {status} page: {text}")
            }
        };
        assert_eq!(cb.get("error"), None, "error in the callback: {cb:?}");
        self.check_state_and_iss(&cb, request);
        let code = cb.get("code").expect("code in the callback");
        let bytes = code.len() * 6 / 8;
        assert!(bytes >= 16, "code carries fewer than 128 bits: {code}");
        code.to_owned()
    }

    /// `state` comes back exactly (RFC 6749 §4.1.2), `iss` equals the issuer (RFC 9207 §2.4).
    pub fn check_state_and_iss(&self, cb: &Callback, request: &[(String, String)]) {
        let sent = request
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.as_str());
        assert_eq!(cb.get("state"), sent, "state must come back unchanged");
        if let Some(iss) = cb.get("iss") {
            assert_eq!(iss, self.app.issuer, "iss in the authorization response");
        }
    }

    /// The authorization response is an error from `allowed` (with state and iss, no code).
    pub fn check_error(
        &self,
        front: Front,
        request: &[(String, String)],
        allowed: &[&str],
    ) -> String {
        let cb = match front {
            Front::Callback(cb) => cb,
            Front::Page { status, text } => {
                panic!("expected an error callback, got {status}: {text}")
            }
        };
        assert_eq!(cb.get("code"), None, "no code with an error");
        let error = cb.get("error").expect("error in the callback");
        assert!(allowed.contains(&error), "unexpected error {error}");
        self.check_state_and_iss(&cb, request);
        error.to_owned()
    }

    /// Redeems `code` for `client` (RFC 6749 §4.1.3), sending `extra` too.
    pub async fn exchange(
        &self,
        client: &SuiteClient,
        code: &str,
        auth: ClientAuth,
        extra: &[(&str, &str)],
    ) -> TokenResponse {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
        ];
        pairs.extend_from_slice(extra);
        self.token_request(client, auth, &pairs).await
    }

    /// POSTs `pairs` to the token endpoint as `client`.
    pub async fn token_request(
        &self,
        client: &SuiteClient,
        auth: ClientAuth,
        pairs: &[(&str, &str)],
    ) -> TokenResponse {
        let endpoint = self.discovery["token_endpoint"]
            .as_str()
            .expect("token_endpoint");
        let mut pairs = pairs.to_vec();
        let mut req = self
            .app
            .rp
            .post(endpoint)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        match auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before Base64.
                let enc = |s: &str| form(&[("", s)])[1..].to_owned();
                req = req.basic_auth(enc(&client.client_id), Some(enc(&client.client_secret)));
            }
            ClientAuth::Post => {
                pairs.push(("client_id", &client.client_id));
                pairs.push(("client_secret", &client.client_secret));
            }
        }
        let res = req.body(form(&pairs)).send().await.expect("POST token");
        TokenResponse {
            status: res.status(),
            cache_control: header(&res, CACHE_CONTROL.as_str()),
            content_type: header(&res, CONTENT_TYPE.as_str()),
            json: res.json().await.unwrap_or(Value::Null),
        }
    }

    /// The checks on a successful token response (OIDC Core §3.1.3.3): 200 JSON, no-store,
    /// access_token, Bearer, id_token; `expires_in` valid if present, a WARNING if absent.
    pub fn check_token_success(&mut self, t: &TokenResponse) {
        assert_eq!(t.status, StatusCode::OK, "token response: {}", t.json);
        assert!(
            t.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/json")),
            "token response content type"
        );
        assert!(
            t.cache_control
                .as_deref()
                .is_some_and(|c| c.contains("no-store")),
            "token response needs Cache-Control: no-store"
        );
        let at = t.str("access_token").expect("access_token");
        assert!(at.len() >= 22, "access_token too short");
        assert!(
            t.str("token_type")
                .is_some_and(|v| v.eq_ignore_ascii_case("bearer")),
            "token_type Bearer"
        );
        assert!(
            t.str("id_token").is_some(),
            "id_token in the token response"
        );
        match t.json.get("expires_in") {
            None => self.warn("expires_in is missing from the token response"),
            Some(v) => assert!(v.as_i64().is_some_and(|n| n > 0), "expires_in {v}"),
        }
    }

    /// The token endpoint error response (RFC 6749 §5.2): 400 JSON with `error` = `code`.
    pub fn check_token_error(&self, t: &TokenResponse, code: &str) {
        assert_eq!(t.status, StatusCode::BAD_REQUEST, "{}", t.json);
        assert!(
            t.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/json")),
            "error content type"
        );
        assert_eq!(t.str("error"), Some(code), "{}", t.json);
    }

    /// Validates an ID token as the suite does; returns its claims.
    ///
    /// Signature by a JWKS key named by `kid`; iss; aud containing the client (azp when there
    /// are several); exp in the future; iat neither in the future nor more than 5 min old;
    /// nonce as sent; sub; auth_time not in the future; at_hash / c_hash right if present.
    pub fn check_id_token(
        &self,
        id_token: &str,
        client: &SuiteClient,
        nonce: Option<&str>,
        access_token: Option<&str>,
        code: Option<&str>,
    ) -> Value {
        let header = jsonwebtoken::decode_header(id_token).expect("ID token header");
        let kid = header.kid.as_deref().expect("ID token header has a kid");
        let alg = format!("{:?}", header.alg);
        assert!(
            self.advertises("id_token_signing_alg_values_supported", &alg),
            "alg {alg} not advertised"
        );
        let jwk = self.jwks.find(kid).expect("the kid is in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("JWK");
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &v)
            .expect("ID token signature")
            .claims;
        let now = self.now();
        assert_eq!(claims["iss"], self.app.issuer.as_str(), "iss");
        let aud: Vec<&str> = match &claims["aud"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            other => panic!("aud {other}"),
        };
        assert!(aud.contains(&client.client_id.as_str()), "aud");
        if aud.len() > 1 {
            assert_eq!(claims["azp"], client.client_id.as_str(), "azp");
        }
        let exp = claims["exp"].as_i64().expect("exp");
        assert!(exp > now, "exp in the past");
        let iat = claims["iat"].as_i64().expect("iat");
        assert!(iat <= now + 5, "iat in the future");
        assert!(iat >= now - 300, "iat more than 5 minutes old");
        assert_eq!(claims["nonce"].as_str(), nonce, "nonce");
        let sub = claims["sub"].as_str().expect("sub");
        assert!(!sub.is_empty() && sub.len() <= 255, "sub");
        if let Some(t) = claims.get("auth_time") {
            let t = t.as_i64().expect("auth_time is a number");
            assert!(t <= now + 5, "auth_time in the future");
        }
        // OIDC Core §3.1.3.6 / §3.3.2.11: left half of SHA-256, base64url.
        let half_hash = |s: &str| {
            let d = sekimori::crypto::sha256(s.as_bytes());
            sekimori::crypto::b64url(&d[..16])
        };
        if let (Some(h), Some(at)) = (claims.get("at_hash"), access_token) {
            assert_eq!(h.as_str(), Some(half_hash(at).as_str()), "at_hash");
        }
        if let (Some(h), Some(c)) = (claims.get("c_hash"), code) {
            assert_eq!(h.as_str(), Some(half_hash(c).as_str()), "c_hash");
        }
        claims
    }

    /// Calls userinfo as `how` says; returns the status and the JSON (Null when not JSON).
    pub async fn userinfo(&self, access_token: &str, how: UserinfoCall) -> (StatusCode, Value) {
        let endpoint = self.discovery["userinfo_endpoint"]
            .as_str()
            .expect("userinfo_endpoint");
        let http = &self.app.rp;
        let req = match how {
            UserinfoCall::Get => http.get(endpoint).bearer_auth(access_token),
            UserinfoCall::PostHeader => http.post(endpoint).bearer_auth(access_token),
            UserinfoCall::PostBody => http
                .post(endpoint)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&[("access_token", access_token)])),
        };
        let res = req.send().await.expect("userinfo");
        let status = res.status();
        let json_type =
            header(&res, CONTENT_TYPE.as_str()).is_some_and(|t| t.starts_with("application/json"));
        let body = res.json().await.unwrap_or(Value::Null);
        if status == StatusCode::OK {
            assert!(json_type, "userinfo content type");
        }
        (status, body)
    }

    /// The userinfo checks of every happy flow: 200, the ID token's `sub`, standard claims
    /// well-formed (OIDC Core §5.1, §5.3.2).
    pub fn check_userinfo(&self, status: StatusCode, body: &Value, id_token_claims: &Value) {
        assert_eq!(status, StatusCode::OK, "userinfo: {body}");
        assert_eq!(body["sub"], id_token_claims["sub"], "userinfo sub");
        let obj = body.as_object().expect("userinfo is an object");
        for (name, value) in obj {
            let ok = match name.as_str() {
                "email_verified" | "phone_number_verified" => value.is_boolean(),
                "updated_at" => value.is_i64(),
                "address" => value.is_object(),
                "email" => value.as_str().is_some_and(|e| e.contains('@')),
                _ => value.is_string(),
            };
            assert!(ok, "userinfo claim {name} is malformed: {value}");
        }
    }

    /// The whole happy path of `oidcc-server` for `client` with `request`: authorize, check the
    /// response, redeem, check tokens and ID token, call userinfo. Returns (tokens, ID token
    /// claims, userinfo, callback logins).
    pub async fn happy_flow(
        &mut self,
        client: &SuiteClient,
        request: &[(String, String)],
        auth: ClientAuth,
    ) -> Flow {
        let front = self.authorize(request, false).await;
        self.finish_flow(client, request, front, auth, &[]).await
    }

    /// The rest of a happy flow once the browser is back at the client.
    pub async fn finish_flow(
        &mut self,
        client: &SuiteClient,
        request: &[(String, String)],
        front: Front,
        auth: ClientAuth,
        token_extra: &[(&str, &str)],
    ) -> Flow {
        let (logins, consents) = match &front {
            Front::Callback(cb) => (cb.logins, cb.consents),
            Front::Page { .. } => (0, 0),
        };
        let code = self.check_success(front, request);
        let tokens = self.exchange(client, &code, auth, token_extra).await;
        self.check_token_success(&tokens);
        let nonce = request
            .iter()
            .find(|(k, _)| k == "nonce")
            .map(|(_, v)| v.as_str());
        let at = tokens.str("access_token").expect("at").to_owned();
        let id_token = tokens.str("id_token").expect("id_token").to_owned();
        let claims = self.check_id_token(&id_token, client, nonce, Some(&at), Some(&code));
        let scope = request
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let claims_param = request.iter().any(|(k, _)| k == "claims");
        if !claims_param && claims.get("name").is_some() && scope.contains("profile") {
            self.warn(
                "name is in the ID token though only scopes asked for it (code flow: userinfo)",
            );
        }
        let (status, userinfo) = self.userinfo(&at, UserinfoCall::Get).await;
        self.check_userinfo(status, &userinfo, &claims);
        Flow {
            code,
            tokens,
            access_token: at,
            id_token,
            claims,
            userinfo,
            logins,
            consents,
        }
    }
}

/// What a completed happy flow produced.
pub struct Flow {
    pub code: String,
    pub tokens: TokenResponse,
    pub access_token: String,
    pub id_token: String,
    pub claims: Value,
    pub userinfo: Value,
    pub logins: u32,
    pub consents: u32,
}

/// The request with `name` set to `value` (replacing, or appended at the end).
pub fn with(mut request: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    if let Some(p) = request.iter_mut().find(|(k, _)| k == name) {
        p.1 = value.to_owned();
    } else {
        request.push((name.to_owned(), value.to_owned()));
    }
    request
}

/// The request without `name`.
pub fn without(mut request: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    request.retain(|(k, _)| k != name);
    request
}

/// A value of the request.
pub fn value<'a>(request: &'a [(String, String)], name: &str) -> &'a str {
    request
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// base64url of `n` random bytes.
pub fn random(n: usize) -> String {
    sekimori::crypto::random_token(n).expect("rng")
}

fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The fields of a form_post response page whose form posts to `redirect_uri`
/// (OAuth 2.0 Form Post Response Mode §2).
fn form_post_callback(html: &str, redirect_uri: &str) -> Option<Vec<(String, String)>> {
    LoginForm::try_parse(html)
        .filter(|f| f.method == "post" && f.action == redirect_uri)
        .map(|f| f.fields)
}

async fn suite_client(app: &TestApp, name: &str) -> SuiteClient {
    // Third-party: the suite's browser meets our consent page too.
    let mut r =
        sekimori::cli::ClientRegistration::new(name, &[format!("{SUITE_BASE}/callback")], false);
    r.post_logout_redirect_uris = vec![format!("{SUITE_BASE}/post_logout_redirect")];
    r.scope = "openid profile email address phone offline_access".into();
    let c = register_with(&app.store, r).await;
    SuiteClient {
        client_id: c.client_id,
        client_secret: c.client_secret.expect("confidential"),
        redirect_uri: c.redirect_uri,
        post_logout_redirect_uri: format!("{SUITE_BASE}/post_logout_redirect"),
    }
}
