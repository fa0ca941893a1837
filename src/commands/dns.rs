//! `mailconf dns`: the records that make the files reachable and describe
//! the services: `autoconfig.D` (CNAME to the web host) and the RFC 6186
//! SRV records, with the "not provided" form `0 0 0 .` for a service the
//! server does not offer.

use std::io::Write;

use serde::Serialize;

use super::load::load;
use super::{EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::cli::{DnsArgs, ZoneFormat};
use crate::model::{Model, Protocol, SocketType};

#[derive(Serialize)]
struct Record {
    name: String,
    ttl: u32,
    class: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    data: String,
}

#[derive(Serialize)]
struct Zone {
    domain: String,
    records: Vec<Record>,
}

/// RFC 6186 service labels, in the order written.
const SERVICES: [(&str, Protocol, SocketType); 6] = [
    ("_submissions._tcp", Protocol::Smtp, SocketType::Ssl),
    ("_submission._tcp", Protocol::Smtp, SocketType::StartTls),
    ("_imaps._tcp", Protocol::Imap, SocketType::Ssl),
    ("_imap._tcp", Protocol::Imap, SocketType::StartTls),
    ("_pop3s._tcp", Protocol::Pop3, SocketType::Ssl),
    ("_pop3._tcp", Protocol::Pop3, SocketType::StartTls),
];

fn zones(model: &Model, web_host: Option<&str>, ttl: u32) -> Vec<Zone> {
    let mut out = Vec::new();
    for d in &model.domains {
        let mut records = Vec::new();
        let web = web_host.map(str::to_string).or_else(|| {
            d.host(Protocol::Smtp)
                .or(d.host(Protocol::Imap))
                .map(|h| h.value.clone())
        });
        if let Some(web) = web {
            records.push(Record {
                name: format!("autoconfig.{}.", d.name),
                ttl,
                class: "IN",
                kind: "CNAME",
                data: format!("{}.", web.trim_end_matches('.')),
            });
        }
        for (label, protocol, socket) in SERVICES {
            let mut eps: Vec<_> = model
                .endpoints
                .iter()
                .filter(|e| e.protocol == protocol && e.socket.value == socket)
                .filter(|_| protocol != Protocol::Pop3 || model.offer_pop3)
                .collect();
            eps.sort_by_key(|e| e.port.value);
            let name = format!("{label}.{}.", d.name);
            let host = d.host(protocol).map(|h| h.value.clone());
            match (eps.first(), host) {
                (Some(e), Some(h)) => records.push(Record {
                    name,
                    ttl,
                    class: "IN",
                    kind: "SRV",
                    data: format!("0 1 {} {h}.", e.port.value),
                }),
                _ => records.push(Record {
                    name,
                    ttl,
                    class: "IN",
                    kind: "SRV",
                    data: "0 0 0 .".to_string(),
                }),
            }
        }
        out.push(Zone {
            domain: d.name.clone(),
            records,
        });
    }
    out
}

pub fn run(args: &DnsArgs) -> i32 {
    let json = args.format == ZoneFormat::Json;
    let mut loaded = match load(&args.model) {
        Ok(l) => l,
        Err((sources, diags)) => {
            print_diagnostics(&diags, &sources, false);
            return EXIT_ERROR;
        }
    };
    let model = loaded.model();
    print_diagnostics(&loaded.diags, &loaded.sources, false);
    if model.domains.is_empty() {
        return EXIT_ERROR;
    }
    let zones = zones(&model, args.web_host.as_deref(), args.ttl);
    let mut stdout = std::io::stdout().lock();
    if json {
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&zones).unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            stdout,
            "; DNS records for mail client autoconfiguration, made by mailconf."
        );
        let _ = writeln!(
            stdout,
            "; SRV records follow RFC 6186; `0 0 0 .` means the service is not provided."
        );
        for z in &zones {
            let _ = writeln!(stdout, "\n; zone {}", z.domain);
            for r in &z.records {
                let _ = writeln!(
                    stdout,
                    "{:<40} {:>6} {} {:<5} {}",
                    r.name, r.ttl, r.class, r.kind, r.data
                );
            }
        }
    }
    if loaded.diags.has_errors() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}
