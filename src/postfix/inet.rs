//! master.cf `inet` service names: `port`, `host:port`, `[v6]:port`, and
//! how a port name becomes a number (`known_tcp_ports`, then the server's
//! `/etc/services`).

use std::collections::HashMap;

use crate::source::Root;

/// The address part of an inet service name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetName {
    /// `None`: every address of `inet_interfaces`.
    pub host: Option<String>,
    pub port: String,
}

/// Splits a service name like master(8)'s `host_port()`: brackets for
/// IPv6, otherwise the right-most colon.
pub fn split_inet_name(name: &str) -> Result<InetName, &'static str> {
    if let Some(rest) = name.strip_prefix('[') {
        let close = rest.find(']').ok_or("missing `]`")?;
        let host = &rest[..close];
        let host = host.strip_prefix("ipv6:").unwrap_or(host);
        let port = rest[close + 1..]
            .strip_prefix(':')
            .ok_or("missing port after `[address]`")?;
        return check(Some(host.to_string()), port);
    }
    match name.rfind(':') {
        Some(i) => {
            let host = &name[..i];
            check((!host.is_empty()).then(|| host.to_string()), &name[i + 1..])
        }
        None => check(None, name),
    }
}

fn check(host: Option<String>, port: &str) -> Result<InetName, &'static str> {
    if port.is_empty() {
        return Err("missing port");
    }
    if port.as_bytes()[0].is_ascii_digit() && !port.bytes().all(|c| c.is_ascii_digit()) {
        return Err("garbage after numerical port");
    }
    if let Some(h) = &host
        && !(is_ip_literal(h) || is_hostname(h))
    {
        return Err("not a valid host name or address");
    }
    Ok(InetName {
        host,
        port: port.to_string(),
    })
}

fn is_ip_literal(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
}

fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
        })
}

/// Is this host (name or address) a loopback address?
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let h = h.strip_prefix("ipv6:").unwrap_or(h);
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().starts_with("localhost.") {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

/// Port names: `known_tcp_ports` first (Postfix ≥ 3.6), then the server's
/// `/etc/services`, then the names every system has.
pub struct PortNames {
    known: HashMap<String, u16>,
    services: HashMap<String, u16>,
}

impl PortNames {
    /// `known_tcp_ports` is the expanded value of that parameter.
    pub fn new(known_tcp_ports: &str, root: &Root) -> PortNames {
        let mut known = HashMap::new();
        for entry in known_tcp_ports
            .split([',', ' ', '\t', '\r', '\n'])
            .filter(|e| !e.is_empty())
        {
            let parts: Vec<&str> = entry.split('=').collect();
            if let Some((port, names)) = parts.split_last()
                && let Ok(p) = port.trim().parse::<u16>()
            {
                for n in names {
                    known.insert(n.trim().to_string(), p);
                }
            }
        }
        let mut services = HashMap::new();
        if let Some(text) = root
            .resolve("/etc/services")
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
        {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("");
                let mut words = line.split_whitespace();
                let (Some(name), Some(port)) = (words.next(), words.next()) else {
                    continue;
                };
                let Some(num) = port.strip_suffix("/tcp") else {
                    continue;
                };
                if let Ok(n) = num.parse::<u16>() {
                    for alias in std::iter::once(name).chain(words) {
                        services.entry(alias.to_string()).or_insert(n);
                    }
                }
            }
        } else {
            for (n, p) in [
                ("smtp", 25),
                ("submission", 587),
                ("submissions", 465),
                ("smtps", 465),
                ("ssmtp", 465),
                ("urd", 465),
                ("imap", 143),
                ("imap2", 143),
                ("imaps", 993),
                ("pop3", 110),
                ("pop3s", 995),
                ("sieve", 4190),
            ] {
                services.insert(n.to_string(), p);
            }
        }
        PortNames { known, services }
    }

    pub fn resolve(&self, port: &str) -> Option<u16> {
        if port.bytes().all(|c| c.is_ascii_digit()) {
            return port.parse().ok();
        }
        self.known
            .get(port)
            .or_else(|| self.services.get(port))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e95_service_names() {
        let ok = |n: &str| split_inet_name(n).unwrap();
        assert_eq!(
            ok("smtp"),
            InetName {
                host: None,
                port: "smtp".into()
            }
        );
        assert_eq!(
            ok("127.0.0.1:submission").host.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(ok("[::1]:465").host.as_deref(), Some("::1"));
        assert_eq!(ok("[ipv6:::1]:25").host.as_deref(), Some("::1"));
        assert_eq!(
            ok("::1:2525"),
            InetName {
                host: Some("::1".into()),
                port: "2525".into()
            }
        );
        assert_eq!(ok(":587").host, None);
        for bad in ["[::1]", "host:", "foo:bar:baz", "587x"] {
            assert!(split_inet_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_names() {
        let root = Root::new("/nonexistent-root-for-test");
        let p = PortNames::new(
            "lmtp=24, smtp=25, smtps=submissions=465, submission=587",
            &root,
        );
        assert_eq!(p.resolve("submissions"), Some(465));
        assert_eq!(p.resolve("smtps"), Some(465));
        assert_eq!(p.resolve("urd"), Some(465));
        assert_eq!(p.resolve("10465"), Some(10465));
        assert_eq!(p.resolve("Submission"), None);
    }

    #[test]
    fn loopback() {
        assert!(
            is_loopback("127.0.0.1")
                && is_loopback("::1")
                && is_loopback("[::1]")
                && is_loopback("localhost")
        );
        assert!(!is_loopback("192.0.2.1") && !is_loopback("mail.example.com"));
    }
}
