//! The SSRF guard of `core.http_request`: which addresses a workflow may not reach, and a DNS
//! resolver that drops them, so the address checked is the address connected to (a DNS answer
//! that changes between a check and the connection cannot slip a private address through).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address may not be reached, or `None` when it is a public address.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [0, ..] => "an unspecified (\"this network\") address",
        [127, ..] => "a loopback address",
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => "a private address",
        [169, 254, ..] => "a link-local address (cloud metadata lives there)",
        [100, 64..=127, ..] => "a carrier-grade NAT address",
        [192, 0, 0, _] => "an IETF protocol address",
        [198, 18..=19, ..] => "a benchmarking address",
        [255, 255, 255, 255] => "the broadcast address",
        [224..=239, ..] => "a multicast address",
        [240..=255, ..] => "a reserved address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d) embed an IPv4 address.
    let embedded = || {
        Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        )
    };
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return v4_reason(embedded());
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_reason(embedded());
    }
    // 6to4 (2002:a.b.c.d::/48).
    if seg[0] == 0x2002 {
        return v4_reason(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ));
    }
    Some(match seg[0] {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        s if s & 0xfe00 == 0xfc00 => {
            "a unique local (private) address (cloud metadata lives there, e.g. fd00:ec2::254)"
        }
        s if s & 0xffc0 == 0xfe80 => "a link-local address",
        s if s & 0xffc0 == 0xfec0 => "a site-local address",
        s if s & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// A refused connection: the host and the address it would have reached.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub host: String,
    pub addr: IpAddr,
    pub reason: &'static str,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host == self.addr.to_string() {
            String::new()
        } else {
            format!("`{}` resolves to ", self.host)
        };
        write!(
            f,
            "blocked: {host}{} which is {}; HTTP requests may not reach private networks unless the server allows it (FLOWGATE_ALLOW_PRIVATE_NETWORKS)",
            self.addr, self.reason
        )
    }
}

impl StdError for Blocked {}

/// Checks an address the request would connect to.
pub fn check_addr(host: &str, addr: IpAddr) -> Result<(), Blocked> {
    match blocked_reason(addr) {
        Some(reason) => Err(Blocked {
            host: host.to_string(),
            addr,
            reason,
        }),
        None => Ok(()),
    }
}

/// Resolves names with the system resolver and keeps only the addresses the guard allows. When
/// every address is refused, the connection fails with [`Blocked`].
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match check_addr(&host, a.ip()) {
                    Ok(()) => true,
                    Err(b) => {
                        first_refusal.get_or_insert(b);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                return Err(match first_refusal {
                    Some(b) => Box::new(b) as Box<dyn StdError + Send + Sync>,
                    None => format!("`{host}` has no address").into(),
                });
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The guard's refusal somewhere in an error's chain of causes.
pub fn find_blocked<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a Blocked> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<Blocked>() {
            return Some(b);
        }
        cur = e.source();
    }
    None
}

pub fn resolver() -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> bool {
        blocked_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn private_and_special_addresses_are_blocked() {
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(blocked(a), "{a} should be blocked");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "169.253.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!blocked(a), "{a} should pass");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_loopback_addresses() {
        let err = match GuardedResolver.resolve("localhost".parse().unwrap()).await {
            Err(e) => e,
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
        };
        let b = find_blocked(err.as_ref()).expect("a Blocked error");
        assert!(b.addr.is_loopback());
        assert!(b.to_string().contains("`localhost` resolves to"), "{b}");
    }
}
