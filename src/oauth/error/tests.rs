//! Unit tests of the response kit: each error type's status, headers and body.

use super::*;

#[test]
fn every_error_code_round_trips_through_its_wire_name() {
    use AuthorizeErrorCode as A;
    for v in [
        A::InvalidRequest,
        A::UnauthorizedClient,
        A::AccessDenied,
        A::UnsupportedResponseType,
        A::InvalidScope,
        A::ServerError,
        A::TemporarilyUnavailable,
        A::LoginRequired,
        A::ConsentRequired,
        A::InteractionRequired,
        A::RequestNotSupported,
        A::RequestUriNotSupported,
        A::RegistrationNotSupported,
    ] {
        let json = serde_json::to_string(&v).expect("ser");
        assert_eq!(json, format!("\"{}\"", v.name()));
        assert_eq!(serde_json::from_str::<A>(&json).expect("de"), v);
    }
    use TokenErrorCode as T;
    for v in [
        T::InvalidRequest,
        T::InvalidClient,
        T::InvalidGrant,
        T::UnauthorizedClient,
        T::UnsupportedGrantType,
        T::InvalidScope,
        T::UnsupportedTokenType,
        T::TemporarilyUnavailable,
        T::ServerError,
    ] {
        let json = serde_json::to_string(&v).expect("ser");
        assert_eq!(json, format!("\"{}\"", v.name()));
        assert_eq!(serde_json::from_str::<T>(&json).expect("de"), v);
    }
    for v in [
        BearerErrorCode::InvalidRequest,
        BearerErrorCode::InvalidToken,
        BearerErrorCode::InsufficientScope,
    ] {
        let json = serde_json::to_string(&v).expect("ser");
        assert_eq!(json, format!("\"{}\"", v.name()));
    }
    for v in [
        RegistrationErrorCode::InvalidRedirectUri,
        RegistrationErrorCode::InvalidClientMetadata,
    ] {
        let json = serde_json::to_string(&v).expect("ser");
        assert_eq!(json, format!("\"{}\"", v.name()));
        assert_eq!(
            serde_json::from_str::<RegistrationErrorCode>(&json).expect("de"),
            v
        );
    }
    assert_eq!(
        A::RequestUriNotSupported.name(),
        "request_uri_not_supported"
    );
    assert_eq!(T::InvalidGrant.name(), "invalid_grant");
}

async fn parts(res: Response) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, headers, json)
}

fn header(h: &axum::http::HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn temporarily_unavailable_is_one_503_shape() {
    let (status, h, body) = parts(temporarily_unavailable()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&h, header::RETRY_AFTER), Some("5"));
    assert_eq!(header(&h, header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(
        body,
        json!({"error": "temporarily_unavailable", "error_description": UNAVAILABLE_DESCRIPTION})
    );
    // Every surface's 503 is that same response.
    let store_down = || crate::store::Error::Unavailable(sqlx::Error::PoolTimedOut);
    for res in [
        TokenError::from(store_down()).into_response(),
        BearerError::from(store_down()).into_response(),
        RegistrationError::Store(store_down()).into_response(),
        RegistrationError::Unavailable.into_response(),
    ] {
        let (s, h2, b) = parts(res).await;
        assert_eq!((s, &b), (status, &body));
        assert_eq!(header(&h2, header::RETRY_AFTER), Some("5"));
    }
}

#[tokio::test]
async fn token_errors_have_their_status_and_headers() {
    let (status, h, body) =
        parts(TokenError::new(TokenErrorCode::InvalidGrant, "bad code").into_response()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "bad code"})
    );
    assert_eq!(header(&h, header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(header(&h, header::PRAGMA), Some("no-cache"));
    assert!(h.get(header::WWW_AUTHENTICATE).is_none());

    let (status, h, _) =
        parts(TokenError::new(TokenErrorCode::InvalidClient, "x").into_response()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&h, header::WWW_AUTHENTICATE),
        Some(r#"Basic realm="sekimori", charset="UTF-8""#)
    );

    let (status, h, body) = parts(TokenError::throttled(1).into_response()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&h, header::RETRY_AFTER), Some("1"));
    assert_eq!(body["error"], "invalid_grant");

    let res = TokenError::server_error("test", "disk on fire").into_response();
    let internal = res.extensions().get::<InternalError>().cloned();
    let (status, _, body) = parts(res).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        json!({"error": "server_error", "error_description": "internal error"})
    );
    // The cause travels to the logging middleware, never to the client.
    assert_eq!(internal.map(|e| e.message), Some("disk on fire".to_owned()));
}

#[tokio::test]
async fn bearer_errors_carry_their_challenge() {
    for (error, status, code) in [
        (
            BearerError::invalid_request("twice"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            BearerError::invalid_token("expired"),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            BearerError::Bearer {
                code: BearerErrorCode::InsufficientScope,
                description: "needs openid",
            },
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
    ] {
        let (s, h, body) = parts(error.into_response()).await;
        assert_eq!(s, status);
        assert_eq!(body["error"], code);
        assert_eq!(header(&h, header::CACHE_CONTROL), Some("no-store"));
        let challenge = header(&h, header::WWW_AUTHENTICATE).expect("challenge");
        assert!(
            challenge.starts_with(&format!(
                r#"Bearer realm="sekimori", error="{code}", error_description=""#
            )),
            "{challenge}"
        );
    }
    assert_eq!(
        bearer_challenge(BearerErrorCode::InvalidToken, Some("a fixed sentence")),
        r#"Bearer realm="sekimori", error="invalid_token", error_description="a fixed sentence""#
    );
    assert_eq!(
        bearer_challenge(BearerErrorCode::InvalidToken, Some("bad\nline")),
        r#"Bearer realm="sekimori", error="invalid_token""#
    );
}

#[tokio::test]
async fn registration_errors_have_their_status_and_headers() {
    let (status, h, body) =
        parts(RegistrationError::InvalidRedirectUri("no".into()).into_response()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_redirect_uri", "error_description": "no"})
    );
    assert_eq!(header(&h, header::CACHE_CONTROL), Some("no-store"));

    let (_, _, body) =
        parts(RegistrationError::InvalidClientMetadata("bad".into()).into_response()).await;
    assert_eq!(body["error"], "invalid_client_metadata");

    let (status, h, body) = parts(RegistrationError::InvalidToken.into_response()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        header(&h, header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="sekimori", error="invalid_token""#)
    );
}

#[tokio::test]
async fn body_limit_mappers_answer_in_the_routers_format() {
    let too_large = || StatusCode::PAYLOAD_TOO_LARGE.into_response();
    let (status, h, body) = parts(too_large_as_invalid_request(too_large()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(h.get(header::WWW_AUTHENTICATE).is_none());
    let (status, h, _) = parts(too_large_as_bearer_invalid_request(too_large()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        header(&h, header::WWW_AUTHENTICATE),
        Some(r#"Bearer realm="sekimori", error="invalid_request""#)
    );
    // Other responses pass untouched.
    let ok = too_large_as_invalid_request(StatusCode::OK.into_response()).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[test]
fn authorize_errors_redirect_with_error_state_and_iss() {
    let res = ErrorRedirect {
        redirect_uri: "https://rp.example/cb?x=1".into(),
        response_mode: ResponseMode::Query,
        state: Some("s".into()),
        code: AuthorizeErrorCode::AccessDenied,
        description: "no".into(),
    }
    .into_response("https://op.example");
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = header(res.headers(), header::LOCATION).expect("location");
    let url = url::Url::parse(location).expect("url");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["x"], "1");
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "no");
    assert_eq!(q["state"], "s");
    assert_eq!(q["iss"], "https://op.example");
}
