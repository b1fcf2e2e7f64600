//! The SSRF guard: a webhook may not reach private, loopback, link-local or
//! otherwise non-public addresses (cloud metadata at 169.254.169.254, the
//! database next door) unless `webhook_allow_private` is set.
//!
//! Checked twice: when a URL is saved (a literal address or `localhost` is
//! refused with a 400 naming the field) and at connect time, where the
//! delivery client's resolver drops non-public addresses — so a name that
//! later resolves to 10.0.0.5 (DNS rebinding) is refused too. Redirects are
//! not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is anything but a public unicast address.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) embeds an IPv4 address.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_non_public_v4(Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                ));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || seg[0] == 0x2002 // 6to4 2002::/16: embeds an IPv4 address, relayed anywhere
                || seg[..3] == [0x64, 0xff9b, 1] // local-use NAT64 64:ff9b:1::/48 (RFC 8215)
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
                || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        }
    }
}

fn is_non_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99.0/24 (deprecated)
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved
}

/// Why `url` may not be a webhook target as written, if it may not: a literal
/// non-public address or a loopback name. Names are checked again at connect time.
pub fn refuse_url(url: &url::Url, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let refused = match url.host()? {
        url::Host::Ipv4(ip) => is_non_public(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => is_non_public(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".internal")
                || name.ends_with(".local")
        }
    };
    refused.then(|| {
        "must not point at a private, loopback or link-local address (set KEYWARD_WEBHOOK_ALLOW_PRIVATE=true to allow)"
            .to_string()
    })
}

/// A resolver for the delivery client that only hands out public addresses.
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved.into_iter().filter(|a| !is_non_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("`{host}` resolves only to private, loopback or link-local addresses").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(is_non_public(bad.parse().unwrap()), "{bad} should be refused");
        }
        for ok in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_non_public(ok.parse().unwrap()), "{ok} should be allowed");
        }
    }

    #[test]
    fn transition_ranges() {
        // 6to4: whatever IPv4 address it embeds, public or not.
        for bad in ["2002::1", "2002:c0a8:101::1", "2002:808:808::1", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
            assert!(is_non_public(bad.parse().unwrap()), "{bad} (6to4) should be refused");
        }
        // Local-use NAT64 prefix.
        for bad in ["64:ff9b:1::1", "64:ff9b:1::808:808", "64:ff9b:1:ffff::1"] {
            assert!(is_non_public(bad.parse().unwrap()), "{bad} (64:ff9b:1::/48) should be refused");
        }
        // 6to4 relay anycast.
        for bad in ["192.88.99.0", "192.88.99.1", "192.88.99.255", "::ffff:192.88.99.1"] {
            assert!(is_non_public(bad.parse().unwrap()), "{bad} (192.88.99.0/24) should be refused");
        }
        // Their neighbours stay allowed.
        for ok in ["2003::1", "2001:4860:4860::8888", "64:ff9b:2::1", "192.88.98.1", "192.88.100.1"] {
            assert!(!is_non_public(ok.parse().unwrap()), "{ok} should be allowed");
        }
        assert!(refuse_url(&url::Url::parse("http://[2002:a00:1::1]/hook").unwrap(), false).is_some());
        assert!(refuse_url(&url::Url::parse("http://192.88.99.7/hook").unwrap(), false).is_some());
    }

    #[test]
    fn urls() {
        let refused = |u: &str| refuse_url(&url::Url::parse(u).unwrap(), false).is_some();
        assert!(refused("http://127.0.0.1:9000/hook"));
        assert!(refused("http://[::1]/hook"));
        assert!(refused("http://localhost/hook"));
        assert!(refused("http://169.254.169.254/latest/meta-data"));
        assert!(!refused("https://hooks.example.com/keyward"));
        assert!(refuse_url(&url::Url::parse("http://127.0.0.1/").unwrap(), true).is_none());
    }
}
