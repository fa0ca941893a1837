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

/// Is `query` one `SELECT` statement? mailconf runs nothing else: a second
/// statement after `;` (which the MySQL client library Postfix uses would
/// refuse anyway) or a `CALL` could change data.
pub fn single_select(query: &str) -> Result<(), String> {
    let start = query.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    if !starts_with_word(start, 0, "select") {
        return Err(
            "the query is not a SELECT statement; mailconf runs only SELECT queries".into(),
        );
    }
    // MySQL reads `\'` inside a string as a quote, PostgreSQL and SQLite
    // do not: a `;` outside strings under either reading is refused.
    if [true, false].into_iter().any(|bs| has_separator(query, bs)) {
        return Err(
            "the query holds more than one statement; mailconf runs only a single SELECT".into(),
        );
    }
    Ok(())
}

/// A `;` outside quotes with more text after it.
fn has_separator(query: &str, backslash_escapes: bool) -> bool {
    let b = query.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if backslash_escapes && c == b'\\' && q != b'`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b';' if !query[i + 1..].trim().is_empty() => return true,
                _ => {}
            },
        }
        i += 1;
    }
    false
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
        // `%S` and `%U` expand like `%s` and `%u` in a query.
        for key in [
            "'%s'", "'%u'", "'%S'", "'%U'", "\"%s\"", "\"%u\"", "\"%S\"", "\"%U\"",
        ] {
            while let Some(pos) = rest.find(key) {
                let (start, end, expr) = comparison(&rest, pos, key.len()).ok_or_else(|| {
                    "the key is not simply compared with a column (a function or an expression around it)".to_string()
                })?;
                if !exprs.contains(&expr) {
                    exprs.push(expr);
                }
                rest.replace_range(start..end, "1=1");
            }
        }
        if ["%s", "%u", "%S", "%U"].iter().any(|k| rest.contains(k)) {
            return Err(
                "the key is part of a pattern or an expression, such as LIKE '%%@%s'".into(),
            );
        }
        if exprs.is_empty() {
            return Err("a UNION branch does not compare the key with a column".into());
        }
        // Ordering, grouping and limits only narrow or reorder the rows of
        // one lookup; for the list they would drop candidates.
        if let Some(cut) = [
            "group", "having", "order", "limit", "fetch", "offset", "for",
        ]
        .iter()
        .filter_map(|w| top_level_words(&rest, w).first().copied())
        .min()
        {
            rest.truncate(cut);
        }
        // The branch's own table (not a joined one) and the selected
        // column say whether it lists alias domains.
        let main_table = tables_of(&rest).into_iter().next().unwrap_or_default();
        // `domain = '%s' OR note = '%s'`: each compared column is a source
        // of candidates.
        for expr in exprs {
            let alias = expr.to_ascii_lowercase().contains("alias")
                || main_table.to_ascii_lowercase().contains("alias");
            out.push(Branch {
                sql: format!("SELECT DISTINCT {expr} {}", rest.trim()).replace('\u{1}', "%"),
                alias,
            });
        }
    }
    // A lone branch is the domain list itself, whatever its tables are
    // called; only a UNION can add alias domains to it.
    if out.iter().all(|b| b.alias) {
        for b in &mut out {
            b.alias = false;
        }
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
        // `'%s' = LOWER(x)`: a function, not a column; `'%s' = dömain`:
        // an identifier this reader does not understand.
        let next = s[off + len..].chars().next();
        if len == 0 || next.is_some_and(|c| c == '(' || !c.is_ascii()) {
            return None;
        }
        return Some((pos, off + len, s[off..off + len].to_string()));
    };
    let left = s[..op_start].trim_end();
    let len = left.bytes().rev().take_while(|&c| is_ident(c)).count();
    if len == 0 {
        return None;
    }
    let start = left.len() - len;
    let expr = &left[start..];
    // `x NOT LIKE '%s'`, `x NOT IN (...)`: not a plain comparison. An
    // identifier must start after a separator (not inside `dömain`).
    let boundary = left[..start]
        .chars()
        .next_back()
        .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | ','));
    if expr.eq_ignore_ascii_case("not") || !boundary {
        return None;
    }
    Some((start, end, expr.to_string()))
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
    // `domainName=%s`, as Postfix's own default `mailacceptinggeneralid=%s`,
    // is one filter item without parentheses.
    let trimmed = filter.trim();
    let filter = if trimmed.starts_with('(') {
        trimmed.to_string()
    } else {
        format!("({trimmed})")
    };
    let f = filter.replace("%%", "\u{1}");
    let mut attrs: Vec<String> = Vec::new();
    let mut out = String::with_capacity(f.len());
    let mut last = 0;
    for (p, _) in f.match_indices('%') {
        let Some(code) = f[p + 1..].chars().next() else {
            break;
        };
        if !matches!(code, 's' | 'u' | 'S' | 'U') {
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
    fn order_group_and_limit_go() {
        assert_eq!(
            cands(
                "SELECT domain FROM domain WHERE domain='%s' AND active ORDER BY created LIMIT 1"
            ),
            ["SELECT DISTINCT domain FROM domain WHERE 1=1 AND active"]
        );
        assert_eq!(
            cands("SELECT domain FROM domain WHERE domain='%s' GROUP BY active"),
            ["SELECT DISTINCT domain FROM domain WHERE 1=1"]
        );
    }

    #[test]
    fn every_compared_column_gives_candidates() {
        assert_eq!(
            cands("SELECT x FROM t WHERE (domain='%s' OR note='%s') AND active"),
            [
                "SELECT DISTINCT domain FROM t WHERE (1=1 OR 1=1) AND active",
                "SELECT DISTINCT note FROM t WHERE (1=1 OR 1=1) AND active"
            ]
        );
    }

    #[test]
    fn a_joined_alias_table_does_not_make_an_alias_list() {
        let c = candidate_queries("SELECT d.domain FROM domain d LEFT JOIN alias_domain a ON a.alias_domain = d.domain WHERE d.domain='%s' AND a.alias_domain IS NULL").unwrap();
        assert!(!c[0].alias);
        // A lone branch reading an alias table is the list itself.
        let c = candidate_queries("SELECT alias_domain FROM alias_domain WHERE alias_domain='%s'")
            .unwrap();
        assert!(!c[0].alias);
    }

    #[test]
    fn only_single_selects_run() {
        assert!(single_select("SELECT domain FROM domain WHERE domain='%s'").is_ok());
        assert!(single_select("SELECT email AS user FROM users;").is_ok());
        assert!(single_select("(SELECT a FROM b WHERE c=';x') UNION (SELECT d FROM e)").is_ok());
        assert!(single_select("SELECT a FROM b WHERE c='%s'; DELETE FROM b").is_err());
        assert!(single_select("SELECT a FROM b WHERE c='x\\'; DROP TABLE b; --'").is_err());
        assert!(single_select("CALL lookup('%s')").is_err());
        assert!(single_select("  select 1 from t").is_ok());
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
            "SELECT x FROM t WHERE name NOT LIKE '%s'",
            "SELECT x FROM t WHERE name NOT IN ('%s')",
            "SELECT x FROM t WHERE '%s' = LOWER(name)",
            "SELECT x FROM t WHERE dömain = '%s'",
            "SELECT x FROM t WHERE '%s' = dömain",
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
        // Postfix's default filter has no parentheses.
        let c = ldap_candidates("mailacceptinggeneralid=%s").unwrap();
        assert_eq!(c.filter, "(mailacceptinggeneralid=*)");
        assert_eq!(c.attrs, ["mailacceptinggeneralid"]);
        assert_eq!(
            ldap_candidates("(|(a=%S)(b=%s))").unwrap().attrs,
            ["a", "b"]
        );
        assert!(ldap_candidates("(mail=%s*)").is_err());
        assert!(ldap_candidates("(objectClass=x)").is_err());
    }
}
