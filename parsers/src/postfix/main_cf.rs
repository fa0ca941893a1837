//! `main.cf`: `name = value` on logical lines.
//!
//! The same syntax is used by SQL, LDAP and memcache table client files
//! (`mysql:/etc/postfix/x.cf`), so [`parse_main_cf`] reads those too.

use std::collections::HashMap;

use crate::diag::SyntaxDiag;
use crate::offset_map::OffsetMap;
use crate::postfix::is_space;
use crate::postfix::lines::{LogicalLine, logical_lines};
use crate::span::Span;

/// One `name = value` line, in file order (duplicates are kept; the
/// last one wins when the file is read as a dictionary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub name_span: Span,
    /// Trimmed at both ends; inner whitespace, continuation text and further
    /// `=` signs are kept as written.
    pub value: String,
    /// Where the value sits in the file (empty span after `=` for an empty
    /// value).
    pub value_span: Span,
    /// The whole logical line.
    pub span: Span,
    value_map: OffsetMap,
}

impl Assignment {
    /// Where byte `offset` of [`Assignment::value`] sits in the file.
    pub fn value_file_offset(&self, offset: usize) -> usize {
        self.value_map.file_offset(offset)
    }

    /// A span of [`Assignment::value`] as a span of the file.
    pub fn value_file_span(&self, span: Span) -> Span {
        self.value_map.file_span(span)
    }

    pub fn value_map(&self) -> &OffsetMap {
        &self.value_map
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MainCf {
    pub assignments: Vec<Assignment>,
}

impl MainCf {
    /// The assignment that wins for `name` (the last one).
    pub fn get(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }
}

/// Parses `main.cf` text. Lines without `=` or without a name are errors
/// (Postfix refuses the whole file); a later assignment that changes an
/// earlier one is a note.
pub fn parse_main_cf(src: &str) -> (MainCf, Vec<SyntaxDiag>) {
    let (lines, mut diags) = logical_lines(src);
    let mut cf = MainCf::default();
    // Latest assignment of each name, so a long main.cf stays linear.
    let mut latest: HashMap<String, usize> = HashMap::new();
    for line in &lines {
        match split_nameval(line) {
            Ok(a) => {
                if let Some(&p) = latest.get(&a.name)
                    && cf.assignments[p].value != a.value
                {
                    let prev = &cf.assignments[p];
                    diags.push(
                        SyntaxDiag::note(
                            "duplicate_parameter",
                            a.name_span,
                            format!("`{}` is set again here; this later value wins", a.name),
                        )
                        .with_related(prev.span, "earlier value"),
                    );
                }
                latest.insert(a.name.clone(), cf.assignments.len());
                cf.assignments.push(a);
            }
            Err(d) => diags.push(d),
        }
    }
    (cf, diags)
}

fn split_nameval(line: &LogicalLine) -> Result<Assignment, SyntaxDiag> {
    let text = line.text.as_str();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && !is_space(b[i]) && b[i] != b'=' {
        i += 1;
    }
    let name_end = i;
    if name_start == name_end {
        return Err(SyntaxDiag::error(
            "missing_name",
            line.file_span(Span::at(name_start)),
            "this line has no parameter name before `=`",
        ));
    }
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    if i >= b.len() || b[i] != b'=' {
        let at = line.file_span(Span::char_at(text, i));
        return Err(SyntaxDiag::error(
            "missing_equals",
            at,
            format!(
                "expected `=` after the parameter name `{}` (a name cannot contain whitespace; a value that continues on the next line must start with whitespace)",
                &text[name_start..name_end]
            ),
        ));
    }
    i += 1;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let mut end = b.len();
    while end > i && is_space(b[end - 1]) {
        end -= 1;
    }
    Ok(Assignment {
        name: text[name_start..name_end].to_string(),
        name_span: line.file_span(Span::new(name_start, name_end)),
        value: text[i..end].to_string(),
        value_span: line.file_span(Span::new(i, end)),
        span: line.span,
        value_map: line.sub_map(i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Assignment {
        let (cf, diags) = parse_main_cf(src);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        cf.assignments.into_iter().next().unwrap()
    }

    #[test]
    fn name_alone_then_value_on_continuation() {
        let a = one("myhostname\n  = mail.example.com\n");
        assert_eq!(a.name, "myhostname");
        assert_eq!(a.value, "mail.example.com");
    }

    #[test]
    fn only_first_equals_splits_and_value_is_trimmed() {
        let a = one("smtpd_banner=x=y=z  \r\n");
        assert_eq!(a.value, "x=y=z");
        assert_eq!(a.value_span, Span::new(13, 18));
    }

    #[test]
    fn missing_equals_and_missing_name_are_errors() {
        let (cf, diags) = parse_main_cf("myhostname = a\nfoo bar\n= baz\n");
        assert_eq!(cf.assignments.len(), 1);
        assert_eq!(diags[0].id, "missing_equals");
        assert_eq!(diags[0].span.start, 19);
        assert_eq!(diags[1].id, "missing_name");
    }

    #[test]
    fn duplicate_with_new_value_is_a_note_identical_repeat_is_silent() {
        let (cf, diags) = parse_main_cf("a = 1\na = 2\na = 2\n");
        assert_eq!(cf.get("a").unwrap().value, "2");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].id, "duplicate_parameter");
    }

    #[test]
    fn empty_value_is_kept() {
        let a = one("relay_domains =\n");
        assert_eq!(a.value, "");
    }
}
