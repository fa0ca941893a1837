//! Reading TLS certificates (rule M7.3): the names a certificate is valid
//! for (subject alternative names; the subject CN only when there are
//! none) and when it expires. PEM files, leaf first; a Postfix chain file
//! may hold the key before the certificate.

use std::path::Path;

use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// DNS names, lower case (may start with `*.`).
    pub names: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub not_after: i64,
}

impl CertInfo {
    /// Is the certificate valid for `host`? A wildcard covers exactly one
    /// label (`*.example.com` covers `mail.example.com`, not
    /// `example.com` nor `a.b.example.com`).
    pub fn covers(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.names.iter().any(|n| match n.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == parent),
            None => *n == host,
        })
    }

    pub fn expired(&self, now: i64) -> bool {
        self.not_after < now
    }
}

/// The first certificate in PEM `data`.
pub fn parse_pem(data: &[u8]) -> Result<CertInfo, String> {
    for pem in Pem::iter_from_buffer(data) {
        let pem = pem.map_err(|e| format!("not a PEM file: {e}"))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let (_, cert) = X509Certificate::from_der(&pem.contents)
            .map_err(|e| format!("bad certificate: {e}"))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                if let GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() {
            // Only without any SAN do clients still look at the CN.
            for cn in cert.subject().iter_common_name() {
                if let Ok(s) = cn.as_str() {
                    names.push(s.to_ascii_lowercase());
                }
            }
        }
        return Ok(CertInfo {
            names,
            not_after: cert.validity().not_after.timestamp(),
        });
    }
    Err("no certificate in this file".to_string())
}

pub fn read(path: &Path) -> Result<CertInfo, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    parse_pem(&data)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(names: &[&str]) -> CertInfo {
        CertInfo {
            names: names.iter().map(|s| s.to_string()).collect(),
            not_after: 0,
        }
    }

    #[test]
    fn wildcards_cover_one_label() {
        let c = info(&["*.example.com", "example.org"]);
        assert!(c.covers("mail.example.com"));
        assert!(c.covers("MAIL.Example.com"));
        assert!(!c.covers("example.com"));
        assert!(!c.covers("a.b.example.com"));
        assert!(c.covers("example.org"));
        assert!(!c.covers("mail.example.org"));
    }

    #[test]
    fn reads_generated_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["mail.example.com".into(), "*.example.net".into()])
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        // A chain file: key first, then the certificate.
        let pem = format!("{}{}", key.serialize_pem(), cert.pem());
        let c = parse_pem(pem.as_bytes()).unwrap();
        assert_eq!(c.names, ["mail.example.com", "*.example.net"]);
        assert!(!c.expired(now()));
        assert!(parse_pem(b"not pem").is_err());
    }
}
