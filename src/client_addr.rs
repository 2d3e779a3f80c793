//! The client's address: the TCP peer, or — only when that peer is a proxy the operator trusts
//! (`--trusted-proxies`) — the address the proxy forwarded, in the one header the operator says
//! the proxy writes (`--proxy-header`): `X-Forwarded-For` (the default; nginx, HAProxy, most
//! load balancers) or `Forwarded` (RFC 7239 §4). The other header is ignored: a proxy that
//! appends to one passes the client's copy of the other through untouched, so believing it
//! would let any client choose its own address.
//!
//! The forwarded chain is read from the right: each hop that is itself a trusted proxy is
//! skipped, and the first untrusted hop is the client. A client cannot spoof its address by
//! sending its own header, because the hops it adds sit to the left of the one our proxy
//! appends. Default: trust nothing; the TCP peer is the client.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::audit::Origin;

/// Which header a trusted proxy writes the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, …` (de facto standard).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ProxyHeader {
    /// Parses `x-forwarded-for` or `forwarded` (any case).
    ///
    /// Errors: a message naming both accepted values.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "proxy header {other:?} must be x-forwarded-for or forwarded"
            )),
        }
    }

    /// The header's name, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The networks whose connections may tell us the client's address, and the header they use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>, ProxyHeader);

impl TrustedProxies {
    /// Parses CIDR blocks or single addresses (`10.0.0.0/8`, `192.0.2.7`, `::1`).
    ///
    /// Errors: a message naming the entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in entries {
            // One flag value or env var may hold several, separated by commas or spaces.
            for raw in entry
                .as_ref()
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let net = IpNet::from_str(raw)
                    .or_else(|_| IpAddr::from_str(raw).map(IpNet::from))
                    .map_err(|_| {
                        format!("trusted proxy {raw:?} is not an IP address or CIDR block")
                    })?;
                nets.push(net);
            }
        }
        Ok(Self(nets, ProxyHeader::default()))
    }

    /// The same proxies, writing the client address into `header`.
    #[must_use]
    pub fn with_header(self, header: ProxyHeader) -> Self {
        Self(self.0, header)
    }

    /// Whether nothing is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The configured blocks, for `config check`.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// Whether `ip` (a TCP peer) is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = match self.1 {
            ProxyHeader::XForwardedFor => x_forwarded_for(headers),
            ProxyHeader::Forwarded => forwarded_for(headers).unwrap_or_default(),
        };
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // An unparseable or obfuscated hop ends the walk: we cannot see past it, so the
                // last trusted hop we reached stands for the client.
                None => return client,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers)
/// count as the IPv4 address, so limits and CIDR blocks see one address, not two.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The `for=` values of every `Forwarded` header, in order (RFC 7239 §4, §6). `None` for a hop
/// that is not an address (`unknown`, an obfuscated `_name`). Returns `None` when no header
/// carries a `for=`.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let for_value = element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            });
            if let Some(v) = for_value {
                hops.push(parse_node(v.trim_matches('"')));
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// A `node` of RFC 7239 §6: `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (addr, _) = rest.split_once(']')?;
        return IpAddr::from_str(addr).ok();
    }
    IpAddr::from_str(node).ok().or_else(|| {
        let (addr, _port) = node.rsplit_once(':')?;
        IpAddr::from_str(addr).ok()
    })
}

/// The hops of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(|h| parse_node(h.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// Extracts the request's [`Origin`] (client address after the trusted-proxy rule, user agent,
/// request id) for the audit log and the login throttle.
#[derive(Clone, Debug)]
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<crate::app::AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::app::AppState,
    ) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| state.trusted_proxies.client_ip(peer.ip(), &parts.headers));
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| crate::audit::printable(ua, 200))
            .unwrap_or_default();
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|id| crate::audit::printable(id, 100))
            .unwrap_or_default();
        Ok(Self(Origin {
            source,
            user_agent,
            request_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(none.client_ip(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).expect("parse");
        // The client forged "1.1.1.1"; our proxies appended the real address and each other.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(t.client_ip(ip("192.0.2.7"), &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(t.client_ip(ip("10.1.1.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn only_the_configured_header_counts() {
        // nginx appends X-Forwarded-For and passes the client's own Forwarded through.
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).expect("parse");
        let h = headers(&[
            ("forwarded", "for=203.0.113.99"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        let t = t.with_header(ProxyHeader::Forwarded);
        let h = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "203.0.113.99"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        assert!(ProxyHeader::parse("X-Forwarded-For").is_ok());
        assert!(ProxyHeader::parse("x-real-ip").is_err());
    }

    #[test]
    fn forwarded_header_accepts_ports_and_brackets() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"])
            .expect("parse")
            .with_header(ProxyHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                r#"for=1.1.1.1, for="[2001:db8::1]:4711";proto=https"#,
            ),
            ("x-forwarded-for", "203.0.113.50"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;by=10.0.0.1")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("192.0.2.60"));
    }

    #[test]
    fn no_header_or_garbage_leaves_the_proxy_as_client() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).expect("parse");
        assert_eq!(
            t.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let t = t.with_header(ProxyHeader::Forwarded);
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_blocks() {
        let t = TrustedProxies::parse(&["127.0.0.1"]).expect("parse");
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(t.client_ip(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn parse_refuses_garbage_and_splits_lists() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["example.com"]).is_err());
        let t = TrustedProxies::parse(&["10.0.0.0/8, ::1"]).expect("parse");
        assert_eq!(t.entries(), vec!["10.0.0.0/8", "::1/128"]);
    }
}
