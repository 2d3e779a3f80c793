//! Matching a request's `redirect_uri` against the registered ones (RFC 6749 §3.1.2.3, RFC 9700
//! §4.1.3: exact string comparison), with the one exception native apps need: a loopback IP
//! literal gets any port (RFC 8252 §7.3).
//!
//! A native app listens on a port the operating system picks at run time, so it cannot
//! register it. When the registered URI is `http://127.0.0.1…` or `http://[::1]…` (any IPv4
//! or IPv6 loopback literal), a request URI matches if it is the registered string with the
//! port (or its absence) swapped for another port. Nothing else may vary: scheme, host, path,
//! query, and the absence of userinfo and fragment are compared byte for byte. `localhost`
//! never gets this freedom (RFC 8252 §8.3: a name can resolve elsewhere), nor does https or
//! any other host.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `requested` may be used where `registered` was registered: the same string, or
/// (for a loopback IP literal over http, RFC 8252 §7.3) the same string with another port.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc8252#section-7.3>,
/// <https://www.rfc-editor.org/rfc/rfc8252#section-8.3>.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Some(reg), Some(req)) = (split(registered), split(requested)) else {
        return false;
    };
    is_loopback_literal(reg.host) && reg.host == req.host && reg.rest == req.rest
}

/// Whether any of `registered` matches `requested` (see [`fn@matches`]).
pub fn is_registered<S: AsRef<str>>(registered: &[S], requested: &str) -> bool {
    registered.iter().any(|r| matches(r.as_ref(), requested))
}

/// An `http://` URI cut at its port: `host` is everything between `http://` and the port or
/// the first `/`, `?` or `#`; `rest` is what follows the authority.
struct Parts<'a> {
    host: &'a str,
    rest: &'a str,
}

/// Splits `http://HOST[:PORT]REST`, or `None` when the URI is not plain http (the scheme is
/// compared case-sensitively: a variant spelling is not the registered string) or the port is
/// not a canonical decimal number 1–65535.
fn split(uri: &str) -> Option<Parts<'_>> {
    let after = uri.strip_prefix("http://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    // An IPv6 literal holds colons; the port separator is the colon after its `]`.
    let port_sep = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|i| authority[i + 1..].find(':').map(|j| i + 1 + j))
    } else {
        authority.rfind(':')
    };
    let (host, port) = match port_sep {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    if let Some(port) = port {
        let canonical = !port.is_empty()
            && port.len() <= 5
            && !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit());
        if !canonical || port.parse::<u16>().is_err() {
            return None;
        }
    }
    Some(Parts { host, rest })
}

/// `127.x.x.x` or a bracketed IPv6 loopback literal (`[::1]`), spelled as an IP literal (a name
/// such as `localhost` is not, RFC 8252 §8.3).
fn is_loopback_literal(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn loopback_literals_match_any_port_and_nothing_else() {
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1:51004/cb"),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"),
            ("http://[::1]/cb", "http://[::1]:51004/cb"),
            ("http://[::1]:8080/cb?x=1", "http://[::1]:9/cb?x=1"),
            ("http://127.0.0.1", "http://127.0.0.1:65535"),
        ] {
            assert!(matches(registered, requested), "{registered} ~ {requested}");
        }
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/other"),
            ("http://127.0.0.1/cb", "http://127.0.0.2:51004/cb"),
            ("http://127.0.0.1/cb", "http://localhost:51004/cb"),
            ("http://127.0.0.1/cb", "https://127.0.0.1:51004/cb"),
            ("http://127.0.0.1/cb", "HTTP://127.0.0.1:51004/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb?x=1"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb#f"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb/"),
            ("http://127.0.0.1/cb", "http://u@127.0.0.1:51004/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:080/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
            ("http://127.0.0.1/cb", "http://[::1]:51004/cb"),
            ("http://[::1]/cb", "http://[::0:1]:51004/cb"),
            ("http://localhost/cb", "http://localhost:51004/cb"),
            ("http://localhost:8080/cb", "http://localhost:8081/cb"),
            ("https://127.0.0.1/cb", "https://127.0.0.1:51004/cb"),
            ("http://example.com/cb", "http://example.com:8080/cb"),
            ("http://10.0.0.1/cb", "http://10.0.0.1:8080/cb"),
        ] {
            assert!(
                !matches(registered, requested),
                "{registered} !~ {requested}"
            );
        }
    }

    #[test]
    fn every_other_uri_must_be_identical() {
        assert!(matches("https://app.example/cb", "https://app.example/cb"));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example/cb/"
        ));
        assert!(matches("com.example.app:/cb", "com.example.app:/cb"));
    }
}
