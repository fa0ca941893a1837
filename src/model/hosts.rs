//! Server host names (rule M7): per domain and per protocol, overrides
//! first (M7.5), then what the daemons call themselves. Written in lower
//! case, as A-labels, without a trailing dot (M7.4).
//!
//! Certificates and SNI (M7.2, M7.3) refine this choice; until they are
//! read, the name is `myhostname` (Postfix) or Dovecot's `hostname`.

use super::domains::normalize_hostname;
use super::{Fact, Inputs, Model, Protocol, Source};
use crate::diag::{Diagnostic, Diagnostics};
use crate::options::Options;
use crate::postfix::expand::Expander;

/// The names the daemons use for themselves.
struct Defaults {
    postfix: Option<Fact<String>>,
    dovecot: Option<Fact<String>>,
}

fn daemon_names(inputs: &Inputs, diags: &mut Diagnostics) -> Defaults {
    let postfix = inputs.postfix.as_ref().and_then(|pf| {
        let scope = pf.main_scope();
        let mut e = Expander::new(&scope);
        match e.value("myhostname") {
            Ok(Some(v)) => Some(Fact::new(
                v,
                pf.setting("myhostname").map_or_else(
                    || {
                        Source::Default(format!(
                            "Postfix's myhostname default, from {}",
                            pf.host.source
                        ))
                    },
                    |a| Source::at(pf.main_file, a.span),
                ),
            )),
            Ok(None) => None,
            Err(err) => {
                diags.push(pf.expand_diag(&err, "expansion_error"));
                None
            }
        }
    });
    let dovecot = inputs.dovecot.as_ref().and_then(|d| {
        let v = d.global("hostname");
        (!v.text.is_empty()).then(|| {
            Fact::new(
                v.text.clone(),
                super::auth::loc_source(v.loc, "Dovecot's hostname"),
            )
        })
    });
    Defaults { postfix, dovecot }
}

pub fn assign(model: &mut Model, inputs: &Inputs, options: &Options, diags: &mut Diagnostics) {
    let defaults = daemon_names(inputs, diags);
    let mut reported: Vec<String> = Vec::new();
    for domain in &mut model.domains {
        let dopts = options.domains.get(&domain.name);
        for p in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
            let chosen: Option<Fact<String>> = dopts
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
                })
                .or_else(|| match p {
                    Protocol::Smtp => defaults.postfix.clone().or(defaults.dovecot.clone()),
                    _ => defaults.dovecot.clone().or(defaults.postfix.clone()),
                });
            let Some(fact) = chosen else { continue };
            match normalize_hostname(&fact.value) {
                Ok(h) => domain.hosts.push((p, Fact::new(h, fact.source))),
                Err(e) => {
                    if !reported.contains(&fact.value) {
                        reported.push(fact.value.clone());
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
                }
            }
        }
    }
}
