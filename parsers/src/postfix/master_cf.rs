//! `master.cf`: one service per logical line, eight or more fields.
//!
//! ```text
//! service type private unpriv chroot wakeup maxproc command [args...]
//! ```
//!
//! Words are separated by blanks; a word that contains `{` runs to the
//! matching `}` (blanks inside are kept), which is how
//! `-o { name = value with spaces }` stays one argument.
//!
//! Two readings of the command arguments are provided because Postfix
//! itself has two: [`daemon_overrides`] follows the daemon's own option
//! parser (what really happens when the service starts) and
//! [`postconf_args`] reproduces how the `postconf` command normalises them
//! for display (which differs for attached options such as
//! `-osmtpd_tls_wrappermode=yes`).

use crate::diag::SyntaxDiag;
use crate::postfix::lines::{LogicalLine, logical_lines};
use crate::span::Span;

/// A word of a master.cf line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    Inet,
    Unix,
    UnixDgram,
    Fifo,
    Pass,
}

impl ServiceType {
    pub fn parse(s: &str) -> Option<ServiceType> {
        Some(match s {
            "inet" => ServiceType::Inet,
            "unix" => ServiceType::Unix,
            "unix-dgram" => ServiceType::UnixDgram,
            "fifo" => ServiceType::Fifo,
            "pass" => ServiceType::Pass,
            _ => return None,
        })
    }
}

/// One service entry. `words` holds every word of the logical line; the
/// accessors name the fixed fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterEntry {
    pub span: Span,
    pub kind: ServiceType,
    pub words: Vec<Word>,
}

/// Field names in master.cf order, as `postconf -F` names them.
pub const FIELD_NAMES: [&str; 8] = [
    "service",
    "type",
    "private",
    "unprivileged",
    "chroot",
    "wakeup",
    "process_limit",
    "command",
];

impl MasterEntry {
    pub fn service(&self) -> &Word {
        &self.words[0]
    }
    pub fn type_word(&self) -> &Word {
        &self.words[1]
    }
    /// Fields 2..=6: private, unprivileged, chroot, wakeup, process limit.
    pub fn field(&self, i: usize) -> &Word {
        &self.words[i]
    }
    pub fn command(&self) -> &Word {
        &self.words[7]
    }
    pub fn args(&self) -> &[Word] {
        &self.words[8..]
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MasterCf {
    pub entries: Vec<MasterEntry>,
}

/// Parses master.cf text. Entries with a bad field are reported as errors
/// and left out (Postfix refuses to start with them).
pub fn parse_master_cf(src: &str) -> (MasterCf, Vec<SyntaxDiag>) {
    let (lines, mut diags) = logical_lines(src);
    let mut cf = MasterCf::default();
    for line in &lines {
        match parse_entry(line) {
            Ok(e) => cf.entries.push(e),
            Err(d) => diags.push(d),
        }
    }
    (cf, diags)
}

const BLANKS: &[u8] = b" \t\r\n";

/// Splits on blanks with `{}` grouping, like Postfix's `argv_splitq()`.
pub fn split_words(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if BLANKS.contains(&b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                c if depth == 0 && BLANKS.contains(&c) => break,
                _ => {}
            }
            i += 1;
        }
        out.push((start, i));
    }
    out
}

fn parse_entry(line: &LogicalLine) -> Result<MasterEntry, SyntaxDiag> {
    let words: Vec<Word> = split_words(&line.text)
        .into_iter()
        .map(|(s, e)| Word {
            text: line.text[s..e].to_string(),
            span: line.file_span(Span::new(s, e)),
        })
        .collect();
    if words.len() < 8 {
        return Err(SyntaxDiag::error(
            "master_field_count",
            line.span,
            format!(
                "a master.cf service needs at least 8 fields (service type private unpriv chroot wakeup maxproc command), this line has {}",
                words.len()
            ),
        ));
    }
    let kind = ServiceType::parse(&words[1].text).ok_or_else(|| {
        SyntaxDiag::error(
            "master_bad_field",
            words[1].span,
            format!(
                "invalid service type `{}`: expected inet, unix, unix-dgram, fifo or pass",
                words[1].text
            ),
        )
    })?;
    for (i, w) in words.iter().enumerate().take(5).skip(2) {
        if !matches!(w.text.as_str(), "y" | "n" | "-") {
            return Err(SyntaxDiag::error(
                "master_bad_field",
                w.span,
                format!(
                    "invalid {} field `{}`: expected y, n or -",
                    FIELD_NAMES[i], w.text
                ),
            ));
        }
    }
    let wakeup = &words[5].text;
    let digits = wakeup.strip_suffix('?').unwrap_or(wakeup);
    if wakeup != "-" && !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(SyntaxDiag::error(
            "master_bad_field",
            words[5].span,
            format!(
                "invalid wakeup field `{wakeup}`: expected a number of seconds (optionally ending in ?) or -"
            ),
        ));
    }
    let limit = &words[6].text;
    if limit != "-" && !limit.bytes().all(|c| c.is_ascii_digit()) {
        return Err(SyntaxDiag::error(
            "master_bad_field",
            words[6].span,
            format!("invalid process_limit field `{limit}`: expected a number or -"),
        ));
    }
    Ok(MasterEntry {
        span: line.span,
        kind,
        words,
    })
}

/// Removes one level of `{ }` and the blanks just inside it, like
/// Postfix's `extpar()`. Returns the inner text and whether the closing
/// brace was missing.
pub fn strip_braces(text: &str) -> (&str, bool) {
    let Some(inner) = text.strip_prefix('{') else {
        return (text, false);
    };
    let (inner, missing) = match inner.strip_suffix('}') {
        Some(i) => (i, false),
        None => (inner, true),
    };
    (
        inner.trim_matches(|c: char| c.is_ascii() && BLANKS.contains(&(c as u8))),
        missing,
    )
}

/// Splits `name=value` the way Postfix's `split_nameval()` does: the name
/// ends at blank or `=`, blanks around `=` and at the end are dropped.
pub fn split_nameval(text: &str) -> Option<(&str, &str)> {
    let t = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let name_len = t
        .find(|c: char| c.is_ascii_whitespace() || c == '=')
        .unwrap_or(t.len());
    if name_len == 0 {
        return None;
    }
    let (name, rest) = t.split_at(name_len);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let value = rest.strip_prefix('=')?;
    Some((name, value.trim_matches(|c: char| c.is_ascii_whitespace())))
}

/// One `-o name=value` as the daemon will apply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub name: String,
    pub value: String,
    /// The word (or words) that carried it.
    pub span: Span,
}

/// The `-o name=value` settings the daemon really applies, following its
/// getopt parser: bundled flags (`-vo x=y`), attached values (`-ox=y`),
/// long forms (`-o { x = y }`), and option parsing stops at the first
/// non-option word or `--`. Broken settings (`-o name = value`, `-o` at
/// the end) are errors: the daemon refuses to start.
pub fn daemon_overrides(entry: &MasterEntry) -> (Vec<Override>, Vec<SyntaxDiag>) {
    // Options of Postfix daemons that take a value (single/multi/trigger
    // server skeletons): -i -m -n -o -s -t.
    const WITH_VALUE: &[u8] = b"imnost";
    let args = entry.args();
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let t = w.text.as_str();
        if !t.starts_with('-') || t == "--" || t == "-" {
            break;
        }
        let b = t.as_bytes();
        let mut j = 1;
        while j < b.len() {
            let opt = b[j];
            if WITH_VALUE.contains(&opt) {
                let (value, span) = if j + 1 < b.len() {
                    (t[j + 1..].to_string(), w.span)
                } else if let Some(next) = args.get(i + 1) {
                    i += 1;
                    (next.text.clone(), w.span.cover(next.span))
                } else {
                    diags.push(SyntaxDiag::error(
                        "master_bad_option",
                        w.span,
                        format!("option -{} needs a value", opt as char),
                    ));
                    return (out, diags);
                };
                if opt == b'o' {
                    let (inner, missing) = strip_braces(&value);
                    if missing {
                        diags.push(SyntaxDiag::error(
                            "master_bad_option",
                            span,
                            "`{` without a matching `}` in this -o value",
                        ));
                    }
                    match split_nameval(inner) {
                        Some((n, v)) => out.push(Override {
                            name: n.to_string(),
                            value: v.to_string(),
                            span,
                        }),
                        None => diags.push(SyntaxDiag::error(
                            "master_bad_option",
                            span,
                            format!(
                                "`-o {value}` is not `name=value`; the daemon refuses to start (write `-o name=value`, or `-o {{ name = value }}` when there are spaces)"
                            ),
                        )),
                    }
                }
                break;
            }
            j += 1;
        }
        i += 1;
    }
    (out, diags)
}

/// The command arguments normalised the way `postconf` does it before it
/// prints them (`pcf_normalize_daemon_args()`): option words are split
/// before any later letter `o` (so `-osmtpd_tls_wrappermode=yes` becomes
/// `-o smtpd_tls_wrapperm` and `-o de=yes`), `-oX` becomes `-o X`, `{}`
/// around option values and non-option words are removed, and braced
/// `-o` values are rewritten as `name=value`.
pub fn postconf_args(entry: &MasterEntry) -> (Vec<String>, Vec<SyntaxDiag>) {
    let mut argv: Vec<String> = entry.args().iter().map(|w| w.text.clone()).collect();
    let mut diags = Vec::new();
    let mut field = 0;
    while field < argv.len() {
        let arg = argv[field].clone();
        if !arg.starts_with('-') || arg == "--" {
            break;
        }
        // Split "-stuffozz" into "-stuff" and "-ozz".
        if let Some(pos) = arg.bytes().skip(2).position(|c| c == b'o') {
            let cut = pos + 2;
            argv[field] = arg[..cut].to_string();
            argv.insert(field + 1, format!("-{}", &arg[cut..]));
        }
        let arg = argv[field].clone();
        if arg.as_bytes().get(1) != Some(&b'o') {
            field += 1;
            continue;
        }
        let extract = if arg.len() > 2 {
            argv[field] = "-o".to_string();
            argv.insert(field + 1, arg[2..].to_string());
            field += 1;
            true
        } else if field + 1 < argv.len() {
            field += 1;
            true
        } else {
            false
        };
        if extract && argv[field].starts_with('{') {
            let (inner, missing) = strip_braces(&argv[field]);
            if missing {
                diags.push(SyntaxDiag::warning(
                    "master_unbalanced_brace",
                    entry.span,
                    format!("missing `}}` in `{}`", argv[field]),
                ));
            }
            let inner = inner.to_string();
            argv[field] = match split_nameval(&inner) {
                Some((n, v)) => format!("{n}={v}"),
                None => {
                    diags.push(SyntaxDiag::warning(
                        "master_bad_option",
                        entry.span,
                        format!("missing `=` after attribute name in `{inner}`"),
                    ));
                    inner
                }
            };
        }
        field += 1;
    }
    for a in argv.iter_mut().skip(field) {
        if a.starts_with('{') {
            *a = strip_braces(a).0.to_string();
        }
    }
    (argv, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: &str) -> MasterEntry {
        let (cf, diags) = parse_master_cf(src);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        cf.entries.into_iter().next().unwrap()
    }

    #[test]
    fn long_form_keeps_spaces_and_nested_braces() {
        let e = entry(
            "submission inet n - y - - smtpd\n  -o { smtpd_recipient_restrictions = { permit_sasl_authenticated, reject } }\n  -o{ smtpd_sasl_auth_enable = yes }\n",
        );
        let (o, d) = daemon_overrides(&e);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(o[0].name, "smtpd_recipient_restrictions");
        assert_eq!(o[0].value, "{ permit_sasl_authenticated, reject }");
        assert_eq!(o[1].name, "smtpd_sasl_auth_enable");
        assert_eq!(o[1].value, "yes");
    }

    #[test]
    fn daemon_and_postconf_disagree_on_attached_o() {
        let e = entry("smtps inet n - n - - smtpd -osmtpd_tls_wrappermode=yes -vo a=b\n");
        let (o, _) = daemon_overrides(&e);
        assert_eq!(o[0].name, "smtpd_tls_wrappermode");
        assert_eq!(o[1].name, "a");
        let (argv, _) = postconf_args(&e);
        assert_eq!(
            argv,
            [
                "-o",
                "smtpd_tls_wrapperm",
                "-o",
                "de=yes",
                "-v",
                "-o",
                "a=b"
            ]
        );
    }

    #[test]
    fn option_parsing_stops_at_first_non_option() {
        let e = entry("submission inet n - y - - smtpd foo -o smtpd_tls_security_level=encrypt\n");
        assert!(daemon_overrides(&e).0.is_empty());
        let e = entry("smtps inet n - y - - smtpd -- -o smtpd_tls_wrappermode=yes\n");
        assert!(daemon_overrides(&e).0.is_empty());
    }

    #[test]
    fn short_form_with_spaces_is_broken() {
        let e = entry("submission inet n - y - - smtpd\n  -o smtpd_tls_security_level = encrypt\n");
        let (o, d) = daemon_overrides(&e);
        assert!(o.is_empty());
        assert_eq!(d[0].id, "master_bad_option");
    }

    #[test]
    fn field_errors() {
        for (src, id) in [
            ("smtp inet n - y - -\n", "master_field_count"),
            ("foo uxdg - - n - - bar\n", "master_bad_field"),
            ("smtp inet no - y - - smtpd\n", "master_bad_field"),
            ("qmgr unix n - n 300x 1 qmgr\n", "master_bad_field"),
            ("smtp inet n - y - 1x smtpd\n", "master_bad_field"),
        ] {
            let (cf, d) = parse_master_cf(src);
            assert!(cf.entries.is_empty(), "{src}");
            assert_eq!(d[0].id, id, "{src}");
        }
        assert!(
            parse_master_cf("pickup unix n - y 60? 1 pickup\n")
                .1
                .is_empty()
        );
    }

    #[test]
    fn split_nameval_rules() {
        assert_eq!(split_nameval(" a = b c "), Some(("a", "b c")));
        assert_eq!(split_nameval("a=b=c"), Some(("a", "b=c")));
        assert_eq!(split_nameval("a"), None);
        assert_eq!(split_nameval("a b=c"), None);
    }
}
