//! Unit tests of the rules that need neither storage nor keys.

use super::*;

fn params(query: &str) -> Params {
    Params::parse(query.as_bytes())
}

fn code(result: Checked<impl std::fmt::Debug>) -> AuthorizeErrorCode {
    result.expect_err("refused").code
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[test]
fn a_repeated_single_valued_parameter_is_named_in_the_refusal() {
    let refusal = single_values(&params("scope=openid&state=a&state=b")).expect_err("refused");
    assert_eq!(refusal.code, E::InvalidRequest);
    assert_eq!(refusal.description, "parameter state must not be repeated");
    assert!(single_values(&params("scope=openid&state=a")).is_ok());
}

#[test]
fn request_objects_are_refused_with_their_own_codes() {
    assert_eq!(
        code(no_request_objects(&params("request=x"))),
        E::RequestNotSupported
    );
    assert_eq!(
        code(no_request_objects(&params("request_uri=x"))),
        E::RequestUriNotSupported
    );
    assert_eq!(
        code(no_request_objects(&params("registration=x"))),
        E::RegistrationNotSupported
    );
    assert!(no_request_objects(&params("scope=openid")).is_ok());
}

#[test]
fn only_response_type_code_in_a_known_response_mode_passes() {
    assert_eq!(code(response_type_and_mode(&params(""))), E::InvalidRequest);
    assert_eq!(
        code(response_type_and_mode(&params("response_type=token"))),
        E::UnsupportedResponseType
    );
    assert_eq!(
        code(response_type_and_mode(&params(
            "response_type=code&response_mode=fragment"
        ))),
        E::InvalidRequest
    );
    assert!(response_type_and_mode(&params("response_type=code&response_mode=form_post")).is_ok());
}

#[test]
fn scope_must_include_openid() {
    assert_eq!(
        code(requested_scope(&params("scope=profile"))),
        E::InvalidScope
    );
    assert!(
        requested_scope(&params("scope=openid+profile"))
            .expect("scope")
            .contains("profile")
    );
}

#[test]
fn prompt_none_stands_alone_and_unknown_values_are_refused() {
    assert_eq!(
        prompt(&params("prompt=login+consent")).expect("prompt"),
        ["login", "consent"]
    );
    assert_eq!(
        code(prompt(&params("prompt=none+login"))),
        E::InvalidRequest
    );
    assert_eq!(code(prompt(&params("prompt=later"))), E::InvalidRequest);
    assert!(prompt(&params("")).expect("prompt").is_empty());
}

#[test]
fn max_age_is_a_non_negative_integer() {
    assert_eq!(max_age(&params("max_age=0")).expect("max_age"), Some(0));
    assert_eq!(max_age(&params("")).expect("max_age"), None);
    assert_eq!(code(max_age(&params("max_age=-1"))), E::InvalidRequest);
    assert_eq!(code(max_age(&params("max_age=soon"))), E::InvalidRequest);
}

#[test]
fn pkce_requires_s256_and_is_mandatory_for_public_clients() {
    let s256 = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
    assert_eq!(
        code_challenge(&params(&s256), true).expect("pkce"),
        Some(CHALLENGE)
    );
    let plain = format!("code_challenge={CHALLENGE}&code_challenge_method=plain");
    assert_eq!(
        code(code_challenge(&params(&plain), false)),
        E::InvalidRequest
    );
    let no_method = format!("code_challenge={CHALLENGE}");
    assert_eq!(
        code(code_challenge(&params(&no_method), false)),
        E::InvalidRequest
    );
    assert_eq!(
        code(code_challenge(&params("code_challenge_method=S256"), false)),
        E::InvalidRequest
    );
    assert_eq!(
        code(code_challenge(
            &params("code_challenge=short&code_challenge_method=S256"),
            false
        )),
        E::InvalidRequest
    );
    assert_eq!(code(code_challenge(&params(""), true)), E::InvalidRequest);
    assert_eq!(code_challenge(&params(""), false).expect("pkce"), None);
}

#[test]
fn the_claims_parameter_is_bounded_by_the_granted_scopes() {
    let granted = Scope::parse("openid email");
    let raw = r#"{"id_token":{"email":null,"name":null,"sub":{"value":"alice"}}}"#;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("claims", raw)
        .finish();
    let claims = requested_claims(&params(&query), &granted).expect("claims");
    assert!(claims.id_token.contains("email"));
    assert!(!claims.id_token.contains("name"));
    assert_eq!(claims.sub_value.as_deref(), Some("alice"));
    assert_eq!(
        code(requested_claims(&params("claims=%5B%5D"), &granted)),
        E::InvalidRequest
    );
}
