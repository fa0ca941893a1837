//! What a mail client really gets from this server, with where each fact
//! came from: hosted domains (M2), client services and their TLS mode (M3,
//! M4), authentication (M5), login form (M6) and host names (M7).
//!
//! [`build`] reads nothing itself beyond what the resolvers and the table
//! readers hand it; the outputs (XML, inspect, DNS) only read the model.

pub mod auth;
pub mod domains;
pub mod hosts;
pub mod incoming;
pub mod outgoing;
pub mod username;

use mailconf_parsers::Span;
use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::options::Options;
use crate::postfix::PostfixConf;
use crate::source::{FileId, Root, SourceMap};

/// Where a fact comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A line of a configuration file.
    File { file: FileId, span: Span },
    /// A built-in default (of Postfix, Dovecot or mailconf).
    Default(String),
    /// A command-line option or mailconf's own configuration file.
    Option(String),
}

impl Source {
    pub fn at(file: FileId, span: Span) -> Source {
        Source::File { file, span }
    }

    /// `path:line`, or a description.
    pub fn describe(&self, sources: &SourceMap) -> String {
        match self {
            Source::File { file, span } => sources.line_location(*file, *span),
            Source::Default(d) => format!("default: {d}"),
            Source::Option(o) => o.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }
}

/// `socketType` (rule M4; `plain` is never written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum SocketType {
    /// Implicit TLS from the first byte.
    #[serde(rename = "SSL")]
    Ssl,
    #[serde(rename = "STARTTLS")]
    StartTls,
}

impl SocketType {
    pub fn xml(self) -> &'static str {
        match self {
            SocketType::Ssl => "SSL",
            SocketType::StartTls => "STARTTLS",
        }
    }
}

/// `authentication` values mailconf writes (rule M5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum AuthValue {
    #[serde(rename = "password-cleartext")]
    PasswordCleartext,
    #[serde(rename = "password-encrypted")]
    PasswordEncrypted,
    #[serde(rename = "OAuth2")]
    OAuth2,
    #[serde(rename = "GSSAPI")]
    Gssapi,
    #[serde(rename = "NTLM")]
    Ntlm,
}

impl AuthValue {
    pub fn xml(self) -> &'static str {
        match self {
            AuthValue::PasswordCleartext => "password-cleartext",
            AuthValue::PasswordEncrypted => "password-encrypted",
            AuthValue::OAuth2 => "OAuth2",
            AuthValue::Gssapi => "GSSAPI",
            AuthValue::Ntlm => "NTLM",
        }
    }
}

/// `username` placeholder (rule M6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UsernameForm {
    #[serde(rename = "%EMAILADDRESS%")]
    Address,
    #[serde(rename = "%EMAILLOCALPART%")]
    LocalPart,
}

impl UsernameForm {
    pub fn xml(self) -> &'static str {
        match self {
            UsernameForm::Address => "%EMAILADDRESS%",
            UsernameForm::LocalPart => "%EMAILLOCALPART%",
        }
    }
}

/// A fact and its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Fact<T> {
    pub fn new(value: T, source: Source) -> Fact<T> {
        Fact { value, source }
    }
}

/// Which daemon offers an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    Postfix,
    Dovecot,
}

/// A port a client can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub daemon: Daemon,
    /// `submission/inet`, `imap-login/imaps`, ...
    pub service: String,
    /// The master.cf entry (Postfix endpoints), for per-service settings.
    pub master_index: Option<usize>,
    /// The port clients connect to (after `--public-port`).
    pub port: Fact<u16>,
    pub socket: Fact<SocketType>,
    /// SASL mechanisms offered to a client of this endpoint (lower case).
    pub mechanisms: Fact<Vec<String>>,
    /// In preference order; the first one is written (rule M5, and the
    /// values the config file adds).
    pub auth: Vec<AuthValue>,
    pub username: Fact<UsernameForm>,
}

impl Endpoint {
    /// Preference within a protocol (M3.4): implicit TLS beats STARTTLS,
    /// then the standard port, then the lower port.
    fn rank(&self) -> (u8, u8, u16) {
        let tls = match self.socket.value {
            SocketType::Ssl => 0,
            SocketType::StartTls => 1,
        };
        let standard = match (self.protocol, self.port.value) {
            (Protocol::Imap, 993 | 143)
            | (Protocol::Pop3, 995 | 110)
            | (Protocol::Smtp, 465 | 587) => 0,
            _ => 1,
        };
        (tls, standard, self.port.value)
    }
}

/// A domain that gets a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    /// Lower case, A-labels.
    pub name: String,
    pub source: Source,
    /// Server host name per protocol.
    pub hosts: Vec<(Protocol, Fact<String>)>,
    pub display_name: String,
    pub display_short_name: String,
}

impl Domain {
    pub fn host(&self, p: Protocol) -> Option<&Fact<String>> {
        self.hosts.iter().find(|(q, _)| *q == p).map(|(_, h)| h)
    }
}

/// A name that was considered and left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excluded {
    pub name: String,
    pub reason: String,
    pub source: Source,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub domains: Vec<Domain>,
    pub excluded: Vec<Excluded>,
    /// Domain tables or files that could not be read: the domain list may
    /// be short (a database down), so `--prune` must not act on it.
    pub unread_domain_sources: Vec<String>,
    /// Every usable endpoint, preferred first within each protocol.
    pub endpoints: Vec<Endpoint>,
    /// Offer POP3 (M3.4: only when enabled; the config file may turn it off).
    pub offer_pop3: bool,
    pub alternatives: bool,
}

impl Model {
    /// The endpoints written for one domain: one per protocol, or every one
    /// with `--alternatives`; IMAP before POP3, then SMTP (M3.4, M9.1).
    pub fn entries(&self) -> Vec<&Endpoint> {
        let mut out = Vec::new();
        for p in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
            if p == Protocol::Pop3 && !self.offer_pop3 {
                continue;
            }
            let mut of: Vec<&Endpoint> =
                self.endpoints.iter().filter(|e| e.protocol == p).collect();
            of.sort_by_key(|e| e.rank());
            if !self.alternatives {
                of.truncate(1);
            }
            out.extend(of);
        }
        out
    }

    pub fn has_incoming(&self) -> bool {
        self.entries().iter().any(|e| e.protocol != Protocol::Smtp)
    }

    pub fn has_outgoing(&self) -> bool {
        self.entries().iter().any(|e| e.protocol == Protocol::Smtp)
    }
}

/// Everything read from the server.
pub struct Inputs {
    pub root: Root,
    pub postfix: Option<PostfixConf>,
    pub dovecot: Option<DovecotConf>,
}

/// Picks each endpoint's `authentication` (M5.2, M5.3); an endpoint that no
/// client can log in to is left out with `no_client_auth`.
fn choose_auth(
    mut endpoints: Vec<Endpoint>,
    options: &Options,
    diags: &mut Diagnostics,
) -> Vec<Endpoint> {
    let cram = |incoming: bool, eps: &[Endpoint]| {
        eps.iter()
            .filter(|e| (e.protocol != Protocol::Smtp) == incoming)
            .any(|e| e.mechanisms.value.iter().any(|m| m == "cram-md5"))
    };
    let cram_in = cram(true, &endpoints);
    let cram_out = cram(false, &endpoints);
    endpoints.retain_mut(|e| {
        let other = if e.protocol == Protocol::Smtp { cram_in } else { cram_out };
        let mut values: Vec<AuthValue> = Vec::new();
        // GSSAPI goes first when asked for (Kerberos intranets), the others
        // after the password value (autoconfig-format.md §3.2).
        if options.extra_auth.contains(&AuthValue::Gssapi) && e.mechanisms.value.iter().any(|m| m == "gssapi") {
            values.push(AuthValue::Gssapi);
        }
        if let Some(v) = auth::password_value(&e.mechanisms.value, other) {
            values.push(v);
        }
        for (v, mech) in [(AuthValue::OAuth2, "xoauth2"), (AuthValue::Ntlm, "ntlm")] {
            if options.extra_auth.contains(&v) && e.mechanisms.value.iter().any(|m| m == mech) {
                values.push(v);
            }
        }
        if values.is_empty() {
            let mut d = Diagnostic::warning(
                "no_client_auth",
                format!(
                    "{} {} (port {}) offers no mechanism that mail clients use with a password ({}): it is left out",
                    e.protocol.name().to_uppercase(),
                    e.service,
                    e.port.value,
                    if e.mechanisms.value.is_empty() { "none".to_string() } else { e.mechanisms.value.join(", ") }
                ),
            )
            .help("offer PLAIN or LOGIN over TLS (auth_mechanisms = plain login): clients support neither SCRAM nor DIGEST-MD5 in autoconfig");
            if let Source::File { file, span } = e.mechanisms.source {
                d = d.at(file, span, "mechanisms offered");
            }
            if let Source::File { file, span } = e.port.source {
                d = d.also(file, span, "this service");
            }
            diags.push(d);
            return false;
        }
        e.auth = values;
        true
    });
    endpoints
}

/// M4.3: a protocol left with no usable endpoint is a warning.
fn missing_protocols(endpoints: &[Endpoint], inputs: &Inputs, diags: &mut Diagnostics) {
    let has = |p: Protocol| endpoints.iter().any(|e| e.protocol == p);
    if !has(Protocol::Smtp) {
        let why = match &inputs.postfix {
            Some(_) => {
                "master.cf has no public inet smtpd service with SASL authentication and TLS (submission/587, submissions/465); see the warnings above for services left out"
            }
            None => "there is no Postfix configuration",
        };
        let mut d = Diagnostic::warning(
            "no_endpoint",
            format!("no usable outgoing (SMTP submission) server: {why}"),
        );
        if let Some(f) = inputs.postfix.as_ref().and_then(|p| p.master_file) {
            d = d.at(f, Span::at(0), "");
        }
        diags.push(d.help("enable the submission and/or submissions services in master.cf with -o smtpd_sasl_auth_enable=yes"));
    }
    match &inputs.dovecot {
        None => diags.push(Diagnostic::warning(
            "no_endpoint",
            "no usable incoming (IMAP or POP3) server: there is no Dovecot configuration",
        )),
        Some(d) => {
            let (protocols, loc) = d.protocols();
            for (name, p) in [("imap", Protocol::Imap), ("pop3", Protocol::Pop3)] {
                if protocols.iter().any(|x| x == name) && !has(p) {
                    let mut dg = Diagnostic::warning(
                        "no_endpoint",
                        format!(
                            "{} is enabled in Dovecot but no listener is usable by clients; see the warnings above",
                            name.to_uppercase()
                        ),
                    );
                    if let Some(l) = loc {
                        dg = dg.at(l.file, l.span, "");
                    }
                    diags.push(dg);
                }
            }
            if !protocols.iter().any(|x| x == "imap" || x == "pop3") {
                let mut dg = Diagnostic::warning(
                    "no_endpoint",
                    "Dovecot runs neither IMAP nor POP3 (`protocols`)",
                );
                if let Some(l) = loc {
                    dg = dg.at(l.file, l.span, "");
                }
                diags.push(dg);
            }
        }
    }
}

/// Builds the model (rules M2–M7). Problems go to `diags`.
pub fn build(
    inputs: &Inputs,
    options: &Options,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Model {
    let mut endpoints = Vec::new();
    let dovecot_auth = inputs
        .dovecot
        .as_ref()
        .map(|d| auth::DovecotAuth::read(d, &inputs.root, sources, diags));
    if let Some(d) = &inputs.dovecot {
        endpoints.extend(incoming::endpoints(
            d,
            dovecot_auth.as_ref(),
            options,
            diags,
        ));
    }
    if let Some(p) = &inputs.postfix {
        let dv = inputs.dovecot.as_ref().zip(dovecot_auth.as_ref());
        endpoints.extend(outgoing::endpoints(
            p,
            &inputs.root,
            dv,
            options,
            sources,
            diags,
        ));
    }
    let endpoints = choose_auth(endpoints, options, diags);
    missing_protocols(&endpoints, inputs, diags);
    let (domains, excluded, unread_domain_sources) =
        domains::hosted(inputs, options, sources, diags);
    let mut model = Model {
        domains,
        excluded,
        unread_domain_sources,
        endpoints,
        offer_pop3: options.offer_pop3,
        alternatives: options.alternatives,
    };
    hosts::assign(&mut model, inputs, options, sources, diags);
    model
}
