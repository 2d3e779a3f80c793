//! Request parameters as the OAuth specs define them: `application/x-www-form-urlencoded` pairs
//! from a query string or a form body, where a parameter sent twice is an error and a parameter
//! sent with an empty value counts as absent (RFC 6749 §3.1, §3.2).

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
}

impl Params {
    /// Parses `a=b&c=d` pairs (percent- and `+`-decoded).
    pub fn parse(input: &[u8]) -> Self {
        let mut p = Self::default();
        for (name, value) in form_urlencoded::parse(input) {
            if value.len() > MAX_VALUE_LEN {
                p.oversized.push(name.clone().into_owned());
            }
            if value.is_empty() {
                // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they
                // were omitted from the request." A repeat of it still counts as a repeat.
                if p.values.contains_key(name.as_ref()) {
                    p.repeated.push(name.into_owned());
                } else {
                    p.values.insert(name.into_owned(), String::new());
                }
                continue;
            }
            match p.values.get(name.as_ref()) {
                Some(_) => p.repeated.push(name.into_owned()),
                None => {
                    p.values.insert(name.into_owned(), value.into_owned());
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

    /// The first of `names` whose value is longer than [`MAX_VALUE_LEN`], if any.
    pub fn first_oversized<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names
            .iter()
            .copied()
            .find(|n| self.oversized.iter().any(|o| o == n))
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
    fn oversized_values_are_flagged() {
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let p = Params::parse(format!("state={long}").as_bytes());
        assert_eq!(p.first_oversized(&["state"]), Some("state"));
    }
}
