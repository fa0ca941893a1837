//! Property tests of the parsers (issue 9), run on every build in bounded
//! time: the same properties as the cargo-fuzz targets in `fuzz/`, with
//! fewer cases.
//!
//! * no parser panics, whatever the input;
//! * every span a parser returns lies inside the text it was given, and
//!   starts and ends on UTF-8 character boundaries (diagnostics slice the
//!   text with them; the renderer panics on a span inside a character);
//! * main.cf round trip: printing the assignments back as `name = value`
//!   lines and parsing again gives the same names and values;
//! * master.cf round trip: printing an entry's words back on one line,
//!   separated by single blanks, gives the same entry, the same `-o`
//!   overrides and the same `postconf` arguments.
//!
//! Inputs mix three sources: fragments of the real syntaxes (so that deep
//! structure is reached), arbitrary Unicode, and arbitrary ASCII including
//! control characters and NUL. `PROPTEST_CASES=N` runs more cases (the
//! default keeps the whole file to a few seconds). Failures are not
//! persisted to disk: add a minimal reproducer as a plain `#[test]` below.

use mailconf_parsers::dovecot::{Dialect, Item, parse_conf};
use mailconf_parsers::postfix::expr::{parse as parse_expr, scan};
use mailconf_parsers::postfix::list::{parse_list, tokens};
use mailconf_parsers::postfix::main_cf::{MainCf, parse_main_cf};
use mailconf_parsers::postfix::master_cf::{
    MasterEntry, daemon_overrides, parse_master_cf, postconf_args,
};
use mailconf_parsers::postfix::table_ref::{block_members, parse_inline, parse_table_ref};
use mailconf_parsers::postfix::table_source::{first_wins, parse_table_source};
use mailconf_parsers::{Span, SyntaxDiag};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(384);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Pieces of every syntax involved, including the characters that trip
/// byte-level scanners: multi-byte characters (one whose code point ends
/// in 0x09 or 0x20, which a careless `c as u8` reads as a blank), NUL, CR,
/// VT and FF.
const FRAGMENTS: &[&str] = &[
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    "\n",
    "\n  ",
    "\n\t",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\0",
    "#",
    " # ",
    "=",
    " = ",
    "==",
    "{",
    "}",
    "{ ",
    " }",
    "$",
    "$$",
    "${",
    "$(",
    ")",
    "?",
    ":",
    "<",
    "<=",
    "!=",
    ">",
    ">=",
    "level",
    "\"",
    "'",
    "\\",
    "\\\n",
    ",",
    ", ",
    "!",
    "/",
    "@",
    "-",
    "-o",
    "-o ",
    "-v",
    "-vo",
    "--",
    "y",
    "n",
    "inet",
    "unix",
    "smtpd",
    "a",
    "b",
    "name",
    "value",
    "myhostname",
    "password",
    "é",
    "€",
    "😀",
    "\u{109}",
    "\u{120}",
    "\u{85}",
    "\u{a0}",
    "\u{feff}",
    "!include ",
    "!include_try ",
    "<<",
    "EOF",
    "service",
    "imap-login",
    "passdb",
    "group",
    "@sql",
    "proxy:",
    "inline:",
    "hash:/etc/x",
    "unionmap:",
    "localhost",
    "example.com",
    "{a=1}",
    "[",
    "]",
];

/// Text made of syntax fragments, arbitrary Unicode, or arbitrary ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(select(FRAGMENTS), 0..80).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => "[\\x00-\\x7f]{0,120}",
    ]
}

/// main.cf-shaped text: `name = value` lines with continuations, comments,
/// blank lines and broken lines between them.
fn main_cf_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        4 => (
            "[a-z_]{1,12}|[^ \t\n=#]{1,6}",
            select(&["=", " = ", "\t=\t", "  =", "= "][..]),
            proptest::collection::vec(select(FRAGMENTS), 0..12).prop_map(|v| v.concat()),
        )
            .prop_map(|(n, eq, v)| format!("{n}{eq}{v}\n")),
        1 => select(&["# comment\n", "\n", "  continued\n", "\t# indented\n", "foo bar\n", "= x\n"][..])
            .prop_map(str::to_string),
        1 => text().prop_map(|t| t + "\n"),
    ];
    proptest::collection::vec(line, 0..12).prop_map(|v| v.concat())
}

/// master.cf-shaped text: entries with plausible fields and `-o`
/// arguments, separated by blanks and continuation lines.
fn master_cf_text() -> impl Strategy<Value = String> {
    let sep = select(&[" ", "  ", "\t", "\n  ", "\n\t", "\n# c\n  ", " \r "][..]);
    let arg = select(
        &[
            "-o",
            "x=y",
            "smtpd_tls_wrappermode=yes",
            "{",
            "}",
            "{ a = b c }",
            "{a=b}",
            "{ a = { b } }",
            "-ox=y",
            "-osmtpd_tls_wrappermode=yes",
            "-vo",
            "-v",
            "--",
            "-",
            "a = b",
            "=",
            "é",
            "-oé=é",
            "{\u{109}x=\u{120}}",
            "-o{",
            "x",
        ][..],
    );
    let args = proptest::collection::vec((sep.clone(), arg), 0..10).prop_map(|v| {
        v.into_iter()
            .map(|(s, a)| format!("{s}{a}"))
            .collect::<String>()
    });
    let entry = (
        select(
            &[
                "smtp",
                "submission",
                "465",
                "127.0.0.1:10025",
                "[::1]:588",
                "é",
            ][..],
        ),
        select(&["inet", "unix", "unix-dgram", "fifo", "pass", "inetx"][..]),
        select(&["y", "n", "-", "x"][..]),
        select(&["y", "n", "-"][..]),
        select(&["y", "n", "-"][..]),
        select(&["-", "60", "1000?", "6x"][..]),
        select(&["-", "0", "100", "1x"][..]),
        select(&["smtpd", "pickup", "{smtpd}"][..]),
        args,
    )
        .prop_map(|(s, t, p, u, c, w, m, cmd, args)| {
            format!("{s} {t} {p} {u} {c} {w} {m} {cmd}{args}\n")
        });
    let line = prop_oneof![
        6 => entry,
        1 => text().prop_map(|t| t + "\n"),
        1 => select(&["# comment\n", "\n", "  orphan\n"][..]).prop_map(str::to_string),
    ];
    proptest::collection::vec(line, 0..6).prop_map(|v| v.concat())
}

// ---- span checks ------------------------------------------------------

/// Inside the text: `start <= end <= len`.
fn inside(src: &str, s: Span, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        s.start <= s.end && s.end <= src.len(),
        "{what}: span {}..{} outside the input of {} bytes: {src:?}",
        s.start,
        s.end,
        src.len()
    );
    Ok(())
}

/// Inside the text and on character boundaries.
fn on_chars(src: &str, s: Span, what: &str) -> Result<(), TestCaseError> {
    inside(src, s, what)?;
    prop_assert!(
        src.is_char_boundary(s.start) && src.is_char_boundary(s.end),
        "{what}: span {}..{} cuts a character of {src:?}",
        s.start,
        s.end
    );
    Ok(())
}

type Check = fn(&str, Span, &str) -> Result<(), TestCaseError>;

fn diags(src: &str, d: &[SyntaxDiag], check: Check) -> Result<(), TestCaseError> {
    for d in d {
        check(src, d.span, d.id)?;
        for (s, _) in &d.related {
            check(src, *s, d.id)?;
        }
    }
    Ok(())
}

// ---- one checker per parser, parameterised by the span check -----------

fn check_main_cf(src: &str, check: Check) -> Result<(), TestCaseError> {
    let (cf, d) = parse_main_cf(src);
    diags(src, &d, check)?;
    for a in &cf.assignments {
        check(src, a.span, "assignment")?;
        check(src, a.name_span, "name")?;
        check(src, a.value_span, "value")?;
        prop_assert!(a.span.start <= a.name_span.start && a.value_span.end <= a.span.end);
        // A name never spans a continuation, so its span is its text.
        if let Some(n) = src.get(a.name_span.range()) {
            prop_assert_eq!(n, a.name.as_str());
        }
        for (i, _) in a.value.char_indices() {
            check(src, Span::at(a.value_file_offset(i)), "value offset")?;
        }
    }
    Ok(())
}

fn check_master_entry(src: &str, e: &MasterEntry, check: Check) -> Result<(), TestCaseError> {
    check(src, e.span, "entry")?;
    prop_assert!(e.words.len() >= 8);
    for w in &e.words {
        check(src, w.span, "word")?;
    }
    let (o, d) = daemon_overrides(e);
    diags(src, &d, check)?;
    for o in &o {
        check(src, o.span, "override")?;
    }
    let (_, d) = postconf_args(e);
    diags(src, &d, check)?;
    Ok(())
}

fn check_master_cf(src: &str, check: Check) -> Result<(), TestCaseError> {
    let (cf, d) = parse_master_cf(src);
    diags(src, &d, check)?;
    for e in &cf.entries {
        check_master_entry(src, e, check)?;
    }
    Ok(())
}

fn check_table_source(src: &str, check: Check) -> Result<(), TestCaseError> {
    let (records, d) = parse_table_source(src);
    diags(src, &d, check)?;
    for r in &records {
        check(src, r.key_span, "key")?;
        prop_assert!(!r.value.is_empty());
    }
    let n = records.len();
    let (kept, dups) = first_wins(records, true);
    diags(src, &dups, check)?;
    prop_assert_eq!(kept.len() + dups.len(), n);
    Ok(())
}

fn check_expr(src: &str, check: Check) -> Result<(), TestCaseError> {
    match parse_expr(src, Span::new(0, src.len())) {
        Ok(nodes) => {
            for n in &nodes {
                for s in n.spans() {
                    check(src, s, "node")?;
                }
            }
        }
        Err(e) => check(src, e.span, e.message())?,
    }
    let (names, errors) = scan(src);
    for m in names {
        check(src, m.name, "mention")?;
    }
    for e in errors {
        check(src, e.span, e.message())?;
    }
    Ok(())
}

fn check_list(src: &str, check: Check) -> Result<(), TestCaseError> {
    let (entries, d) = parse_list(src);
    diags(src, &d, check)?;
    for e in &entries {
        check(src, e.span, "entry")?;
    }
    for t in tokens(src) {
        check(src, t, "token")?;
        prop_assert!(!t.is_empty());
    }
    Ok(())
}

fn check_dovecot(src: &str, check: Check) -> Result<(), TestCaseError> {
    for v2_4 in [false, true] {
        let (items, d) = parse_conf(src, Dialect { v2_4 });
        diags(src, &d, check)?;
        for i in &items {
            check(src, i.span(), "item")?;
            match i {
                Item::Assign {
                    key_span,
                    value_span,
                    value,
                    ..
                } => {
                    check(src, *key_span, "key")?;
                    check(src, *value_span, "value")?;
                    let _ = value.text();
                }
                Item::Open {
                    kind_span,
                    name_span,
                    ..
                } => {
                    check(src, *kind_span, "kind")?;
                    check(src, *name_span, "section name")?;
                }
                Item::Include { .. } | Item::Close { .. } => {}
            }
        }
    }
    Ok(())
}

fn check_table_ref(src: &str) -> Result<(), TestCaseError> {
    if let Some(t) = parse_table_ref(src) {
        let _ = t.unproxied();
        let _ = block_members(t.name);
        let (_, d) = parse_inline(t.name);
        for d in d {
            prop_assert!(d.span.end <= t.name.len());
        }
    }
    let _ = block_members(src);
    let _ = parse_inline(src);
    Ok(())
}

// ---- round trips --------------------------------------------------------

fn pairs(cf: &MainCf) -> Vec<(String, String)> {
    cf.assignments
        .iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect()
}

fn main_cf_round_trip(src: &str) -> Result<(), TestCaseError> {
    let (cf, _) = parse_main_cf(src);
    let printed: String = cf
        .assignments
        .iter()
        .map(|a| format!("{} = {}\n", a.name, a.value))
        .collect();
    let (again, d) = parse_main_cf(&printed);
    prop_assert!(
        d.iter().all(|d| !d.is_error()),
        "printed text has errors: {d:?}\n{printed:?}"
    );
    prop_assert_eq!(pairs(&cf), pairs(&again), "printed: {:?}", printed);
    Ok(())
}

fn master_cf_round_trip(src: &str) -> Result<(), TestCaseError> {
    let (cf, _) = parse_master_cf(src);
    for e in &cf.entries {
        let words: Vec<&str> = e.words.iter().map(|w| w.text.as_str()).collect();
        let line = format!("{}\n", words.join(" "));
        let (again, d) = parse_master_cf(&line);
        prop_assert!(
            d.is_empty(),
            "reprinted entry has problems: {d:?}\n{line:?}"
        );
        prop_assert_eq!(again.entries.len(), 1, "{:?}", line);
        let a = &again.entries[0];
        let again_words: Vec<&str> = a.words.iter().map(|w| w.text.as_str()).collect();
        prop_assert_eq!(&words, &again_words, "{:?}", line);
        prop_assert_eq!(e.kind, a.kind);
        let ov = |e: &MasterEntry| {
            let (o, d) = daemon_overrides(e);
            (
                o.into_iter().map(|o| (o.name, o.value)).collect::<Vec<_>>(),
                d.into_iter().map(|d| d.id).collect::<Vec<_>>(),
            )
        };
        prop_assert_eq!(ov(e), ov(a), "{:?}", line);
        let pc = |e: &MasterEntry| {
            let (argv, d) = postconf_args(e);
            (argv, d.into_iter().map(|d| d.id).collect::<Vec<_>>())
        };
        prop_assert_eq!(pc(e), pc(a), "{:?}", line);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    // Never panics; spans inside the input.

    #[test]
    fn main_cf_never_panics_spans_inside(src in prop_oneof![main_cf_text(), text()]) {
        check_main_cf(&src, inside)?;
    }

    #[test]
    fn master_cf_never_panics_spans_inside(src in prop_oneof![master_cf_text(), text()]) {
        check_master_cf(&src, inside)?;
    }

    #[test]
    fn table_source_never_panics_spans_inside(src in prop_oneof![main_cf_text(), text()]) {
        check_table_source(&src, inside)?;
    }

    #[test]
    fn expr_never_panics_spans_inside(src in text()) {
        check_expr(&src, inside)?;
    }

    #[test]
    fn list_never_panics_spans_inside(src in text()) {
        check_list(&src, inside)?;
    }

    #[test]
    fn dovecot_never_panics_spans_inside(src in text()) {
        check_dovecot(&src, inside)?;
    }

    #[test]
    fn table_ref_never_panics(src in text()) {
        check_table_ref(&src)?;
    }

    // Spans on character boundaries.

    #[test]
    fn main_cf_spans_on_char_boundaries(src in prop_oneof![main_cf_text(), text()]) {
        check_main_cf(&src, on_chars)?;
    }

    #[test]
    fn master_cf_spans_on_char_boundaries(src in prop_oneof![master_cf_text(), text()]) {
        check_master_cf(&src, on_chars)?;
    }

    #[test]
    fn table_source_spans_on_char_boundaries(src in prop_oneof![main_cf_text(), text()]) {
        check_table_source(&src, on_chars)?;
    }

    #[test]
    fn expr_spans_on_char_boundaries(src in text()) {
        check_expr(&src, on_chars)?;
    }

    #[test]
    fn list_spans_on_char_boundaries(src in text()) {
        check_list(&src, on_chars)?;
    }

    #[test]
    fn dovecot_spans_on_char_boundaries(src in text()) {
        check_dovecot(&src, on_chars)?;
    }

    // Round trips.

    #[test]
    fn main_cf_round_trip_keeps_names_and_values(src in prop_oneof![main_cf_text(), text()]) {
        main_cf_round_trip(&src)?;
    }

    #[test]
    fn master_cf_round_trip_keeps_words(src in master_cf_text()) {
        master_cf_round_trip(&src)?;
    }
}

// ---- reproducers found by these properties and by the fuzzers ------------

fn assert_on_chars(src: &str, spans: impl IntoIterator<Item = (Span, &'static str)>) {
    for (s, what) in spans {
        assert!(
            s.end <= src.len() && src.is_char_boundary(s.start) && src.is_char_boundary(s.end),
            "{what}: span {}..{} cuts a character of {src:?}",
            s.start,
            s.end
        );
    }
}

/// `missing_equals` points at the one byte after the name: inside `é`.
/// (`mailconf generate` then panics in the human renderer.)
#[test]
fn main_cf_missing_equals_before_a_multibyte_character() {
    let src = "foo é\n";
    let (_, d) = parse_main_cf(src);
    assert_eq!(d[0].id, "missing_equals");
    assert_on_chars(src, d.iter().map(|d| (d.span, d.id)));
}

/// `${...}` errors point at one byte, which may be the start of `é`.
#[test]
fn expr_error_spans_before_a_multibyte_character() {
    for src in ["${é}", "${aé}", "${a?{x}é}", "${{a}é{b}}"] {
        let e = parse_expr(src, Span::new(0, src.len())).unwrap_err();
        assert_on_chars(src, [(e.span, e.message())]);
    }
}

/// Blanks are trimmed from `{ ... }` by `c as u8`, which also matches
/// U+0109 and U+0120: `-o { name = valueĠ }` loses its last character.
#[test]
fn master_cf_braces_keep_non_ascii_characters() {
    let src = "submission inet n - n - - smtpd -o {smtpd_banner=x\u{120}}\n";
    let (cf, _) = parse_master_cf(src);
    let (o, _) = daemon_overrides(&cf.entries[0]);
    assert_eq!(o[0].value, "x\u{120}");
}

// ---- time bounds: the parsers must stay linear on big inputs ---------------

/// Runs `f` and fails when it used more than `limit` of this thread's CPU
/// time. CPU time, not wall-clock time: another process keeping the machine
/// busy does not stretch it, so the bound is about work. The limits are
/// generous (these inputs take milliseconds for a linear parser, even in a
/// debug build; the quadratic versions took 10 s and more).
fn within(limit: std::time::Duration, what: &str, f: impl FnOnce()) {
    let cpu = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    };
    let start = cpu();
    f();
    let used = cpu() - start;
    assert!(
        used <= limit,
        "{what} used {used:?} of CPU time (limit {limit:?}): not linear?"
    );
}

/// 20,000 distinct parameters: each assignment is checked against the
/// earlier ones for `duplicate_parameter`; a linear scan per line makes the
/// whole parse quadratic.
#[test]
fn main_cf_parse_time_is_linear_in_the_number_of_parameters() {
    let src: String = (0..20_000)
        .map(|i| format!("param_{i} = value\n"))
        .collect();
    within(
        std::time::Duration::from_secs(2),
        "parse_main_cf on 20,000 lines",
        move || {
            let (cf, _) = parse_main_cf(&src);
            assert_eq!(cf.assignments.len(), 20_000);
        },
    );
}

/// 20,000 attached `-oname=value` arguments: `postconf_args` inserts into
/// the middle of a vector for each one (quadratic, but a cheap `memmove`:
/// about a second here; the limit only catches worse).
#[test]
fn master_cf_postconf_args_time_is_linear_in_the_number_of_arguments() {
    let src = format!(
        "submission inet n - y - - smtpd\n{}",
        "  -osmtpd_client_restrictions=permit_sasl_authenticated,reject\n".repeat(20_000)
    );
    let (cf, _) = parse_master_cf(&src);
    let entry = cf.entries[0].clone();
    within(
        std::time::Duration::from_secs(10),
        "postconf_args with 20,000 arguments",
        move || {
            let (argv, _) = postconf_args(&entry);
            assert!(argv.len() >= 40_000);
        },
    );
    let entry = cf.entries[0].clone();
    within(
        std::time::Duration::from_secs(10),
        "daemon_overrides with 20,000 arguments",
        move || {
            let (o, _) = daemon_overrides(&entry);
            assert_eq!(o.len(), 20_000);
        },
    );
}

/// Big but linear inputs for the other parsers: a 10 MB line, 100,000
/// table lines, 100,000 Dovecot lines, a 1 MB expression and list.
#[test]
fn other_parsers_handle_big_inputs_in_bounded_time() {
    let limit = std::time::Duration::from_secs(3);
    let long = format!("{} y\n", "x".repeat(10_000_000));
    within(limit, "parse_main_cf on a 10 MB line", move || {
        let _ = parse_main_cf(&long);
    });
    let table: String = (0..100_000).map(|i| format!("d{i}.example OK\n")).collect();
    within(limit, "parse_table_source on 100,000 lines", move || {
        let (r, _) = parse_table_source(&table);
        let _ = first_wins(r, true);
    });
    let dove: String = (0..100_000)
        .map(|i| format!("key{i} = value {i}\n"))
        .collect();
    within(limit, "parse_conf on 100,000 lines", move || {
        let _ = parse_conf(&dove, Dialect { v2_4: false });
        let _ = parse_conf(&dove, Dialect { v2_4: true });
    });
    let expr = "$a ${b?{c}:{d}} ".repeat(60_000);
    within(limit, "scan on a 1 MB expression", move || {
        let _ = scan(&expr);
    });
    let nested = format!("{}x{}", "${a?".repeat(20_000), "}".repeat(20_000));
    within(
        limit,
        "scan on an expression nested 20,000 deep",
        move || {
            let _ = scan(&nested);
        },
    );
    let list = "a.example, !b.example, hash:/etc/x, /etc/y, ".repeat(25_000);
    within(limit, "parse_list on a 1 MB list", move || {
        let _ = parse_list(&list);
    });
}
