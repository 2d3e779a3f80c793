//! The HTTP side of the login throttle ([`crate::login_throttle`]): reading a device cookie
//! from a request's `Cookie` headers.

use axum::http::HeaderMap;

use crate::login_throttle::LoginThrottle;

/// The nonce of the request's device cookie for `account`, if one is present and its MAC
/// verifies (constant time).
pub fn device_from(throttle: &LoginThrottle, headers: &HeaderMap, account: &str) -> Option<String> {
    let name = LoginThrottle::device_cookie_name(account);
    let value = cookie_value(headers, &name)?;
    throttle.verify_device_cookie(account, value)
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_are_read_only_under_their_account_name() {
        let store_less = LoginThrottle::for_tests(b"test key");
        let value = store_less
            .new_device_cookie("alice@example.com")
            .expect("rng");
        let mut h = HeaderMap::new();
        let cookie = format!(
            "other=1; {}={value}",
            LoginThrottle::device_cookie_name("alice@example.com")
        );
        h.insert(
            axum::http::header::COOKIE,
            cookie.parse().expect("header value"),
        );
        assert!(device_from(&store_less, &h, "alice@example.com").is_some());
        assert!(device_from(&store_less, &h, "bob@example.com").is_none());
        // The same value under bob's cookie name does not verify for bob.
        let mut h = HeaderMap::new();
        let forged = format!(
            "{}={value}",
            LoginThrottle::device_cookie_name("bob@example.com")
        );
        h.insert(axum::http::header::COOKIE, forged.parse().expect("value"));
        assert!(device_from(&store_less, &h, "bob@example.com").is_none());
    }
}
