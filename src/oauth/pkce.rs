//! Proof Key for Code Exchange (RFC 7636). Only `S256` is accepted: `plain` offers no protection
//! when the authorization request leaks (RFC 9700 §2.1.1).

use crate::crypto::{b64url, constant_time_eq, sha256};

/// Whether `s` is 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1 for the verifier;
/// §4.2 makes an S256 challenge exactly 43 base64url characters).
fn is_unreserved(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `code_challenge` has the shape of an S256 challenge (RFC 7636 §4.2).
pub fn is_valid_challenge(code_challenge: &str) -> bool {
    code_challenge.len() == 43 && is_unreserved(code_challenge, 43, 43)
}

/// Whether `code_verifier` is well-formed (RFC 7636 §4.1).
pub fn is_valid_verifier(code_verifier: &str) -> bool {
    is_unreserved(code_verifier, 43, 128)
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn s256(code_verifier: &str) -> String {
    b64url(&sha256(code_verifier.as_bytes()))
}

/// RFC 7636 §4.6: `S256(code_verifier) == code_challenge`, compared in constant time.
pub fn verify_s256(code_verifier: &str, code_challenge: &str) -> bool {
    constant_time_eq(s256(code_verifier).as_bytes(), code_challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_verifier(verifier));
        assert!(is_valid_challenge(challenge));
        assert!(verify_s256(verifier, challenge));
        assert!(!verify_s256(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
    }

    #[test]
    fn malformed_verifiers_and_challenges_are_rejected() {
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}!", "a".repeat(50))));
        assert!(!is_valid_challenge("abc"));
    }
}
