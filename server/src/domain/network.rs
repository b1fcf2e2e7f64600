//! Addresses: a key's `allowed_ips` rules, and which address a request came
//! from when it passed through trusted proxies.

use ipnet::IpNet;
use std::net::IpAddr;

/// One IP address or CIDR block (a bare address is a /32 or /128).
pub fn parse_ip_rule(rule: &str) -> Option<IpNet> {
    rule.parse::<IpNet>().ok().or_else(|| rule.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The client of a request whose TCP peer is `peer`: the peer itself, unless
/// it is one of `trusted` proxies — then the nearest `X-Forwarded-For` hop
/// that is not itself a trusted proxy (a garbled hop ends the walk).
pub fn resolve_client_addr(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Right to left: each hop was appended by the proxy in front of it; the
    // first untrusted one is the client as far as we can tell.
    for hop in forwarded_for.unwrap_or_default().rsplit(',').map(str::trim) {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addr_trusts_only_listed_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(resolve_client_addr(ip("192.0.2.9"), Some("198.51.100.1"), &proxies), ip("192.0.2.9"));
        // Trusted peer: the nearest untrusted hop.
        assert_eq!(
            resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1, 203.0.113.5, 10.0.0.7"), &proxies),
            ip("203.0.113.5")
        );
        // A garbled hop stops the walk at the last good one.
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1, nonsense"), &proxies), ip("10.0.0.2"));
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), None, &proxies), ip("10.0.0.2"));
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1"), &[]), ip("10.0.0.2"));
    }
}
