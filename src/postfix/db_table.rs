//! Listing the keys of `mysql:`, `pgsql:`, `sqlite:` and `ldap:` tables
//! by querying the database, read-only (rule M2.4, issue 7).
//!
//! Two steps (postfix-grammar.md §6.6): candidates come from the rewritten
//! query ([`candidates`](super::candidates)), or, when the query cannot be
//! rewritten, from the values stored in the tables it reads; then each
//! candidate is looked up with the original query exactly as Postfix would
//! (lower-cased, quoted by the same rules) and kept only when that returns
//! a value. So a key is listed only if Postfix's own lookup accepts it:
//! inactive and backup-MX rows never reach the list when the query excludes
//! them, and the pseudo-domain `ALL` or a row stored as `Mixed.Case` on a
//! case-sensitive database are decided by the database, as for Postfix.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mailconf_parsers::Span;

use super::candidates::{
    LdapCandidates, candidate_queries, ldap_candidates, scanned_tables, single_select,
};
use super::client_file::{ClientConfig, Kind, expand, ldap_quote, sql_quote};
use super::tables::{Key, Listing};
use crate::db::{self, Access, DbError, SqlConn};
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{FileId, Root, SourceMap, read_text};

/// At most this many rows of each table are read by the fall-back scan,
/// which keeps its memory bounded.
const SCAN_LIMIT: usize = 1_000_000;

/// Keys found by querying, before verification: lower-cased key → (as
/// stored, only from alias-domain branches).
type Found = BTreeMap<String, (String, bool)>;

/// A connected table: its client file and a live connection.
pub struct DbTable {
    spec: String,
    cfg: ClientConfig,
    query: String,
    /// Where each key is said to come from: the query line.
    at: (FileId, Span),
    backend: Backend,
}

enum Backend {
    Sql(Box<dyn SqlConn>),
    Ldap {
        client: Box<db::ldap::LdapClient>,
        base: String,
        scope: ldap3::Scope,
        result_attrs: Vec<String>,
    },
}

/// Why a table gives no connection: a listing to use instead (nothing to
/// query, or the reason it cannot be), or a failure already reported.
pub enum NotOpened {
    /// The table can never accept a bare domain (`domain =`, `%d`): the
    /// reason, and the client file's query line.
    NeverMatches(String, FileId, Span),
    Unknown(String),
    Failed,
}

/// Reads the client file `path` of the table `spec` and connects.
pub fn open(
    kind: Kind,
    spec: &str,
    path: &str,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    access: &Access,
) -> Result<DbTable, NotOpened> {
    let real = root
        .resolve(path)
        .map_err(|e| NotOpened::Unknown(format!("cannot read the client file `{path}`: {e}")))?;
    let text = read_text(&real)
        .map_err(|e| {
            NotOpened::Unknown(format!(
                "cannot read the client file {}: {e}",
                real.display()
            ))
        })?
        .0;
    let id = sources.add(real, text.clone());
    let cfg = ClientConfig::parse(kind, id, &text, diags);
    let query_span = cfg
        .span(if kind == Kind::Ldap {
            "query_filter"
        } else {
            "query"
        })
        .or_else(|| cfg.span("where_field"))
        .unwrap_or(Span::new(0, 0));
    if let Some(why) = cfg.never_matches_domains() {
        return Err(NotOpened::NeverMatches(why, id, query_span));
    }
    if !access.enabled {
        return Err(NotOpened::Unknown(format!(
            "its keys are kept in a {} database, and database queries are turned off",
            kind.name()
        )));
    }
    let Some(query) = cfg.query() else {
        return Err(NotOpened::Unknown(format!(
            "{} has neither `query` nor the `table`, `select_field` and `where_field` settings",
            sources.get(id).path.display()
        )));
    };
    let backend = match kind {
        Kind::Ldap => ldap_backend(&cfg, root, access),
        _ => single_select(&query)
            .map_err(DbError::Unsupported)
            .and_then(|()| connect_sql(&cfg, root, access))
            .map(Backend::Sql),
    };
    match backend {
        Ok(backend) => Ok(DbTable {
            spec: spec.to_string(),
            cfg,
            query,
            at: (id, query_span),
            backend,
        }),
        Err(e) => {
            report(spec, &cfg, query_span, &e, diags);
            Err(NotOpened::Failed)
        }
    }
}

/// Reads and connects as [`open`], then lists the keys (see the module
/// comment).
pub fn list(
    kind: Kind,
    spec: &str,
    path: &str,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    access: &Access,
) -> Listing {
    match open(kind, spec, path, root, sources, diags, access) {
        Ok(mut t) => match t.enumerate(diags) {
            Ok(listing) => listing,
            Err(e) => {
                t.report(&e, diags);
                Listing::Failed
            }
        },
        Err(NotOpened::NeverMatches(why, file, span)) => {
            diags.push(
                Diagnostic::note(
                    "table_never_matches_domains",
                    format!(
                        "`{spec}` can never accept a bare domain name: {why}; it adds no domain"
                    ),
                )
                .at(file, span, ""),
            );
            Listing::Keys(Vec::new())
        }
        Err(NotOpened::Unknown(why)) => Listing::Unknown(why),
        Err(NotOpened::Failed) => Listing::Failed,
    }
}

/// A failure to query, as a warning on the setting that explains it.
fn report(spec: &str, cfg: &ClientConfig, query_span: Span, e: &DbError, diags: &mut Diagnostics) {
    let span_of = |names: &[&str]| names.iter().find_map(|n| cfg.span(n)).unwrap_or(query_span);
    let (id, at, help) = match e {
        DbError::Unreachable(_) => (
            "database_unreachable",
            span_of(&["hosts", "server_host", "dbpath"]),
            "check that the server runs and that this machine may connect to it; until then, name the domains with --domain",
        ),
        DbError::Refused(_) => (
            "database_login_refused",
            span_of(&["user", "bind_dn", "password", "bind_pw"]),
            "check the user name and password in this file (mailconf uses them exactly as Postfix does)",
        ),
        DbError::Query(_) => (
            "database_query_failed",
            span_of(&["query", "query_filter", "search_base"]),
            "run the query by hand to see the error; until it works, name the domains with --domain",
        ),
        DbError::Unsupported(_) => (
            "database_unsupported",
            span_of(&["hosts", "server_host", "bind", "query", "query_filter"]),
            "name the domains with --domain",
        ),
    };
    diags.push(
        Diagnostic::warning(
            id,
            format!(
                "cannot read `{spec}` from its {} database: {e}; the domains it holds are missing from this run",
                cfg.kind.name()
            ),
        )
        .at(cfg.file, at, "")
        .help(help),
    );
}

impl DbTable {
    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub fn report(&self, e: &DbError, diags: &mut Diagnostics) {
        report(&self.spec, &self.cfg, self.at.1, e, diags);
    }

    /// Does Postfix's lookup of `key` (lower-cased by the caller) return a
    /// result? Exactly the query Postfix runs, with its quoting, and its
    /// `expansion_limit`.
    pub fn accepts(&mut self, key: &str) -> Result<bool, DbError> {
        let kind = self.cfg.kind;
        let limit = self.cfg.expansion_limit();
        match &mut self.backend {
            Backend::Sql(conn) => {
                let Some(sql) = expand(&self.query, key, &|s| sql_quote(kind, s)) else {
                    return Ok(false);
                };
                let values = conn
                    .rows(&sql)?
                    .into_iter()
                    .flatten()
                    .filter(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
                    .count();
                Ok(values > 0 && (limit == 0 || values <= limit))
            }
            Backend::Ldap {
                client,
                base,
                scope,
                result_attrs,
            } => {
                let Some(f) = expand(&self.query, key, &ldap_quote) else {
                    return Ok(false);
                };
                let wanted: Vec<&str> = result_attrs.iter().map(String::as_str).collect();
                let values = client
                    .search(base, *scope, &f, &wanted)?
                    .iter()
                    .flatten()
                    .filter(|(n, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(n)))
                    .flat_map(|(_, v)| v.iter())
                    .filter(|v| !v.is_empty())
                    .count();
                Ok(values > 0 && (limit == 0 || values <= limit))
            }
        }
    }

    /// Every key the lookup accepts (see the module comment).
    fn enumerate(&mut self, diags: &mut Diagnostics) -> Result<Listing, DbError> {
        let mut found = Found::new();
        let mut partial: Option<(String, Vec<String>)> = None;
        // A fall-back scan or a cut search may miss domains.
        let mut complete = true;
        let mut unknown_branches = false;
        match &mut self.backend {
            Backend::Sql(conn) => match candidate_queries(&self.query) {
                Ok(branches) => {
                    unknown_branches = branches.len() > 1 && branches.iter().all(|b| !b.alias);
                    for b in &branches {
                        for row in conn.rows(&b.sql)? {
                            if let Some(Some(v)) = row.into_iter().next() {
                                add(&mut found, v, b.alias);
                            }
                        }
                    }
                }
                Err(why) => {
                    let tables = scanned_tables(&self.query);
                    let mut cut = Vec::new();
                    for table in &tables {
                        let rows =
                            conn.rows(&format!("SELECT * FROM {table} LIMIT {SCAN_LIMIT}"))?;
                        if rows.len() >= SCAN_LIMIT {
                            cut.push(table.clone());
                        }
                        for v in rows.into_iter().flatten().flatten() {
                            if let Some(domain) = domain_in(&v) {
                                add(&mut found, domain.to_string(), false);
                            }
                        }
                    }
                    let why = if cut.is_empty() {
                        why
                    } else {
                        format!(
                            "{why}; only the first {SCAN_LIMIT} rows of {} were read",
                            cut.join(", ")
                        )
                    };
                    partial = Some((why, tables));
                    complete = false;
                }
            },
            Backend::Ldap {
                client,
                base,
                scope,
                ..
            } => {
                let cands: LdapCandidates = ldap_candidates(&self.query).map_err(|why| {
                    DbError::Unsupported(format!(
                        "query_filter cannot be turned into a list: {why}"
                    ))
                })?;
                let attrs: Vec<&str> = cands.attrs.iter().map(String::as_str).collect();
                let is_alias = |a: &str| a.to_ascii_lowercase().contains("alias");
                // Only a filter that also compares a non-alias attribute
                // has an alias-domain part.
                let has_alias_part = !cands.attrs.iter().all(|a| is_alias(a));
                let (entries, cut) = client.search_partial(base, *scope, &cands.filter, &attrs)?;
                if cut {
                    complete = false;
                    partial = Some((
                        "the directory returned only part of the domain entries (its size limit)"
                            .into(),
                        Vec::new(),
                    ));
                }
                for entry in entries {
                    for (name, values) in entry {
                        let Some(attr) = cands.attrs.iter().find(|a| a.eq_ignore_ascii_case(&name))
                        else {
                            continue;
                        };
                        let alias = has_alias_part && is_alias(attr);
                        for v in values {
                            add(&mut found, v, alias);
                        }
                    }
                }
            }
        }
        let at = self.at;
        let v = verify(found, at, |key| self.accepts(key))?;
        self.notes(&v, partial, unknown_branches, diags);
        Ok(Listing::Queried {
            keys: v.keys,
            aliases: v.aliases,
            complete,
        })
    }

    /// Notes on what the query kept and left out, so that an
    /// administrator can check the list against the database.
    fn notes(
        &self,
        v: &Verified,
        partial: Option<(String, Vec<String>)>,
        unknown_branches: bool,
        diags: &mut Diagnostics,
    ) {
        let (file, span) = self.at;
        let spec = &self.spec;
        // After a scan, values from other columns fail the lookup as a
        // matter of course; only rejected key-column values are news.
        let scanned = partial.as_ref().is_some_and(|(_, t)| !t.is_empty());
        if let Some((why, tables)) = partial {
            let text = if tables.is_empty() {
                format!(
                    "`{spec}`: {why}; the {} domains found were kept, others may be missing: add them with --domain (--prune removes nothing meanwhile)",
                    v.keys.len()
                )
            } else {
                format!(
                    "`{spec}`: the query cannot be turned into a list ({why}); mailconf took the domains stored in the tables {} and kept the {} the query accepts. A domain with no row in those tables is missed: add it with --domain (--prune removes nothing meanwhile)",
                    tables.join(", "),
                    v.keys.len()
                )
            };
            diags.push(Diagnostic::note("database_partially_listed", text).at(file, span, ""));
        }
        if !v.aliases.is_empty() {
            diags.push(
                Diagnostic::note(
                    "alias_domains_left_out",
                    format!(
                        "`{spec}` accepts {} only through its alias-domain part: {}; their users log in at the target domain, so they get no file (M2.2)",
                        plural(v.aliases.len(), "domain"),
                        sample(v.aliases.iter().map(|k| k.key.as_str()))
                    ),
                )
                .at(file, span, ""),
            );
        }
        if unknown_branches {
            diags.push(
                Diagnostic::note(
                    "alias_domains_unknown",
                    format!(
                        "`{spec}` joins several lists with UNION and none of them reads a table or column named like an alias list; if one of them lists alias domains, they get files too: leave them out with --exclude-domain"
                    ),
                )
                .at(file, span, ""),
            );
        }
        if !v.dropped.is_empty() && !scanned {
            diags.push(
                Diagnostic::note(
                    "database_rows_not_accepted",
                    format!(
                        "`{spec}`: {} stored in the database {} not accepted by the lookup Postfix makes (with the lower-cased name): {}",
                        plural(v.dropped.len(), "value"),
                        if v.dropped.len() == 1 { "is" } else { "are" },
                        sample(v.dropped.iter().map(String::as_str))
                    ),
                )
                .at(file, span, ""),
            );
        }
    }
}

fn connect_sql(
    cfg: &ClientConfig,
    root: &Root,
    access: &Access,
) -> Result<Box<dyn SqlConn>, DbError> {
    let get = |n: &str| cfg.get(n).unwrap_or("").trim().to_string();
    let under_root = |n: &str| file_setting(cfg, root, n);
    Ok(match cfg.kind {
        Kind::Mysql => {
            let tls_names = [
                "tls_cert_file",
                "tls_key_file",
                "tls_CAfile",
                "tls_CApath",
                "tls_ciphers",
            ];
            let s = db::mysql::Settings {
                hosts: get("hosts"),
                user: get("user"),
                password: get("password"),
                dbname: get("dbname"),
                tls_cert_file: under_root("tls_cert_file")?,
                tls_key_file: under_root("tls_key_file")?,
                tls_ca_file: under_root("tls_CAfile")?,
                tls_verify_cert: yes(cfg.get("tls_verify_cert"), false),
                tls_wanted: tls_names.iter().any(|n| !get(n).is_empty()),
            };
            Box::new(db::mysql::connect_bounded(&s, access.timeout)?)
        }
        Kind::Pgsql => {
            let s = db::pgsql::Settings {
                hosts: get("hosts"),
                user: get("user"),
                password: get("password"),
                dbname: get("dbname"),
            };
            Box::new(db::pgsql::connect_bounded(&s, access.timeout)?)
        }
        Kind::Sqlite => {
            let path = under_root("dbpath")?
                .ok_or_else(|| DbError::Unsupported("the client file has no `dbpath`".into()))?;
            Box::new(db::sqlite::open(&path, access.timeout)?)
        }
        Kind::Ldap => {
            return Err(DbError::Unsupported(
                "an LDAP table is not an SQL table".into(),
            ));
        }
    })
}

fn ldap_backend(cfg: &ClientConfig, root: &Root, access: &Access) -> Result<Backend, DbError> {
    let get = |n: &str| cfg.get(n).unwrap_or("").trim().to_string();
    let base = get("search_base");
    if base.contains('%') {
        return Err(DbError::Unsupported(
            "search_base depends on the key; mailconf cannot list it".into(),
        ));
    }
    let bind = get("bind").to_ascii_lowercase();
    if bind == "sasl" {
        return Err(DbError::Unsupported("SASL binds are not supported".into()));
    }
    let bind_dn = get("bind_dn");
    let s = db::ldap::Settings {
        server_host: get("server_host"),
        server_port: get("server_port").parse().unwrap_or(389),
        bind_dn: (!matches!(bind.as_str(), "no" | "false" | "0") && !bind_dn.is_empty())
            .then_some(bind_dn),
        bind_pw: get("bind_pw"),
        start_tls: yes(cfg.get("start_tls"), false),
        tls_require_cert: yes(cfg.get("tls_require_cert"), false),
        tls_ca_cert_file: file_setting(cfg, root, "tls_ca_cert_file")?,
    };
    let scope = db::ldap::parse_scope(&get("scope")).ok_or_else(|| {
        DbError::Unsupported(format!("scope = {} is not sub, one or base", get("scope")))
    })?;
    let result_attrs: Vec<String> = {
        let v = get("result_attribute");
        let v = if v.is_empty() {
            "maildrop".to_string()
        } else {
            v
        };
        v.split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    };
    let client = Box::new(db::ldap::connect(&s, access.timeout)?);
    Ok(Backend::Ldap {
        client,
        base,
        scope,
        result_attrs,
    })
}

/// A file named by a client file setting, on the server under `--root`;
/// a path that leaves `--root` is never opened on this machine instead.
fn file_setting(cfg: &ClientConfig, root: &Root, name: &str) -> Result<Option<PathBuf>, DbError> {
    let Some(v) = cfg.get(name).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    root.resolve(v)
        .map(Some)
        .map_err(|e| DbError::Unreachable(format!("{name} = {v}: {e}")))
}

fn yes(v: Option<&str>, default: bool) -> bool {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if matches!(s.as_str(), "yes" | "true" | "1" | "on") => true,
        Some(s) if matches!(s.as_str(), "no" | "false" | "0" | "off") => false,
        _ => default,
    }
}

fn add(found: &mut Found, stored: String, alias: bool) {
    let key = stored.to_lowercase();
    found
        .entry(key)
        .and_modify(|(_, a)| *a &= alias)
        .or_insert((stored, alias));
}

/// The domain a stored value names, for the fall-back scan: the part after
/// the last `@` of an address, or the value itself, when it is shaped like
/// a domain name. Other values (names, password hashes, a password column
/// that holds an `@`) are never candidates, so they never appear in a
/// message.
fn domain_in(v: &str) -> Option<&str> {
    let v = v.trim();
    let d = v.rsplit_once('@').map_or(v, |(_, d)| d);
    let name_like = d
        .chars()
        .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    (name_like && d.contains('.') && d.len() <= 253).then_some(d)
}

/// The candidates after the lookup.
#[derive(Default)]
struct Verified {
    keys: Vec<Key>,
    /// Accepted, but only through an alias-domain part of the query.
    aliases: Vec<Key>,
    /// Stored values the lookup did not accept.
    dropped: Vec<String>,
}

/// Looks every candidate up with `accepts`.
fn verify(
    found: Found,
    at: (FileId, Span),
    mut accepts: impl FnMut(&str) -> Result<bool, DbError>,
) -> Result<Verified, DbError> {
    let mut keys = Vec::new();
    let mut aliases = Vec::new();
    let mut dropped = Vec::new();
    for (key, (stored, alias)) in found {
        if !accepts(&key)? {
            dropped.push(stored);
            continue;
        }
        let k = Key {
            key,
            value: String::new(),
            at: Some(at),
        };
        if alias {
            aliases.push(k);
        } else {
            keys.push(k);
        }
    }
    Ok(Verified {
        keys,
        aliases,
        dropped,
    })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The first few names of a list, for a message.
fn sample<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.collect();
    let shown: Vec<String> = all.iter().take(10).map(|n| format!("`{n}`")).collect();
    if all.len() > shown.len() {
        format!("{} and {} more", shown.join(", "), all.len() - shown.len())
    } else {
        shown.join(", ")
    }
}
