//! Dovecot's SQL user database as a second source of hosted domains, and
//! a cross-check of Postfix's (issue 7).
//!
//! Dovecot can list its users (`doveadm user '*'`) with the userdb's
//! `iterate_query`; the domains of those addresses are the domains whose
//! users log in, which is what autoconfig is for. mailconf runs that query
//! read-only, with the connection settings of the same file: 2.3's
//! `dovecot-sql.conf.ext` (`driver`, `connect`, `iterate_query`), or 2.4's
//! `sql_driver` with its `mysql`/`pgsql` sections or `sqlite_path`.

use std::collections::BTreeSet;

use mailconf_parsers::Span;
use mailconf_parsers::dovecot::conf::{Dialect, Item, parse_conf};

use super::tree::{DovecotConf, Node};
use crate::db::{self, Access, DbError, SqlConn};
use crate::diag::{Diagnostic, Diagnostics};
use crate::postfix::candidates::single_select;
use crate::source::{FileId, Root, SourceMap, read_text};

/// The domains of the users Dovecot's `iterate_query` lists.
pub struct UserDomains {
    pub domains: BTreeSet<String>,
    pub users: usize,
    /// The `iterate_query` setting.
    pub at: Option<(FileId, Span)>,
}

impl UserDomains {
    /// Where a domain taken from this list comes from.
    pub fn source(&self) -> crate::model::Source {
        match self.at {
            Some((f, s)) => crate::model::Source::at(f, s),
            None => crate::model::Source::Default("Dovecot's iterate_query".into()),
        }
    }
}

/// What a query needs: driver, connection, query.
struct SqlSource {
    driver: String,
    /// mysql/pgsql: `host`, `port`, `dbname`, `user`, `password`; sqlite:
    /// `path`.
    params: Vec<(String, String)>,
    iterate_query: String,
    at: Option<(FileId, Span)>,
}

impl SqlSource {
    fn param(&self, key: &str) -> String {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn hosts(&self) -> String {
        let port = self.param("port");
        self.params
            .iter()
            .filter(|(k, _)| k == "host")
            .map(|(_, h)| {
                if h.starts_with('/') {
                    format!("unix:{h}")
                } else if port.is_empty() {
                    h.clone()
                } else {
                    format!("{h}:{port}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs the userdb's `iterate_query`, if Dovecot has an SQL userdb with
/// one. `None` when there is none (nothing to say); failures are reported
/// as notes, since Dovecot's list is only a second source.
pub fn user_domains(
    d: &DovecotConf,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    access: &Access,
) -> Option<UserDomains> {
    if !access.enabled {
        return None;
    }
    let src = if d.version.is_2_4() {
        source_2_4(d)?
    } else {
        source_2_3(d, root, sources, diags)?
    };
    let at = src.at;
    let result = single_select(&src.iterate_query)
        .map_err(DbError::Unsupported)
        .and_then(|()| connect(&src, root, access))
        .and_then(|mut conn| conn.rows(&src.iterate_query));
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            let mut dg = Diagnostic::note(
                "dovecot_users_unreadable",
                format!(
                    "cannot run Dovecot's iterate_query ({} database): {e}; the hosted domains are not cross-checked with Dovecot's users",
                    src.driver
                ),
            );
            if let Some((f, s)) = at {
                dg = dg.at(f, s, "");
            }
            diags.push(dg);
            return None;
        }
    };
    let mut domains = BTreeSet::new();
    let mut users = 0;
    for row in &rows {
        // `user` (an address), or `username` and `domain`.
        let first = row.first().cloned().flatten().unwrap_or_default();
        let domain = match first.rsplit_once('@') {
            Some((_, dom)) => dom.to_string(),
            None => row.get(1).cloned().flatten().unwrap_or_default(),
        };
        if domain.is_empty() {
            continue;
        }
        users += 1;
        if let Ok(n) = crate::model::domains::normalize_domain(&domain) {
            domains.insert(n);
        }
    }
    Some(UserDomains { domains, users, at })
}

fn connect(src: &SqlSource, root: &Root, access: &Access) -> Result<Box<dyn SqlConn>, DbError> {
    Ok(match src.driver.as_str() {
        "mysql" => {
            // Dovecot's `ssl_ca`, `ssl_cert`, `ssl_key` (files on the
            // server) and `ssl_verify_server_cert`.
            let file = |k: &str| -> Result<Option<std::path::PathBuf>, DbError> {
                let v = src.param(k);
                if v.is_empty() {
                    return Ok(None);
                }
                root.resolve(&v)
                    .map(Some)
                    .map_err(|e| DbError::Unreachable(format!("{k} = {v}: {e}")))
            };
            Box::new(db::mysql::connect_bounded(
                &db::mysql::Settings {
                    hosts: src.hosts(),
                    user: src.param("user"),
                    password: src.param("password"),
                    dbname: src.param("dbname"),
                    tls_cert_file: file("ssl_cert")?,
                    tls_key_file: file("ssl_key")?,
                    tls_ca_file: file("ssl_ca")?,
                    tls_verify_cert: src.param("ssl_verify_server_cert") == "yes",
                    tls_wanted: src.params.iter().any(|(k, _)| k.starts_with("ssl_")),
                },
                access.timeout,
            )?)
        }
        "pgsql"
            if matches!(
                src.param("sslmode").as_str(),
                "require" | "verify-ca" | "verify-full"
            ) =>
        {
            return Err(DbError::Unsupported(format!(
                "sslmode={}: mailconf does not speak TLS to PostgreSQL",
                src.param("sslmode")
            )));
        }
        "pgsql" => Box::new(db::pgsql::connect_bounded(
            &db::pgsql::Settings {
                hosts: src.hosts(),
                user: src.param("user"),
                password: src.param("password"),
                dbname: src.param("dbname"),
            },
            access.timeout,
        )?),
        "sqlite" => {
            let path = src.param("path");
            let real = root
                .resolve(&path)
                .map_err(|e| DbError::Unreachable(format!("the database file {path}: {e}")))?;
            Box::new(db::sqlite::open(&real, access.timeout)?)
        }
        other => {
            return Err(DbError::Unsupported(format!(
                "the `{other}` driver is not supported"
            )));
        }
    })
}

/// Splits a libpq/Dovecot connect string: `key=value` words, values
/// possibly in double quotes.
fn connect_words(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key, value));
    }
    out
}

/// The args file of the first SQL userdb (or passdb: the same file holds
/// `iterate_query` in every common set-up).
fn source_2_3(
    d: &DovecotConf,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<SqlSource> {
    let is_sql = |n: &&Node| n.value("driver") == Some("sql");
    let db = d
        .tree
        .children_of("userdb")
        .find(is_sql)
        .or_else(|| d.tree.children_of("passdb").find(is_sql))?;
    let path = db.value("args")?.trim().to_string();
    let real = root.resolve(&path).ok()?;
    let Ok((text, _)) = read_text(&real) else {
        let mut dg = Diagnostic::note(
            "dovecot_users_unreadable",
            format!(
                "cannot read Dovecot's SQL settings {path}; the hosted domains are not cross-checked with Dovecot's users"
            ),
        );
        if let Some(l) = &db.loc {
            dg = dg.at(l.file, l.span, "");
        }
        diags.push(dg);
        return None;
    };
    let id = sources.add(real, text.clone());
    let (items, _) = parse_conf(&text, Dialect { v2_4: false });
    let get = |k: &str| {
        items.iter().rev().find_map(|i| match i {
            Item::Assign {
                key, value, span, ..
            } if key == k => Some((value.text().into_owned(), *span)),
            _ => None,
        })
    };
    let (driver, _) = get("driver")?;
    let (connect, _) = get("connect")?;
    let (iterate_query, span) = get("iterate_query")?;
    let params = if driver == "sqlite" {
        vec![("path".to_string(), connect.trim().to_string())]
    } else {
        connect_words(&connect)
    };
    Some(SqlSource {
        driver,
        params,
        iterate_query,
        at: Some((id, span)),
    })
}

/// 2.4: `sql_driver`, then `mysql HOST { ... }`, `pgsql HOST { parameters
/// { ... } }` or `sqlite_path`; the query in `userdb sql { iterate_query }`.
fn source_2_4(d: &DovecotConf) -> Option<SqlSource> {
    let t = &d.tree;
    let userdb = t
        .children_of("userdb")
        .find(|n| n.value("driver") == Some("sql") || n.name.as_deref() == Some("sql"))?;
    let q = userdb
        .get("iterate_query")
        .or_else(|| t.get("userdb_sql_iterate_query"))?;
    let at = q.loc.as_ref().map(|l| (l.file, l.span));
    let driver = t.value("sql_driver")?.to_string();
    let mut params = Vec::new();
    match driver.as_str() {
        "sqlite" => params.push(("path".to_string(), t.value("sqlite_path")?.to_string())),
        "mysql" | "pgsql" => {
            for section in t.children_of(&driver) {
                if let Some(h) = &section.name {
                    params.push(("host".into(), h.clone()));
                }
                let settings = section
                    .child("parameters", None)
                    .map_or(&section.settings, |p| &p.settings);
                for s in settings.iter().chain(&section.settings) {
                    let key = s.key.strip_prefix(&format!("{driver}_")).unwrap_or(&s.key);
                    params.push((key.to_string(), s.value.clone()));
                }
            }
        }
        _ => {}
    }
    Some(SqlSource {
        driver,
        params,
        iterate_query: q.value.clone(),
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings() {
        assert_eq!(
            connect_words("host=localhost dbname=postfix user=postfix password=\"a b\\\"c\""),
            [
                ("host".to_string(), "localhost".to_string()),
                ("dbname".into(), "postfix".into()),
                ("user".into(), "postfix".into()),
                ("password".into(), "a b\"c".into()),
            ]
        );
    }
}
