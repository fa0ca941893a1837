//! Incoming servers (rule M3.1): Dovecot's IMAP and POP3 listeners, and
//! its own `submission` service as an outgoing one. TLS mode per M4.

use super::auth::{DovecotAuth, loc_source};
use super::{Daemon, Endpoint, Fact, Protocol, SocketType, Source};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::dovecot::settings::{Listener, is_yes};
use crate::options::Options;
use crate::postfix::inet::is_loopback;

fn listener_diag(d: Diagnostic, l: &Listener) -> Diagnostic {
    match l.loc {
        Some(loc) => d.at(loc.file, loc.span, ""),
        None => d,
    }
}

pub fn endpoints(
    d: &DovecotConf,
    auth: Option<&DovecotAuth>,
    options: &Options,
    diags: &mut Diagnostics,
) -> Vec<Endpoint> {
    let mut out = Vec::new();
    let global_ssl = d.global("ssl");
    for l in d.listeners() {
        let protocol = match l.protocol.as_str() {
            "imap" => Protocol::Imap,
            "pop3" => Protocol::Pop3,
            "submission" => Protocol::Smtp,
            _ => continue,
        };
        if l.disabled.is_some() {
            continue;
        }
        let public = options.public_ports.get(&l.name).copied();
        if !l.addresses.is_empty() && l.addresses.iter().all(|a| is_loopback(a)) {
            continue;
        }
        if l.haproxy && public.is_none() {
            diags.push(listener_diag(
                Diagnostic::warning(
                    "proxy_listener",
                    format!(
                        "Dovecot listener {}/{} (port {}) expects connections through a proxy (haproxy = yes): clients reach it elsewhere, so it is not published",
                        l.service, l.name, l.port
                    ),
                ),
                &l,
            )
            .help(format!("if the proxy publishes it, name the public port: --public-port {}=PORT", l.name)));
            continue;
        }
        // TLS: the global `ssl = no` wins over any filter.
        let ssl = if global_ssl.text == "no" {
            global_ssl.clone()
        } else {
            d.for_protocol(&l.protocol, "ssl")
        };
        let cert_key = if d.version.is_2_4() {
            "ssl_server_cert_file"
        } else {
            "ssl_cert"
        };
        let cert = d.global(cert_key);
        let socket = if l.ssl {
            SocketType::Ssl
        } else if ssl.text != "no" {
            SocketType::StartTls
        } else {
            diags.push(listener_diag(
                Diagnostic::warning(
                    "no_tls",
                    format!(
                        "Dovecot listener {}/{} (port {}) offers no TLS (ssl = no): mailconf never publishes a plain-text server",
                        l.service, l.name, l.port
                    ),
                ),
                &l,
            ));
            continue;
        };
        if cert.text.is_empty() {
            let mut dg = Diagnostic::warning(
                "no_tls",
                format!(
                    "Dovecot listener {}/{} (port {}): TLS is on but no certificate is configured ({cert_key}), so TLS cannot work",
                    l.service, l.name, l.port
                ),
            );
            if let Some(loc) = ssl.loc {
                dg = dg.at(loc.file, loc.span, "TLS enabled here");
            }
            diags.push(dg);
            continue;
        }
        // M5.4: cleartext passwords allowed before TLS on a plain listener.
        if socket == SocketType::StartTls && ssl.text != "required" {
            let (allowed, loc) = if d.version.is_2_4() {
                let v = d.for_protocol(&l.protocol, "auth_allow_cleartext");
                (is_yes(&v.text), v.loc)
            } else {
                let v = d.for_protocol(&l.protocol, "disable_plaintext_auth");
                (!is_yes(&v.text), v.loc)
            };
            if allowed {
                let mut dg = Diagnostic::warning(
                    "cleartext_auth_allowed",
                    format!(
                        "Dovecot accepts passwords in clear text before STARTTLS on {}/{} (port {}); the generated file still points clients at TLS",
                        l.service, l.name, l.port
                    ),
                );
                if let Some(loc) = loc {
                    dg = dg.at(loc.file, loc.span, "");
                }
                diags.push(dg.help(if d.version.is_2_4() {
                    "set auth_allow_cleartext = no (the default)"
                } else {
                    "set disable_plaintext_auth = yes (the default) or ssl = required"
                }));
            }
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
            port: Fact::new(port, port_source),
            socket: Fact::new(socket, tls_source),
            mechanisms,
            auth: Vec::new(),
            username,
        });
    }
    out
}
