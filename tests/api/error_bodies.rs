//! Snapshots (insta) of the error answers of the JSON endpoints: token (RFC 6749 §5.2), userinfo
//! (RFC 6750 §3), introspect (RFC 7662 §2.3), revoke (RFC 7009 §2.2.1) and register (RFC 7591
//! §3.2.2). Each case records the status, the headers a client reads (`Cache-Control`,
//! `WWW-Authenticate`, `Retry-After`) and the body, so a refactor of the error kit that changes
//! any of them shows up as a snapshot diff. Values that differ per run (the issuer's port, client
//! ids) are redacted before the snapshot.
//!
//! Snapshots live in `tests/api/snapshots/`; after an intended change, review them with
//! `cargo insta review` (or rerun with `INSTA_UPDATE=always` and read the diff).

use reqwest::Response;
use sekimori::config::ServeConfig;
use serde_json::{Value, json};

use crate::helpers::{REDIRECT_URI, Spawn, TestApp, basic, form, spawn, spawn_app};

/// What a client sees of an error answer, with per-run values replaced by `[label]`.
async fn seen(app: &TestApp, res: Response) -> Value {
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (cache_control, www_authenticate, retry_after) = (
        header("cache-control"),
        header("www-authenticate"),
        header("retry-after"),
    );
    let content_type = header("content-type");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    redact(
        app,
        json!({
            "status": status,
            "content-type": content_type,
            "cache-control": cache_control,
            "www-authenticate": www_authenticate,
            "retry-after": retry_after,
            "body": body,
        }),
    )
}

/// Replaces the values that change from run to run inside every string.
fn redact(app: &TestApp, v: Value) -> Value {
    let pairs = [
        (app.issuer.as_str(), "[issuer]"),
        (
            app.confidential.client_id.as_str(),
            "[confidential client_id]",
        ),
        (app.public.client_id.as_str(), "[public client_id]"),
    ];
    match v {
        Value::String(mut s) => {
            for (value, label) in pairs {
                s = s.replace(value, label);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| redact(app, x)).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, x)| (k, redact(app, x))).collect())
        }
        other => other,
    }
}

async fn post_form(app: &TestApp, path: &str, pairs: &[(&str, &str)], auth: bool) -> Response {
    let mut req = app
        .rp
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs));
    if auth {
        let c = &app.confidential;
        req = req.basic_auth(&c.client_id, c.client_secret.as_deref());
    }
    req.send().await.expect("POST")
}

#[tokio::test]
async fn token_error_bodies() {
    let app = spawn_app().await;
    let c = app.confidential.clone();
    let mut cases = serde_json::Map::new();
    let wrong_secret = Some((c.client_id.as_str(), "wrong"));
    for (name, pairs, auth) in [
        ("missing_grant_type", vec![("code", "x")], basic(&c)),
        (
            "unsupported_grant_type",
            vec![("grant_type", "urn:example:nope")],
            basic(&c),
        ),
        (
            "unknown_code",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", REDIRECT_URI),
            ],
            basic(&c),
        ),
        (
            "wrong_client_secret",
            vec![("grant_type", "client_credentials")],
            wrong_secret,
        ),
        (
            "no_client_authentication",
            vec![("grant_type", "client_credentials")],
            None,
        ),
        (
            "unknown_refresh_token",
            vec![("grant_type", "refresh_token"), ("refresh_token", "nope")],
            basic(&c),
        ),
    ] {
        let res = app.post_token(&pairs, auth).await;
        cases.insert(name.to_owned(), seen(&app, res).await);
    }
    insta::assert_json_snapshot!(Value::Object(cases));
}

#[tokio::test]
async fn userinfo_error_bodies() {
    let app = spawn_app().await;
    let mut cases = serde_json::Map::new();
    for (name, authorization) in [
        ("no_token", None),
        ("malformed_token", Some("Bearer not-a-jwt")),
        ("not_bearer", Some("Basic Zm9vOmJhcg==")),
    ] {
        let mut req = app.rp.get(app.url("/userinfo"));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        let res = req.send().await.expect("userinfo");
        cases.insert(name.to_owned(), seen(&app, res).await);
    }
    insta::assert_json_snapshot!(Value::Object(cases));
}

#[tokio::test]
async fn introspect_error_bodies() {
    let app = spawn_app().await;
    let mut cases = serde_json::Map::new();
    let res = post_form(&app, "/introspect", &[("token", "x")], false).await;
    cases.insert("no_client_authentication".to_owned(), seen(&app, res).await);
    let res = post_form(&app, "/introspect", &[], true).await;
    cases.insert("missing_token".to_owned(), seen(&app, res).await);
    insta::assert_json_snapshot!(Value::Object(cases));
}

#[tokio::test]
async fn revoke_error_bodies() {
    let app = spawn_app().await;
    let mut cases = serde_json::Map::new();
    let res = post_form(&app, "/revoke", &[("token", "x")], false).await;
    cases.insert("no_client_authentication".to_owned(), seen(&app, res).await);
    let res = post_form(&app, "/revoke", &[], true).await;
    cases.insert("missing_token".to_owned(), seen(&app, res).await);
    insta::assert_json_snapshot!(Value::Object(cases));
}

#[tokio::test]
async fn register_error_bodies() {
    let closed = spawn_app().await;
    let open = spawn(Spawn {
        serve: Some(ServeConfig {
            open_registration: true,
            ..ServeConfig::default()
        }),
        ..Spawn::default()
    })
    .await;
    let register =
        |app: &TestApp, body: Value| app.rp.post(app.url("/register")).json(&body).send();
    let mut cases = serde_json::Map::new();
    let res = register(&closed, json!({"redirect_uris": ["https://rp.example/cb"]}))
        .await
        .expect("register");
    cases.insert(
        "closed_without_initial_access_token".to_owned(),
        seen(&closed, res).await,
    );
    for (name, body) in [
        ("no_redirect_uris", json!({"client_name": "x"})),
        (
            "fragment_in_redirect_uri",
            json!({"redirect_uris": ["https://rp.example/cb#frag"]}),
        ),
        (
            "unknown_grant_type",
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["urn:example:nope"]}),
        ),
    ] {
        let res = register(&open, body).await.expect("register");
        cases.insert(name.to_owned(), seen(&open, res).await);
    }
    insta::assert_json_snapshot!(Value::Object(cases));
}
