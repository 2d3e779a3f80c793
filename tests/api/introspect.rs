//! Introspection (RFC 7662) and revocation (RFC 7009) both require client authentication.

use reqwest::StatusCode;

use crate::helpers::{form, json, spawn_app};

#[tokio::test]
async fn introspection_and_revocation_require_client_authentication() {
    let app = spawn_app().await;
    for path in ["/introspect", "/revoke"] {
        let res = app
            .rp
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", "x")]))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(res.headers().get("www-authenticate").is_some());
        assert_eq!(json(res).await["error"], "invalid_client");
    }
    // A public client may not introspect.
    let res = app
        .rp
        .post(app.url("/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", "x"),
            ("client_id", &app.public.client_id),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
