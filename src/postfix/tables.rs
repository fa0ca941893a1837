//! Listing the keys of Postfix lookup tables (rule M2.4), to turn a
//! domain list that names a table into domains.
//!
//! Indexed files (`hash:`, `btree:`, `lmdb:`, `cdb:`, `dbm:`, `sdbm:`) are
//! read from their postmap source file (the path without suffix), as
//! Postfix's documentation tells administrators to keep them; `texthash:`
//! is that source itself; `inline:{...}` is in the value; `proxy:` is
//! transparent and `unionmap:{...}` is the union of its members. SQL and
//! LDAP tables are listed by querying their database (`db_table`); other
//! tables kept in a server or a program cannot be listed.

use std::path::PathBuf;

use mailconf_parsers::Span;
use mailconf_parsers::postfix::table_ref::{block_members, parse_inline, parse_table_ref};
use mailconf_parsers::postfix::table_source::{first_wins, parse_table_source};

use super::client_file::Kind;
use super::db_table;
use crate::db::Access;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{FileId, Root, SourceMap, read_text};

/// One key of a table, with where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub key: String,
    pub value: String,
    /// The source line, when the key came from a file.
    pub at: Option<(FileId, Span)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Every key the table holds.
    Keys(Vec<Key>),
    /// The table matches any key (`static:`, `randmap:`).
    Everything,
    /// Keys from a database query (`db_table`): `keys` are accepted by the
    /// lookup; `aliases` are accepted too, but only through the part of the
    /// query that lists alias domains.
    /// `complete` is false when some keys may be missing (a fall-back
    /// scan, a directory's size limit).
    Queried {
        keys: Vec<Key>,
        aliases: Vec<Key>,
        complete: bool,
    },
    /// The keys cannot be listed; the reason says why.
    Unknown(String),
    /// The keys could not be read; a diagnostic already says why.
    Failed,
    /// The table is written wrong and Postfix refuses it: a diagnostic id
    /// and why.
    Invalid(&'static str, String),
}

/// Reads what the table `spec` (`type:name`) holds. Problems reading a
/// file are reported and give [`Listing::Unknown`].
pub fn list_table(
    spec: &str,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    access: &Access,
) -> Listing {
    list_nested(spec, root, sources, diags, access, 0)
}

/// How deep `unionmap:{...}` tables may nest before mailconf stops
/// reading (no real configuration nests them; hostile text must not
/// exhaust the stack).
const MAX_TABLE_NESTING: usize = 20;

fn list_nested(
    spec: &str,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    access: &Access,
    depth: usize,
) -> Listing {
    if depth > MAX_TABLE_NESTING {
        return Listing::Unknown(format!(
            "tables nested more than {MAX_TABLE_NESTING} levels deep are not read"
        ));
    }
    let Some(t) = parse_table_ref(spec).and_then(|t| t.unproxied()) else {
        return Listing::Unknown(format!("`{spec}` is not a table reference"));
    };
    match t.kind {
        "hash" | "btree" | "lmdb" | "cdb" | "dbm" | "sdbm" | "texthash" => {
            read_source(t.kind, t.name, root, sources, diags)
        }
        "inline" => {
            let (entries, problems) = parse_inline(t.name);
            if let Some(p) = problems.first() {
                return Listing::Invalid(p.id, format!("`{spec}`: {}", p.message));
            }
            Listing::Keys(
                entries
                    .into_iter()
                    .map(|e| Key {
                        key: e.key,
                        value: e.value,
                        at: None,
                    })
                    .collect(),
            )
        }
        "unionmap" => {
            let Ok(members) = block_members(t.name) else {
                return Listing::Unknown(format!("`{spec}`: expected unionmap:{{table, ...}}"));
            };
            let mut keys = Vec::new();
            let mut alias_keys = Vec::new();
            let mut all_complete = true;
            for m in members {
                match list_nested(m, root, sources, diags, access, depth + 1) {
                    Listing::Keys(k) => keys.extend(k),
                    Listing::Queried {
                        keys: k,
                        aliases,
                        complete,
                    } => {
                        keys.extend(k);
                        alias_keys.extend(aliases);
                        all_complete &= complete;
                    }
                    other => return other,
                }
            }
            if alias_keys.is_empty() && all_complete {
                Listing::Keys(keys)
            } else {
                Listing::Queried {
                    keys,
                    aliases: alias_keys,
                    complete: all_complete,
                }
            }
        }
        "static" | "randmap" => Listing::Everything,
        "mysql" | "pgsql" | "sqlite" | "ldap" => match Kind::parse(t.kind) {
            Some(kind) => db_table::list(kind, spec, t.name, root, sources, diags, access),
            None => Listing::Unknown(format!("`{spec}`: unknown database type")),
        },
        k => Listing::Unknown(format!(
            "`{k}:` tables cannot be listed (their keys are patterns, or live in another program)"
        )),
    }
}

fn read_source(
    kind: &str,
    path: &str,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Listing {
    let real: PathBuf = match root.resolve(path) {
        Ok(p) => p,
        Err(e) => return Listing::Unknown(format!("cannot read `{path}`: {e}")),
    };
    let (text, _) = match read_text(&real) {
        Ok(t) => t,
        Err(e) => {
            let db_hint = if kind == "texthash" {
                String::new()
            } else {
                " (mailconf reads the postmap source file, not the indexed .db file)".to_string()
            };
            return Listing::Unknown(format!(
                "cannot read the table source {}: {e}{db_hint}",
                real.display()
            ));
        }
    };
    // Postfix warns when the indexed file is older than its source: the
    // server then answers from stale data.
    if let Some(suffix) = match kind {
        "hash" | "btree" => Some("db"),
        "lmdb" => Some("lmdb"),
        "cdb" => Some("cdb"),
        _ => None,
    } {
        let db = PathBuf::from(format!("{}.{suffix}", real.display()));
        if let (Ok(s), Ok(d)) = (std::fs::metadata(&real), std::fs::metadata(&db))
            && let (Ok(sm), Ok(dm)) = (s.modified(), d.modified())
            && sm > dm
        {
            diags.push(Diagnostic::warning(
                "table_not_rebuilt",
                format!(
                    "{} is newer than {}: run `postmap {kind}:{path}`, Postfix still answers from the old table",
                    real.display(),
                    db.display()
                ),
            ));
        }
    }
    let id = sources.add(real, text);
    let (records, syntax) = parse_table_source(&sources.get(id).text);
    let (records, dups) = first_wins(records, true);
    diags.extend_syntax(id, syntax);
    diags.extend_syntax(id, dups);
    Listing::Keys(
        records
            .into_iter()
            .map(|r| Key {
                key: r.key,
                value: r.value,
                at: Some((id, r.key_span)),
            })
            .collect(),
    )
}
