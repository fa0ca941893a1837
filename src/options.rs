//! The choices that shape the result: command-line flags merged over
//! mailconf's own configuration file (rule M8; flags win).
//!
//! The file is TOML; `docs/mailconf.toml` is the commented example.
//! Unknown keys are an error with the file's line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mailconf_parsers::Span;
use serde::Deserialize;
use toml::Spanned;

use crate::cli::{ModelArgs, UsernameForm as CliUsername};
use crate::db::Access;
use crate::diag::{Diagnostic, Diagnostics, Fatal};
use crate::model::domains::normalize_hostname;
use crate::model::{AuthValue, Protocol, UsernameForm};
use crate::source::{Root, SourceMap, first_bad_byte, read_text};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostNames {
    imap: Option<Spanned<String>>,
    pop3: Option<Spanned<String>>,
    smtp: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainFile {
    display_name: Option<String>,
    display_short_name: Option<String>,
    hostname: Option<Spanned<String>>,
    #[serde(default)]
    hostnames: HostNames,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    display_name: Option<String>,
    display_short_name: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    exclude_domains: Vec<String>,
    hostname: Option<Spanned<String>>,
    #[serde(default)]
    hostnames: HostNames,
    username: Option<String>,
    offer_pop3: Option<bool>,
    query_databases: Option<bool>,
    database_timeout: Option<u64>,
    #[serde(default)]
    authentication: Vec<String>,
    documentation_url: Option<String>,
    #[serde(default)]
    public_ports: BTreeMap<String, u16>,
    #[serde(default)]
    domain: BTreeMap<String, DomainFile>,
}

/// Per-domain settings of the configuration file.
#[derive(Clone, Debug, Default)]
pub struct DomainOptions {
    pub display_name: Option<String>,
    pub display_short_name: Option<String>,
    /// Host names by protocol (`None` = every protocol).
    pub hostnames: Vec<(Option<Protocol>, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub extra_domains: Vec<String>,
    pub excluded_domains: Vec<String>,
    /// Host names by protocol (`None` = every protocol), with where they
    /// were given.
    pub hostnames: Vec<(Option<Protocol>, String, String)>,
    pub username: Option<(UsernameForm, String)>,
    /// Public port per service name (`imaps`, `submission`, ...).
    pub public_ports: BTreeMap<String, u16>,
    pub alternatives: bool,
    pub allow_incomplete: bool,
    pub offer_pop3: bool,
    pub display_name: Option<String>,
    pub display_short_name: Option<String>,
    pub extra_auth: Vec<AuthValue>,
    pub documentation_url: Option<String>,
    /// Querying the SQL and LDAP servers of domain tables (issue 7).
    pub databases: Access,
    pub domains: BTreeMap<String, DomainOptions>,
    /// The configuration file that was read, if any.
    pub config_file: Option<PathBuf>,
}

impl Options {
    /// Reads the configuration file (`--config`, or the server's
    /// `/etc/mailconf/mailconf.toml` when present) and applies the flags.
    pub fn load(
        args: &ModelArgs,
        root: &Root,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Result<Options, Fatal> {
        let mut o = Options {
            offer_pop3: true,
            ..Options::default()
        };
        let path = match &args.inputs.config {
            Some(p) => Some(p.clone()),
            None => root
                .resolve("/etc/mailconf/mailconf.toml")
                .ok()
                .filter(|p| p.exists()),
        };
        if let Some(path) = path {
            o.read_file(&path, sources, diags)?;
        }
        o.extra_domains.extend(args.domains.iter().cloned());
        o.excluded_domains
            .extend(args.exclude_domains.iter().cloned());
        if let Some(h) = &args.hostname {
            o.hostnames.retain(|(p, _, _)| p.is_some());
            o.hostnames
                .push((None, h.clone(), "--hostname".to_string()));
        }
        if let Some(u) = args.username {
            let form = match u {
                CliUsername::Address => UsernameForm::Address,
                CliUsername::Localpart => UsernameForm::LocalPart,
            };
            o.username = Some((form, "--username".to_string()));
        }
        for pp in &args.public_ports {
            let Some((svc, port)) = pp.split_once('=') else {
                diags.push(Diagnostic::error(
                    "bad_option",
                    format!("--public-port {pp}: expected SERVICE=PORT, e.g. submissions=465"),
                ));
                return Err(Fatal);
            };
            let port: u16 = match port.parse() {
                Ok(p) if p > 0 => p,
                _ => {
                    diags.push(Diagnostic::error(
                        "bad_option",
                        format!("--public-port {pp}: `{port}` is not a port number (1-65535)"),
                    ));
                    return Err(Fatal);
                }
            };
            o.public_ports.insert(svc.to_string(), port);
        }
        if args.no_query_databases {
            o.databases.enabled = false;
        }
        if let Some(t) = args.database_timeout {
            o.databases.timeout = Duration::from_secs(t.max(1));
        }
        o.alternatives = args.alternatives;
        o.allow_incomplete = args.allow_incomplete;
        Ok(o)
    }

    fn read_file(
        &mut self,
        path: &Path,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Result<(), Fatal> {
        let (text, lossy) = match read_text(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "config_unreadable",
                    format!("cannot read {}: {e}", path.display()),
                ));
                return Err(Fatal);
            }
        };
        let bad_byte = first_bad_byte(&text, lossy);
        let id = sources.add(path.to_path_buf(), text);
        if let Some(at) = bad_byte {
            diags.push(
                Diagnostic::error(
                    "config_invalid",
                    "this file is not valid UTF-8 (TOML must be): a byte here is not",
                )
                .at(id, Span::char_at(&sources.get(id).text, at), ""),
            );
            return Err(Fatal);
        }
        let f: File = match toml::from_str(&sources.get(id).text) {
            Ok(f) => f,
            Err(e) => {
                let span = e.span().map_or(Span::at(0), |r| Span::new(r.start, r.end));
                diags.push(
                    Diagnostic::error("config_invalid", e.message().to_string())
                        .at(id, span, "")
                        .help("see docs/mailconf.toml for the keys mailconf knows"),
                );
                return Err(Fatal);
            }
        };
        // A host name mailconf is told is checked here, where its line is
        // known; names read from Postfix and Dovecot are checked later.
        let mut bad = false;
        for h in f.hostname.iter().chain(host_spans(&f.hostnames)).chain(
            f.domain
                .values()
                .flat_map(|d| d.hostname.iter().chain(host_spans(&d.hostnames))),
        ) {
            if let Err(e) = normalize_hostname(h.get_ref()) {
                let r = h.span();
                diags.push(
                    Diagnostic::error(
                        "invalid_hostname",
                        format!(
                            "`{}` cannot be the server name clients connect to: {e}",
                            h.get_ref()
                        ),
                    )
                    .at(id, Span::new(r.start, r.end), ""),
                );
                bad = true;
            }
        }
        if bad {
            return Err(Fatal);
        }
        let label = |k: &str| format!("{}: {k}", path.display());
        self.config_file = Some(path.to_path_buf());
        self.display_name = f.display_name;
        self.display_short_name = f.display_short_name;
        self.extra_domains = f.domains;
        self.excluded_domains = f.exclude_domains;
        if let Some(h) = f.hostname {
            self.hostnames
                .push((None, h.into_inner(), label("hostname")));
        }
        for (p, h) in host_list(&f.hostnames) {
            self.hostnames
                .push((Some(p), h, label(&format!("hostnames.{}", p.name()))));
        }
        if let Some(u) = f.username {
            let form = match u.as_str() {
                "address" => UsernameForm::Address,
                "localpart" => UsernameForm::LocalPart,
                other => {
                    diags.push(
                        Diagnostic::error(
                            "config_invalid",
                            format!(
                                "username = \"{other}\": expected \"address\" or \"localpart\""
                            ),
                        )
                        .at(id, Span::at(0), ""),
                    );
                    return Err(Fatal);
                }
            };
            self.username = Some((form, label("username")));
        }
        if let Some(q) = f.query_databases {
            self.databases.enabled = q;
        }
        if let Some(t) = f.database_timeout {
            self.databases.timeout = Duration::from_secs(t.max(1));
        }
        if let Some(p) = f.offer_pop3 {
            self.offer_pop3 = p;
        }
        for a in f.authentication {
            let v = match a.as_str() {
                "OAuth2" => AuthValue::OAuth2,
                "GSSAPI" => AuthValue::Gssapi,
                "NTLM" => AuthValue::Ntlm,
                "password-encrypted" => AuthValue::PasswordEncrypted,
                other => {
                    diags.push(Diagnostic::error(
                        "config_invalid",
                        format!("authentication: `{other}` is not one of OAuth2, GSSAPI, NTLM, password-encrypted"),
                    ));
                    return Err(Fatal);
                }
            };
            self.extra_auth.push(v);
        }
        self.documentation_url = f.documentation_url;
        self.public_ports = f.public_ports;
        for (name, d) in f.domain {
            let mut hostnames: Vec<(Option<Protocol>, String)> = Vec::new();
            if let Some(h) = d.hostname {
                hostnames.push((None, h.into_inner()));
            }
            hostnames.extend(
                host_list(&d.hostnames)
                    .into_iter()
                    .map(|(p, h)| (Some(p), h)),
            );
            self.domains.insert(
                name.to_ascii_lowercase(),
                DomainOptions {
                    display_name: d.display_name,
                    display_short_name: d.display_short_name,
                    hostnames,
                },
            );
        }
        Ok(())
    }
}

fn host_list(h: &HostNames) -> Vec<(Protocol, String)> {
    let mut out = Vec::new();
    for (p, v) in [
        (Protocol::Imap, &h.imap),
        (Protocol::Pop3, &h.pop3),
        (Protocol::Smtp, &h.smtp),
    ] {
        if let Some(v) = v {
            out.push((p, v.get_ref().clone()));
        }
    }
    out
}

fn host_spans(h: &HostNames) -> impl Iterator<Item = &Spanned<String>> {
    [&h.imap, &h.pop3, &h.smtp].into_iter().flatten()
}
