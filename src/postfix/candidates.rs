//! Turning a Postfix lookup ("is this key present?") into a list of the
//! keys it may accept (rule M2.4, issue 7; postfix-grammar.md §6.6).
//!
//! The **candidate query** is the lookup query with each comparison
//! against the key (`domain = '%s'`, `'%s' = x`, `x LIKE '%s'`,
//! `x IN ('%s')`) replaced by a true condition, selecting the compared
//! expression instead of the result columns. Every other condition
//! (`active`, `backupmx`, joins) stays, `LIMIT` goes, and each `UNION`
//! branch is rewritten on its own. Candidates are only candidates: the
//! caller keeps those for which the original query, run as Postfix runs it,
//! returns a value (`db_table`).
//!
//! When the key is used in any other way (`email LIKE '%%@%s'`, a function,
//! a stored procedure), the query cannot be rewritten; [`scanned_tables`]
//! then names the tables whose values can still serve as candidates.

/// One `UNION` branch of a candidate query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    pub sql: String,
    /// The branch reads an alias-domain table or column: the keys it alone
    /// yields are alias domains (iRedMail, mailcow).
    pub alias: bool,
}

/// An identifier character, qualified names and quoted identifiers
/// included.
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'`' | b'"')
}

fn starts_with_word(s: &str, at: usize, word: &str) -> bool {
    let b = s.as_bytes();
    s.get(at..at + word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && (at == 0 || !is_ident(b[at - 1]))
        && b.get(at + word.len()).is_none_or(|&n| !is_ident(n))
}

/// Byte offsets of top-level (outside quotes and parentheses) occurrences
/// of the keyword `word`.
fn top_level_words(s: &str, word: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for (i, &c) in b.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && starts_with_word(s, i, word) => out.push(i),
                _ => {}
            },
        }
    }
    out
}

/// The branches of a `UNION [ALL]`, each without enclosing parentheses.
fn union_branches(q: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for at in top_level_words(q, "union") {
        parts.push(&q[start..at]);
        let mut next = at + "union".len();
        let rest = &q[next..];
        let skipped = rest.len() - rest.trim_start().len();
        if starts_with_word(q, next + skipped, "all") {
            next += skipped + "all".len();
        }
        start = next;
    }
    parts.push(&q[start..]);
    parts
        .into_iter()
        .map(|p| {
            let mut p = p.trim();
            while p.starts_with('(') && p.ends_with(')') {
                p = p[1..p.len() - 1].trim();
            }
            p
        })
        .collect()
}

/// Where the top-level `FROM` clause of a branch starts, if any.
fn from_clause(branch: &str) -> Option<usize> {
    top_level_words(branch, "from").first().copied()
}

/// The table names of a `FROM` clause (`a, b`, `a JOIN b ON ...`,
/// aliases dropped).
fn tables_of(from: &str) -> Vec<String> {
    let end = ["where", "group", "order", "limit", "having"]
        .iter()
        .filter_map(|w| top_level_words(from, w).first().copied())
        .min()
        .unwrap_or(from.len());
    let clause = from[..end].replace(',', " , ");
    let mut out = Vec::new();
    let mut expect_table = true;
    for word in clause.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if word == "," || lower == "join" {
            expect_table = true;
        } else if expect_table && lower != "from" && word.bytes().all(is_ident) {
            out.push(word.to_string());
            expect_table = false;
        }
    }
    out.dedup();
    out
}

/// Rewrites a lookup query into candidate queries, one per `UNION` branch.
/// `Err` says why it cannot be done.
pub fn candidate_queries(template: &str) -> Result<Vec<Branch>, String> {
    // `%%` is a literal `%` (it reaches the server as one); keep it out of
    // the way of the key placeholders while rewriting.
    let q = template.replace("%%", "\u{1}");
    let mut out = Vec::new();
    for branch in union_branches(&q) {
        if !starts_with_word(branch, 0, "select") {
            return Err(format!(
                "`{}` is not a SELECT",
                branch.replace('\u{1}', "%%")
            ));
        }
        let Some(from) = from_clause(branch) else {
            return Err("a SELECT without FROM (a function or a constant)".into());
        };
        let mut rest = branch[from..].to_string();
        let mut exprs: Vec<String> = Vec::new();
        for key in ["'%s'", "'%u'", "\"%s\"", "\"%u\""] {
            while let Some(pos) = rest.find(key) {
                let (start, end, expr) = comparison(&rest, pos, key.len()).ok_or_else(|| {
                    "the key is not simply compared with a column (a function or an expression around it)".to_string()
                })?;
                exprs.push(expr);
                rest.replace_range(start..end, "1=1");
            }
        }
        if rest.contains("%s") || rest.contains("%u") {
            return Err(
                "the key is part of a pattern or an expression, such as LIKE '%%@%s'".into(),
            );
        }
        let Some(expr) = exprs.first() else {
            return Err("a UNION branch does not compare the key with a column".into());
        };
        if let Some(&limit) = top_level_words(&rest, "limit").first() {
            rest.truncate(limit);
        }
        let alias = expr.to_ascii_lowercase().contains("alias")
            || tables_of(&rest)
                .iter()
                .any(|t| t.to_ascii_lowercase().contains("alias"));
        out.push(Branch {
            sql: format!("SELECT DISTINCT {expr} {}", rest.trim()).replace('\u{1}', "%"),
            alias,
        });
    }
    Ok(out)
}

/// The comparison around the key literal at `pos` (length `klen`) in `s`:
/// (start, end, compared expression).
fn comparison(s: &str, pos: usize, klen: usize) -> Option<(usize, usize, String)> {
    let key_end = pos + klen;
    let before = s[..pos].trim_end();
    let lower = before.to_ascii_lowercase();
    let (op_start, end) = if let Some(x) = before.strip_suffix('(') {
        // `expr IN ('%s')`, nothing else in the list.
        let t = x.trim_end();
        if !t.to_ascii_lowercase().ends_with("in") || !starts_with_word(t, t.len() - 2, "in") {
            return None;
        }
        let after = &s[key_end..];
        let close = after.find(')')?;
        if !after[..close].trim().is_empty() {
            return None;
        }
        (t.len() - 2, key_end + close + 1)
    } else if let Some(x) = before.strip_suffix('=') {
        if x.ends_with(['!', '<', '>']) {
            return None;
        }
        (x.len(), key_end)
    } else if lower.ends_with("like") && starts_with_word(before, before.len() - 4, "like") {
        (before.len() - 4, key_end)
    } else {
        // `KEY = expr`
        let after = &s[key_end..];
        let t = after.trim_start().strip_prefix('=')?.trim_start();
        let off = s.len() - t.len();
        let len = t.bytes().take_while(|&c| is_ident(c)).count();
        return (len > 0).then(|| (pos, off + len, s[off..off + len].to_string()));
    };
    let left = s[..op_start].trim_end();
    let len = left.bytes().rev().take_while(|&c| is_ident(c)).count();
    if len == 0 {
        return None;
    }
    let start = left.len() - len;
    Some((start, end, left[start..].to_string()))
}

/// The tables read by each branch of a query that could not be rewritten,
/// for the fall-back scan (postfix-grammar.md §6.6 step 4).
pub fn scanned_tables(template: &str) -> Vec<String> {
    let q = template.replace("%%", "\u{1}");
    let mut out: Vec<String> = Vec::new();
    for branch in union_branches(&q) {
        if let Some(from) = from_clause(branch) {
            for t in tables_of(&branch[from..]) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// An LDAP `query_filter` as candidates: the filter with the key replaced
/// by `*`, and the attributes compared with the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapCandidates {
    pub filter: String,
    pub attrs: Vec<String>,
}

pub fn ldap_candidates(filter: &str) -> Result<LdapCandidates, String> {
    let f = filter.replace("%%", "\u{1}");
    let mut attrs: Vec<String> = Vec::new();
    let mut out = String::with_capacity(f.len());
    let mut last = 0;
    for (p, _) in f.match_indices('%') {
        let Some(code) = f[p + 1..].chars().next() else {
            break;
        };
        if !matches!(code, 's' | 'u') {
            continue;
        }
        // Only `(attr=%s)`: the whole value is the key.
        let open = f[..p]
            .rfind('(')
            .ok_or("the filter is not in parentheses")?;
        let item = &f[open + 1..p];
        let attr = item
            .strip_suffix('=')
            .filter(|a| !a.is_empty() && a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
            .ok_or_else(|| {
                format!("`({item}%{code})` does not compare a whole attribute with the key")
            })?;
        if !f[p + 2..].starts_with(')') {
            return Err(format!(
                "`{attr}` is compared with a pattern around the key"
            ));
        }
        if !attrs.iter().any(|a| a.eq_ignore_ascii_case(attr)) {
            attrs.push(attr.to_string());
        }
        out.push_str(&f[last..p]);
        out.push('*');
        last = p + 2;
    }
    out.push_str(&f[last..]);
    if attrs.is_empty() {
        return Err("the filter does not use the key (%s)".into());
    }
    Ok(LdapCandidates {
        filter: out.replace('\u{1}', "%"),
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(q: &str) -> Vec<String> {
        candidate_queries(q)
            .unwrap()
            .into_iter()
            .map(|c| c.sql)
            .collect()
    }

    #[test]
    fn postfixadmin_shape() {
        assert_eq!(
            cands("SELECT domain FROM domain WHERE domain='%s' AND active = '1'"),
            ["SELECT DISTINCT domain FROM domain WHERE 1=1 AND active = '1'"]
        );
        assert_eq!(
            cands(
                "SELECT domain FROM domain WHERE domain='%s' AND active = '1' AND NOT (transport LIKE 'smtp%%' OR transport LIKE 'relay%%')"
            ),
            [
                "SELECT DISTINCT domain FROM domain WHERE 1=1 AND active = '1' AND NOT (transport LIKE 'smtp%' OR transport LIKE 'relay%')"
            ]
        );
    }

    #[test]
    fn ispmail_constant_select() {
        assert_eq!(
            cands("SELECT 1 FROM virtual_domains WHERE name='%s'"),
            ["SELECT DISTINCT name FROM virtual_domains WHERE 1=1"]
        );
    }

    #[test]
    fn iredmail_union_with_limits() {
        let c = candidate_queries("(SELECT domain FROM domain WHERE domain='%s' AND backupmx=0 AND active=1 LIMIT 1) UNION (SELECT alias_domain.alias_domain FROM alias_domain,domain WHERE alias_domain.alias_domain='%s' AND alias_domain.active=1 AND alias_domain.target_domain=domain.domain AND domain.active=1 AND domain.backupmx=0 LIMIT 1)").unwrap();
        assert_eq!(
            c[0].sql,
            "SELECT DISTINCT domain FROM domain WHERE 1=1 AND backupmx=0 AND active=1"
        );
        assert!(!c[0].alias);
        assert_eq!(
            c[1].sql,
            "SELECT DISTINCT alias_domain.alias_domain FROM alias_domain,domain WHERE 1=1 AND alias_domain.active=1 AND alias_domain.target_domain=domain.domain AND domain.active=1 AND domain.backupmx=0"
        );
        assert!(c[1].alias);
    }

    #[test]
    fn mailcow_multiline_union() {
        let q = "SELECT alias_domain from alias_domain WHERE alias_domain='%s' AND active='1'  UNION  SELECT domain FROM domain    WHERE domain='%s'      AND active = '1'      AND backupmx = '0'";
        let c = candidate_queries(q).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].alias && !c[1].alias);
        assert_eq!(
            c[1].sql,
            "SELECT DISTINCT domain FROM domain    WHERE 1=1      AND active = '1'      AND backupmx = '0'"
        );
    }

    #[test]
    fn other_comparison_forms() {
        assert_eq!(
            cands("SELECT x FROM t WHERE '%s' = t.name"),
            ["SELECT DISTINCT t.name FROM t WHERE 1=1"]
        );
        assert_eq!(
            cands("SELECT x FROM t WHERE name LIKE '%s'"),
            ["SELECT DISTINCT name FROM t WHERE 1=1"]
        );
        assert_eq!(
            cands("SELECT x FROM t WHERE name IN ('%s') UNION ALL SELECT y FROM u WHERE n=\"%u\""),
            [
                "SELECT DISTINCT name FROM t WHERE 1=1",
                "SELECT DISTINCT n FROM u WHERE 1=1"
            ]
        );
        // A column named like a keyword's tail is still a column.
        assert_eq!(
            cands("SELECT x FROM t WHERE domain_in = '%s'"),
            ["SELECT DISTINCT domain_in FROM t WHERE 1=1"]
        );
    }

    #[test]
    fn shapes_that_cannot_be_listed() {
        for q in [
            "SELECT 1 FROM users WHERE email LIKE '%%@%s' LIMIT 1",
            "CALL lookup('%s')",
            "SELECT f('%s')",
            "SELECT x FROM t WHERE LOWER(name) = '%s'",
            "SELECT x FROM t WHERE name <> '%s'",
            "SELECT x FROM t WHERE name = CONCAT('%s', '.')",
        ] {
            assert!(candidate_queries(q).is_err(), "{q}");
        }
    }

    #[test]
    fn tables_for_the_fallback_scan() {
        assert_eq!(
            scanned_tables(
                "SELECT 1 FROM users WHERE email LIKE '%%@%s' UNION SELECT 1 FROM aliases WHERE source LIKE '%%@%s' UNION SELECT 1 FROM auto_aliases WHERE source LIKE '%%@%s'"
            ),
            ["users", "aliases", "auto_aliases"]
        );
        assert_eq!(
            scanned_tables(
                "SELECT goto FROM alias a JOIN domain d ON a.x = d.y, other o WHERE a.address='%s'"
            ),
            ["alias", "domain", "other"]
        );
    }

    #[test]
    fn ldap_filters() {
        let c = ldap_candidates("(&(objectClass=mailDomain)(|(domainName=%s)(&(enabledService=domainalias)(domainAliasName=%s)))(!(domainBackupMX=yes))(accountStatus=active)(enabledService=mail))").unwrap();
        assert_eq!(c.attrs, ["domainName", "domainAliasName"]);
        assert_eq!(
            c.filter,
            "(&(objectClass=mailDomain)(|(domainName=*)(&(enabledService=domainalias)(domainAliasName=*)))(!(domainBackupMX=yes))(accountStatus=active)(enabledService=mail))"
        );
        assert!(ldap_candidates("(mail=*@%s)").is_err());
        assert!(ldap_candidates("(mail=%s*)").is_err());
        assert!(ldap_candidates("(objectClass=x)").is_err());
    }
}
