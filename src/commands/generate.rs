//! `mailconf generate` and `mailconf check`.

use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;

use super::load::load;
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, print_diagnostics, print_diagnostics_filtered};
use crate::autoconfig::render::render;
use crate::autoconfig::validate::validate;
use crate::cli::{Format, GenerateArgs};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::model::Model;
use crate::output::lock;
use crate::output::tree::{self, ChangeKind};

/// The two paths of each domain (rule M9.2).
pub fn paths(domain: &str) -> [String; 2] {
    [
        format!("{domain}/mail/config-v1.1.xml"),
        format!("{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
    ]
}

/// The files of every complete domain, checked by the validator (M9.5).
pub fn files(
    model: &Model,
    allow_incomplete: bool,
    documentation_url: Option<&str>,
    diags: &mut Diagnostics,
) -> Vec<(String, Rc<str>)> {
    let mut out = Vec::new();
    let complete = model.has_incoming() && model.has_outgoing();
    if !complete {
        let missing = match (model.has_incoming(), model.has_outgoing()) {
            (false, false) => "no incoming and no outgoing server",
            (false, true) => "no incoming (IMAP or POP3) server",
            _ => "no outgoing (SMTP submission) server",
        };
        let mut names: Vec<&str> = model
            .domains
            .iter()
            .map(|d| d.name.as_str())
            .take(5)
            .collect();
        if model.domains.len() > 5 {
            names.push("...");
        }
        let names = names.join(", ");
        let d = if allow_incomplete {
            Diagnostic::warning(
                "domain_incomplete",
                format!(
                    "the files for {names} have {missing}: Thunderbird will reject them (written because of --allow-incomplete)"
                ),
            )
        } else {
            Diagnostic::error(
                "domain_incomplete",
                format!("{names}: {missing} is usable, so no file is written (Thunderbird rejects a file without one; rule M4.3)"),
            )
            .help("see the warnings above for why each service was left out; --allow-incomplete writes the files anyway")
        };
        diags.push(d);
        if !allow_incomplete {
            return out;
        }
    }
    for d in &model.domains {
        let Some(xml) = render(d, model, documentation_url) else {
            continue;
        };
        let problems: Vec<_> = validate(&xml)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .filter(|f| {
                !(allow_incomplete && matches!(f.id, "no_incoming_server" | "no_outgoing_server"))
            })
            .collect();
        if let Some(p) = problems.first() {
            diags.push(Diagnostic::error(
                "internal_invalid_output",
                format!("the file for {} fails validation ({}: {}); it is not written — this is a bug in mailconf", d.name, p.id, p.message),
            ));
            continue;
        }
        // Both paths share one copy of the text.
        let xml: Rc<str> = xml.into();
        for p in paths(&d.name) {
            out.push((p, xml.clone()));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonChange<'a> {
    change: &'a str,
    path: String,
}

pub fn run(args: &GenerateArgs, check: bool) -> i32 {
    let json = args.format == Format::Json;
    let mut loaded = match load(&args.model) {
        Ok(l) => l,
        Err((sources, diags)) => {
            print_diagnostics(&diags, &sources, json);
            return EXIT_ERROR;
        }
    };
    let model = loaded.model();
    // An error in the configuration means mailconf may have misread it:
    // write nothing, so the files stay what they were (rule M1.3).
    if loaded.diags.has_errors() {
        if !model.domains.is_empty() && !check && !args.dry_run {
            loaded.diags.push(
                Diagnostic::note(
                    "nothing_written",
                    format!(
                        "nothing was written to {}: the files there stay as they were until the errors above are fixed",
                        args.out.display()
                    ),
                ),
            );
        }
        print_diagnostics(&loaded.diags, &loaded.sources, json);
        return EXIT_ERROR;
    }
    let files = files(
        &model,
        args.model.allow_incomplete,
        loaded.options.documentation_url.as_deref(),
        &mut loaded.diags,
    );
    let out = &args.out;
    if let Err(e) = tree::check_out_dir(out) {
        loaded.diags.push(Diagnostic::error("out_unusable", e));
        print_diagnostics(&loaded.diags, &loaded.sources, json);
        return EXIT_ERROR;
    }
    let writing = !check && !args.dry_run;
    let _lock = if writing {
        if let Err(e) = std::fs::create_dir_all(out) {
            loaded.diags.push(Diagnostic::error(
                "out_unusable",
                format!("cannot create {}: {e}", out.display()),
            ));
            print_diagnostics(&loaded.diags, &loaded.sources, json);
            return EXIT_ERROR;
        }
        match lock::acquire(out, Duration::from_secs(60)) {
            Ok(l) => Some(l),
            Err(e) => {
                loaded.diags.push(Diagnostic::error("locked", e));
                print_diagnostics(&loaded.diags, &loaded.sources, json);
                return EXIT_ERROR;
            }
        }
    } else {
        None
    };
    // A domain list that could not be read whole (a database down) must not
    // make the files of its domains look stale.
    let prune = args.prune && model.unread_domain_sources.is_empty();
    if args.prune && !prune {
        loaded.diags.push(
            Diagnostic::warning(
                "prune_skipped",
                format!(
                    "--prune removes nothing this time: the domains in {} could not be read, so the files of domains that seem gone may still be needed",
                    model.unread_domain_sources.join(", ")
                ),
            )
            .help("run again with --prune once every domain table can be read"),
        );
    }
    let plan = tree::plan(out, &files, prune);
    for (path, why) in &plan.blocked {
        loaded.diags.push(Diagnostic::warning(
            "output_blocked",
            format!("{path} is not written: {why}"),
        ));
    }
    let failed = if writing {
        tree::apply(out, &plan, &files)
    } else {
        Vec::new()
    };
    for (path, why) in &failed {
        loaded
            .diags
            .push(Diagnostic::error("write_failed", format!("{path}: {why}")));
    }
    print_diagnostics_filtered(&loaded.diags, &loaded.sources, json, args.verbose);
    let mut stdout = std::io::stdout().lock();
    for c in &plan.changes {
        if failed.iter().any(|(p, _)| p == &c.path) {
            continue;
        }
        let word = match (c.kind, writing) {
            (ChangeKind::Create, true) => "created",
            (ChangeKind::Update, true) => "updated",
            (ChangeKind::Remove, true) => "removed",
            (ChangeKind::Create, false) => "would create",
            (ChangeKind::Update, false) => "would update",
            (ChangeKind::Remove, false) => "would remove",
            (ChangeKind::Unchanged, _) => {
                if !args.verbose {
                    continue;
                }
                "unchanged"
            }
        };
        let path = out.join(&c.path).display().to_string();
        let _ = if json {
            writeln!(
                stdout,
                "{}",
                serde_json::to_string(&JsonChange { change: word, path }).unwrap_or_default()
            )
        } else {
            writeln!(stdout, "{word} {path}")
        };
        if args.diff && c.kind != ChangeKind::Unchanged {
            let old = c.old.as_deref().unwrap_or("");
            let new = c.new.as_deref().unwrap_or("");
            let diff = similar::TextDiff::from_lines(old, new);
            let a = format!("a/{}", c.path);
            let b = format!("b/{}", c.path);
            let _ = write!(stdout, "{}", diff.unified_diff().header(&a, &b));
        }
    }
    let warned = loaded
        .diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Warning);
    if loaded.diags.has_errors() || !failed.is_empty() || (args.strict && warned) {
        EXIT_ERROR
    } else if check && plan.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}
