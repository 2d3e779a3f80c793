//! The relying party's side: PKCE, the authorization request, the token endpoint, and the
//! small requests many tests make (offline tokens, refresh, userinfo).

use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::app::{REDIRECT_URI, TestApp, TestClient, USER_EMAIL, USER_PASSWORD};
use super::forms::{form, location_params, param};

/// A fresh PKCE pair (verifier, S256 challenge).
pub fn pkce_pair() -> (String, String) {
    let verifier = sekimori::crypto::random_token(32).expect("rng");
    let challenge = sekimori::crypto::b64url(&sekimori::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

impl TestApp {
    /// The authorize URL for `client` with `extra` parameters (state, nonce, scope openid by default).
    pub fn authorize_url(&self, client: &TestClient, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", &client.redirect_uri),
            ("scope", "openid profile email"),
            ("state", "af0ifjsldkj"),
            ("nonce", "n-0S6_WzA2Mj"),
        ];
        for (k, v) in extra {
            pairs.retain(|(n, _)| n != k);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        format!("{}?{}", self.url("/authorize"), form(&pairs))
    }

    pub async fn get_authorize(&self, client: &TestClient, extra: &[(&str, &str)]) -> Response {
        self.browser
            .get(self.authorize_url(client, extra))
            .send()
            .await
            .expect("GET /authorize")
    }

    /// Drives authorize → login → redirect and returns the code (asserting the happy path).
    pub async fn authorize_and_login(&self, client: &TestClient, extra: &[(&str, &str)]) -> String {
        let page = self.get_authorize(client, extra).await;
        let res = if page.status() == StatusCode::FOUND {
            page
        } else {
            assert_eq!(page.status(), StatusCode::OK, "login page expected");
            let html = page.text().await.expect("body");
            let res = self.post_login(&html, USER_EMAIL, USER_PASSWORD).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "login should redirect");
            res
        };
        let (url, pairs) = location_params(&res);
        assert!(url.as_str().starts_with(&client.redirect_uri));
        param(&pairs, "code").expect("code in redirect").to_owned()
    }

    /// POST /token with a form body and optional Basic credentials.
    pub async fn post_token(
        &self,
        pairs: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Response {
        let mut req = self
            .rp
            .post(self.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("POST /token")
    }

    /// Exchanges a code for the confidential client with Basic authentication.
    pub async fn redeem(&self, code: &str, extra: &[(&str, &str)]) -> Response {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ];
        pairs.extend_from_slice(extra);
        let c = &self.confidential;
        self.post_token(
            &pairs,
            Some((&c.client_id, c.client_secret.as_deref().unwrap_or_default())),
        )
        .await
    }
}

/// The JSON body of a response.
pub async fn json(res: Response) -> Value {
    res.json().await.expect("JSON body")
}

/// `client`'s credentials for HTTP Basic authentication (a public client's secret is empty).
pub fn basic(c: &TestClient) -> Option<(&str, &str)> {
    Some((
        c.client_id.as_str(),
        c.client_secret.as_deref().unwrap_or_default(),
    ))
}

/// Logs the browser in for the confidential client with `scope` (which asks offline_access)
/// and `prompt=consent`; returns the token response (asserting a 200).
pub async fn offline_tokens(app: &TestApp, scope: &str) -> Value {
    let code = app
        .authorize_and_login(
            &app.confidential,
            &[("scope", scope), ("prompt", "consent")],
        )
        .await;
    let res = app.redeem(&code, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    json(res).await
}

/// The refresh_token grant for the confidential client.
pub async fn refresh(app: &TestApp, refresh_token: &str) -> Response {
    app.post_token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        basic(&app.confidential),
    )
    .await
}

/// `GET /userinfo` with `access_token` as the Bearer token.
pub async fn userinfo(app: &TestApp, access_token: &str) -> Response {
    app.rp
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
}

/// The status of [`userinfo`].
pub async fn userinfo_status(app: &TestApp, access_token: &str) -> StatusCode {
    userinfo(app, access_token).await.status()
}

/// `POST /introspect` as `client` (Basic); asserts 200 and `no-store`, returns the JSON.
pub async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let res = app
        .rp
        .post(app.url("/introspect"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .expect("introspect");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    json(res).await
}

/// `POST /revoke` as `client` (Basic) with an optional `token_type_hint`; returns the status.
pub async fn revoke(
    app: &TestApp,
    client: &TestClient,
    token: &str,
    hint: Option<&str>,
) -> StatusCode {
    let mut pairs = vec![("token", token)];
    if let Some(h) = hint {
        pairs.push(("token_type_hint", h));
    }
    app.rp
        .post(app.url("/revoke"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("revoke")
        .status()
}
