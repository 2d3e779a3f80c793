//! Reading compact JWTs in tests (no signature check: the tests that care verify with the
//! `openidconnect` crate or `jsonwebtoken`).

use serde_json::Value;

/// Decodes unpadded base64url (RFC 7515 §2), panicking on bad input.
pub fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

/// The JSON of a compact JWT's header (its first segment).
pub fn jwt_header(jwt: &str) -> Value {
    serde_json::from_slice(&base64_decode(jwt.split('.').next().expect("header")))
        .expect("header json")
}

/// The JSON of a compact JWT's payload (its second segment).
pub fn jwt_claims(jwt: &str) -> Value {
    serde_json::from_slice(&base64_decode(jwt.split('.').nth(1).expect("payload")))
        .expect("claims json")
}
