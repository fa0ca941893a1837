//! The `$name` expression language of Postfix parameter values
//! (`mac_parse.c` and `mac_expand.c`).
//!
//! * `$$` is a literal `$`;
//! * `$name`, `${name}`, `$(name)`: a reference; a bare name is the longest
//!   run of `[A-Za-z0-9_]`;
//! * `${name?text}`, `${name:text}`, `${name?{text}}`, `${name:{text}}`,
//!   `${name?{a}:{b}}`, `${name?{a}:b}`: conditionals on whether the (raw)
//!   value of `name` is non-empty;
//! * `${{a} OP {b}}` with `== != < <= >= >` and their `...level` forms,
//!   optionally followed by `?`/`:` branches as above.
//!
//! Only the branch that is taken is ever evaluated, and a syntax error in a
//! branch that is not taken is harmless to Postfix. So [`parse`] parses one
//! level and keeps branches as spans; whoever evaluates parses the taken
//! branch with [`parse`] again, and [`scan`] visits every branch (for
//! warnings and to find every name a value mentions).

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Ge,
    Gt,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Literal text.
    Text(Span),
    /// `$$`.
    Dollar(Span),
    /// `$name`, `${name}`, `$(name)`; `name` is the span of the name.
    Ref { name: Span, span: Span },
    /// `${name?...}` / `${name:...}`: `if_set` is used when the raw value of
    /// `name` is non-empty, `if_unset` otherwise.
    Cond {
        name: Span,
        span: Span,
        if_set: Option<Span>,
        if_unset: Option<Span>,
    },
    /// `${{left} OP {right}...}`; without branches it yields `true` or
    /// nothing.
    Compare {
        left: Span,
        op: CmpOp,
        level: bool,
        right: Span,
        span: Span,
        if_true: Option<Span>,
        if_false: Option<Span>,
    },
}

impl Node {
    /// Every span the node holds (for checks that spans stay in range).
    pub fn spans(&self) -> Vec<Span> {
        match self {
            Node::Text(s) | Node::Dollar(s) => vec![*s],
            Node::Ref { name, span } => vec![*name, *span],
            Node::Cond {
                name,
                span,
                if_set,
                if_unset,
            } => [Some(*name), Some(*span), *if_set, *if_unset]
                .into_iter()
                .flatten()
                .collect(),
            Node::Compare {
                left,
                right,
                span,
                if_true,
                if_false,
                ..
            } => [Some(*left), Some(*right), Some(*span), *if_true, *if_false]
                .into_iter()
                .flatten()
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// `$` at the end or before a character that starts no name.
    EmptyName,
    /// `${` or `$(` without its closing bracket.
    Truncated,
    /// A character that cannot appear in a name inside `${...}`.
    BadName,
    /// Text after a braced branch other than `:` and a second branch.
    ColonExpected,
    /// Not one of `== != < <= >= >` (optionally with `level`).
    BadOperator,
    /// A `{` group without its `}`.
    UnbalancedBrace,
    /// `${...}` nested more than [`MAX_NESTING`] levels deep.
    TooDeep,
}

/// Postfix's limit on nested expansion (`mac_expand`: "unreasonable macro
/// call nesting"), which also bounds the work spent on hostile input.
pub const MAX_NESTING: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub kind: ExprErrorKind,
    pub span: Span,
}

impl ExprError {
    pub fn message(&self) -> &'static str {
        match self.kind {
            ExprErrorKind::EmptyName => {
                "`$` is not followed by a parameter name (write `$$` for a literal `$`)"
            }
            ExprErrorKind::Truncated => "`${` or `$(` is never closed",
            ExprErrorKind::BadName => {
                "parameter name syntax error: only letters, digits and `_` may appear here"
            }
            ExprErrorKind::ColonExpected => "`:` expected after the `{...}` branch",
            ExprErrorKind::BadOperator => {
                "expected one of `==`, `!=`, `<`, `<=`, `>=`, `>` (optionally followed by `level`) between the two `{...}` operands"
            }
            ExprErrorKind::UnbalancedBrace => "`{` without a matching `}`",
            ExprErrorKind::TooDeep => {
                "`${...}` nested more than 100 levels deep: Postfix refuses this (\"unreasonable macro call nesting\")"
            }
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Parses `text[range]` one level deep. Spans are offsets into `text`,
/// on character boundaries.
pub fn parse(text: &str, range: Span) -> Result<Vec<Node>, ExprError> {
    parse_bytes(text, range).map_err(|e| ExprError {
        span: e.span.widen_to_chars(text),
        ..e
    })
}

fn parse_bytes(text: &str, range: Span) -> Result<Vec<Node>, ExprError> {
    let b = text.as_bytes();
    let end = range.end.min(b.len());
    let mut nodes = Vec::new();
    let mut i = range.start;
    let mut lit = i;
    while i < end {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if lit < i {
            nodes.push(Node::Text(Span::new(lit, i)));
        }
        let dollar = i;
        match b.get(i + 1).copied().filter(|_| i + 1 < end) {
            Some(b'$') => {
                nodes.push(Node::Dollar(Span::new(i, i + 2)));
                i += 2;
            }
            Some(open @ (b'{' | b'(')) => {
                let close = if open == b'{' { b'}' } else { b')' };
                let mut depth = 1usize;
                let mut j = i + 2;
                while j < end {
                    if b[j] == open {
                        depth += 1;
                    } else if b[j] == close {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                if j >= end {
                    return Err(ExprError {
                        kind: ExprErrorKind::Truncated,
                        span: Span::new(dollar, end),
                    });
                }
                nodes.push(parse_braced(
                    b,
                    Span::new(i + 2, j),
                    Span::new(dollar, j + 1),
                )?);
                i = j + 1;
            }
            Some(c) if is_name_byte(c) => {
                let mut j = i + 1;
                while j < end && is_name_byte(b[j]) {
                    j += 1;
                }
                nodes.push(Node::Ref {
                    name: Span::new(i + 1, j),
                    span: Span::new(dollar, j),
                });
                i = j;
            }
            _ => {
                return Err(ExprError {
                    kind: ExprErrorKind::EmptyName,
                    span: Span::new(dollar, dollar + 1),
                });
            }
        }
        lit = i;
    }
    if lit < end {
        nodes.push(Node::Text(Span::new(lit, end)));
    }
    Ok(nodes)
}

fn skip_blanks(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && is_blank(b[i]) {
        i += 1;
    }
    i
}

/// `{...}` at `i`: the span inside the braces and the index after `}`.
fn group(b: &[u8], i: usize, end: usize) -> Result<(Span, usize), ExprError> {
    let mut depth = 0usize;
    let mut j = i;
    while j < end {
        match b[j] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((Span::new(i + 1, j), j + 1));
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(ExprError {
        kind: ExprErrorKind::UnbalancedBrace,
        span: Span::new(i, end),
    })
}

/// The contents of `${...}` / `$(...)`.
fn parse_braced(b: &[u8], inner: Span, whole: Span) -> Result<Node, ExprError> {
    let end = inner.end;
    let p = skip_blanks(b, inner.start, end);
    if p < end && b[p] == b'{' {
        let (left, q) = group(b, p, end)?;
        let q = skip_blanks(b, q, end);
        let (op, len) = match (b.get(q).copied(), b.get(q + 1).copied()) {
            (Some(b'='), Some(b'=')) => (CmpOp::Eq, 2),
            (Some(b'!'), Some(b'=')) => (CmpOp::Ne, 2),
            (Some(b'<'), Some(b'=')) => (CmpOp::Le, 2),
            (Some(b'>'), Some(b'=')) => (CmpOp::Ge, 2),
            (Some(b'<'), _) => (CmpOp::Lt, 1),
            (Some(b'>'), _) => (CmpOp::Gt, 1),
            _ => {
                return Err(ExprError {
                    kind: ExprErrorKind::BadOperator,
                    span: Span::new(q, (q + 1).min(end)),
                });
            }
        };
        let mut q = q + len;
        let level = b[q.min(end)..end].starts_with(b"level");
        if level {
            q += 5;
        }
        let q = skip_blanks(b, q, end);
        if q >= end || b[q] != b'{' {
            return Err(ExprError {
                kind: ExprErrorKind::BadOperator,
                span: Span::new(q.min(end), (q + 1).min(end)),
            });
        }
        let (right, r) = group(b, q, end)?;
        let r = skip_blanks(b, r, end);
        let (if_true, if_false) = if r >= end {
            (None, None)
        } else {
            branches(b, r, end)?
        };
        return Ok(Node::Compare {
            left,
            op,
            level,
            right,
            span: whole,
            if_true,
            if_false,
        });
    }
    let mut q = p;
    while q < end && is_name_byte(b[q]) {
        q += 1;
    }
    let name = Span::new(p, q);
    if name.is_empty() {
        return Err(ExprError {
            kind: ExprErrorKind::BadName,
            span: Span::new(p, (p + 1).min(end)),
        });
    }
    let r = skip_blanks(b, q, end);
    if r >= end {
        return Ok(Node::Ref { name, span: whole });
    }
    if b[r] != b'?' && b[r] != b':' {
        return Err(ExprError {
            kind: ExprErrorKind::BadName,
            span: Span::new(r, r + 1),
        });
    }
    let (if_set, if_unset) = branches(b, r, end)?;
    Ok(Node::Cond {
        name,
        span: whole,
        if_set,
        if_unset,
    })
}

/// `?...` / `:...` at `r`: (text when true/set, text when false/unset).
fn branches(b: &[u8], r: usize, end: usize) -> Result<(Option<Span>, Option<Span>), ExprError> {
    let first_op = b[r];
    if first_op != b'?' && first_op != b':' {
        return Err(ExprError {
            kind: ExprErrorKind::ColonExpected,
            span: Span::new(r, r + 1),
        });
    }
    let text_start = r + 1;
    let s = skip_blanks(b, text_start, end);
    let first = if s < end && b[s] == b'{' {
        let (g, after) = group(b, s, end)?;
        let t = skip_blanks(b, after, end);
        if t >= end {
            g
        } else if b[t] == b':' && first_op == b'?' {
            let u = skip_blanks(b, t + 1, end);
            let second = if u < end && b[u] == b'{' {
                let (g2, after2) = group(b, u, end)?;
                let v = skip_blanks(b, after2, end);
                if v < end {
                    return Err(ExprError {
                        kind: ExprErrorKind::ColonExpected,
                        span: Span::new(v, v + 1),
                    });
                }
                g2
            } else {
                Span::new(t + 1, end)
            };
            return Ok((Some(g), Some(second)));
        } else {
            return Err(ExprError {
                kind: ExprErrorKind::ColonExpected,
                span: Span::new(t, t + 1),
            });
        }
    } else {
        Span::new(text_start, end)
    };
    Ok(if first_op == b'?' {
        (Some(first), None)
    } else {
        (None, Some(first))
    })
}

/// A name mentioned by a value, in any branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mention {
    pub name: Span,
}

/// Visits every branch of `text`: returns every name mentioned (as `$name`
/// or in a conditional) and every syntax error, in order. Used for
/// warnings, and to learn which user-defined parameters a value refers to.
pub fn scan(text: &str) -> (Vec<Mention>, Vec<ExprError>) {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    // Each range with its nesting depth: deeper than Postfix goes is an
    // error, and it keeps hostile nesting from costing depth × length.
    let mut todo = vec![(Span::new(0, text.len()), 0usize)];
    while let Some((range, depth)) = todo.pop() {
        if depth > MAX_NESTING {
            errors.push(ExprError {
                kind: ExprErrorKind::TooDeep,
                span: Span::char_at(text, range.start),
            });
            continue;
        }
        let inner = depth + 1;
        match parse(text, range) {
            Ok(nodes) => {
                for n in nodes.iter().rev() {
                    match n {
                        Node::Text(_) | Node::Dollar(_) => {}
                        Node::Ref { name, .. } => names.push(Mention { name: *name }),
                        Node::Cond {
                            name,
                            if_set,
                            if_unset,
                            ..
                        } => {
                            names.push(Mention { name: *name });
                            todo.extend(if_unset.iter().chain(if_set.iter()).map(|b| (*b, inner)));
                        }
                        Node::Compare {
                            left,
                            right,
                            if_true,
                            if_false,
                            ..
                        } => {
                            todo.extend(if_false.iter().chain(if_true.iter()).map(|b| (*b, inner)));
                            todo.push((*right, inner));
                            todo.push((*left, inner));
                        }
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    names.sort_by_key(|m| m.name.start);
    errors.sort_by_key(|e| e.span.start);
    (names, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<Node>, ExprError> {
        parse(s, Span::new(0, s.len()))
    }

    fn slice(s: &str, sp: Span) -> &str {
        &s[sp.range()]
    }

    #[test]
    fn reference_forms() {
        let s = "$a|${ b }|$(c)|$$|$d{e}";
        let n = p(s).unwrap();
        let names: Vec<&str> = n
            .iter()
            .filter_map(|n| match n {
                Node::Ref { name, .. } => Some(slice(s, *name)),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert!(matches!(n.last(), Some(Node::Text(sp)) if slice(s, *sp) == "{e}"));
    }

    #[test]
    fn brackets_are_matched_per_kind() {
        let s = "$(a?${b})";
        assert!(p(s).is_ok());
        assert_eq!(p("$(mydomain})").unwrap_err().kind, ExprErrorKind::BadName);
    }

    #[test]
    fn conditionals() {
        let s = "${full?{ X }:Y z}";
        match &p(s).unwrap()[0] {
            Node::Cond {
                if_set, if_unset, ..
            } => {
                assert_eq!(slice(s, if_set.unwrap()), " X ");
                assert_eq!(slice(s, if_unset.unwrap()), "Y z");
            }
            n => panic!("{n:?}"),
        }
        let s = "${full?a:b}";
        match &p(s).unwrap()[0] {
            Node::Cond {
                if_set, if_unset, ..
            } => {
                assert_eq!(slice(s, if_set.unwrap()), "a:b");
                assert!(if_unset.is_none());
            }
            n => panic!("{n:?}"),
        }
    }

    #[test]
    fn comparison() {
        let s = "${{$a} <level {2} ? {x} : {}}";
        match &p(s).unwrap()[0] {
            Node::Compare {
                op,
                level,
                left,
                if_false,
                ..
            } => {
                assert_eq!(*op, CmpOp::Lt);
                assert!(level);
                assert_eq!(slice(s, *left), "$a");
                assert_eq!(slice(s, if_false.unwrap()), "");
            }
            n => panic!("{n:?}"),
        }
    }

    #[test]
    fn errors() {
        assert_eq!(p("abc$").unwrap_err().kind, ExprErrorKind::EmptyName);
        assert_eq!(p("a $ b").unwrap_err().kind, ExprErrorKind::EmptyName);
        assert_eq!(p("${x").unwrap_err().kind, ExprErrorKind::Truncated);
        assert_eq!(p("${my-domain}").unwrap_err().kind, ExprErrorKind::BadName);
        assert_eq!(
            p("${a?{x} junk}").unwrap_err().kind,
            ExprErrorKind::ColonExpected
        );
        assert_eq!(
            p("${{a} = {b}}").unwrap_err().kind,
            ExprErrorKind::BadOperator
        );
        assert_eq!(
            p("${mydomain == x ? {a} : {b}}").unwrap_err().kind,
            ExprErrorKind::BadName
        );
    }

    #[test]
    fn scan_sees_untaken_branches() {
        let s = "${full?{ok}:{${bad-name}}} $x";
        let (names, errors) = scan(s);
        let names: Vec<&str> = names.iter().map(|m| slice(s, m.name)).collect();
        assert_eq!(names, ["full", "x"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ExprErrorKind::BadName);
    }
}
