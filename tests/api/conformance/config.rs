//! `oidcc-config-certification-test-plan`: oidcc-discovery-endpoint-verification
//! (docs/conformance.md; OpenID Connect Discovery 1.0 §3, §4).

use serde_json::Value;

use super::suite::{Mode, Suite};

/// Provider metadata names registered with IANA ("OAuth Authorization Server Metadata" and the
/// OpenID Connect Discovery names). A member outside this list is a WARNING in the suite.
const KNOWN_METADATA: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported",
    "request_object_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
    "end_session_endpoint",
    "prompt_values_supported",
    "authorization_response_iss_parameter_supported",
];

/// The Discovery checks; shared with the RP-Initiated Logout plan's variant.
pub fn verify_discovery(s: &mut Suite) {
    let d = s.discovery.clone();
    let issuer = d["issuer"].as_str().expect("issuer");
    let expected = s
        .discovery_url()
        .trim_end_matches("/.well-known/openid-configuration")
        .to_owned();
    assert_eq!(
        issuer.trim_end_matches('/'),
        expected,
        "issuer is the discovery URL minus the well-known suffix (Discovery §4.3)"
    );
    assert!(url::Url::parse(issuer).is_ok(), "issuer is a URL");
    let list = |name: &str| -> Vec<String> {
        d[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} must be an array"))
            .iter()
            .map(|v| v.as_str().expect("strings").to_owned())
            .collect()
    };
    assert!(
        list("response_types_supported")
            .iter()
            .any(|t| ["code", "id_token", "code id_token"].contains(&t.as_str())),
        "an OpenID response type"
    );
    assert!(
        list("subject_types_supported")
            .iter()
            .any(|t| t == "public" || t == "pairwise")
    );
    let algs = list("id_token_signing_alg_values_supported");
    assert!(algs.iter().any(|a| a == "RS256"), "RS256 is required");
    assert!(!algs.iter().any(|a| a == "none"), "none is not offered");
    if d.get("userinfo_signing_alg_values_supported").is_some() {
        list("userinfo_signing_alg_values_supported");
    }
    for name in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        assert!(
            d[name].as_str().is_some_and(|u| u.starts_with("https://")),
            "{name}"
        );
    }
    if d.get("userinfo_endpoint").is_none() {
        s.warn("userinfo_endpoint is absent");
    }
    if d.get("claims_supported").is_none() {
        s.warn("claims_supported is absent");
    }
    if d.get("grant_types_supported").is_some() {
        assert!(!list("grant_types_supported").is_empty());
    }
    let scopes = list("scopes_supported");
    if !scopes.iter().any(|s| s == "openid") {
        s.warn("scopes_supported lacks openid");
    }
    for scope in &scopes {
        assert!(
            !scope.is_empty() && scope.bytes().all(|b| b > 0x20 && b != b'"' && b != b'\\'),
            "scope syntax: {scope}"
        );
    }
    for name in ["ui_locales_supported", "claims_locales_supported"] {
        if d.get(name).is_some() {
            for tag in list(name) {
                // BCP 47: language in lowercase, region in uppercase.
                let mut parts = tag.split('-');
                let lang = parts.next().unwrap_or_default();
                assert!(
                    lang.bytes().all(|b| b.is_ascii_lowercase()),
                    "{name}: {tag}"
                );
            }
        }
    }
    if d.get("code_challenge_methods_supported").is_some() {
        list("code_challenge_methods_supported");
    }
    match d.get("request_object_signing_alg_values_supported") {
        Some(v) if !v.as_array().is_some_and(|a| a.iter().any(|x| x == "RS256")) => {
            s.warn("request_object_signing_alg_values_supported lacks RS256");
        }
        _ => {}
    }
    for (name, value) in d.as_object().expect("object") {
        if !KNOWN_METADATA.contains(&name.as_str()) {
            s.warn(format!("unknown metadata member {name}"));
        }
        if name.ends_with("_supported") && name != "claims_parameter_supported" {
            let is_flag = matches!(value, Value::Bool(_));
            assert!(value.is_array() || is_flag, "{name} is an array or a flag");
        }
    }
}

#[tokio::test]
async fn oidcc_discovery_endpoint_verification() {
    let mut s = Suite::start(
        "oidcc-config-certification-test-plan",
        "oidcc-discovery-endpoint-verification",
        Mode::Query,
    )
    .await;
    verify_discovery(&mut s);
    s.finish();
}
