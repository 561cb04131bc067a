//! Which addresses a database-registered server may reach. A master-key holder can
//! register any URL, so without a check the gateway would connect, on their behalf, to
//! this host's own services (Envoy's admin port, the sidecar, a database), to the cloud
//! metadata service or to the private network it sits in. Refused unless the operator
//! allows a range: unspecified, loopback, link-local (169.254.169.254 included), private
//! and shared (RFC 1918, 100.64/10, fc00::/7 with fd00:ec2::254), multicast, reserved, and
//! any address assigned to this host. Ports of this gateway (the sidecar's own, Envoy's
//! admin ports, what the operator lists) on this host are refused even inside an allowed
//! range. Every address a name resolves to is checked, at connect time, so a redirect or
//! a DNS answer that changes after registration is checked again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An address range, `10.0.0.0/8` or `fd00::/8` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Envoy's usual admin ports (the example envoy.yaml's, Istio's): refused on this host.
pub const ENVOY_ADMIN_PORTS: &[u16] = &[9901, 15000];

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Ranges the operator opened (`--allow-outbound-range`).
    pub allowed: Vec<Cidr>,
    /// Ports refused on this host's addresses, even inside an allowed range.
    pub denied_ports: Vec<u16>,
}

impl OutboundPolicy {
    /// Why `addr` may not be reached by a database server, if it may not. The reason
    /// names the kind of address only (never the address).
    pub fn check(&self, addr: SocketAddr) -> Result<(), &'static str> {
        let ip = canonical(addr.ip());
        if ip.is_unspecified() {
            return Err("an unspecified address (this host)");
        }
        let local = ip.is_loopback() || assigned_here(ip);
        if local && self.denied_ports.contains(&addr.port()) {
            return Err("a port of this gateway");
        }
        if self.allowed.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match denied_kind(ip) {
            Some(kind) => Err(kind),
            None if local => Err("an address of this host"),
            None => Ok(()),
        }
    }
}

/// Whether `ip` is assigned to an interface of this host (binding to it works).
fn assigned_here(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

fn denied_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => denied_v4(v4),
        IpAddr::V6(v6) => denied_v6(v6),
    }
}

fn denied_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        Some("a private address")
    } else if o[0] == 0 || o[0] >= 224 || ip.is_broadcast() {
        Some("a reserved or multicast address")
    } else {
        None
    }
}

fn denied_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("a private address (including the cloud metadata address fd00:ec2::254)")
    } else if (s[0] & 0xff00) == 0xff00 {
        Some("a multicast address")
    } else if s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 {
        // ::/80 besides ::1 and mapped: IPv4-compatible and other reserved forms.
        Some("a reserved address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_deny_list_by_default() {
        let p = OutboundPolicy {
            allowed: vec![],
            denied_ports: vec![7300],
        };
        for a in [
            "127.0.0.1:80",
            "127.9.9.9:443",
            "[::1]:80",
            "0.0.0.0:80",
            "[::]:80",
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "[fe80::1]:80",
            "10.1.2.3:80",
            "172.16.0.1:80",
            "192.168.1.1:80",
            "100.64.0.1:80",
            "[::ffff:127.0.0.1]:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
        ] {
            assert!(p.check(addr(a)).is_err(), "{a} allowed");
        }
        assert!(p.check(addr("93.184.216.34:443")).is_ok());
        assert!(p.check(addr("[2606:4700::1111]:443")).is_ok());
    }

    #[test]
    fn operator_ranges_open_but_never_the_gateways_own_ports() {
        let p = OutboundPolicy {
            allowed: vec![
                Cidr::parse("127.0.0.0/8").unwrap(),
                Cidr::parse("10.0.0.0/8").unwrap(),
            ],
            denied_ports: vec![7300, 9901],
        };
        assert!(p.check(addr("127.0.0.1:8080")).is_ok());
        assert!(p.check(addr("10.9.8.7:80")).is_ok());
        assert!(p.check(addr("127.0.0.1:7300")).is_err());
        assert!(p.check(addr("127.0.0.1:9901")).is_err());
        assert!(p.check(addr("[::ffff:127.0.0.1]:9901")).is_err());
        assert!(
            p.check(addr("0.0.0.0:8080")).is_err(),
            "unspecified stays refused"
        );
        assert!(p.check(addr("192.168.1.1:80")).is_err());
    }

    #[test]
    fn ranges_parse_and_match() {
        let c = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(c.contains("172.31.255.1".parse().unwrap()));
        assert!(!c.contains("172.32.0.1".parse().unwrap()));
        let one = Cidr::parse("fd00:ec2::254").unwrap();
        assert!(one.contains("fd00:ec2::254".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
