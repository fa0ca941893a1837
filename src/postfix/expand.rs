//! Evaluating `$name` expressions against a parameter name space, the way
//! `mac_expand()` does when a daemon reads its configuration.
//!
//! A [`Scope`] says what a name means (a master.cf `-o` override, a main.cf
//! setting, or a built-in default); the [`Expander`] walks the expression
//! tree of the parsers crate, expanding only the branch that is taken.
//! Recursion deeper than 100 levels is an error, which is how Postfix turns
//! every reference loop into an error instead of a hang.

use std::borrow::Cow;
use std::cmp::Ordering;

use mailconf_parsers::Span;
use mailconf_parsers::postfix::expr::{self, CmpOp, ExprError, Node};

use super::defaults::Computed;

/// Where a raw value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// main.cf, index into its assignments.
    Main(usize),
    /// master.cf `-o` of service `service`, index into its overrides.
    Override { service: usize, index: usize },
    /// A built-in default expression.
    Default,
    /// A host-dependent default.
    Computed(Computed),
}

#[derive(Clone, Debug)]
pub struct Raw<'a> {
    pub text: Cow<'a, str>,
    pub origin: Origin,
}

/// A parameter name space.
pub trait Scope {
    /// The raw (unexpanded) value of `name`, if it has one.
    fn raw(&self, name: &str) -> Option<Raw<'_>>;
    /// The machine's host name (for the `myhostname` default).
    fn host_name(&self) -> &str;
    /// Whether `mydomain` is explicitly set (the `myhostname` default
    /// appends it only then; otherwise `localdomain`).
    fn has_explicit(&self, name: &str) -> bool;
}

/// Which value an error was found in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandErrorKind {
    Syntax(ExprError),
    /// More than 100 nested references or conditionals: nesting Postfix
    /// refuses.
    Nesting,
    /// A parameter whose expansion needs itself: the names from it back to
    /// it (Postfix runs into its nesting limit).
    Loop(Vec<String>),
    /// A `...level` operand that is not `major[.minor[.patch]]`.
    BadLevel(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpandError {
    pub kind: ExpandErrorKind,
    /// The parameter whose text holds the problem.
    pub owner: Owner,
}

impl ExpandError {
    pub fn message(&self) -> String {
        match &self.kind {
            ExpandErrorKind::Syntax(e) => e.message().to_string(),
            ExpandErrorKind::Nesting => format!(
                "expanding `${}` goes more than 100 levels deep: Postfix refuses it (\"unreasonable macro call nesting\")",
                self.owner.name
            ),
            ExpandErrorKind::Loop(chain) => format!(
                "`${}` refers back to itself ({}): Postfix refuses such a loop (\"unreasonable macro call nesting\")",
                self.owner.name,
                chain.join(" → ")
            ),
            ExpandErrorKind::BadLevel(t) => {
                format!("malformed compatibility level `{t}` (expected a number like 2 or 3.6)")
            }
        }
    }

    /// The span inside the owner's text, when known.
    pub fn span(&self) -> Option<Span> {
        match &self.kind {
            ExpandErrorKind::Syntax(e) => Some(e.span),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = expr::MAX_NESTING;

/// Expands values in one scope, remembering the undefined names it met.
pub struct Expander<'s> {
    scope: &'s dyn Scope,
    /// `(name, owner)` of each reference to a name without any value.
    pub undefined: Vec<(String, Owner)>,
    /// The parameters being expanded, outermost first: meeting one again
    /// is a loop, reported at once rather than 100 levels later.
    active: Vec<String>,
}

impl<'s> Expander<'s> {
    pub fn new(scope: &'s dyn Scope) -> Expander<'s> {
        Expander {
            scope,
            undefined: Vec::new(),
            active: Vec::new(),
        }
    }

    /// The fully expanded value of parameter `name`; `None` when it has no
    /// value at all (neither set nor a default).
    pub fn value(&mut self, name: &str) -> Result<Option<String>, ExpandError> {
        self.param(name, 0)
    }

    /// Expands `text`, which belongs to `owner`.
    pub fn expand(&mut self, text: &str, owner: &Owner) -> Result<String, ExpandError> {
        self.expand_range(text, Span::new(0, text.len()), owner, 0)
    }

    fn param(&mut self, name: &str, depth: usize) -> Result<Option<String>, ExpandError> {
        let Some(raw) = self.scope.raw(name) else {
            return Ok(None);
        };
        let owner = Owner {
            name: name.to_string(),
            origin: raw.origin,
        };
        if let Some(first) = self.active.iter().position(|a| a == name) {
            let mut chain = self.active[first..].to_vec();
            chain.push(name.to_string());
            return Err(ExpandError {
                kind: ExpandErrorKind::Loop(chain),
                owner,
            });
        }
        if depth > MAX_DEPTH {
            return Err(ExpandError {
                kind: ExpandErrorKind::Nesting,
                owner,
            });
        }
        self.active.push(name.to_string());
        let v = if let Origin::Computed(c) = raw.origin {
            self.computed(c, depth)
        } else {
            self.expand_range(&raw.text, Span::new(0, raw.text.len()), &owner, depth + 1)
        };
        self.active.pop();
        v.map(Some)
    }

    fn computed(&mut self, c: Computed, depth: usize) -> Result<String, ExpandError> {
        Ok(match c {
            Computed::MyHostname => {
                let host = self.scope.host_name().to_string();
                if host.contains('.') {
                    host
                } else {
                    let domain = if self.scope.has_explicit("mydomain") {
                        self.param("mydomain", depth + 1)?.unwrap_or_default()
                    } else {
                        "localdomain".to_string()
                    };
                    format!("{host}.{domain}")
                }
            }
            Computed::MyDomain => {
                let h = self.param("myhostname", depth + 1)?.unwrap_or_default();
                match h.split_once('.') {
                    Some((_, d)) => d.to_string(),
                    None => "localdomain".to_string(),
                }
            }
            Computed::MyNetworks => "127.0.0.0/8 [::1]/128".to_string(),
            Computed::ProcessName => "postconf".to_string(),
            Computed::ProcessId => std::process::id().to_string(),
        })
    }

    fn expand_range(
        &mut self,
        text: &str,
        range: Span,
        owner: &Owner,
        depth: usize,
    ) -> Result<String, ExpandError> {
        // Branches count as levels too, as in Postfix; this also bounds the
        // recursion (and the stack) on hostile nesting.
        if depth > MAX_DEPTH {
            return Err(ExpandError {
                kind: ExpandErrorKind::Nesting,
                owner: owner.clone(),
            });
        }
        let nodes = expr::parse(text, range).map_err(|e| ExpandError {
            kind: ExpandErrorKind::Syntax(e),
            owner: owner.clone(),
        })?;
        let mut out = String::new();
        for node in nodes {
            match node {
                Node::Text(s) => out.push_str(&text[s.range()]),
                Node::Dollar(_) => out.push('$'),
                Node::Ref { name, .. } => {
                    let name = &text[name.range()];
                    match self.param(name, depth)? {
                        Some(v) => out.push_str(&v),
                        None => self.undefined.push((name.to_string(), owner.clone())),
                    }
                }
                Node::Cond {
                    name,
                    if_set,
                    if_unset,
                    ..
                } => {
                    let name = &text[name.range()];
                    // The test looks at the raw text: `a = $empty` counts
                    // as set.
                    let set = match self.scope.raw(name) {
                        Some(r) => !r.text.is_empty() || matches!(r.origin, Origin::Computed(_)),
                        None => {
                            self.undefined.push((name.to_string(), owner.clone()));
                            false
                        }
                    };
                    if let Some(b) = if set { if_set } else { if_unset } {
                        out.push_str(&self.expand_range(text, b, owner, depth + 1)?);
                    }
                }
                Node::Compare {
                    left,
                    op,
                    level,
                    right,
                    if_true,
                    if_false,
                    ..
                } => {
                    let l = self.expand_range(text, left, owner, depth + 1)?;
                    let r = self.expand_range(text, right, owner, depth + 1)?;
                    let ord = if level {
                        let parse = |s: &str| {
                            parse_level(s).ok_or_else(|| ExpandError {
                                kind: ExpandErrorKind::BadLevel(s.to_string()),
                                owner: owner.clone(),
                            })
                        };
                        parse(&l)?.cmp(&parse(&r)?)
                    } else {
                        compare(&l, &r)
                    };
                    let truth = match op {
                        CmpOp::Eq => ord == Ordering::Equal,
                        CmpOp::Ne => ord != Ordering::Equal,
                        CmpOp::Lt => ord == Ordering::Less,
                        CmpOp::Le => ord != Ordering::Greater,
                        CmpOp::Ge => ord != Ordering::Less,
                        CmpOp::Gt => ord == Ordering::Greater,
                    };
                    if if_true.is_none() && if_false.is_none() {
                        if truth {
                            out.push_str("true");
                        }
                    } else if let Some(b) = if truth { if_true } else { if_false } {
                        out.push_str(&self.expand_range(text, b, owner, depth + 1)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Numeric when both sides are all digits, else byte-wise.
fn compare(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        let a = a.trim_start_matches('0');
        let b = b.trim_start_matches('0');
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.as_bytes().cmp(b.as_bytes())
    }
}

/// `major[.minor[.patch]]`, missing parts are 0.
pub fn parse_level(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.split('.');
    let mut next = |required: bool| -> Option<Option<u64>> {
        match parts.next() {
            None if !required => Some(None),
            Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => {
                p.parse().ok().map(Some)
            }
            _ => None,
        }
    };
    let major = next(true)??;
    let minor = next(false)?.unwrap_or(0);
    let patch = next(false)?.unwrap_or(0);
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// Scans every branch of `text` (for warnings and for the names it uses).
pub fn mentions(text: &str) -> (Vec<&str>, Vec<ExprError>) {
    let (m, e) = expr::scan(text);
    (m.into_iter().map(|m| &text[m.name.range()]).collect(), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);

    impl Scope for Map {
        fn raw(&self, name: &str) -> Option<Raw<'_>> {
            if let Some(c) = super::super::defaults::computed(name)
                && !self.0.contains_key(name)
            {
                return Some(Raw {
                    text: "".into(),
                    origin: Origin::Computed(c),
                });
            }
            self.0.get(name).map(|v| Raw {
                text: (*v).into(),
                origin: Origin::Main(0),
            })
        }
        fn host_name(&self) -> &str {
            "vm"
        }
        fn has_explicit(&self, name: &str) -> bool {
            self.0.contains_key(name)
        }
    }

    fn x(pairs: &[(&'static str, &'static str)], name: &str) -> Result<String, ExpandError> {
        let m = Map(pairs.iter().copied().collect());
        Expander::new(&m).value(name).map(|v| v.unwrap_or_default())
    }

    #[test]
    fn e17_reference_forms() {
        let v = x(
            &[
                ("mydomain", "example.com"),
                ("o", "$mydomain|${mydomain}|$(mydomain)|$mydomain.x|${ mydomain }|$$mydomain|$$$mydomain|$$$$"),
            ],
            "o",
        )
        .unwrap();
        assert_eq!(
            v,
            "example.com|example.com|example.com|example.com.x|example.com|$mydomain|$example.com|$$"
        );
    }

    #[test]
    fn e18_e19_conditionals() {
        let base = [("full", "yes"), ("empty", "")];
        let mut p = base.to_vec();
        p.push((
            "o",
            "[${full?X}][${empty?X}][${undef?X}][${full:Y}][${empty:Y}][${undef:Y}]",
        ));
        assert_eq!(x(&p, "o").unwrap(), "[X][][][][Y][Y]");
        let mut p = base.to_vec();
        p.push(("o", "[${full?{X}:{Y}}][${empty?{X}:{Y}}][${undef ? { X } : Y }][${full?a:b}][${empty:a?b}][${full?{a}:b c}]"));
        assert_eq!(x(&p, "o").unwrap(), "[X][Y][ Y ][a:b][a?b][a]");
    }

    #[test]
    fn e20_e23_comparisons() {
        let p = [
            ("n10", "10"),
            ("n9", "9"),
            (
                "o",
                "[${{$n10} > {$n9} ? {num-gt} : {num-le}}][${{a10} > {a9} ? {lex-gt} : {lex-le}}][${{x} == {x}}][${{x} != {x}}][${{01} == {1}?{eq}:{ne}}][${{3.10} >level {3.9} ? {newer} : {older}}]",
            ),
        ];
        assert_eq!(x(&p, "o").unwrap(), "[num-gt][lex-le][true][][eq][newer]");
    }

    #[test]
    fn e26_loops_are_errors() {
        let e = x(&[("a", "$b"), ("b", "$a")], "a").unwrap_err();
        assert_eq!(
            e.kind,
            ExpandErrorKind::Loop(vec!["a".into(), "b".into(), "a".into()])
        );
        assert_eq!(e.owner.name, "a");
    }

    /// Postfix counts conditional branches as levels too: nesting beyond
    /// 100 is refused (and must not exhaust the stack).
    #[test]
    fn e27_deep_conditionals_are_errors_not_stack_overflows() {
        let nest = |n: usize| -> &'static str {
            format!("{}x{}", "${a?{".repeat(n), "}}".repeat(n)).leak()
        };
        let e = x(&[("a", "yes"), ("d", nest(5_000))], "d").unwrap_err();
        assert_eq!(e.kind, ExpandErrorKind::Nesting);
        assert_eq!(x(&[("a", "yes"), ("d", nest(50))], "d").unwrap(), "x");
    }

    #[test]
    fn e40_bad_level() {
        let e = x(&[("l", "bogus"), ("o", "${{$l} <level {2}?{a}}")], "o").unwrap_err();
        assert!(matches!(e.kind, ExpandErrorKind::BadLevel(_)));
    }

    #[test]
    fn e42_e44_host_identity() {
        assert_eq!(x(&[], "myhostname").unwrap(), "vm.localdomain");
        assert_eq!(x(&[], "mydomain").unwrap(), "localdomain");
        assert_eq!(
            x(&[("mydomain", "example.net")], "myhostname").unwrap(),
            "vm.example.net"
        );
        assert_eq!(
            x(&[("myhostname", "example.com")], "mydomain").unwrap(),
            "com"
        );
        assert_eq!(
            x(&[("myhostname", "vm")], "mydomain").unwrap(),
            "localdomain"
        );
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("3.6"), Some((3, 6, 0)));
        assert!(parse_level("3.10") > parse_level("3.9"));
        assert_eq!(parse_level("bogus"), None);
        assert_eq!(parse_level(""), None);
        assert_eq!(parse_level("1..2"), None);
    }
}
