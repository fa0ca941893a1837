//! Outgoing servers (rule M3.2): master.cf `inet` services running
//! `smtpd` with SASL on, after `-o` overrides; TLS mode per M4 and the
//! mechanisms per M5.1.

use std::collections::HashMap;

use super::auth::{DovecotAuth, apply_mechanism_filter, apply_security_options};
use super::{Daemon, Endpoint, Fact, Protocol, SocketType, Source, UsernameForm};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::dovecot::tree::split_list;
use crate::options::Options;
use crate::postfix::PostfixConf;
use crate::postfix::conf::Service;
use crate::postfix::expand::{Expander, Scope};
use crate::postfix::inet::{PortNames, is_loopback, split_inet_name};
use crate::source::{Root, SourceMap, read_text};

fn program(s: &Service) -> &str {
    s.command().rsplit('/').next().unwrap_or("")
}

fn yes(v: &str) -> bool {
    v.eq_ignore_ascii_case("yes")
}

/// `master_service_disable`: `inet` or `name/type` patterns, `!` for
/// exceptions, first match wins.
fn disabled_by_master(list: &str, s: &Service) -> bool {
    let kind = &s.entry.type_word().text;
    for item in list.split([',', ' ', '\t']).filter(|i| !i.is_empty()) {
        let (neg, pat) = match item.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, item),
        };
        let hit = pat == kind.as_str() || pat == format!("{}/{kind}", s.name());
        if hit {
            return !neg;
        }
    }
    false
}

struct Eval<'a> {
    conf: &'a PostfixConf,
    scope: &'a dyn Scope,
    failed: Option<Diagnostic>,
}

impl Eval<'_> {
    fn get(&mut self, name: &str) -> String {
        let mut e = Expander::new(self.scope);
        match e.value(name) {
            Ok(v) => v.unwrap_or_default(),
            Err(err) => {
                if self.failed.is_none() {
                    self.failed = Some(self.conf.expand_diag(&err, "expansion_error"));
                }
                String::new()
            }
        }
    }
}

pub fn endpoints(
    pf: &PostfixConf,
    root: &Root,
    dovecot: Option<(&DovecotConf, &DovecotAuth)>,
    options: &Options,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Vec<Endpoint> {
    let main = pf.main_scope();
    let mut g = Eval {
        conf: pf,
        scope: &main,
        failed: None,
    };
    let ports = PortNames::new(&g.get("known_tcp_ports"), root);
    let interfaces = g.get("inet_interfaces");
    let disable = g.get("master_service_disable");
    if let Some(d) = g.failed.take() {
        diags.push(d);
    }
    let all_loopback = {
        let i = interfaces.to_ascii_lowercase();
        i == "loopback-only"
            || (!i.is_empty()
                && i.split([',', ' ', '\t'])
                    .filter(|x| !x.is_empty())
                    .all(is_loopback))
    };
    let has_postscreen_25 = pf.services.iter().any(|s| {
        program(s) == "postscreen"
            && split_inet_name(s.name())
                .ok()
                .and_then(|n| ports.resolve(&n.port))
                == Some(25)
    });
    // master(8) keeps the last of two entries for the same address.
    let mut last: HashMap<(Option<String>, u16), usize> = HashMap::new();
    let mut resolved: Vec<Option<(Option<String>, u16)>> = Vec::new();
    for (i, s) in pf.services.iter().enumerate() {
        let r = if s.kind() == mailconf_parsers::postfix::master_cf::ServiceType::Inet {
            split_inet_name(s.name())
                .ok()
                .and_then(|n| ports.resolve(&n.port).map(|p| (n.host, p)))
        } else {
            None
        };
        if let Some(k) = &r {
            last.insert(k.clone(), i);
        }
        resolved.push(r);
    }
    let mut out = Vec::new();
    for (i, s) in pf.services.iter().enumerate() {
        let at = |d: Diagnostic| match pf.master_file {
            Some(f) => d.at(f, s.entry.span, ""),
            None => d,
        };
        let is_smtpd = program(s) == "smtpd";
        if s.broken || !is_smtpd {
            continue;
        }
        let scope = pf.service_scope(i);
        let mut e = Eval {
            conf: pf,
            scope: &scope,
            failed: None,
        };
        let sasl = yes(&e.get("smtpd_sasl_auth_enable"));
        // smtpd behind postscreen (`smtpd pass`) serves port 25.
        if s.kind() == mailconf_parsers::postfix::master_cf::ServiceType::Pass {
            if sasl && has_postscreen_25 {
                diags.push(at(Diagnostic::warning(
                    "sasl_on_port_25",
                    format!("SASL authentication is enabled on `{}`, the smtpd behind postscreen on port 25: port 25 is for other mail servers, clients should submit on 465 or 587", s.name()),
                )));
            }
            continue;
        }
        let Some(Some((host, port))) = resolved.get(i).cloned() else {
            if s.kind() == mailconf_parsers::postfix::master_cf::ServiceType::Inet {
                diags.push(at(Diagnostic::warning(
                    "bad_service_name",
                    format!("master.cf service `{}`: not a port or host:port that Postfix can resolve; ignored", s.name()),
                )));
            }
            continue;
        };
        if last.get(&(host.clone(), port)) != Some(&i) {
            continue;
        }
        if disabled_by_master(&disable, s) {
            continue;
        }
        let loopback = match &host {
            Some(h) => is_loopback(h),
            None => all_loopback,
        };
        if loopback {
            continue;
        }
        if port == 25 {
            if sasl {
                let mut d = at(Diagnostic::warning(
                    "sasl_on_port_25",
                    format!("SASL authentication is enabled on port 25 (`{}`): port 25 is for other mail servers; mailconf never publishes it as a submission port", s.name()),
                ))
                .help("submit on 465 (submissions) or 587 (submission) instead");
                if let Some((f, sp)) = pf.decided_at(Some(i), "smtpd_sasl_auth_enable") {
                    d = d.also(f, sp, "SASL enabled here");
                }
                diags.push(d);
            }
            continue;
        }
        if !sasl {
            continue;
        }
        let public = options.public_ports.get(s.name()).copied();
        let proxy = e.get("smtpd_upstream_proxy_protocol");
        if !proxy.is_empty() && public.is_none() {
            diags.push(at(Diagnostic::warning(
                "proxy_listener",
                format!("master.cf service `{}` expects connections through a proxy (smtpd_upstream_proxy_protocol = {proxy}): clients reach it elsewhere, so it is not published", s.name()),
            ))
            .help(format!("if the proxy publishes it, name the public port: --public-port {}=PORT", s.name())));
            continue;
        }
        let wrapper = yes(&e.get("smtpd_tls_wrappermode"));
        let level = e.get("smtpd_tls_security_level").to_ascii_lowercase();
        let use_tls = yes(&e.get("smtpd_use_tls"));
        let enforce_tls = yes(&e.get("smtpd_enforce_tls"));
        let auth_only = yes(&e.get("smtpd_tls_auth_only"));
        let certs = [
            "smtpd_tls_cert_file",
            "smtpd_tls_eccert_file",
            "smtpd_tls_dcert_file",
            "smtpd_tls_chain_files",
        ]
        .map(|n| e.get(n));
        let sasl_type = e.get("smtpd_sasl_type").to_ascii_lowercase();
        let filter = e.get("smtpd_sasl_mechanism_filter");
        let tls_options = e.get("smtpd_sasl_tls_security_options");
        if let Some(d) = e.failed.take() {
            diags.push(d.note_text(format!("the `{}` service would not start", s.name())));
            continue;
        }
        // Effective TLS level (smtpd.c): wrapper mode beats the level, the
        // level beats the legacy booleans.
        let effective = if wrapper {
            "wrapper".to_string()
        } else if !level.is_empty() {
            match level.as_str() {
                "none" | "may" | "encrypt" => level.clone(),
                "fingerprint" | "verify" | "secure" => "encrypt".to_string(),
                _ => {
                    diags.push(at(Diagnostic::warning(
                        "bad_tls_level",
                        format!("smtpd_tls_security_level = {level} is not valid for a server: the `{}` service would not start", s.name()),
                    )));
                    continue;
                }
            }
        } else if enforce_tls {
            "encrypt".to_string()
        } else if use_tls {
            "may".to_string()
        } else {
            "none".to_string()
        };
        let has_cert = certs.iter().any(|c| !c.is_empty() && c != "none");
        let deciding = if wrapper {
            "smtpd_tls_wrappermode"
        } else if !level.is_empty() {
            "smtpd_tls_security_level"
        } else if enforce_tls {
            "smtpd_enforce_tls"
        } else {
            "smtpd_use_tls"
        };
        let tls_decided = pf.decided_at(Some(i), deciding).map_or(
            Source::Default(format!("Postfix's default {deciding}")),
            |(f, sp)| Source::at(f, sp),
        );
        if effective == "none" || !has_cert {
            let why = if effective == "none" {
                "TLS is off (smtpd_tls_security_level is none or empty)"
            } else {
                "no certificate is configured (smtpd_tls_cert_file / smtpd_tls_chain_files)"
            };
            let mut dg = at(Diagnostic::warning(
                "no_tls",
                format!(
                    "master.cf service `{}` (port {port}): {why}; mailconf never publishes a plain-text server",
                    s.name()
                ),
            ));
            if let Source::File { file, span } = &tls_decided {
                dg = dg.also(*file, *span, "TLS decided here");
            }
            diags.push(dg);
            continue;
        }
        let socket = if effective == "wrapper" {
            SocketType::Ssl
        } else {
            SocketType::StartTls
        };
        if effective == "may" && !auth_only {
            let msg = format!(
                "master.cf service `{}` (port {port}) accepts passwords before STARTTLS (smtpd_tls_security_level = may, smtpd_tls_auth_only = no); the generated file still points clients at TLS",
                s.name()
            );
            let mut d = match pf.decided_at(Some(i), "smtpd_tls_auth_only") {
                Some((f, sp)) => {
                    let mut d = Diagnostic::warning("cleartext_auth_allowed", msg).at(
                        f,
                        sp,
                        "smtpd_tls_auth_only = no",
                    );
                    if let Some(mf) = pf.master_file {
                        d = d.also(mf, s.entry.span, "this service");
                    }
                    d
                }
                None => at(Diagnostic::warning("cleartext_auth_allowed", msg)),
            };
            d = d.help("add -o smtpd_tls_security_level=encrypt (or -o smtpd_tls_auth_only=yes) to this service");
            diags.push(d);
        }
        // Mechanisms (M5.1).
        let (mechs, mech_source, username) = match (sasl_type.as_str(), dovecot) {
            ("dovecot", Some((d, a))) => {
                let m = DovecotAuth::mechanisms(d, "submission");
                (m.value, m.source, a.username.clone())
            }
            ("dovecot", None) => (
                vec!["plain".to_string()],
                Source::Default(
                    "no Dovecot configuration: Dovecot's default mechanism plain assumed".into(),
                ),
                Fact::new(
                    UsernameForm::Address,
                    Source::Default("no Dovecot configuration".into()),
                ),
            ),
            _ => {
                let c = cyrus(
                    &e.get("cyrus_sasl_config_path"),
                    &e.get("smtpd_sasl_path"),
                    root,
                    sources,
                );
                let local_domain = e.get("smtpd_sasl_local_domain");
                let username = match c.username {
                    // saslauthd checks system accounts (PAM, shadow): the
                    // login is the local part unless a realm is added.
                    Some(UsernameForm::LocalPart) if !local_domain.is_empty() => Fact::new(
                        UsernameForm::Address,
                        Source::Default(
                            "smtpd_sasl_local_domain adds a realm to Cyrus logins".into(),
                        ),
                    ),
                    Some(f) => Fact::new(f, c.username_source),
                    None => match dovecot {
                        Some((_, a)) => a.username.clone(),
                        None => Fact::new(UsernameForm::Address, c.username_source),
                    },
                };
                (c.mechanisms, c.source, username)
            }
        };
        let mechs = apply_security_options(apply_mechanism_filter(mechs, &filter), &tls_options);
        let username = match &options.username {
            Some((f, why)) => Fact::new(*f, Source::Option(why.clone())),
            None => username,
        };
        let (port, port_source) = match public {
            Some(p) => (p, Source::Option(format!("--public-port {}={p}", s.name()))),
            None => (
                port,
                pf.master_file
                    .map_or(Source::Default("master.cf".into()), |f| {
                        Source::at(f, s.entry.span)
                    }),
            ),
        };
        out.push(Endpoint {
            protocol: Protocol::Smtp,
            daemon: Daemon::Postfix,
            service: format!("{}/inet", s.name()),
            master_index: Some(i),
            port: Fact::new(port, port_source),
            socket: Fact::new(socket, tls_decided),
            mechanisms: Fact::new(mechs, mech_source),
            auth: Vec::new(),
            username,
        });
    }
    out
}

/// What Cyrus SASL offers: `mech_list` of `smtpd.conf` (Debian keeps it
/// in /etc/postfix/sasl/; without one, Cyrus offers every mechanism it has,
/// PLAIN among them), and the login form from `pwcheck_method` and, for
/// saslauthd, its `MECHANISMS` in /etc/default/saslauthd.
struct Cyrus {
    mechanisms: Vec<String>,
    source: Source,
    username: Option<UsernameForm>,
    username_source: Source,
}

fn cyrus(config_path: &str, app: &str, root: &Root, sources: &mut SourceMap) -> Cyrus {
    let app = if app.is_empty() { "smtpd" } else { app };
    let mut dirs: Vec<String> = config_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    dirs.extend([
        "/etc/postfix/sasl".to_string(),
        "/usr/lib/sasl2".to_string(),
        "/etc/sasl2".to_string(),
    ]);
    let fallback = || Cyrus {
        mechanisms: vec!["plain".into(), "login".into()],
        source: Source::Default(
            "no Cyrus smtpd.conf found: Cyrus offers PLAIN and LOGIN among others".into(),
        ),
        username: None,
        username_source: Source::Default(
            "Cyrus SASL with an unknown password check: the mailboxes' login form is assumed"
                .into(),
        ),
    };
    for d in dirs {
        let Ok(p) = root.resolve(&format!("{d}/{app}.conf")) else {
            continue;
        };
        let Ok((text, _)) = read_text(&p) else {
            continue;
        };
        let id = sources.add(p, text.clone());
        let mut c = fallback();
        c.source = Source::at(id, mailconf_parsers::Span::at(0));
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let start = pos;
            pos += line.len();
            let here = Source::at(
                id,
                mailconf_parsers::Span::new(start, start + line.trim_end().len()),
            );
            let t = line.trim();
            if let Some(v) = t.strip_prefix("mech_list:") {
                c.mechanisms = split_list(v)
                    .into_iter()
                    .map(|m| m.to_ascii_lowercase())
                    .collect();
                c.source = here;
            } else if let Some(v) = t.strip_prefix("pwcheck_method:") {
                c.username_source = here;
                c.username = match v.trim() {
                    "saslauthd" => saslauthd_form(root, sources),
                    "auxprop" | "sasldb" | "sql" | "ldapdb" => Some(UsernameForm::Address),
                    _ => None,
                };
            }
        }
        return c;
    }
    fallback()
}

/// saslauthd with `pam`, `shadow` or `getpwent` checks system accounts,
/// whose names are local parts (unless `-r` joins the realm).
fn saslauthd_form(root: &Root, sources: &mut SourceMap) -> Option<UsernameForm> {
    let p = root.resolve("/etc/default/saslauthd").ok()?;
    let (text, _) = read_text(&p).ok()?;
    sources.add(p, text.clone());
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .next_back()
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let mechs = value("MECHANISMS").unwrap_or_default();
    let options = value("OPTIONS").unwrap_or_default();
    if options.split_whitespace().any(|o| o == "-r") {
        return Some(UsernameForm::Address);
    }
    match mechs.split_whitespace().next()? {
        "pam" | "shadow" | "getpwent" => Some(UsernameForm::LocalPart),
        _ => Some(UsernameForm::Address),
    }
}
