//! MySQL and MariaDB, as Postfix's `mysql_table(5)` client connects.

use std::path::PathBuf;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts, Value};

use super::{
    Bounded, DbError, Endpoint, Row, Secrets, SqlConn, bounded, first_reachable, parse_hosts,
};

/// Where Debian's MariaDB and MySQL listen when a client says `localhost`.
const DEFAULT_SOCKET: &str = "/run/mysqld/mysqld.sock";

/// The settings of a `mysql:` client file that decide the connection.
#[derive(Clone)]
pub struct Settings {
    pub hosts: String,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// `tls_*` settings; TLS is used when any of them is set, as Postfix
    /// does. Paths already resolved under `--root`.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_verify_cert: bool,
    pub tls_wanted: bool,
}

pub struct MysqlConn {
    conn: Conn,
    secrets: Secrets,
}

/// `localhost` without a port means the local socket to libmysqlclient,
/// which Postfix uses; the TCP port is the fall-back when no socket
/// exists.
fn endpoints(s: &Settings) -> Result<Vec<Endpoint>, DbError> {
    let hosts = if s.hosts.trim().is_empty() {
        "localhost"
    } else {
        &s.hosts
    };
    let mut out = Vec::new();
    for e in parse_hosts(hosts, 3306).map_err(DbError::Unsupported)? {
        match e {
            Endpoint::Tcp(h, 3306)
                if h == "localhost" && hosts_word_is_bare(hosts, "localhost") =>
            {
                if std::path::Path::new(DEFAULT_SOCKET).exists() {
                    out.push(Endpoint::Unix(DEFAULT_SOCKET.into()));
                } else {
                    out.push(Endpoint::Tcp("127.0.0.1".into(), 3306));
                }
            }
            Endpoint::Url(u) => {
                return Err(DbError::Unsupported(format!(
                    "`{}` is not a MySQL host (unix:/path, inet:host:port or host[:port])",
                    Endpoint::Url(u)
                )));
            }
            e => out.push(e),
        }
    }
    Ok(out)
}

fn hosts_word_is_bare(hosts: &str, word: &str) -> bool {
    hosts
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|w| w == word || w == format!("inet:{word}"))
}

/// [`connect`] on its own thread, with deadlines (see [`Bounded`]).
pub fn connect_bounded(s: &Settings, timeout: Duration) -> Result<Bounded, DbError> {
    let tries = endpoints(s)?.len();
    let what = format!(
        "the MySQL server ({})",
        if s.hosts.trim().is_empty() {
            "localhost"
        } else {
            s.hosts.trim()
        }
    );
    let s = s.clone();
    bounded(what, timeout, tries, move || {
        connect(&s, timeout).map(|c| Box::new(c) as Box<dyn SqlConn + Send>)
    })
}

pub fn connect(s: &Settings, timeout: Duration) -> Result<MysqlConn, DbError> {
    let secrets = Secrets::new([s.password.as_str()]);
    let endpoints = endpoints(s)?;
    let conn = first_reachable(&endpoints, |e| {
        let mut b = OptsBuilder::new()
            .user(Some(&s.user))
            .pass(Some(&s.password))
            .db_name(Some(&s.dbname))
            .tcp_connect_timeout(Some(timeout))
            .read_timeout(Some(timeout))
            .write_timeout(Some(timeout))
            .prefer_socket(false)
            // Nothing mailconf sends can change data; the server enforces
            // it as well.
            .init(vec!["SET SESSION TRANSACTION READ ONLY"]);
        b = match e {
            Endpoint::Unix(p) => b.socket(Some(p)),
            Endpoint::Tcp(h, p) => b.ip_or_hostname(Some(h)).tcp_port(*p),
            Endpoint::Url(u) => {
                return Err(DbError::Unsupported(format!("`{u}` is not a MySQL host")));
            }
        };
        if s.tls_wanted {
            let mut tls = SslOpts::default()
                .with_danger_accept_invalid_certs(!s.tls_verify_cert)
                .with_danger_skip_domain_validation(!s.tls_verify_cert);
            if let Some(ca) = &s.tls_ca_file {
                tls = tls.with_root_cert_path(Some(ca.clone()));
            }
            if let (Some(c), Some(k)) = (&s.tls_cert_file, &s.tls_key_file) {
                tls = tls
                    .with_client_identity(Some(mysql::ClientIdentity::new(c.clone(), k.clone())));
            }
            b = b.ssl_opts(tls);
        }
        Conn::new(b).map_err(|err| classify(&err, e, &secrets))
    })?;
    Ok(MysqlConn { conn, secrets })
}

/// The driver's message without its `Kind { ... }` wrapper.
fn message(err: &mysql::Error) -> String {
    match err {
        mysql::Error::MySqlError(e) => format!("{} (MySQL error {})", e.message, e.code),
        other => {
            let t = other.to_string();
            match t.split_once(" { ") {
                Some((_, inner)) if t.ends_with(" }") => inner[..inner.len() - 2].to_string(),
                _ => t,
            }
        }
    }
}

fn classify(err: &mysql::Error, at: &Endpoint, secrets: &Secrets) -> DbError {
    let text = secrets.scrub(&message(err));
    match err {
        // 1044 no access to the database, 1045 wrong password, 1698
        // unix_socket authentication refused.
        mysql::Error::MySqlError(e) if matches!(e.code, 1044 | 1045 | 1698) => {
            DbError::Refused(format!("{at} refused the login: {text}"))
        }
        mysql::Error::MySqlError(_) => DbError::Query(format!("{at}: {text}")),
        _ => DbError::Unreachable(format!("cannot connect to {at}: {text}")),
    }
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

impl SqlConn for MysqlConn {
    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let secrets = &self.secrets;
        let result = self
            .conn
            .query_iter(sql)
            .map_err(|e| DbError::Query(secrets.scrub(&message(&e))))?;
        let mut out = Vec::new();
        for row in result {
            let row = row.map_err(|e| DbError::Query(secrets.scrub(&message(&e))))?;
            out.push(row.unwrap().into_iter().map(text).collect());
        }
        Ok(out)
    }
}
