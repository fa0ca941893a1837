//! Postfix match lists (`mydestination`, `virtual_mailbox_domains`,
//! `relay_domains`, ...), after `$name` expansion: the grammar of
//! `match_list.c`.
//!
//! Tokens are separated by commas and whitespace; `{...}` keeps a token
//! together (its braces stay part of a plain pattern). A token that starts
//! with `#` ends the list. Leading `!` characters toggle negation. A token
//! that starts with `/` names a file whose lines are lists themselves; a
//! token that contains `:` (and does not start with `[`) is a `type:table`
//! reference; anything else is a pattern.

use crate::diag::SyntaxDiag;
use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A literal name (lower-cased, as Postfix compares them).
    Pattern(String),
    /// `/file/name`: replaced by the lists on the lines of that file.
    File(String),
    /// `type:name`.
    Table(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub negated: bool,
    pub item: Item,
    pub span: Span,
}

fn is_sep(b: u8) -> bool {
    matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits on commas and whitespace with `{}` grouping, like `mystrtokq()`.
pub fn tokens(text: &str) -> Vec<Span> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_sep(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        while i < b.len() && (depth > 0 || !is_sep(b[i])) {
            match b[i] {
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        out.push(Span::new(start, i));
    }
    out
}

/// Parses one list value (or one line of a `/file` list).
pub fn parse_list(text: &str) -> (Vec<Entry>, Vec<SyntaxDiag>) {
    let mut entries = Vec::new();
    let mut diags = Vec::new();
    for span in tokens(text) {
        let tok = &text[span.range()];
        if tok.starts_with('#') {
            diags.push(SyntaxDiag::warning(
                "list_comment",
                Span::new(span.start, text.len()),
                "a `#` inside a list value ends the list here: Postfix ignores the rest (comments are only allowed on lines of their own)",
            ));
            break;
        }
        let bangs = tok.bytes().take_while(|&c| c == b'!').count();
        let rest = &tok[bangs..];
        if rest.is_empty() {
            diags.push(SyntaxDiag::error(
                "list_empty_negation",
                span,
                "`!` must be followed by a pattern",
            ));
            continue;
        }
        let item = if rest.starts_with('/') {
            Item::File(rest.to_string())
        } else if !rest.starts_with('[') && rest.contains(':') {
            Item::Table(rest.to_string())
        } else {
            Item::Pattern(rest.to_ascii_lowercase())
        };
        entries.push(Entry {
            negated: bangs % 2 == 1,
            item,
            span,
        });
    }
    (entries, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_empty_elements_and_case() {
        let (e, d) = parse_list("A.Example,,b.example c.example");
        assert!(d.is_empty());
        let names: Vec<_> = e
            .iter()
            .map(|e| match &e.item {
                Item::Pattern(p) => p.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(names, ["a.example", "b.example", "c.example"]);
    }

    #[test]
    fn comment_token_ends_the_list() {
        let (e, d) = parse_list("a.example # b.example");
        assert_eq!(e.len(), 1);
        assert_eq!(d[0].id, "list_comment");
    }

    #[test]
    fn negation_files_tables_and_braces() {
        let (e, _) = parse_list(
            "!!a, !/etc/x, inline:{ a=1, b=2 }, mail.example:25, [1.2.3.4], {a.example}",
        );
        assert!(!e[0].negated);
        assert!(e[1].negated);
        assert_eq!(e[1].item, Item::File("/etc/x".into()));
        assert_eq!(e[2].item, Item::Table("inline:{ a=1, b=2 }".into()));
        assert_eq!(e[3].item, Item::Table("mail.example:25".into()));
        assert_eq!(e[4].item, Item::Pattern("[1.2.3.4]".into()));
        assert_eq!(e[5].item, Item::Pattern("{a.example}".into()));
    }

    #[test]
    fn lone_bang_is_an_error() {
        let (e, d) = parse_list("!");
        assert!(e.is_empty());
        assert!(d[0].is_error());
    }
}
