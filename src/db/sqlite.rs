//! SQLite, as Postfix's `sqlite_table(5)` client opens it: a file, opened
//! read-only here.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{DbError, Row, SqlConn};

pub struct SqliteConn {
    conn: Connection,
}

pub fn open(path: &Path, timeout: Duration) -> Result<SqliteConn, DbError> {
    if !path.is_file() {
        return Err(DbError::Unreachable(format!(
            "the database file {} does not exist",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| DbError::Unreachable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(timeout)
        .map_err(|e| DbError::Unreachable(format!("{}: {e}", path.display())))?;
    Ok(SqliteConn { conn })
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

impl SqlConn for SqliteConn {
    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let q = |e: rusqlite::Error| DbError::Query(e.to_string());
        let mut stmt = self.conn.prepare(sql).map_err(q)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(q)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(q)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(text(r.get_ref(i).map_err(q)?));
            }
            out.push(row);
        }
        Ok(out)
    }
}
