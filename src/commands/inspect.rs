//! `mailconf inspect`: the derived model with the provenance of every
//! value, and all diagnostics. The JSON form is documented in
//! `docs/inspect-json.md` and kept stable.

use std::fmt::Write as _;

use serde::Serialize;

use super::load::load;
use super::{EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::cli::{Format, InspectArgs};
use crate::diag::json::{JsonDiagnostic, to_json};
use crate::model::{AuthValue, Daemon, Fact, Model, Protocol, SocketType, Source, UsernameForm};
use crate::source::SourceMap;

#[derive(Serialize)]
struct JsonFact<T: Serialize> {
    value: T,
    source: String,
}

fn fact<T: Serialize + Clone>(f: &Fact<T>, s: &SourceMap) -> JsonFact<T> {
    JsonFact {
        value: f.value.clone(),
        source: f.source.describe(s),
    }
}

#[derive(Serialize)]
struct JsonDomain {
    name: String,
    source: String,
    display_name: String,
    display_short_name: String,
    hosts: std::collections::BTreeMap<Protocol, JsonFact<String>>,
}

#[derive(Serialize)]
struct JsonExcluded {
    name: String,
    reason: String,
    source: String,
}

#[derive(Serialize)]
struct JsonServer {
    protocol: Protocol,
    daemon: Daemon,
    service: String,
    /// Written into the files (the preferred entry of its protocol, or
    /// every entry with --alternatives).
    written: bool,
    port: JsonFact<u16>,
    socket_type: JsonFact<SocketType>,
    mechanisms: JsonFact<Vec<String>>,
    authentication: Vec<AuthValue>,
    username: JsonFact<UsernameForm>,
}

#[derive(Serialize)]
struct JsonInspect {
    /// Version of this JSON layout; bumped only on incompatible changes.
    schema: u32,
    domains: Vec<JsonDomain>,
    excluded: Vec<JsonExcluded>,
    servers: Vec<JsonServer>,
    diagnostics: Vec<JsonDiagnostic>,
}

fn to_inspect(model: &Model, sources: &SourceMap, diags: &crate::diag::Diagnostics) -> JsonInspect {
    let written = model.entries();
    JsonInspect {
        schema: 1,
        domains: model
            .domains
            .iter()
            .map(|d| JsonDomain {
                name: d.name.clone(),
                source: d.source.describe(sources),
                display_name: d.display_name.clone(),
                display_short_name: d.display_short_name.clone(),
                hosts: d
                    .hosts
                    .iter()
                    .map(|(p, h)| (*p, fact(h, sources)))
                    .collect(),
            })
            .collect(),
        excluded: model
            .excluded
            .iter()
            .map(|e| JsonExcluded {
                name: e.name.clone(),
                reason: e.reason.clone(),
                source: e.source.describe(sources),
            })
            .collect(),
        servers: model
            .endpoints
            .iter()
            .map(|e| JsonServer {
                protocol: e.protocol,
                daemon: e.daemon,
                service: e.service.clone(),
                written: written.iter().any(|w| std::ptr::eq(*w, e)),
                port: fact(&e.port, sources),
                socket_type: fact(&e.socket, sources),
                mechanisms: fact(&e.mechanisms, sources),
                authentication: e.auth.clone(),
                username: fact(&e.username, sources),
            })
            .collect(),
        diagnostics: diags.iter().map(|d| to_json(d, sources)).collect(),
    }
}

fn human(model: &Model, sources: &SourceMap) -> String {
    let mut s = String::new();
    let src = |x: &Source| x.describe(sources);
    let _ = writeln!(s, "Hosted domains ({}):", model.domains.len());
    for d in &model.domains {
        let _ = writeln!(s, "  {:<30} {}", d.name, src(&d.source));
    }
    if !model.excluded.is_empty() {
        let _ = writeln!(s, "\nLeft out:");
        for e in &model.excluded {
            // Names left out may come from a database: never send their
            // control characters (terminal escapes) to the terminal.
            let name = e.name.chars().fold(String::new(), |mut n, c| {
                if c.is_control() {
                    n.extend(c.escape_default());
                } else {
                    n.push(c);
                }
                n
            });
            let _ = writeln!(s, "  {:<30} {} ({})", name, e.reason, src(&e.source));
        }
    }
    let written = model.entries();
    let _ = writeln!(s, "\nServers (* = written into the files):");
    for e in &model.endpoints {
        let mark = if written.iter().any(|w| std::ptr::eq(*w, e)) {
            "*"
        } else {
            " "
        };
        let auth: Vec<&str> = e.auth.iter().map(|a| a.xml()).collect();
        let _ = writeln!(
            s,
            "{mark} {:<5} {:>5} {:<9} {:<20} {:<17} {} {}",
            e.protocol.name(),
            e.port.value,
            e.socket.value.xml(),
            auth.join(","),
            e.username.value.xml(),
            match e.daemon {
                Daemon::Postfix => "postfix",
                Daemon::Dovecot => "dovecot",
            },
            e.service
        );
        let _ = writeln!(s, "      port:           {}", src(&e.port.source));
        let _ = writeln!(s, "      TLS:            {}", src(&e.socket.source));
        let _ = writeln!(
            s,
            "      mechanisms:     {} ({})",
            e.mechanisms.value.join(" "),
            src(&e.mechanisms.source)
        );
        let _ = writeln!(s, "      username:       {}", src(&e.username.source));
    }
    let _ = writeln!(s, "\nHost names:");
    for d in &model.domains {
        for (p, h) in &d.hosts {
            if *p == Protocol::Pop3 && !model.endpoints.iter().any(|e| e.protocol == Protocol::Pop3)
            {
                continue;
            }
            let _ = writeln!(
                s,
                "  {:<30} {:<5} {:<30} {}",
                d.name,
                p.name(),
                h.value,
                src(&h.source)
            );
        }
    }
    s
}

pub fn run(args: &InspectArgs) -> i32 {
    let json = args.format == Format::Json;
    let mut loaded = match load(&args.model) {
        Ok(l) => l,
        Err((sources, diags)) => {
            if json {
                let doc = to_inspect(&Model::default(), &sources, &diags);
                super::emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                ));
            } else {
                print_diagnostics(&diags, &sources, false);
            }
            return EXIT_ERROR;
        }
    };
    let model = loaded.model();
    if json {
        let doc = to_inspect(&model, &loaded.sources, &loaded.diags);
        super::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
    } else {
        print_diagnostics(&loaded.diags, &loaded.sources, false);
        super::emit(&human(&model, &loaded.sources));
    }
    if loaded.diags.has_errors() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}
