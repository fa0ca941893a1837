//! `mailconf generate` and `mailconf check`.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use super::load::load;
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, print_diagnostics, print_diagnostics_filtered};
use crate::autoconfig::render::render;
use crate::autoconfig::validate::validate;
use crate::cli::{Format, GenerateArgs};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::model::{Domain, Model};
use crate::output::lock;
use crate::output::tree::{self, ChangeKind, Mode, Tree};

/// The two paths of each domain (rule M9.2).
pub fn paths(domain: &str) -> [String; 2] {
    [
        format!("{domain}/mail/config-v1.1.xml"),
        format!("{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
    ]
}

/// Whether the model gives complete files (an incoming and an outgoing
/// server, rule M4.3); says so when it does not.
pub fn complete(model: &Model, allow_incomplete: bool, diags: &mut Diagnostics) -> bool {
    let missing = match (model.has_incoming(), model.has_outgoing()) {
        (true, true) => return true,
        (false, false) => "no incoming and no outgoing server",
        (false, true) => "no incoming (IMAP or POP3) server",
        (true, false) => "no outgoing (SMTP submission) server",
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
    allow_incomplete
}

/// The text of one domain's file, checked by the validator (M9.5); `None`
/// when there is none to write.
pub fn domain_file(
    d: &Domain,
    model: &Model,
    allow_incomplete: bool,
    documentation_url: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<String> {
    let xml = render(d, model, documentation_url)?;
    let problem = validate(&xml)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .find(|f| {
            !(allow_incomplete && matches!(f.id, "no_incoming_server" | "no_outgoing_server"))
        });
    if let Some(p) = problem {
        diags.push(Diagnostic::error(
            "internal_invalid_output",
            format!("the file for {} fails validation ({}: {}); it is not written — this is a bug in mailconf", d.name, p.id, p.message),
        ));
        return None;
    }
    Some(xml)
}

/// Renders every domain and offers its two files to `tree`, one domain at
/// a time. Returns whether every domain got its files: when one did not,
/// the caller must not prune (its old files are still the best there is).
pub fn offer_all(
    model: &Model,
    allow_incomplete: bool,
    documentation_url: Option<&str>,
    tree: &mut Tree,
    diags: &mut Diagnostics,
) -> bool {
    let mut all = true;
    let suffixes: usize = paths("").iter().map(String::len).sum();
    tree.reserve(
        2 * model.domains.len(),
        model
            .domains
            .iter()
            .map(|d| 2 * d.name.len() + suffixes)
            .sum(),
    );
    for d in &model.domains {
        match domain_file(d, model, allow_incomplete, documentation_url, diags) {
            Some(xml) => {
                for p in paths(&d.name) {
                    tree.offer(&p, &xml);
                }
            }
            None => all = false,
        }
    }
    all
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
    let allow_incomplete = args.model.allow_incomplete;
    if !complete(&model, allow_incomplete, &mut loaded.diags) {
        print_diagnostics_filtered(&loaded.diags, &loaded.sources, json, args.verbose);
        return EXIT_ERROR;
    }
    let out = &args.out;
    if let Err(e) = tree::check_out_dir(out) {
        loaded.diags.push(Diagnostic::error("out_unusable", e));
        print_diagnostics(&loaded.diags, &loaded.sources, json);
        return EXIT_ERROR;
    }
    let writing = !check && !args.dry_run;
    let _lock = if writing {
        if let Err(e) = tree::create_out_dir(out) {
            loaded.diags.push(Diagnostic::error("out_unusable", e));
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
    let mode = if writing { Mode::Write } else { Mode::Compare };
    let mut tree = Tree::new(out, mode, args.diff);
    let every_domain = offer_all(
        &model,
        allow_incomplete,
        loaded.options.documentation_url.as_deref(),
        &mut tree,
        &mut loaded.diags,
    );
    // Pruning acts only on a complete list of domains, each with its file:
    // a domain list that could not be read whole (a database down) or a
    // domain whose file could not be made must not make files look stale.
    let prune = args.prune && every_domain && model.unread_domain_sources.is_empty();
    if args.prune && !prune {
        let why = if model.unread_domain_sources.is_empty() {
            "some hosted domains got no file this time (see the errors above)".to_string()
        } else {
            format!(
                "the domains in {} could not be read",
                model.unread_domain_sources.join(", ")
            )
        };
        loaded.diags.push(
            Diagnostic::warning(
                "prune_skipped",
                format!(
                    "--prune removes nothing this time: {why}, so the files of domains that seem gone may still be needed"
                ),
            )
            .help("run again with --prune once every domain table can be read and every domain gets its file"),
        );
    }
    tree.finish(prune);
    for (path, why) in tree.blocked() {
        loaded.diags.push(Diagnostic::warning(
            "output_blocked",
            format!("{path} is not written: {why}"),
        ));
    }
    for (path, why) in tree.failed() {
        loaded
            .diags
            .push(Diagnostic::error("write_failed", format!("{path}: {why}")));
    }
    print_diagnostics_filtered(&loaded.diags, &loaded.sources, json, args.verbose);
    let mut stdout = std::io::stdout().lock();
    for c in tree.changes() {
        if c.failed {
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
        let path = out.join(c.path).display().to_string();
        let _ = if json {
            writeln!(
                stdout,
                "{}",
                serde_json::to_string(&JsonChange { change: word, path }).unwrap_or_default()
            )
        } else {
            writeln!(stdout, "{word} {path}")
        };
        if let Some((old, new)) = c.texts {
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
    if loaded.diags.has_errors() || (args.strict && warned) {
        EXIT_ERROR
    } else if check && tree.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}
