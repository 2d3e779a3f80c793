//! Request parameters as the OAuth specs define them: `application/x-www-form-urlencoded` pairs
//! from a query string or a form body, where a parameter sent twice is an error and a parameter
//! sent with an empty value counts as absent (RFC 6749 §3.1, §3.2). Values must decode to UTF-8.

use std::collections::HashMap;

/// Longest value we accept for any one parameter, in bytes. Generous for `state` values that
/// carry a signed blob; anything larger is hostile.
pub const MAX_VALUE_LEN: usize = 4096;

/// Parsed parameters, with the names that appeared more than once.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
    oversized: Vec<String>,
    malformed: Vec<String>,
}

/// `+` to space, then strict percent-decoding: `None` unless the result is UTF-8 (RFC 6749
/// App. B: values are UTF-8; rewriting bad bytes would change `state`, which must come back
/// exactly as sent).
fn decode(raw: &[u8]) -> Option<String> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).ok()
}

impl Params {
    /// Parses `a=b&c=d` pairs (`application/x-www-form-urlencoded`, RFC 6749 App. B). A name
    /// or value that does not decode to UTF-8 marks the parameter malformed.
    pub fn parse(input: &[u8]) -> Self {
        let mut p = Self::default();
        let pairs = input
            .split(|b| *b == b'&')
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let mut it = pair.splitn(2, |b| *b == b'=');
                let name = it.next().unwrap_or_default();
                let value = it.next().unwrap_or_default();
                (name, value)
            });
        for (raw_name, raw_value) in pairs {
            let Some(name) = decode(raw_name) else {
                continue;
            };
            let Some(value) = decode(raw_value) else {
                p.malformed.push(name);
                continue;
            };
            if value.len() > MAX_VALUE_LEN {
                p.oversized.push(name.clone());
            }
            // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were
            // omitted from the request" (`get` hides empty values); a repeat still counts.
            match p.values.entry(name) {
                std::collections::hash_map::Entry::Occupied(e) => p.repeated.push(e.key().clone()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
        }
        p
    }

    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` was sent more than once (RFC 6749 §3.1: "MUST NOT be included more than once").
    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|n| n == name)
    }

    /// The first of `names` that was repeated, if any.
    pub fn first_repeated<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names.iter().copied().find(|n| self.is_repeated(n))
    }

    /// The first of `names` whose value is not valid UTF-8 after decoding, if any.
    pub fn first_malformed<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names
            .iter()
            .copied()
            .find(|n| self.malformed.iter().any(|m| m == n))
    }

    /// The first of `names` whose value is longer than [`MAX_VALUE_LEN`], if any.
    pub fn first_oversized<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names
            .iter()
            .copied()
            .find(|n| self.oversized.iter().any(|o| o == n))
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1): `Ok(None)` without the
/// header; `Err(())` for another scheme, a non-ASCII value or an empty token.
#[allow(clippy::result_unit_err)]
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ()> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters_are_detected() {
        let p = Params::parse(b"a=1&b=&a=2&c=x%20y&d=+");
        assert!(p.is_repeated("a"));
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.get("d"), Some(" "));
        assert_eq!(p.first_repeated(&["c", "a"]), Some("a"));
    }

    #[test]
    fn invalid_utf8_is_malformed_not_rewritten() {
        let p = Params::parse(b"state=%C0%AF&nonce=ok");
        assert_eq!(p.get("state"), None);
        assert_eq!(p.first_malformed(&["nonce", "state"]), Some("state"));
        assert_eq!(p.get("nonce"), Some("ok"));
    }

    #[test]
    fn oversized_values_are_flagged() {
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let p = Params::parse(format!("state={long}").as_bytes());
        assert_eq!(p.first_oversized(&["state"]), Some("state"));
    }
}
