//! `oidcc-basic-certification-test-plan` (38 modules), and the same modules with
//! `response_mode=form_post` as `oidcc-formpost-basic-certification-test-plan`
//! (docs/conformance.md). One function per module; the macro at the bottom makes one
//! test per module and plan, named after the module.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::suite::{
    ClientAuth, Front, Mode, Suite, SuiteClient, UserinfoCall, random, value, with, without,
};

/// Errors the suite accepts for prompt=none without a session (OIDC Core §3.1.2.6).
const PROMPT_NONE_ERRORS: &[&str] = &[
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
];

/// Scope → the claims the suite looks for in userinfo (OIDC Core §5.4).
fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

pub async fn oidcc_server(mut s: Suite) {
    let c = s.client.clone();
    s.require_auth_method(ClientAuth::Basic);
    let req = s.request(&c);
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_response_type_missing(mut s: Suite) {
    let req = without(s.request(&s.client.clone()), "response_type");
    match s.authorize(&req, false).await {
        Front::Callback(cb) => {
            let allowed = ["invalid_request", "unsupported_response_type"];
            let error = s.check_error(Front::Callback(cb), &req, &allowed);
            s.note(format!("error returned to the client: {error}"));
        }
        Front::Page { status, text } => {
            assert!(status.is_client_error(), "{status}");
            assert!(text.contains("id=\"error-code\""), "an error page: {text}");
            s.note("error page shown");
        }
    }
    s.finish();
}

pub async fn oidcc_idtoken_signature(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let header = jsonwebtoken::decode_header(&flow.id_token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256, "RS256");
    assert!(header.kid.is_some(), "kid");
    s.finish();
}

pub async fn oidcc_idtoken_unsigned(s: Suite) {
    // Only runs when `none` is advertised; it must not be.
    assert!(!s.advertises("id_token_signing_alg_values_supported", "none"));
    s.skipped("discovery does not list none in id_token_signing_alg_values_supported");
}

async fn userinfo_module(mut s: Suite, how: UserinfoCall) {
    let c = s.client.clone();
    let req = s.request(&c);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let (status, body) = s.userinfo(&flow.access_token, how).await;
    match how {
        UserinfoCall::PostBody if status != StatusCode::OK => {
            s.warn(format!(
                "userinfo refused the token in a POST body: {status}"
            ));
        }
        _ => s.check_userinfo(status, &body, &flow.claims),
    }
    s.finish();
}

pub async fn oidcc_userinfo_get(s: Suite) {
    userinfo_module(s, UserinfoCall::Get).await;
}

pub async fn oidcc_userinfo_post_header(s: Suite) {
    userinfo_module(s, UserinfoCall::PostHeader).await;
}

pub async fn oidcc_userinfo_post_body(s: Suite) {
    userinfo_module(s, UserinfoCall::PostBody).await;
}

pub async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(mut s: Suite) {
    let c = s.client.clone();
    let req = without(s.request(&c), "nonce");
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

async fn scope_module(mut s: Suite, scopes: &[&str]) {
    for scope in scopes {
        if !s.advertises("scopes_supported", scope) {
            return s.skipped(&format!("scopes_supported does not list {scope}"));
        }
    }
    let c = s.client.clone();
    let scope = format!("openid {}", scopes.join(" "));
    let req = with(s.request(&c), "scope", &scope);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    for scope in scopes {
        if !scope_claims(scope)
            .iter()
            .any(|claim| flow.userinfo.get(*claim).is_some())
        {
            s.warn(format!("userinfo holds no claim of scope {scope}"));
        }
    }
    s.finish();
}

pub async fn oidcc_scope_profile(s: Suite) {
    scope_module(s, &["profile"]).await;
}

pub async fn oidcc_scope_email(s: Suite) {
    scope_module(s, &["email"]).await;
}

pub async fn oidcc_scope_address(s: Suite) {
    scope_module(s, &["address"]).await;
}

pub async fn oidcc_scope_phone(s: Suite) {
    scope_module(s, &["phone"]).await;
}

pub async fn oidcc_scope_all(s: Suite) {
    scope_module(s, &["profile", "email", "address", "phone"]).await;
}

pub async fn oidcc_alternate_happy_flow(mut s: Suite) {
    let c = s.client.clone();
    // Scope values reversed and the parameters in another order: order must not matter.
    let mut req = with(s.request(&c), "scope", "email openid");
    req.reverse();
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    if flow.userinfo.get("email").is_none() {
        s.warn("userinfo holds no email");
    }
    s.finish();
}

async fn display_module(mut s: Suite, display: &str) {
    let c = s.client.clone();
    let req = with(s.request(&c), "display", display);
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_display_page(s: Suite) {
    display_module(s, "page").await;
}

pub async fn oidcc_display_popup(s: Suite) {
    display_module(s, "popup").await;
}

pub async fn oidcc_prompt_login(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let first = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.app.clock.advance(1); // the person takes a moment before the second login
    let req = with(s.request(&c), "prompt", "login");
    let second = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(
        second.logins, 1,
        "prompt=login must show the login page again"
    );
    if let (Some(a), Some(b)) = (
        first.claims["auth_time"].as_i64(),
        second.claims["auth_time"].as_i64(),
    ) {
        assert!(b > a, "the second auth_time must be later");
    }
    s.finish();
}

pub async fn oidcc_prompt_none_not_logged_in(s: Suite) {
    let c = s.client.clone();
    let long_state = "a".repeat(64) + &"b".repeat(64);
    let req = with(with(s.request(&c), "prompt", "none"), "state", &long_state);
    let front = s.authorize(&req, false).await;
    let error = s.check_error(front, &req, PROMPT_NONE_ERRORS);
    assert_eq!(error, "login_required");
    s.finish();
}

pub async fn oidcc_prompt_none_logged_in(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let first = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let req = with(s.request(&c), "prompt", "none");
    let second = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(second.logins, 0, "prompt=none is silent");
    assert_eq!(first.claims["sub"], second.claims["sub"]);
    assert_eq!(first.claims["auth_time"], second.claims["auth_time"]);
    s.finish();
}

pub async fn oidcc_max_age_1(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let first = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.app.clock.advance(2);
    let req = with(s.request(&c), "max_age", "1");
    let second = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(
        second.logins, 1,
        "max_age=1 after 2 s must ask for the login again"
    );
    let a = first.claims["auth_time"].as_i64().expect("auth_time");
    let b = second.claims["auth_time"]
        .as_i64()
        .expect("auth_time is required with max_age (OIDC Core §3.1.2.1)");
    assert!(b > a, "re-authentication gives a later auth_time");
    assert!(s.now() - b <= 60, "auth_time is recent");
    s.finish();
}

pub async fn oidcc_max_age_10000(mut s: Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "max_age", "15000");
    let first = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let req = with(s.request(&c), "max_age", "10000");
    let second = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(second.logins, 0, "a recent login needs no new one");
    let a = first.claims["auth_time"].as_i64().expect("auth_time");
    let b = second.claims["auth_time"].as_i64().expect("auth_time");
    assert_eq!(a, b);
    assert_eq!(first.claims["sub"], second.claims["sub"]);
    s.finish();
}

pub async fn oidcc_ensure_request_with_unknown_parameter_succeeds(mut s: Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "extra", "foobar");
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_id_token_hint(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let first = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let req = with(
        with(s.request(&c), "prompt", "none"),
        "id_token_hint",
        &first.id_token,
    );
    let second = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(second.logins, 0);
    assert_eq!(first.claims["sub"], second.claims["sub"]);
    assert_eq!(first.claims["auth_time"], second.claims["auth_time"]);
    s.finish();
}

pub async fn oidcc_login_hint(mut s: Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "login_hint", "buffy@127.0.0.1");
    let endpoint = s.discovery["authorization_endpoint"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    let pairs: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = s
        .browser
        .get(format!("{endpoint}?{}", crate::helpers::form(&pairs)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    if crate::helpers::LoginForm::parse(&html).get("email") == Some("buffy@127.0.0.1") {
        s.note("the login page pre-fills the hinted email");
    }
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_ui_locales(mut s: Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "ui_locales", "se");
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_claims_locales(mut s: Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "claims_locales", "se");
    s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.finish();
}

pub async fn oidcc_ensure_request_with_acr_values_succeeds(mut s: Suite) {
    let c = s.client.clone();
    let acr_values = match s.discovery["acr_values_supported"].as_array() {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        None => "1 2".to_owned(),
    };
    let req = with(s.request(&c), "acr_values", &acr_values);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    if let Some(acr) = flow.claims.get("acr").and_then(Value::as_str)
        && !acr_values.split(' ').any(|v| v == acr)
    {
        s.warn(format!("acr {acr} is none of the requested values"));
    }
    s.finish();
}

pub async fn oidcc_codereuse(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let again = s.exchange(&c, &flow.code, ClientAuth::Basic, &[]).await;
    if again.status == StatusCode::OK {
        s.warn("a used code was accepted a second time");
    } else {
        s.check_token_error(&again, "invalid_grant");
        s.note("second redemption: 400 invalid_grant");
    }
    s.finish();
}

pub async fn oidcc_codereuse_30seconds(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    s.app.clock.advance(30);
    let again = s.exchange(&c, &flow.code, ClientAuth::Basic, &[]).await;
    s.check_token_error(&again, "invalid_grant");
    // RFC 6749 §4.1.2: SHOULD revoke the tokens issued from the code.
    let (status, _) = s.userinfo(&flow.access_token, UserinfoCall::Get).await;
    if status == StatusCode::OK {
        s.warn("the first access token still works after the code was replayed");
    } else {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    s.finish();
}

pub async fn oidcc_ensure_registered_redirect_uri(mut s: Suite) {
    let c = s.client.clone();
    let bad = format!("{}/{}", c.redirect_uri, random(8));
    let req = with(s.request(&c), "redirect_uri", &bad);
    match s.authorize(&req, false).await {
        Front::Page { status, text } => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(
                text.contains("unregistered_redirect_uri"),
                "the error page names the problem: {text}"
            );
        }
        Front::Callback(cb) => panic!("redirected with an unregistered redirect_uri: {cb:?}"),
    }
    s.note("error page shown");
    s.finish();
}

pub async fn oidcc_ensure_post_request_succeeds(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let front = s.authorize(&req, true).await;
    s.finish_flow(&c, &req, front, ClientAuth::Basic, &[]).await;
    s.finish();
}

pub async fn oidcc_server_client_secret_post(mut s: Suite) {
    s.require_auth_method(ClientAuth::Post);
    let c = s.client.clone();
    let req = s.request(&c);
    s.happy_flow(&c, &req, ClientAuth::Post).await;
    s.finish();
}

/// An unsigned request object (`alg: none`, RFC 9101 §6) carrying `claims`.
fn unsigned_request_object(claims: &Value) -> String {
    let b64 = |v: &Value| sekimori::crypto::b64url(v.to_string().as_bytes());
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(claims))
}

fn request_object_claims(s: &Suite, c: &SuiteClient, req: &[(String, String)]) -> Value {
    json!({
        "iss": c.client_id,
        "aud": s.app.issuer,
        "client_id": c.client_id,
        "response_type": "code",
        "redirect_uri": c.redirect_uri,
        "scope": value(req, "scope"),
        "state": value(req, "state"),
        "nonce": value(req, "nonce"),
    })
}

/// Runs a request-object module: a correct result or the "not supported" error (→ SKIPPED).
async fn request_object_module(mut s: Suite, req: Vec<(String, String)>, unsupported: &str) {
    if s.discovery["request_object_signing_alg_values_supported"]
        .as_array()
        .is_some_and(|a| !a.iter().any(|v| v == "none"))
    {
        return s.skipped("request objects must be signed here");
    }
    let c = s.client.clone();
    let front = s.authorize(&req, false).await;
    match &front {
        Front::Callback(cb) if cb.get("error").is_some() => {
            let error = s.check_error(front, &req, &[unsupported]);
            s.skipped(&format!("{error}: request objects are not supported"));
        }
        _ => {
            s.finish_flow(&c, &req, front, ClientAuth::Basic, &[]).await;
            s.finish();
        }
    }
}

pub async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(s: Suite) {
    let c = s.client.clone();
    let uri = format!("{}/requesturi/{}", super::suite::SUITE_BASE, random(8));
    let req = with(s.request(&c), "request_uri", &uri);
    request_object_module(s, req, "request_uri_not_supported").await;
}

pub async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    s: Suite,
) {
    let c = s.client.clone();
    let req = s.request(&c);
    let object = unsigned_request_object(&request_object_claims(&s, &c, &req));
    let req = with(req, "request", &object);
    request_object_module(s, req, "request_not_supported").await;
}

pub async fn oidcc_ensure_request_object_with_redirect_uri(mut s: Suite) {
    let c = s.client.clone();
    let req = s.request(&c);
    let object = unsigned_request_object(&request_object_claims(&s, &c, &req));
    let bad = format!("{}/{}", c.redirect_uri, random(8));
    let req = with(with(req, "redirect_uri", &bad), "request", &object);
    match s.authorize(&req, false).await {
        Front::Page { status, text } => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(text.contains("unregistered_redirect_uri"), "{text}");
            s.note("error page for the invalid outer redirect_uri");
            s.finish();
        }
        Front::Callback(cb) => {
            // Redirecting request_not_supported to the registered URI is a FAILURE.
            assert_eq!(cb.get("error"), None, "redirected an error: {cb:?}");
            s.finish_flow(&c, &req, Front::Callback(cb), ClientAuth::Basic, &[])
                .await;
            s.note("the redirect_uri inside the request object was used");
            s.finish();
        }
    }
}

pub async fn oidcc_claims_essential(mut s: Suite) {
    let c = s.client.clone();
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let req = with(s.request(&c), "claims", &claims);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    if flow.userinfo.get("name").is_none() {
        s.warn("userinfo lacks name, requested as essential (OIDC Core §5.5.1)");
    }
    s.finish();
}

pub async fn oidcc_refresh_token(mut s: Suite) {
    let c = s.client.clone();
    let mut req = with(s.request(&c), "scope", "openid offline_access");
    if s.advertises("prompt_values_supported", "consent") {
        req = with(req, "prompt", "consent");
    }
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    assert_eq!(flow.consents, 1, "prompt=consent shows the consent page");
    let Some(rt) = flow.tokens.str("refresh_token").map(str::to_owned) else {
        return s.skipped("no refresh token was issued");
    };
    assert!(rt.len() >= 22, "refresh token entropy");
    let refresh = |rt: String| {
        [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), rt),
        ]
    };
    let pairs = refresh(rt);
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let t = s.token_request(&c, ClientAuth::Basic, &pairs).await;
    s.check_token_success(&t);
    let new_at = t.str("access_token").expect("at");
    let id = s.check_id_token(
        t.str("id_token").expect("id_token"),
        &c,
        None,
        Some(new_at),
        None,
    );
    // OIDC Core §12.2: same iss, sub, aud, auth_time, azp as the original ID token.
    for claim in ["iss", "sub", "aud", "auth_time", "azp"] {
        assert_eq!(
            id.get(claim),
            flow.claims.get(claim),
            "{claim} after refresh"
        );
    }
    assert_ne!(t.str("refresh_token"), None, "a rotated refresh token");

    // The second client gets its own refresh token, which the first client may not use.
    let c2 = s.client2.clone();
    let req2 = with(req, "client_id", &c2.client_id);
    let req2 = with(with(req2, "state", &random(16)), "nonce", &random(16));
    let flow2 = s.happy_flow(&c2, &req2, ClientAuth::Basic).await;
    let rt2 = flow2
        .tokens
        .str("refresh_token")
        .expect("client2 refresh token");
    let pairs = refresh(rt2.to_owned());
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let cross = s.token_request(&c, ClientAuth::Basic, &pairs).await;
    s.check_token_error(&cross, "invalid_grant");
    let own = s.token_request(&c2, ClientAuth::Basic, &pairs).await;
    s.check_token_success(&own);
    s.finish();
}

pub async fn oidcc_ensure_request_with_valid_pkce_succeeds(mut s: Suite) {
    let c = s.client.clone();
    let (verifier, challenge) = crate::helpers::pkce_pair();
    let req = with(
        with(s.request(&c), "code_challenge", &challenge),
        "code_challenge_method",
        "S256",
    );
    let front = s.authorize(&req, false).await;
    s.finish_flow(
        &c,
        &req,
        front,
        ClientAuth::Basic,
        &[("code_verifier", &verifier)],
    )
    .await;
    s.finish();
}

/// One test per module of the plan, named after it.
macro_rules! plan {
    ($plan:literal, $mode:expr; $($module:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $module() {
                let name = stringify!($module).replace('_', "-");
                let s = crate::conformance::suite::Suite::start($plan, &name, $mode).await;
                crate::conformance::basic::$module(s).await;
            }
        )*
    };
}

macro_rules! basic_modules {
    ($plan:literal, $mode:expr) => {
        plan!($plan, $mode;
            oidcc_server,
            oidcc_response_type_missing,
            oidcc_idtoken_signature,
            oidcc_idtoken_unsigned,
            oidcc_userinfo_get,
            oidcc_userinfo_post_header,
            oidcc_userinfo_post_body,
            oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
            oidcc_scope_profile,
            oidcc_scope_email,
            oidcc_scope_address,
            oidcc_scope_phone,
            oidcc_scope_all,
            oidcc_alternate_happy_flow,
            oidcc_display_page,
            oidcc_display_popup,
            oidcc_prompt_login,
            oidcc_prompt_none_not_logged_in,
            oidcc_prompt_none_logged_in,
            oidcc_max_age_1,
            oidcc_max_age_10000,
            oidcc_ensure_request_with_unknown_parameter_succeeds,
            oidcc_id_token_hint,
            oidcc_login_hint,
            oidcc_ui_locales,
            oidcc_claims_locales,
            oidcc_ensure_request_with_acr_values_succeeds,
            oidcc_codereuse,
            oidcc_codereuse_30seconds,
            oidcc_ensure_registered_redirect_uri,
            oidcc_ensure_post_request_succeeds,
            oidcc_server_client_secret_post,
            oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
            oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
            oidcc_claims_essential,
            oidcc_ensure_request_object_with_redirect_uri,
            oidcc_refresh_token,
            oidcc_ensure_request_with_valid_pkce_succeeds,
        );
    };
}

/// oidcc-basic-certification-test-plan: response_type=code, client_secret_basic, query.
mod basic_plan {
    basic_modules!("oidcc-basic-certification-test-plan", super::Mode::Query);
}

/// oidcc-formpost-basic-certification-test-plan: the same modules with response_mode=form_post.
mod formpost_plan {
    basic_modules!(
        "oidcc-formpost-basic-certification-test-plan",
        super::Mode::FormPost
    );
}
