//! `postmap` source files: `key whitespace value` on logical lines.
//!
//! The key ends at the first whitespace that is neither inside double
//! quotes nor escaped by a backslash; quotes and backslashes stay in the
//! stored key. A line without a value is skipped with a warning. The first
//! of several identical keys wins (the opposite of `main.cf`).

use crate::diag::SyntaxDiag;
use crate::postfix::is_space;
use crate::postfix::lines::logical_lines;
use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// As written (not lower-cased: fixed-key table types fold it, `-f`
    /// keeps it).
    pub key: String,
    pub key_span: Span,
    pub value: String,
}

/// Parses a postmap source text into records, in file order, duplicates
/// included (see [`first_wins`]).
pub fn parse_table_source(src: &str) -> (Vec<Record>, Vec<SyntaxDiag>) {
    let (lines, mut diags) = logical_lines(src);
    let mut out = Vec::with_capacity(lines.len());
    for line in &lines {
        let b = line.text.as_bytes();
        let mut i = 0;
        let mut in_quotes = false;
        while i < b.len() {
            match b[i] {
                b'\\' if i + 1 < b.len() => i += 1,
                b'"' => in_quotes = !in_quotes,
                c if !in_quotes && is_space(c) => break,
                _ => {}
            }
            i += 1;
        }
        let key_span = line.file_span(Span::new(0, i));
        if in_quotes {
            diags.push(SyntaxDiag::warning(
                "table_unbalanced_quote",
                key_span,
                "unbalanced `\"` in this key; postmap skips the line",
            ));
            continue;
        }
        let key = &line.text[..i];
        let value = line.text[i..].trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
        if value.is_empty() {
            diags.push(SyntaxDiag::warning(
                "table_missing_value",
                key_span,
                "expected `key whitespace value`; postmap skips this line",
            ));
            continue;
        }
        if key.ends_with(':') {
            diags.push(SyntaxDiag::warning(
                "table_alias_format",
                key_span,
                "this key ends in `:`, as in an aliases(5) file; postmap keeps the colon in the key",
            ));
        }
        out.push(Record {
            key: key.to_string(),
            key_span,
            value: value.to_string(),
        });
    }
    (out, diags)
}

/// Keeps the first record of each key (after `fold`), reporting the later
/// ones, as postmap does.
pub fn first_wins(records: Vec<Record>, fold: bool) -> (Vec<Record>, Vec<SyntaxDiag>) {
    let mut seen = std::collections::HashMap::with_capacity(records.len());
    let mut out = Vec::with_capacity(records.len());
    let mut diags = Vec::new();
    for mut r in records {
        if fold {
            r.key.make_ascii_lowercase();
        }
        match seen.get(&r.key) {
            Some(&first) => diags.push(
                SyntaxDiag::warning(
                    "table_duplicate_key",
                    r.key_span,
                    format!("duplicate key `{}`: the first one wins", r.key),
                )
                .with_related(first, "first definition"),
            ),
            None => {
                seen.insert(r.key.clone(), r.key_span);
                out.push(r);
            }
        }
    }
    (out, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmap_source_rules() {
        let src = "# virtual domains\nExample.COM   OK\nexample.net\tvalue with  spaces   \nmulti.example first\n  second\nexample.com  duplicate\nnovalue.example\n\"quoted key\"@example.org  q\nkey\\ with\\ bs v\nalias: x\n";
        let (recs, diags) = parse_table_source(src);
        let ids: Vec<_> = diags.iter().map(|d| d.id).collect();
        assert_eq!(ids, ["table_missing_value", "table_alias_format"]);
        let keys: Vec<_> = recs.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Example.COM",
                "example.net",
                "multi.example",
                "example.com",
                "\"quoted key\"@example.org",
                "key\\ with\\ bs",
                "alias:"
            ]
        );
        assert_eq!(recs[1].value, "value with  spaces");
        assert_eq!(recs[2].value, "first  second");
        let (recs, diags) = first_wins(recs, true);
        assert_eq!(recs[0].key, "example.com");
        assert_eq!(recs[0].value, "OK");
        assert_eq!(diags[0].id, "table_duplicate_key");
    }
}
