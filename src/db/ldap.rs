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

/// An `ldap://` or `ldaps://` URL must name a host (`ldapi://` names a
/// socket): the client library cannot be handed anything else.
fn check_url(e: &Endpoint) -> Result<(), DbError> {
    let Endpoint::Url(u) = e else { return Ok(()) };
    let bad = |why: &str| DbError::Unsupported(format!("server_host `{e}`: {why}"));
    let (scheme, rest) = u.split_once("://").ok_or_else(|| bad("not a URL"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    match scheme.to_ascii_lowercase().as_str() {
        "ldapi" => Ok(()),
        "ldap" | "ldaps" if !host.is_empty() && !host.starts_with(':') => Ok(()),
        "ldap" | "ldaps" => Err(bad("no host name")),
        _ => Err(bad("not an ldap://, ldaps:// or ldapi:// URL")),
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
    // Postfix checks the server certificate only with tls_require_cert;
    // the CA file serves that check.
    let tls = match &s.tls_ca_cert_file {
        Some(ca) if s.tls_require_cert => Some(tls_config(ca)?),
        _ => None,
    };
    for e in &endpoints {
        check_url(e)?;
    }
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
        let (entries, cut) = self.search_partial(base, scope, filter, attrs)?;
        if cut {
            return Err(DbError::Query(
                "the directory's size limit cut the answer".into(),
            ));
        }
        Ok(entries)
    }

    /// As [`search`](Self::search), but the entries of an answer cut by
    /// the server's size limit are returned, with `true`.
    pub fn search_partial(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<(Vec<Entry>, bool), DbError> {
        let result = self
            .conn
            .with_timeout(self.timeout)
            .search(base, scope, filter, attrs.to_vec())
            .map_err(|e| DbError::Query(self.secrets.scrub(&e.to_string())))?;
        let entries = |r: Vec<ldap3::ResultEntry>| -> Vec<Entry> {
            r.into_iter()
                .filter(|e| !e.is_ref())
                .map(|e| SearchEntry::construct(e).attrs.into_iter().collect())
                .collect()
        };
        match result.1.rc {
            // noSuchObject
            32 => Ok((Vec::new(), false)),
            // sizeLimitExceeded: what came is kept.
            4 => Ok((entries(result.0), true)),
            _ => {
                let (found, _) = result
                    .success()
                    .map_err(|e| DbError::Query(self.secrets.scrub(&e.to_string())))?;
                Ok((entries(found), false))
            }
        }
    }
}
