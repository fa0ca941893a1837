//! `type:name` lookup table references and the tables written inline in a
//! parameter value (`inline:{...}`, `unionmap:{...}`, `pipemap:{...}`).

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take_while1;
use nom::character::complete::char;

use crate::diag::SyntaxDiag;
use crate::postfix::list::tokens;
use crate::postfix::master_cf::{split_nameval, strip_braces};
use crate::span::Span;

/// A parsed table reference. `name` may itself be a reference (`proxy:`)
/// or a `{...}` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRef<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

fn table_type(input: &str) -> IResult<&str, &str> {
    let (rest, (kind, _)) = (
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        char(':'),
    )
        .parse(input)?;
    Ok((rest, kind))
}

/// Splits `type:name` at the first colon. `None` when there is no type.
pub fn parse_table_ref(text: &str) -> Option<TableRef<'_>> {
    let (name, kind) = table_type(text).ok()?;
    Some(TableRef { kind, name })
}

impl<'a> TableRef<'a> {
    /// Strips any number of `proxy:` wrappers: they forward the same lookup
    /// to proxymap, so for reading the table they are transparent.
    pub fn unproxied(self) -> Option<TableRef<'a>> {
        let mut t = self;
        while t.kind == "proxy" {
            t = parse_table_ref(t.name)?;
        }
        Some(t)
    }
}

/// The members of a `{a, b, ...}` block (`unionmap:`, `pipemap:`,
/// `randmap:`): the text inside the braces, split like a list.
pub fn block_members(name: &str) -> Result<Vec<&str>, &'static str> {
    let (inner, missing) = strip_braces(name);
    if !name.starts_with('{') || missing {
        return Err("expected `{...}`");
    }
    Ok(tokens(inner)
        .into_iter()
        .map(|s| &inner[s.range()])
        .collect())
}

/// One `key = value` of an `inline:{...}` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineEntry {
    /// Lower-cased, like every fixed-key table.
    pub key: String,
    pub value: String,
}

/// Parses the `{...}` part of `inline:{ k1=v1, { k2 = v w }, ... }`. Every
/// element needs `=`; an empty block is an error (Postfix refuses both).
pub fn parse_inline(name: &str) -> (Vec<InlineEntry>, Vec<SyntaxDiag>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let members = match block_members(name) {
        Ok(m) => m,
        Err(e) => {
            diags.push(SyntaxDiag::error(
                "inline_syntax",
                Span::new(0, name.len()),
                format!("bad inline table: {e}"),
            ));
            return (out, diags);
        }
    };
    if members.is_empty() {
        diags.push(SyntaxDiag::error(
            "inline_syntax",
            Span::new(0, name.len()),
            "an inline table needs at least one `name=value`",
        ));
    }
    for m in members {
        let (inner, _) = strip_braces(m);
        match split_nameval(inner) {
            Some((k, v)) => out.push(InlineEntry {
                key: k.to_ascii_lowercase(),
                value: v.to_string(),
            }),
            None => diags.push(SyntaxDiag::error(
                "inline_syntax",
                Span::new(0, name.len()),
                format!("missing `=` in inline table element `{m}`"),
            )),
        }
    }
    (out, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let t = parse_table_ref("proxy:proxy:mysql:/etc/postfix/x.cf").unwrap();
        assert_eq!(t.kind, "proxy");
        let t = t.unproxied().unwrap();
        assert_eq!((t.kind, t.name), ("mysql", "/etc/postfix/x.cf"));
        assert!(parse_table_ref("/etc/x").is_none());
        assert!(parse_table_ref(":x").is_none());
    }

    #[test]
    fn inline_tables() {
        let (e, d) = parse_inline("{ a.example=1, { b.example = two words }, C.Example=3 }");
        assert!(d.is_empty());
        assert_eq!(e[1].key, "b.example");
        assert_eq!(e[1].value, "two words");
        assert_eq!(e[2].key, "c.example");
        assert!(parse_inline("{ a=1, c }").1[0].is_error());
        assert!(parse_inline("{}").1[0].is_error());
    }

    #[test]
    fn union_members() {
        assert_eq!(
            block_members("{inline:{a=1}, hash:/x}").unwrap(),
            ["inline:{a=1}", "hash:/x"]
        );
    }
}
