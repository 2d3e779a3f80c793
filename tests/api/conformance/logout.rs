//! `oidcc-rp-initiated-logout-certification-test-plan` (docs/conformance.md; OpenID Connect
//! RP-Initiated Logout 1.0 §2, §3): the OP redirects to a registered post_logout_redirect_uri
//! only when the request proves which client asks (a valid id_token_hint) and the URI matches
//! exactly; otherwise it shows an error or asks the person, and never redirects.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

use super::suite::{ClientAuth, Mode, Suite, random, with};
use crate::helpers::{LoginForm, form, submit};

const PLAN: &str = "oidcc-rp-initiated-logout-certification-test-plan";

/// What the browser got from the end_session_endpoint.
#[derive(Debug)]
enum Outcome {
    Redirect(url::Url),
    Page { status: StatusCode, html: String },
}

async fn start(module: &str) -> (Suite, String) {
    let mut s = Suite::start(PLAN, module, Mode::Query).await;
    let c = s.client.clone();
    let req = s.request(&c);
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    (s, flow.id_token)
}

async fn end_session(s: &Suite, params: &[(&str, &str)]) -> Outcome {
    let endpoint = s.discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint");
    let url = if params.is_empty() {
        endpoint.to_owned()
    } else {
        format!("{endpoint}?{}", form(params))
    };
    outcome(s.browser.get(url).send().await.expect("GET logout")).await
}

async fn outcome(res: reqwest::Response) -> Outcome {
    let status = res.status();
    if status.is_redirection() {
        let loc = res.headers()[LOCATION].to_str().expect("ascii").to_owned();
        return Outcome::Redirect(url::Url::parse(&loc).expect("absolute Location"));
    }
    Outcome::Page {
        status,
        html: res.text().await.expect("html"),
    }
}

/// The page must not redirect: it is an error page, the logged-out page, or a confirmation
/// (answered "yes", which must end at the logged-out page, still without a redirect).
async fn expect_no_redirect(s: &mut Suite, o: Outcome) {
    let Outcome::Page { status, html } = o else {
        panic!("the OP must not redirect here: {o:?}");
    };
    if html.contains("id=\"logged-out\"") {
        assert_eq!(status, StatusCode::OK);
        s.note("logged out on our page, not sent back");
    } else if html.contains("name=\"confirm\"") {
        assert_eq!(status, StatusCode::OK);
        s.note("the OP asked the person to confirm");
        let f = LoginForm::parse(&html).with("confirm", "yes");
        match outcome(submit(&s.browser, &f).await).await {
            Outcome::Page { status, html } => {
                assert_eq!(status, StatusCode::OK);
                assert!(html.contains("id=\"logged-out\""), "{html}");
            }
            o => panic!("no redirect after confirming either: {o:?}"),
        }
    } else {
        assert!(status.is_client_error(), "{status}: {html}");
        assert!(html.contains("id=\"error-code\""), "an error page: {html}");
        s.note("the OP showed an error page");
    }
}

/// After logging out, prompt=none must fail with login_required.
async fn expect_logged_out(s: &Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "prompt", "none");
    let front = s.authorize(&req, false).await;
    assert_eq!(
        s.check_error(front, &req, &["login_required"]),
        "login_required"
    );
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_discovery_endpoint_verification() {
    let mut s = Suite::start(
        PLAN,
        "oidcc-rp-initiated-logout-discovery-endpoint-verification",
        Mode::Query,
    )
    .await;
    super::config::verify_discovery(&mut s);
    assert!(
        s.discovery["end_session_endpoint"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "end_session_endpoint"
    );
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout() {
    let (s, id_token) = start("oidcc-rp-initiated-logout").await;
    let c = s.client.clone();
    let state = random(16);
    let o = end_session(
        &s,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", &c.post_logout_redirect_uri),
            ("state", &state),
        ],
    )
    .await;
    let Outcome::Redirect(url) = o else {
        panic!("expected the redirect back to the RP: {o:?}");
    };
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut bare = url.clone();
    bare.set_query(None);
    assert_eq!(bare.as_str(), c.post_logout_redirect_uri);
    assert_eq!(pairs, vec![("state".to_owned(), state)]);
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_no_state() {
    let (s, id_token) = start("oidcc-rp-initiated-logout-no-state").await;
    let c = s.client.clone();
    let o = end_session(
        &s,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", &c.post_logout_redirect_uri),
        ],
    )
    .await;
    let Outcome::Redirect(url) = o else {
        panic!("expected the redirect back to the RP: {o:?}");
    };
    assert_eq!(
        url.as_str(),
        c.post_logout_redirect_uri,
        "no state comes back"
    );
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_post_logout_redirect_uri() {
    let (mut s, id_token) = start("oidcc-rp-initiated-logout-bad-post-logout-redirect-uri").await;
    let bad = format!("{}/{}", super::suite::SUITE_BASE, random(8));
    let o = end_session(
        &s,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", &bad),
            ("state", &random(8)),
        ],
    )
    .await;
    if let Outcome::Page { html, .. } = &o {
        assert!(
            html.contains("unregistered_post_logout_redirect_uri"),
            "{html}"
        );
    }
    expect_no_redirect(&mut s, o).await;
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri() {
    let (mut s, id_token) =
        start("oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri").await;
    let c = s.client.clone();
    let uri = format!("{}?foo=bar", c.post_logout_redirect_uri);
    let o = end_session(
        &s,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", &uri),
            ("state", &random(8)),
        ],
    )
    .await;
    expect_no_redirect(&mut s, o).await;
    s.finish();
}

/// Sends a forged `id_token_hint` with the registered return address: the OP must neither
/// redirect nor log anyone out on the strength of it (RP-Initiated Logout §2: the hint must be
/// an ID token the OP issued), and says why (`invalid_id_token_hint`).
async fn refuse_forged_hint(mut s: Suite, forged: &str) {
    let c = s.client.clone();
    let o = end_session(
        &s,
        &[
            ("id_token_hint", forged),
            ("post_logout_redirect_uri", &c.post_logout_redirect_uri),
            ("state", &random(8)),
        ],
    )
    .await;
    match &o {
        Outcome::Page { status, html } => {
            assert_eq!(*status, StatusCode::BAD_REQUEST);
            assert!(
                html.contains("<code id=\"error-code\">invalid_id_token_hint</code>"),
                "{html}"
            );
        }
        Outcome::Redirect(url) => panic!("redirected on a forged hint: {url}"),
    }
    expect_no_redirect(&mut s, o).await;
    expect_still_logged_in(&s).await;
    s.finish();
}

/// The session survived the refused request.
async fn expect_still_logged_in(s: &Suite) {
    let c = s.client.clone();
    let req = with(s.request(&c), "prompt", "none");
    let front = s.authorize(&req, false).await;
    s.check_success(front, &req);
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_modified_id_token_hint() {
    let (s, id_token) = start("oidcc-rp-initiated-logout-modified-id-token-hint").await;
    // The suite swaps the header for alg=none and drops the signature.
    let payload = id_token.split('.').nth(1).expect("payload");
    let header = sekimori::crypto::b64url(json!({"alg": "none"}).to_string().as_bytes());
    refuse_forged_hint(s, &format!("{header}.{payload}.")).await;
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_id_token_hint() {
    let (s, id_token) = start("oidcc-rp-initiated-logout-bad-id-token-hint").await;
    // The same claims, signed by a key that is not ours (the suite's).
    let dir = tempfile::tempdir().expect("tempdir");
    let path =
        sekimori::keys::generate_key_file(dir.path(), sekimori::keys::Alg::RS256).expect("key");
    let pem = pem::parse(std::fs::read(path).expect("pem")).expect("PEM");
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pem.contents()).expect("RSA key");
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "suite-key"});
    let input = format!(
        "{}.{}",
        sekimori::crypto::b64url(header.to_string().as_bytes()),
        id_token.split('.').nth(1).expect("payload")
    );
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    refuse_forged_hint(s, &format!("{input}.{}", sekimori::crypto::b64url(&sig))).await;
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_no_id_token_hint() {
    let (mut s, _) = start("oidcc-rp-initiated-logout-no-id-token-hint").await;
    let c = s.client.clone();
    let o = end_session(
        &s,
        &[
            ("post_logout_redirect_uri", &c.post_logout_redirect_uri),
            ("state", &random(8)),
        ],
    )
    .await;
    expect_no_redirect(&mut s, o).await;
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_no_params() {
    let (mut s, _) = start("oidcc-rp-initiated-logout-no-params").await;
    let o = end_session(&s, &[]).await;
    expect_no_redirect(&mut s, o).await;
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_no_post_logout_redirect_uri() {
    let (s, id_token) = start("oidcc-rp-initiated-logout-no-post-logout-redirect-uri").await;
    let o = end_session(&s, &[("id_token_hint", &id_token)]).await;
    let Outcome::Page { status, html } = o else {
        panic!("no redirect without a post_logout_redirect_uri: {o:?}");
    };
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"logged-out\""),
        "the logged-out page: {html}"
    );
    expect_logged_out(&s).await;
    s.finish();
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_only_state() {
    let (mut s, _) = start("oidcc-rp-initiated-logout-only-state").await;
    let o = end_session(&s, &[("state", &random(8))]).await;
    expect_no_redirect(&mut s, o).await;
    expect_logged_out(&s).await;
    s.finish();
}
