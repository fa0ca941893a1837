//! Data-driven parser tests (rust-analyzer's habit): every file under
//! `test_data/<format>/ok/` must parse without errors, every file under
//! `test_data/<format>/err/` with at least one; the tree and the problems
//! are dumped next to it as `<file>.dump` and compared. Byte spans appear
//! as `start..end`.
//!
//! `MAILCONF_BLESS=1 cargo test -p mailconf-parsers` rewrites the dumps;
//! read the diff before committing.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use mailconf_parsers::Span;
use mailconf_parsers::SyntaxDiag;
use mailconf_parsers::dovecot::{Dialect, Item, parse_conf};
use mailconf_parsers::postfix::expr::{Node, parse as parse_expr};
use mailconf_parsers::postfix::main_cf::parse_main_cf;
use mailconf_parsers::postfix::master_cf::{daemon_overrides, parse_master_cf, postconf_args};
use mailconf_parsers::postfix::table_source::parse_table_source;

fn diags(out: &mut String, d: &[SyntaxDiag]) {
    for d in d {
        let _ = writeln!(
            out,
            "{:?}[{}] {}..{}: {}",
            d.severity, d.id, d.span.start, d.span.end, d.message
        );
    }
}

fn dump_main_cf(src: &str) -> (String, bool) {
    let (cf, d) = parse_main_cf(src);
    let mut out = String::new();
    for a in &cf.assignments {
        let _ = writeln!(
            out,
            "{:?} = {:?} name@{}..{} value@{}..{}",
            a.name,
            a.value,
            a.name_span.start,
            a.name_span.end,
            a.value_span.start,
            a.value_span.end
        );
    }
    diags(&mut out, &d);
    (out, d.iter().any(|d| d.is_error()))
}

fn dump_master_cf(src: &str) -> (String, bool) {
    let (cf, d) = parse_master_cf(src);
    let mut out = String::new();
    let mut errors = d.iter().any(|d| d.is_error());
    for e in &cf.entries {
        let words: Vec<&str> = e.words.iter().map(|w| w.text.as_str()).collect();
        let _ = writeln!(
            out,
            "entry {:?} @{}..{}: {:?}",
            e.kind, e.span.start, e.span.end, words
        );
        let (o, od) = daemon_overrides(e);
        for o in o {
            let _ = writeln!(out, "  daemon -o {:?} = {:?}", o.name, o.value);
        }
        errors |= od.iter().any(|d| d.is_error());
        diags(&mut out, &od);
        let (argv, _) = postconf_args(e);
        let _ = writeln!(out, "  postconf argv {argv:?}");
    }
    diags(&mut out, &d);
    (out, errors)
}

fn dump_dovecot(src: &str, v2_4: bool) -> (String, bool) {
    let (items, d) = parse_conf(src, Dialect { v2_4 });
    let mut out = String::new();
    for i in &items {
        let s = i.span();
        let _ = match i {
            Item::Include {
                optional, pattern, ..
            } => writeln!(
                out,
                "include optional={optional} {pattern:?} @{}..{}",
                s.start, s.end
            ),
            Item::Assign { key, value, .. } => {
                writeln!(out, "assign {key:?} = {value:?} @{}..{}", s.start, s.end)
            }
            Item::Open {
                kind,
                name,
                group_name,
                ..
            } => writeln!(
                out,
                "open {kind:?} {name:?} {group_name:?} @{}..{}",
                s.start, s.end
            ),
            Item::Close { .. } => writeln!(out, "close @{}..{}", s.start, s.end),
        };
    }
    diags(&mut out, &d);
    (out, d.iter().any(|d| d.is_error()))
}

fn dump_table(src: &str) -> (String, bool) {
    let (recs, d) = parse_table_source(src);
    let mut out = String::new();
    for r in &recs {
        let _ = writeln!(
            out,
            "{:?} -> {:?} key@{}..{}",
            r.key, r.value, r.key_span.start, r.key_span.end
        );
    }
    diags(&mut out, &d);
    (out, d.iter().any(|d| d.is_error()))
}

/// One expression per line.
fn dump_expr(src: &str) -> (String, bool) {
    let mut out = String::new();
    let mut errors = false;
    for line in src.lines() {
        let _ = writeln!(out, "{line}");
        match parse_expr(line, Span::new(0, line.len())) {
            Ok(nodes) => {
                for n in nodes {
                    let t = |s: Span| &line[s.range()];
                    let _ = match n {
                        Node::Text(s) => writeln!(out, "  text {:?}", t(s)),
                        Node::Dollar(_) => writeln!(out, "  dollar"),
                        Node::Ref { name, .. } => writeln!(out, "  ref {:?}", t(name)),
                        Node::Cond {
                            name,
                            if_set,
                            if_unset,
                            ..
                        } => writeln!(
                            out,
                            "  cond {:?} set={:?} unset={:?}",
                            t(name),
                            if_set.map(t),
                            if_unset.map(t)
                        ),
                        Node::Compare {
                            left,
                            op,
                            level,
                            right,
                            if_true,
                            if_false,
                            ..
                        } => writeln!(
                            out,
                            "  compare {:?} {op:?} level={level} {:?} true={:?} false={:?}",
                            t(left),
                            t(right),
                            if_true.map(t),
                            if_false.map(t)
                        ),
                    };
                }
            }
            Err(e) => {
                errors = true;
                let _ = writeln!(
                    out,
                    "  error {:?} at {}..{}",
                    e.kind, e.span.start, e.span.end
                );
            }
        }
    }
    (out, errors)
}

fn run_dir(format: &str, dump: fn(&str) -> (String, bool)) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(format);
    let bless = std::env::var_os("MAILCONF_BLESS").is_some();
    let mut failures = Vec::new();
    let mut count = 0;
    for (sub, want_errors) in [("ok", false), ("err", true)] {
        // Git keeps no empty directories: a format whose reader never
        // reports errors (table sources, like postmap, skip bad lines) has
        // no err/ directory at all. Every format must have ok/ cases.
        if want_errors && !base.join(sub).exists() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(base.join(sub))
            .unwrap_or_else(|e| panic!("{}: {e}", base.join(sub).display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_none_or(|e| e != "dump"))
            .collect();
        files.sort();
        for f in files {
            count += 1;
            let src = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            let (got, errors) = dump(&src);
            let dump_path = PathBuf::from(format!("{}.dump", f.display()));
            if bless {
                std::fs::write(&dump_path, &got).unwrap();
            }
            let want = std::fs::read_to_string(&dump_path).unwrap_or_default();
            if errors != want_errors {
                failures.push(format!(
                    "{}: expected {} errors",
                    f.display(),
                    if want_errors { "some" } else { "no" }
                ));
            }
            if got != want {
                failures.push(format!(
                    "{}: dump differs\n--- expected\n{want}--- got\n{got}",
                    f.display()
                ));
            }
        }
    }
    assert!(count > 0, "no test data for {format}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn main_cf() {
    run_dir("main_cf", dump_main_cf);
}

#[test]
fn master_cf() {
    run_dir("master_cf", dump_master_cf);
}

#[test]
fn dovecot_2_3() {
    run_dir("dovecot23", |s| dump_dovecot(s, false));
}

#[test]
fn dovecot_2_4() {
    run_dir("dovecot24", |s| dump_dovecot(s, true));
}

#[test]
fn table_source() {
    run_dir("table_source", dump_table);
}

#[test]
fn expressions() {
    run_dir("expr", dump_expr);
}
