//! Postfix's SQL and LDAP table client files (`mysql_table(5)`,
//! `pgsql_table(5)`, `sqlite_table(5)`, `ldap_table(5)`): their settings,
//! the lookup query they define, and how Postfix expands it for a key
//! (postfix-grammar.md §6.3, §6.4).

use std::collections::HashMap;

use mailconf_parsers::Span;
use mailconf_parsers::postfix::main_cf::parse_main_cf;

use crate::diag::Diagnostics;
use crate::source::FileId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Mysql,
    Pgsql,
    Sqlite,
    Ldap,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "mysql" => Kind::Mysql,
            "pgsql" => Kind::Pgsql,
            "sqlite" => Kind::Sqlite,
            "ldap" => Kind::Ldap,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mysql => "mysql",
            Kind::Pgsql => "pgsql",
            Kind::Sqlite => "sqlite",
            Kind::Ldap => "ldap",
        }
    }
}

/// A client file: `name = value` lines, the last one winning, never
/// `$`-expanded.
#[derive(Clone)]
pub struct ClientConfig {
    pub kind: Kind,
    pub file: FileId,
    params: HashMap<String, (String, Span)>,
}

impl ClientConfig {
    pub fn parse(kind: Kind, file: FileId, text: &str, diags: &mut Diagnostics) -> ClientConfig {
        let (cf, syntax) = parse_main_cf(text);
        diags.extend_syntax(
            file,
            syntax.into_iter().filter(|d| d.id != "duplicate_parameter"),
        );
        let params = cf
            .assignments
            .into_iter()
            .map(|a| (a.name, (a.value, a.span)))
            .collect();
        ClientConfig { kind, file, params }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|(v, _)| v.as_str())
    }

    pub fn span(&self, name: &str) -> Option<Span> {
        self.params.get(name).map(|(_, s)| *s)
    }

    /// The lookup query: `query`, or the legacy `SELECT select_field FROM
    /// table WHERE where_field='%s' additional_conditions` (E88).
    pub fn query(&self) -> Option<String> {
        if self.kind == Kind::Ldap {
            return Some(
                self.get("query_filter")
                    .unwrap_or("mailacceptinggeneralid=%s")
                    .to_string(),
            );
        }
        if let Some(q) = self.get("query") {
            return Some(q.to_string());
        }
        if let Some(f) = self
            .get("select_function")
            .filter(|_| self.kind == Kind::Pgsql)
        {
            return Some(format!("SELECT {f}('%s')"));
        }
        let table = self.get("table")?;
        let select = self.get("select_field")?;
        let wher = self.get("where_field")?;
        let extra = self.get("additional_conditions").unwrap_or("");
        Some(
            format!("SELECT {select} FROM {table} WHERE {wher}='%s' {extra}")
                .trim_end()
                .to_string(),
        )
    }

    /// Why a bare domain name can never match, if it cannot: a `domain =`
    /// restriction (E89), or `%d`/`%1`... in the query (E86).
    pub fn never_matches_domains(&self) -> Option<String> {
        if self.get("domain").is_some_and(|d| !d.trim().is_empty()) {
            return Some(
                "the `domain =` setting restricts lookups to addresses (user@domain)".into(),
            );
        }
        let q = self.query()?;
        let mut it = q.chars().peekable();
        while let Some(c) = it.next() {
            if c == '%' && matches!(it.next(), Some('d' | 'D' | '1'..='9')) {
                return Some(
                    "the query uses %d or %1..%9, which suppress the lookup of a bare domain"
                        .into(),
                );
            }
        }
        None
    }

    /// `expansion_limit` (0 = none).
    pub fn expansion_limit(&self) -> usize {
        self.get("expansion_limit")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Expands a query for `key` as Postfix's `db_common_expand()` does:
/// `%%` → `%`, `%s` and `%u` → the key (no `@` in a domain), `%d`,
/// `%1`..`%9` → `None` (the lookup is suppressed for a bare domain).
/// `quote` escapes the key for the database.
pub fn expand(template: &str, key: &str, quote: &dyn Fn(&str) -> String) -> Option<String> {
    let mut out = String::with_capacity(template.len() + key.len());
    let mut it = template.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some('s' | 'S' | 'u' | 'U') => out.push_str(&quote(key)),
            Some('d' | 'D' | '1'..='9') => return None,
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    Some(out)
}

/// String escaping as the driver Postfix uses does it:
/// `mysql_real_escape_string()` backslash-escapes quotes, backslashes and
/// control characters; PostgreSQL's `PQescapeStringConn()` (standard
/// strings) and SQLite's `%q` double single quotes.
pub fn sql_quote(kind: Kind, s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match (kind, c) {
            (Kind::Mysql, '\0') => out.push_str("\\0"),
            (Kind::Mysql, '\n') => out.push_str("\\n"),
            (Kind::Mysql, '\r') => out.push_str("\\r"),
            (Kind::Mysql, '\u{1a}') => out.push_str("\\Z"),
            (Kind::Mysql, '\\' | '\'' | '"') => {
                out.push('\\');
                out.push(c);
            }
            (_, '\'') => out.push_str("''"),
            (_, '\0') => {}
            (_, c) => out.push(c),
        }
    }
    out
}

/// RFC 4515 escaping for an LDAP filter value.
pub fn ldap_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_as_postfix_does_it() {
        let q = |s: &str| sql_quote(Kind::Sqlite, s);
        assert_eq!(
            expand("x='%s' AND y LIKE 'a%%'", "example.com", &q).unwrap(),
            "x='example.com' AND y LIKE 'a%'"
        );
        assert_eq!(
            expand("x='%s'", "o'neil.example", &q).unwrap(),
            "x='o''neil.example'"
        );
        assert_eq!(expand("x='%d'", "example.com", &q), None);
        assert_eq!(sql_quote(Kind::Mysql, "a\\b'\"x\n"), "a\\\\b\\'\\\"x\\n");
        assert_eq!(sql_quote(Kind::Pgsql, "a\\b'"), "a\\b''");
        assert_eq!(ldap_quote("a*(b)"), "a\\2a\\28b\\29");
    }
}
