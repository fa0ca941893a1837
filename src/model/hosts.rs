//! Server host names (rule M7): per domain and per protocol.
//!
//! 1. An override (`--hostname`, mailconf.toml, per domain and protocol)
//!    wins (M7.5).
//! 2. Else an SNI name the daemon has for the domain (Dovecot `local_name`,
//!    Postfix `tls_server_sni_maps` keys) that is the domain or under it;
//!    among several, the one the other daemon also uses, then `mail.`,
//!    then the protocol's usual first label. A Postfix `.D` parent key
//!    covers any name under D, so it takes the name Dovecot uses (M7.2).
//! 3. Else the daemon's own name: `myhostname` (Postfix), `hostname` or
//!    `myhostname` (Dovecot).
//!
//! The certificate that daemon presents for the chosen name is then read:
//! a name it does not cover, or an expired certificate, is a warning naming
//! both the setting and the certificate file; an unreadable certificate is
//! a note (M7.3). Names are written lower case, as A-labels, without a
//! trailing dot (M7.4).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::domains::normalize_hostname;
use super::{Daemon, Fact, Inputs, Model, Protocol, Source};
use crate::certs::{self, CertInfo};
use crate::db::Access;
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::options::Options;
use crate::postfix::PostfixConf;
use crate::postfix::expand::{Expander, Scope};
use crate::postfix::tables::{Listing, list_table};
use crate::source::{Root, SourceMap};

/// A certificate a daemon is told to use.
#[derive(Clone, Debug)]
struct CertRef {
    /// As written (absolute, or relative to `base`).
    path: String,
    base: Option<PathBuf>,
    /// The setting that names it.
    source: Source,
}

#[derive(Clone, Debug)]
struct Sni {
    /// Lower case; `.parent` (Postfix) or `*.parent` (Dovecot) patterns too.
    name: String,
    certs: Vec<CertRef>,
    source: Source,
}

#[derive(Clone, Debug, Default)]
struct DaemonTls {
    name: Option<Fact<String>>,
    default_certs: Vec<CertRef>,
    sni: Vec<Sni>,
    /// Built by [`DaemonTls::indexed`] once `sni` is complete: every
    /// question below is then a few hash look-ups, not a scan of `sni` (a
    /// hosting server has thousands of SNI entries and domains).
    index: SniIndex,
}

/// Positions in `sni`, by name; where several entries qualify, the lowest
/// position (the first in the files) wins, as in the daemons.
#[derive(Clone, Debug, Default)]
struct SniIndex {
    /// Exact names (not patterns).
    exact: HashMap<String, usize>,
    /// Exact names that are not web names, under each of their suffixes
    /// (`mail.a.example` under `mail.a.example`, `a.example`, `example`).
    under: HashMap<String, Vec<usize>>,
    /// `.parent` patterns (Postfix), by parent.
    dot: HashMap<String, usize>,
    /// `*.parent` patterns (Dovecot), by parent.
    star: HashMap<String, usize>,
}

/// `a.b.c`, `b.c`, `c`.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| n.split_once('.').map(|(_, rest)| rest))
}

impl DaemonTls {
    fn indexed(mut self) -> DaemonTls {
        let mut ix = SniIndex::default();
        for (i, s) in self.sni.iter().enumerate() {
            if let Some(p) = s.name.strip_prefix("*.") {
                ix.star.entry(p.to_string()).or_insert(i);
            } else if let Some(p) = s.name.strip_prefix('.') {
                ix.dot.entry(p.to_string()).or_insert(i);
            } else {
                ix.exact.entry(s.name.clone()).or_insert(i);
                if !s.name.starts_with("autoconfig.") && !s.name.starts_with("autodiscover.") {
                    for suffix in suffixes(&s.name) {
                        ix.under.entry(suffix.to_string()).or_default().push(i);
                    }
                }
            }
        }
        self.index = ix;
        self
    }

    /// SNI names that are `domain` or under it (not patterns, not web
    /// names), in file order.
    fn exact_under(&self, domain: &str) -> Vec<&Sni> {
        self.index
            .under
            .get(domain)
            .map(|v| v.iter().map(|&i| &self.sni[i]).collect())
            .unwrap_or_default()
    }

    /// The first `.parent` (or `*.parent`) entry covering names under
    /// `domain`.
    fn parent_for(&self, domain: &str) -> Option<&Sni> {
        suffixes(domain)
            .flat_map(|p| [self.index.dot.get(p), self.index.star.get(p)])
            .flatten()
            .min()
            .map(|&i| &self.sni[i])
    }

    /// The certificates presented for `host`: the first entry that matches
    /// it exactly, as `*.parent` (one label) or as `.parent` (any depth).
    fn certs_for(&self, host: &str) -> (&[CertRef], Option<&Source>) {
        let exact = self.index.exact.get(host);
        let star = host
            .split_once('.')
            .and_then(|(_, rest)| self.index.star.get(rest));
        let dot = suffixes(host)
            .skip(1)
            .filter_map(|p| self.index.dot.get(p))
            .min();
        match [exact, star, dot].into_iter().flatten().min() {
            Some(&i) => (&self.sni[i].certs, Some(&self.sni[i].source)),
            None => (&self.default_certs, None),
        }
    }
}

fn postfix_tls(
    pf: &PostfixConf,
    service: Option<usize>,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> DaemonTls {
    let main = pf.main_scope();
    let svc = service.map(|i| pf.service_scope(i));
    let scope: &dyn Scope = match &svc {
        Some(s) => s,
        None => &main,
    };
    let get = |name: &str, diags: &mut Diagnostics| -> String {
        match Expander::new(scope).value(name) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => {
                diags.push(pf.expand_diag(&e, "expansion_error"));
                String::new()
            }
        }
    };
    let at = |name: &str| {
        pf.decided_at(service, name).map_or(
            Source::Default(format!("Postfix's default {name}")),
            |(f, s)| Source::at(f, s),
        )
    };
    let mut t = DaemonTls::default();
    let myhostname = get("myhostname", diags);
    if !myhostname.is_empty() {
        let src = pf.setting("myhostname").map_or_else(
            || {
                Source::Default(format!(
                    "Postfix's myhostname default, from {}",
                    pf.host.source
                ))
            },
            |a| Source::at(pf.main_file, a.span),
        );
        t.name = Some(Fact::new(myhostname, src));
    }
    let split = |v: &str| -> Vec<String> {
        v.split([',', ' ', '\t', '\r', '\n'])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let chain = get("smtpd_tls_chain_files", diags);
    if !chain.is_empty() {
        let src = at("smtpd_tls_chain_files");
        t.default_certs = split(&chain)
            .into_iter()
            .map(|p| CertRef {
                path: p,
                base: None,
                source: src.clone(),
            })
            .collect();
    } else {
        for name in ["smtpd_tls_cert_file", "smtpd_tls_eccert_file"] {
            let v = get(name, diags);
            if !v.is_empty() && v != "none" {
                t.default_certs.push(CertRef {
                    path: v,
                    base: None,
                    source: at(name),
                });
            }
        }
    }
    let sni_maps = get("tls_server_sni_maps", diags);
    if !sni_maps.is_empty()
        // SNI tables in a database would give names but no certificate
        // files to check; mailconf reads file-based SNI tables only.
        && let Listing::Keys(keys) =
            list_table(&sni_maps, root, sources, diags, &Access::disabled())
    {
        for k in keys {
            let source =
                k.at.map_or(at("tls_server_sni_maps"), |(f, s)| Source::at(f, s));
            t.sni.push(Sni {
                name: k.key.to_ascii_lowercase(),
                certs: split(&k.value)
                    .into_iter()
                    .map(|p| CertRef {
                        path: p,
                        base: None,
                        source: source.clone(),
                    })
                    .collect(),
                source,
            });
        }
    }
    t.indexed()
}

fn dovecot_tls(d: &DovecotConf, fallback: Option<&Fact<String>>, sources: &SourceMap) -> DaemonTls {
    let mut t = DaemonTls::default();
    let h = d.global("hostname");
    t.name = if h.text.is_empty() {
        fallback.cloned()
    } else {
        Some(Fact::new(
            h.text.clone(),
            super::auth::loc_source(h.loc, "Dovecot's hostname"),
        ))
    };
    let key = if d.version.is_2_4() {
        "ssl_server_cert_file"
    } else {
        "ssl_cert"
    };
    let cert_ref = |s: &crate::dovecot::Setting| -> Option<CertRef> {
        let path = if d.version.is_2_4() {
            s.value.clone()
        } else {
            s.file_ref.clone()?
        };
        if path.is_empty() {
            return None;
        }
        let loc = s.loc?;
        Some(CertRef {
            path,
            base: sources.get(loc.file).path.parent().map(Path::to_path_buf),
            source: Source::at(loc.file, loc.span),
        })
    };
    if let Some(s) = d.tree.get(key) {
        t.default_certs.extend(cert_ref(s));
    }
    for ln in d.tree.children_of("local_name") {
        let Some(names) = &ln.name else { continue };
        let certs: Vec<CertRef> = ln.get(key).and_then(cert_ref).into_iter().collect();
        let source = ln.loc.map_or(Source::Default("local_name".into()), |l| {
            Source::at(l.file, l.span)
        });
        for n in names.split(' ').filter(|n| !n.is_empty()) {
            t.sni.push(Sni {
                name: n.to_ascii_lowercase(),
                certs: if certs.is_empty() {
                    t.default_certs.clone()
                } else {
                    certs.clone()
                },
                source: source.clone(),
            });
        }
    }
    t.indexed()
}

/// Among several SNI names under a domain: the one the other daemon also
/// has, then `mail.`, then the protocol's usual first label, then the first
/// in name order.
fn pick<'a>(cands: &[&'a Sni], other: &[&Sni], protocol: Protocol) -> &'a Sni {
    if let Some(c) = cands
        .iter()
        .find(|c| other.iter().any(|o| o.name == c.name))
    {
        return c;
    }
    let labels: &[&str] = match protocol {
        Protocol::Smtp => &["mail", "smtp", "mx"],
        Protocol::Imap => &["mail", "imap"],
        Protocol::Pop3 => &["mail", "pop", "pop3", "imap"],
    };
    for l in labels {
        if let Some(c) = cands.iter().find(|c| c.name.starts_with(&format!("{l}."))) {
            return c;
        }
    }
    let mut sorted = cands.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted[0]
}

/// Reads certificates, once each: keyed by the path as written (and its
/// base), so that thousands of domains sharing one certificate resolve
/// its path once.
struct CertCache<'a> {
    root: &'a Root,
    read: HashMap<CertKey, ReadCert>,
}

/// A certificate path as written, with the directory it is relative to.
type CertKey = (Option<PathBuf>, String);
/// Where a certificate path led, and what was found there.
type ReadCert = (PathBuf, Result<CertInfo, String>);

impl CertCache<'_> {
    /// The first certificate among `refs` (a chain list holds the key too).
    fn get(&mut self, refs: &[CertRef]) -> Option<(CertRef, PathBuf, Result<CertInfo, String>)> {
        let mut last = None;
        for r in refs {
            let root = self.root;
            let (real, res) = self
                .read
                .entry((r.base.clone(), r.path.clone()))
                .or_insert_with(|| {
                    let real = match &r.base {
                        Some(b) if !r.path.starts_with('/') => root.resolve_from(b, &r.path),
                        _ => root.resolve(&r.path),
                    };
                    match real {
                        Ok(p) => {
                            let info = certs::read(&p);
                            (p, info)
                        }
                        Err(e) => (PathBuf::from(&r.path), Err(e.to_string())),
                    }
                })
                .clone();
            let ok = res.is_ok();
            last = Some((r.clone(), real, res));
            if ok {
                break;
            }
        }
        last
    }
}

pub fn assign(
    model: &mut Model,
    inputs: &Inputs,
    options: &Options,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) {
    let entries = model.entries();
    let daemon_of = |p: Protocol| {
        entries
            .iter()
            .find(|e| e.protocol == p)
            .map(|e| (e.daemon, e.master_index))
    };
    let smtp_service = daemon_of(Protocol::Smtp).and_then(|(_, i)| i);
    let postfix = inputs
        .postfix
        .as_ref()
        .map(|pf| postfix_tls(pf, smtp_service, &inputs.root, sources, diags));
    let dovecot = inputs
        .dovecot
        .as_ref()
        .map(|d| dovecot_tls(d, postfix.as_ref().and_then(|p| p.name.as_ref()), sources));
    let daemons: Vec<(Protocol, Daemon)> = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp]
        .into_iter()
        .map(|p| {
            let d = daemon_of(p)
                .map(|(d, _)| d)
                .unwrap_or(if p == Protocol::Smtp {
                    Daemon::Postfix
                } else {
                    Daemon::Dovecot
                });
            (p, d)
        })
        .collect();
    let mut cache = CertCache {
        root: &inputs.root,
        read: HashMap::new(),
    };
    let now = certs::now();
    let mut reported: HashSet<(String, String, &'static str)> = HashSet::new();
    let empty = DaemonTls::default();
    for domain in &mut model.domains {
        let dopts = options.domains.get(&domain.name);
        // Exactly one per protocol: 100,000 domains keep these until the end.
        domain.hosts.reserve_exact(daemons.len());
        for &(p, daemon) in &daemons {
            let (own, other) = match daemon {
                Daemon::Postfix => (
                    postfix.as_ref().unwrap_or(&empty),
                    dovecot.as_ref().unwrap_or(&empty),
                ),
                Daemon::Dovecot => (
                    dovecot.as_ref().unwrap_or(&empty),
                    postfix.as_ref().unwrap_or(&empty),
                ),
            };
            let over = dopts
                .and_then(|d| {
                    d.hostnames
                        .iter()
                        .find(|(q, _)| *q == Some(p))
                        .or_else(|| d.hostnames.iter().find(|(q, _)| q.is_none()))
                        .map(|(_, h)| {
                            Fact::new(
                                h.clone(),
                                Source::Option(format!(
                                    "mailconf.toml: domain.\"{}\"",
                                    domain.name
                                )),
                            )
                        })
                })
                .or_else(|| {
                    options
                        .hostnames
                        .iter()
                        .find(|(q, _, _)| *q == Some(p))
                        .or_else(|| options.hostnames.iter().find(|(q, _, _)| q.is_none()))
                        .map(|(_, h, why)| Fact::new(h.clone(), Source::Option(why.clone())))
                });
            let chosen: Option<Fact<String>> = over.or_else(|| {
                let own_c = own.exact_under(&domain.name);
                let other_c = other.exact_under(&domain.name);
                if !own_c.is_empty() {
                    let s = pick(&own_c, &other_c, p);
                    return Some(Fact::new(s.name.clone(), s.source.clone()));
                }
                if let Some(parent) = own.parent_for(&domain.name)
                    && !other_c.is_empty()
                {
                    let s = pick(&other_c, &[], p);
                    return Some(Fact::new(s.name.clone(), parent.source.clone()));
                }
                own.name.clone().or_else(|| other.name.clone())
            });
            let Some(fact) = chosen else { continue };
            let host = match normalize_hostname(&fact.value) {
                Ok(h) => h,
                Err(e) => {
                    if reported.insert((fact.value.clone(), String::new(), "invalid_hostname")) {
                        let mut d = Diagnostic::error(
                            "invalid_hostname",
                            format!(
                                "`{}` cannot be the server name clients connect to: {e}",
                                fact.value
                            ),
                        )
                        .help("set the name clients should use with --hostname NAME");
                        if let Source::File { file, span } = fact.source {
                            d = d.at(file, span, "");
                        }
                        diags.push(d);
                    }
                    continue;
                }
            };
            let (refs, _) = own.certs_for(&host);
            if let Some((cref, real, res)) = cache.get(refs) {
                check_cert(&host, p, &cref, &real, res, now, &mut reported, diags);
            }
            domain.hosts.push((p, Fact::new(host, fact.source)));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_cert(
    host: &str,
    p: Protocol,
    cref: &CertRef,
    real: &Path,
    res: Result<CertInfo, String>,
    now: i64,
    reported: &mut HashSet<(String, String, &'static str)>,
    diags: &mut Diagnostics,
) {
    let at = |d: Diagnostic| match &cref.source {
        Source::File { file, span } => d.at(*file, *span, "certificate named here"),
        _ => d,
    };
    let file = real.display().to_string();
    match res {
        Err(e) => {
            if reported.insert((String::new(), file.clone(), "cert_unreadable")) {
                diags.push(at(Diagnostic::note(
                    "cert_unreadable",
                    format!("cannot read the certificate {} ({e}); the host names using it are not checked", cref.path),
                )));
            }
        }
        Ok(info) => {
            if !info.covers(host)
                && reported.insert((host.to_string(), file.clone(), "cert_name_mismatch"))
            {
                diags.push(at(Diagnostic::warning(
                    "cert_name_mismatch",
                    format!(
                        "the {} host `{host}` is not covered by the certificate {} (it is valid for: {}): clients will refuse the connection",
                        p.name().to_uppercase(),
                        cref.path,
                        if info.names.is_empty() { "no name".to_string() } else { info.names.join(", ") }
                    ),
                )
                .help("use a certificate that names this host, or choose another host name with --hostname or in mailconf.toml")));
            }
            if info.expired(now) && reported.insert((String::new(), file, "cert_expired")) {
                diags.push(at(Diagnostic::warning(
                    "cert_expired",
                    format!("the certificate {} (used for `{host}`) has expired: clients will refuse the connection", cref.path),
                )));
            }
        }
    }
}
