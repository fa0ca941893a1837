//! Incoming servers (rule M3.1): Dovecot's IMAP and POP3 listeners, and
//! its own `submission` service as an outgoing one. TLS mode per M4,
//! cleartext risks per M5.4.

use std::collections::BTreeMap;

use super::auth::{DovecotAuth, loc_source};
use super::{Daemon, Endpoint, Fact, Protocol, SocketType, Source};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::dovecot::settings::{Disabled, Listener, is_yes};
use crate::dovecot::tree::Loc;
use crate::options::Options;
use crate::postfix::inet::is_loopback;

fn describe(l: &Listener) -> String {
    format!("{}/{} (port {})", l.service, l.name, l.port)
}

/// One setting line and the listeners it affects.
#[derive(Default)]
struct Cause {
    loc: Option<Loc>,
    listeners: Vec<String>,
    /// Cleartext on a connection without any TLS (not just before STARTTLS).
    without_tls: bool,
}

/// Causes by the span of their setting line.
type ByLine = BTreeMap<Option<(usize, usize)>, Cause>;

/// Problems that share one cause are reported once, listing the listeners.
#[derive(Default)]
struct Grouped {
    /// Listeners without TLS, by the `ssl` line that turned it off.
    ssl_off: ByLine,
    /// Listeners whose TLS cannot work for want of a certificate.
    no_cert: Vec<String>,
    /// Listeners accepting cleartext passwords, by the setting's line.
    cleartext: ByLine,
}

impl Grouped {
    fn add(map: &mut ByLine, loc: Option<Loc>, listener: String) -> &mut Cause {
        let c = map.entry(key(loc)).or_default();
        c.loc = loc;
        c.listeners.push(listener);
        c
    }
}

fn key(l: Option<Loc>) -> Option<(usize, usize)> {
    l.map(|l| (l.span.start, l.span.end))
}

pub fn endpoints(
    d: &DovecotConf,
    auth: Option<&DovecotAuth>,
    options: &Options,
    diags: &mut Diagnostics,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    let mut g = Grouped::default();
    let global_ssl = d.global("ssl");
    let v24 = d.version.is_2_4();
    let cert_key = if v24 {
        "ssl_server_cert_file"
    } else {
        "ssl_cert"
    };
    let cert = d.global(cert_key);
    for l in d.listeners() {
        let protocol = match l.protocol.as_str() {
            "imap" => Protocol::Imap,
            "pop3" => Protocol::Pop3,
            "submission" => Protocol::Smtp,
            _ => continue,
        };
        match &l.disabled {
            Some(Disabled::SslOff) => {
                Grouped::add(&mut g.ssl_off, global_ssl.loc, describe(&l));
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        let public = options.public_ports.get(&l.name).copied();
        if !l.addresses.is_empty() && l.addresses.iter().all(|a| is_loopback(a)) {
            continue;
        }
        if l.haproxy && public.is_none() {
            let mut dg = Diagnostic::warning(
                "proxy_listener",
                format!(
                    "Dovecot listener {} expects connections through a proxy (haproxy = yes): clients reach it elsewhere, so it is not published",
                    describe(&l)
                ),
            )
            .help(format!("if the proxy publishes it, name the public port: --public-port {}=PORT", l.name));
            if let Some(h) = l.header.or(l.loc) {
                dg = dg.at(h.file, h.span, "this listener");
            }
            if let Some(h) = l.haproxy_loc {
                dg = dg.also(h.file, h.span, "haproxy = yes");
            }
            diags.push(dg);
            continue;
        }
        // TLS: the global `ssl = no` wins over any filter.
        let ssl = if global_ssl.text == "no" {
            global_ssl.clone()
        } else {
            d.for_protocol(&l.protocol, "ssl")
        };
        // M5.4: passwords in clear text on a connection without TLS.
        if !l.ssl && ssl.text != "required" {
            let (allowed, loc) = if v24 {
                let v = d.for_protocol(&l.protocol, "auth_allow_cleartext");
                (is_yes(&v.text), v.loc)
            } else {
                let v = d.for_protocol(&l.protocol, "disable_plaintext_auth");
                (!is_yes(&v.text), v.loc)
            };
            if allowed {
                Grouped::add(&mut g.cleartext, loc, describe(&l)).without_tls |= ssl.text == "no";
            }
        }
        let socket = if l.ssl {
            SocketType::Ssl
        } else if ssl.text != "no" {
            SocketType::StartTls
        } else {
            Grouped::add(&mut g.ssl_off, ssl.loc, describe(&l));
            continue;
        };
        if cert.text.is_empty() {
            g.no_cert.push(describe(&l));
            continue;
        }
        let mechanisms = DovecotAuth::mechanisms(d, &l.protocol);
        let username = match (&options.username, auth) {
            (Some((f, why)), _) => Fact::new(*f, Source::Option(why.clone())),
            (None, Some(a)) => a.username.clone(),
            (None, None) => Fact::new(
                super::UsernameForm::Address,
                Source::Default("address".into()),
            ),
        };
        let port_source = l.loc.map_or_else(
            || Source::Default(format!("Dovecot's built-in {} listener", l.name)),
            |loc| Source::at(loc.file, loc.span),
        );
        let (port, port_source) = match public {
            Some(p) => (p, Source::Option(format!("--public-port {}={p}", l.name))),
            None => (l.port, port_source),
        };
        let tls_source = if l.ssl {
            l.loc.map_or(
                Source::Default(format!(
                    "Dovecot's built-in {} listener has ssl = yes",
                    l.name
                )),
                |loc| Source::at(loc.file, loc.span),
            )
        } else {
            loc_source(ssl.loc, "Dovecot's default ssl = yes")
        };
        out.push(Endpoint {
            protocol,
            daemon: Daemon::Dovecot,
            service: format!("{}/{}", l.service, l.name),
            master_index: None,
            port: Fact::new(port, port_source),
            socket: Fact::new(socket, tls_source),
            mechanisms,
            auth: Vec::new(),
            username,
        });
    }
    report(g, &cert, cert_key, v24, diags);
    out
}

fn report(
    g: Grouped,
    cert: &crate::dovecot::settings::Value,
    cert_key: &str,
    v24: bool,
    diags: &mut Diagnostics,
) {
    for Cause { loc, listeners, .. } in g.ssl_off.into_values() {
        let mut d = Diagnostic::warning(
            "no_tls",
            format!(
                "Dovecot has TLS turned off (ssl = no): {} not published, since mailconf never publishes a server without TLS (listeners with ssl = yes do not even start)",
                listeners.join(", ")
            ),
        );
        if let Some(l) = loc {
            d = d.at(l.file, l.span, "TLS off here");
        }
        diags.push(d);
    }
    if !g.no_cert.is_empty() {
        let mut d = Diagnostic::warning(
            "no_tls",
            format!(
                "Dovecot has no certificate ({cert_key} is empty), so TLS cannot work: {} not published",
                g.no_cert.join(", ")
            ),
        );
        if let Some(l) = cert.loc {
            d = d.at(l.file, l.span, "");
        }
        diags.push(d);
    }
    for Cause {
        loc,
        listeners,
        without_tls,
    } in g.cleartext.into_values()
    {
        let how = if without_tls {
            "without TLS"
        } else {
            "before STARTTLS"
        };
        let mut d = Diagnostic::warning(
            "cleartext_auth_allowed",
            format!(
                "Dovecot accepts passwords in clear text {how} on {}; the generated file still points clients at TLS",
                listeners.join(", ")
            ),
        )
        .help(if v24 {
            "set auth_allow_cleartext = no (the default)"
        } else {
            "set disable_plaintext_auth = yes (the default) or ssl = required"
        });
        if let Some(l) = loc {
            d = d.at(l.file, l.span, "");
        }
        diags.push(d);
    }
}
