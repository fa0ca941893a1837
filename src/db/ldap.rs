//! LDAP, as Postfix's `ldap_table(5)` client connects: simple bind (or
//! anonymous), plain, STARTTLS or `ldaps://`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConn, LdapConnSettings, LdapError, Scope, SearchEntry};

use super::{DbError, Endpoint, Secrets, first_reachable, parse_hosts};

pub struct Settings {
    /// `server_host`: host names, `host:port` or `ldap://`, `ldaps://`,
    /// `ldapi://` URLs.
    pub server_host: String,
    pub server_port: u16,
    /// `bind = yes` with a `bind_dn` (empty = anonymous).
    pub bind_dn: Option<String>,
    pub bind_pw: String,
    pub start_tls: bool,
    /// `tls_require_cert` (Postfix's default: no).
    pub tls_require_cert: bool,
    pub tls_ca_cert_file: Option<PathBuf>,
}

pub struct LdapClient {
    conn: LdapConn,
    timeout: Duration,
    secrets: Secrets,
}

/// An entry's attributes, names as the server spells them.
pub type Entry = Vec<(String, Vec<String>)>;

pub fn parse_scope(s: &str) -> Option<Scope> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "sub" => Some(Scope::Subtree),
        "one" => Some(Scope::OneLevel),
        "base" => Some(Scope::Base),
        _ => None,
    }
}

fn url_of(e: &Endpoint) -> String {
    match e {
        Endpoint::Url(u) => u.clone(),
        Endpoint::Tcp(h, p) if h.contains(':') => format!("ldap://[{h}]:{p}"),
        Endpoint::Tcp(h, p) => format!("ldap://{h}:{p}"),
        Endpoint::Unix(p) => format!("ldapi://{}", p.replace('/', "%2F")),
    }
}

fn tls_config(ca: &PathBuf) -> Result<Arc<rustls::ClientConfig>, DbError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |e: &dyn std::fmt::Display| {
        DbError::Unsupported(format!("tls_ca_cert_file {}: {e}", ca.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn classify(err: &LdapError, at: &str, secrets: &Secrets) -> DbError {
    let text = secrets.scrub(&err.to_string());
    match err {
        // 49 invalidCredentials, 48 inappropriateAuthentication, 50
        // insufficientAccessRights.
        LdapError::LdapResult { result } if matches!(result.rc, 48..=50) => {
            DbError::Refused(format!("{at} refused the bind: {text}"))
        }
        LdapError::LdapResult { .. } => DbError::Query(format!("{at}: {text}")),
        _ => DbError::Unreachable(format!("cannot connect to {at}: {text}")),
    }
}

pub fn connect(s: &Settings, timeout: Duration) -> Result<LdapClient, DbError> {
    let secrets = Secrets::new([s.bind_pw.as_str()]);
    let hosts = if s.server_host.trim().is_empty() {
        "localhost"
    } else {
        &s.server_host
    };
    let endpoints = parse_hosts(hosts, s.server_port).map_err(DbError::Unsupported)?;
    let tls = match &s.tls_ca_cert_file {
        Some(ca) => Some(tls_config(ca)?),
        None => None,
    };
    let conn = first_reachable(&endpoints, |e| {
        let url = url_of(e);
        let shown = e.to_string();
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(s.start_tls && !url.starts_with("ldaps:"))
            .set_no_tls_verify(!s.tls_require_cert);
        if let Some(cfg) = &tls {
            settings = settings.set_config(cfg.clone());
        }
        let mut conn = LdapConn::with_settings(settings, &url)
            .map_err(|err| classify(&err, &shown, &secrets))?;
        if let Some(dn) = &s.bind_dn {
            conn.with_timeout(timeout)
                .simple_bind(dn, &s.bind_pw)
                .and_then(|r| r.success())
                .map_err(|err| classify(&err, &shown, &secrets))?;
        }
        Ok(conn)
    })?;
    Ok(LdapClient {
        conn,
        timeout,
        secrets,
    })
}

impl LdapClient {
    /// Entries under `base` matching `filter`, with `attrs`. A missing
    /// base is no entry, as Postfix treats it.
    pub fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, DbError> {
        let result = self
            .conn
            .with_timeout(self.timeout)
            .search(base, scope, filter, attrs.to_vec())
            .map_err(|e| DbError::Query(self.secrets.scrub(&e.to_string())))?;
        if result.1.rc == 32 {
            return Ok(Vec::new());
        }
        let (entries, _) = result
            .success()
            .map_err(|e| DbError::Query(self.secrets.scrub(&e.to_string())))?;
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref())
            .map(|e| SearchEntry::construct(e).attrs.into_iter().collect())
            .collect())
    }
}
