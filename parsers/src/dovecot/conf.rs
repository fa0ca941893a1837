//! One Dovecot configuration file, line by line, as `config_parse_line()`
//! reads it.
//!
//! Per physical line: leading blanks are skipped; empty lines and lines
//! starting with `#` vanish; a `#` outside quotes ends the line (a warning
//! when no blank precedes it); trailing blanks go; a line ending in `\` is
//! joined to the next with exactly one space. Each logical line is then
//! one of:
//!
//! * `!include PATTERN` / `!include_try PATTERN` (pattern taken verbatim);
//! * `key = value`, where the value is `<path` (read from a file),
//!   `"quoted"` / `'quoted'` (unescaped), or plain text (which may hold
//!   `$references`);
//! * `}`: end of section;
//! * `type [name] {`: start of a section (2.4 also `group @label name {`).

use crate::diag::SyntaxDiag;
use crate::offset_map::OffsetMap;
use crate::span::Span;

/// Which grammar to apply. 2.4 differs in the whitespace class, quoted
/// keys, `group` sections and heredoc values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dialect {
    pub v2_4: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Unquoted text, as written (may contain `$name`, `$ENV:x`, `$SET:x`).
    Plain(String),
    /// A quoted value with quotes removed and escapes processed.
    Quoted(String),
    /// `<path`: the value is the contents of that file.
    File(String),
    /// 2.4.5 heredoc `<<MARKER ... MARKER`: the lines in between, each
    /// followed by a newline.
    Heredoc(String),
}

impl Value {
    /// The text of the value as doveconf shows it without `-x`.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::Plain(s) | Value::Quoted(s) | Value::Heredoc(s) => s.into(),
            Value::File(p) => format!("<{p}").into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Include {
        optional: bool,
        pattern: String,
        span: Span,
    },
    Assign {
        key: String,
        key_span: Span,
        value: Value,
        value_span: Span,
        span: Span,
    },
    Open {
        kind: String,
        kind_span: Span,
        /// The section name (`service imap-login {`); for 2.4 `group @l n {`
        /// this is `@l`.
        name: Option<String>,
        name_span: Span,
        /// 2.4 groups only: the group's own name.
        group_name: Option<String>,
        span: Span,
    },
    Close {
        span: Span,
    },
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Include { span, .. }
            | Item::Assign { span, .. }
            | Item::Open { span, .. }
            | Item::Close { span } => *span,
        }
    }
}

fn is_white(d: Dialect, b: u8) -> bool {
    if d.v2_4 {
        matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c | b'\n')
    } else {
        matches!(b, b' ' | b'\t')
    }
}

struct Logical {
    text: String,
    map: OffsetMap,
    span: Span,
}

/// Parses one file. Syntax errors are returned beside the items; the line
/// in error contributes no item.
pub fn parse_conf(src: &str, dialect: Dialect) -> (Vec<Item>, Vec<SyntaxDiag>) {
    let mut items = Vec::new();
    let mut diags = Vec::new();
    let mut pending: Option<Logical> = None;
    let mut heredoc: Option<(String, String, Span, Span, Span, String)> = None;
    let mut pos = 0usize;
    for raw in src.split_inclusive('\n') {
        let line_start = pos;
        pos += raw.len();
        let mut line = raw.strip_suffix('\n').unwrap_or(raw);
        line = line.strip_suffix('\r').unwrap_or(line);

        if let Some((key, marker, key_span, vstart, whole, mut body)) = heredoc.take() {
            if line == marker {
                items.push(Item::Assign {
                    key,
                    key_span,
                    value: Value::Heredoc(body),
                    value_span: vstart.cover(Span::new(line_start, line_start + line.len())),
                    span: whole.cover(Span::new(line_start, line_start + line.len())),
                });
            } else {
                body.push_str(line);
                body.push('\n');
                heredoc = Some((key, marker, key_span, vstart, whole, body));
            }
            continue;
        }

        let b = line.as_bytes();
        let mut s = 0;
        while s < b.len() && is_white(dialect, b[s]) {
            s += 1;
        }
        if s == b.len() || b[s] == b'#' {
            // doveconf silently discards a continued line that is followed
            // by a blank or comment line.
            if let Some(l) = pending.take() {
                diags.push(dropped_continuation(l.span));
            }
            continue;
        }
        // Strip a comment, paying attention to quotes.
        let mut end = b.len();
        let mut p = s;
        while p < b.len() {
            match b[p] {
                q @ (b'\'' | b'"') => {
                    p += 1;
                    while p < b.len() && b[p] != q {
                        if b[p] == b'\\' && p + 1 < b.len() {
                            p += 1;
                        }
                        p += 1;
                    }
                    if p >= b.len() {
                        break;
                    }
                }
                b'#' => {
                    if !is_white(dialect, b[p - 1]) {
                        diags.push(SyntaxDiag::warning(
                            "ambiguous_comment",
                            Span::new(line_start + p, line_start + p + 1),
                            "`#` without a blank before it: Dovecot treats the rest of the line as a comment (add a space before `#`, or quote the value)",
                        ));
                    }
                    end = p;
                    break;
                }
                _ => {}
            }
            p += 1;
        }
        while end > s && is_white(dialect, b[end - 1]) {
            end -= 1;
        }
        let piece = &line[s..end];
        let file_at = line_start + s;
        if let Some(stripped) = piece.strip_suffix('\\') {
            let stripped =
                stripped.trim_end_matches(|c: char| c.is_ascii() && is_white(dialect, c as u8));
            let l = pending.get_or_insert_with(|| Logical {
                text: String::new(),
                map: OffsetMap::default(),
                span: Span::at(file_at),
            });
            l.map.pieces.push((l.text.len(), file_at));
            l.text.push_str(stripped);
            l.text.push(' ');
            l.span.end = line_start + end;
            continue;
        }
        let logical = match pending.take() {
            Some(mut l) => {
                l.map.pieces.push((l.text.len(), file_at));
                l.text.push_str(piece);
                l.span.end = line_start + end;
                l
            }
            None => Logical {
                text: piece.to_string(),
                map: OffsetMap::contiguous(file_at),
                span: Span::new(file_at, line_start + end),
            },
        };
        match classify(&logical, dialect, &mut diags) {
            Ok(Classified::Item(item)) => items.push(item),
            Ok(Classified::Heredoc {
                key,
                key_span,
                marker,
                value_start,
            }) => {
                heredoc = Some((
                    key,
                    marker,
                    key_span,
                    value_start,
                    logical.span,
                    String::new(),
                ))
            }
            Err(d) => diags.push(d),
        }
    }
    if let Some(l) = pending {
        diags.push(dropped_continuation(l.span));
    }
    if let Some((_, _, key_span, ..)) = heredoc {
        diags.push(unterminated_heredoc(key_span));
    }
    (items, diags)
}

fn dropped_continuation(at: Span) -> SyntaxDiag {
    SyntaxDiag::warning(
        "continuation_dropped",
        at,
        "this line ends in `\\` but the next line is blank, a comment or missing: Dovecot silently ignores the whole line",
    )
}

fn unterminated_heredoc(at: Span) -> SyntaxDiag {
    SyntaxDiag::error(
        "unterminated_heredoc",
        at,
        "this `<<MARKER` value never ends: no line consists of the marker alone",
    )
}

enum Classified {
    Item(Item),
    Heredoc {
        key: String,
        key_span: Span,
        marker: String,
        value_start: Span,
    },
}

/// Removes quotes and escapes of a quoted string (without its quotes).
/// 2.3 and the 2.4.1 build turn `\x` into `x`; later 2.4 releases only
/// accept `\\` and `\"`, so under 2.4 other escapes are reported.
fn unescape(s: &str, dialect: Dialect, at: Span, diags: &mut Vec<SyntaxDiag>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) => {
                    if dialect.v2_4 && n != '\\' && n != '"' {
                        diags.push(SyntaxDiag::warning(
                            "unknown_escape",
                            at,
                            format!("`\\{n}` is read as `{n}` by Dovecot 2.3 and 2.4.1 but refused by Dovecot 2.4.2 and later (only `\\\\` and `\\\"` are escapes)"),
                        ));
                    }
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn classify(
    l: &Logical,
    d: Dialect,
    warnings: &mut Vec<SyntaxDiag>,
) -> Result<Classified, SyntaxDiag> {
    let t = l.text.as_str();
    let b = t.as_bytes();
    let span = |a: usize, z: usize| l.map.file_span(Span::new(a, z));
    let mut i = 0;
    // The key: up to whitespace or `=`; 2.4 also accepts a quoted key.
    let key: String;
    let key_end;
    if d.v2_4 && b.first() == Some(&b'"') {
        let mut j = 1;
        while j < b.len() && b[j] != b'"' {
            if b[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        if j >= b.len() {
            return Err(SyntaxDiag::error(
                "unterminated_quote",
                span(0, b.len()),
                "the quoted key has no closing `\"`",
            ));
        }
        key = unescape(&t[1..j], d, span(0, j + 1), warnings);
        key_end = j + 1;
        i = key_end;
    } else {
        while i < b.len() && !is_white(d, b[i]) && b[i] != b'=' {
            i += 1;
        }
        key = t[..i].to_string();
        key_end = i;
    }
    let key_span = span(0, key_end);
    while i < b.len() && is_white(d, b[i]) {
        i += 1;
    }
    if key == "!include" || key == "!include_try" {
        return Ok(Classified::Item(Item::Include {
            optional: key == "!include_try",
            pattern: t[i..].to_string(),
            span: l.span,
        }));
    }
    if i < b.len() && b[i] == b'=' {
        i += 1;
        while i < b.len() && is_white(d, b[i]) {
            i += 1;
        }
        let rest = &t[i..];
        let value_span = span(i, b.len());
        let value = if d.v2_4 && rest.starts_with("<<") {
            let marker = rest[2..].trim().to_string();
            if marker.is_empty() {
                return Err(SyntaxDiag::error(
                    "heredoc_marker",
                    value_span,
                    "`<<` must be followed by an end marker",
                ));
            }
            return Ok(Classified::Heredoc {
                key,
                key_span,
                marker,
                value_start: value_span,
            });
        } else if let Some(path) = rest.strip_prefix('<') {
            Value::File(
                path.trim_start_matches(|c: char| c.is_ascii() && is_white(d, c as u8))
                    .to_string(),
            )
        } else if !rest.starts_with(['"', '\'']) && rest.contains('$') {
            Value::Plain(rest.to_string())
        } else if rest.len() >= 2
            && ((rest.starts_with('"') && rest.ends_with('"'))
                || (rest.starts_with('\'') && rest.ends_with('\'')))
        {
            Value::Quoted(unescape(&rest[1..rest.len() - 1], d, value_span, warnings))
        } else {
            Value::Plain(rest.to_string())
        };
        return Ok(Classified::Item(Item::Assign {
            key,
            key_span,
            value,
            value_span,
            span: l.span,
        }));
    }
    if key == "}" && i >= b.len() {
        return Ok(Classified::Item(Item::Close { span: l.span }));
    }
    // A section: `kind {`, `kind name {`, `kind "quoted name" {`.
    let mut name = None;
    let mut name_span = Span::at(l.map.file_offset(i));
    let mut group_name = None;
    if i < b.len() && !(b[i] == b'{' && i + 1 == b.len()) {
        let (n, ns, next) = section_word(t, i, d, &l.map, warnings)?;
        name = Some(n);
        name_span = ns;
        i = next;
        if d.v2_4 && key == "group" && i < b.len() && b[i] != b'{' {
            let (g, _, next) = section_word(t, i, d, &l.map, warnings)?;
            group_name = Some(g);
            i = next;
        }
    }
    if i >= b.len() || b[i] != b'{' {
        return Err(SyntaxDiag::error(
            "expecting_brace",
            span(i.min(b.len()), b.len()),
            "expected `{`: a section start is `type [name] {` on one line; a setting is `key = value`",
        ));
    }
    if i + 1 != b.len() {
        return Err(SyntaxDiag::error(
            "garbage_after_brace",
            span(i + 1, b.len()),
            "nothing may follow `{` on the same line: put each setting and the closing `}` on lines of their own",
        ));
    }
    Ok(Classified::Item(Item::Open {
        kind: key,
        kind_span: key_span,
        name,
        name_span,
        group_name,
        span: l.span,
    }))
}

/// A section name at `i`: one blank-free word or a double-quoted string.
/// Returns the name, its span and the index after the blanks that follow.
fn section_word(
    t: &str,
    mut i: usize,
    d: Dialect,
    map: &OffsetMap,
    warnings: &mut Vec<SyntaxDiag>,
) -> Result<(String, Span, usize), SyntaxDiag> {
    let b = t.as_bytes();
    let start = i;
    let name;
    if b[i] == b'"' {
        i += 1;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        if i >= b.len() {
            return Err(SyntaxDiag::error(
                "unterminated_quote",
                map.file_span(Span::new(start, b.len())),
                "the quoted section name has no closing `\"`",
            ));
        }
        name = unescape(
            &t[start + 1..i],
            d,
            map.file_span(Span::new(start, i + 1)),
            warnings,
        );
        i += 1;
    } else {
        while i < b.len() && !is_white(d, b[i]) {
            i += 1;
        }
        name = t[start..i].to_string();
    }
    let name_span = map.file_span(Span::new(start, i));
    while i < b.len() && is_white(d, b[i]) {
        i += 1;
    }
    Ok((name, name_span, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V23: Dialect = Dialect { v2_4: false };
    const V24: Dialect = Dialect { v2_4: true };

    fn items(src: &str) -> Vec<Item> {
        let (items, diags) = parse_conf(src, V23);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        items
    }

    fn assign(item: &Item) -> (&str, &Value) {
        match item {
            Item::Assign { key, value, .. } => (key, value),
            i => panic!("{i:?}"),
        }
    }

    #[test]
    fn comments_quotes_and_continuation() {
        let src = "ssl_cipher_list = ALL#x\nlogin_greeting = \"hello # not\"\nprotocols = imap \\\n     pop3   \\\n  lmtp\na = hello\\\nworld\nb = x \\\n\nc = y \\\n# c\n";
        let (it, diags) = parse_conf(src, V23);
        assert_eq!(diags[0].id, "ambiguous_comment");
        assert_eq!(
            assign(&it[0]),
            ("ssl_cipher_list", &Value::Plain("ALL".into()))
        );
        assert_eq!(assign(&it[1]).1, &Value::Quoted("hello # not".into()));
        assert_eq!(assign(&it[2]).1, &Value::Plain("imap pop3 lmtp".into()));
        assert_eq!(assign(&it[3]).1, &Value::Plain("hello world".into()));
        assert_eq!(
            it.len(),
            4,
            "continuations followed by blank or comment lines vanish"
        );
        assert_eq!(
            diags
                .iter()
                .filter(|d| d.id == "continuation_dropped")
                .count(),
            2
        );
    }

    #[test]
    fn value_forms() {
        let it = items(
            "a==x\nb = a = b\nc = \"x\\ty\\\\z\"\nd = < certs/x.pem\ne = $mail_plugins quota\nf = \"abc\ng = '10.0.0.0/8 ::1'\n",
        );
        assert_eq!(assign(&it[0]).1, &Value::Plain("=x".into()));
        assert_eq!(assign(&it[1]).1, &Value::Plain("a = b".into()));
        assert_eq!(assign(&it[2]).1, &Value::Quoted("xty\\z".into()));
        assert_eq!(assign(&it[3]).1, &Value::File("certs/x.pem".into()));
        assert_eq!(
            assign(&it[4]).1,
            &Value::Plain("$mail_plugins quota".into())
        );
        assert_eq!(assign(&it[5]).1, &Value::Plain("\"abc".into()));
        assert_eq!(assign(&it[6]).1, &Value::Quoted("10.0.0.0/8 ::1".into()));
    }

    #[test]
    fn sections_and_includes() {
        let it = items(
            "service imap-login {\n  inet_listener imaps {\n  }\n}\nnamespace \"my inbox\" {\n}\n!include conf.d/*.conf\n!include_try \"x y\"\n",
        );
        assert!(
            matches!(&it[0], Item::Open { kind, name: Some(n), .. } if kind == "service" && n == "imap-login")
        );
        assert!(matches!(&it[4], Item::Open { name: Some(n), .. } if n == "my inbox"));
        assert!(
            matches!(&it[6], Item::Include { optional: false, pattern, .. } if pattern == "conf.d/*.conf")
        );
        assert!(
            matches!(&it[7], Item::Include { optional: true, pattern, .. } if pattern == "\"x y\"")
        );
    }

    #[test]
    fn section_errors() {
        for (src, id) in [
            (
                "service imap-login { inet_listener imap { port = 0 } }\n",
                "garbage_after_brace",
            ),
            ("service imap-login{\n", "expecting_brace"),
            ("service imap-login\n{\n", "expecting_brace"),
            ("login_greeting\n", "expecting_brace"),
        ] {
            let (_, d) = parse_conf(src, V23);
            assert_eq!(d[0].id, id, "{src}");
            assert!(d[0].is_error());
        }
    }

    #[test]
    fn dialect_2_4() {
        let (it, _) = parse_conf(
            "\"login_greeting\" = x\ngroup @sqlconf default {\n}\nk = <<END\nline 1\n  # not a comment\nEND\n",
            V24,
        );
        assert_eq!(assign(&it[0]).0, "login_greeting");
        assert!(
            matches!(&it[1], Item::Open { kind, name: Some(n), group_name: Some(g), .. } if kind == "group" && n == "@sqlconf" && g == "default")
        );
        assert_eq!(
            assign(&it[3]).1,
            &Value::Heredoc("line 1\n  # not a comment\n".into())
        );
    }

    #[test]
    fn spans_point_into_the_file() {
        let src = "# c\n  hostname = mail.example.com\n";
        let (it, _) = parse_conf(src, V23);
        match &it[0] {
            Item::Assign {
                key_span,
                value_span,
                ..
            } => {
                assert_eq!(&src[key_span.range()], "hostname");
                assert_eq!(&src[value_span.range()], "mail.example.com");
            }
            i => panic!("{i:?}"),
        }
    }
}
