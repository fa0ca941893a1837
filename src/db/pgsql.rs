//! PostgreSQL, as Postfix's `pgsql_table(5)` client connects.

use std::str::FromStr;
use std::time::Duration;

use postgres::config::SslMode;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::{
    Bounded, DbError, Endpoint, Row, Secrets, SqlConn, bounded, first_reachable, parse_hosts,
    strip_userinfo, url_password,
};

#[derive(Clone)]
pub struct Settings {
    pub hosts: String,
    pub user: String,
    pub password: String,
    pub dbname: String,
}

pub struct PgConn {
    client: Client,
    secrets: Secrets,
}

/// [`connect`] on its own thread, with deadlines (see [`Bounded`]): the
/// driver bounds the TCP connection only, and a query only through the
/// server's `statement_timeout`.
pub fn connect_bounded(s: &Settings, timeout: Duration) -> Result<Bounded, DbError> {
    let hosts = if s.hosts.trim().is_empty() {
        "localhost"
    } else {
        s.hosts.trim()
    };
    let tries = parse_hosts(hosts, 5432)
        .map_err(DbError::Unsupported)?
        .len();
    let what = format!("the PostgreSQL server ({})", strip_userinfo(hosts));
    let s = s.clone();
    bounded(what, timeout, tries, move || {
        connect(&s, timeout).map(|c| Box::new(c) as Box<dyn SqlConn + Send>)
    })
}

pub fn connect(s: &Settings, timeout: Duration) -> Result<PgConn, DbError> {
    let url_passwords: Vec<&str> = s
        .hosts
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(url_password)
        .collect();
    let secrets = Secrets::new(std::iter::once(s.password.as_str()).chain(url_passwords));
    let hosts = if s.hosts.trim().is_empty() {
        "localhost"
    } else {
        &s.hosts
    };
    let endpoints = parse_hosts(hosts, 5432).map_err(DbError::Unsupported)?;
    let client = first_reachable(&endpoints, |e| {
        let mut c = match e {
            Endpoint::Url(u) => {
                let c = Config::from_str(u).map_err(|err| {
                    DbError::Unsupported(format!("{e}: {}", secrets.scrub(&err.to_string())))
                })?;
                if c.get_ssl_mode() == SslMode::Require {
                    return Err(DbError::Unsupported(format!(
                        "{e}: sslmode=require: mailconf does not speak TLS to PostgreSQL; connect over the local socket or name the domains with --domain"
                    )));
                }
                c
            }
            Endpoint::Tcp(h, p) => {
                let mut c = Config::new();
                c.host(h).port(*p);
                c
            }
            Endpoint::Unix(path) => {
                // libpq takes the socket's directory; accept the socket
                // file itself too.
                let mut c = Config::new();
                match path.rsplit_once("/.s.PGSQL.") {
                    Some((dir, port)) => {
                        c.host_path(dir);
                        if let Ok(p) = port.parse() {
                            c.port(p);
                        }
                    }
                    None => {
                        c.host_path(path);
                    }
                }
                c
            }
        };
        if c.get_user().is_none() && !s.user.is_empty() {
            c.user(&s.user);
        }
        if c.get_password().is_none() && !s.password.is_empty() {
            c.password(&s.password);
        }
        if c.get_dbname().is_none() && !s.dbname.is_empty() {
            c.dbname(&s.dbname);
        }
        c.connect_timeout(timeout)
            .application_name("mailconf")
            .options(&format!(
                "-c default_transaction_read_only=on -c statement_timeout={}",
                timeout.as_millis()
            ));
        c.connect(NoTls).map_err(|err| classify(&err, e, &secrets))
    })?;
    Ok(PgConn { client, secrets })
}

fn classify(err: &postgres::Error, at: &Endpoint, secrets: &Secrets) -> DbError {
    let text = match err.as_db_error() {
        Some(db) => secrets.scrub(db.message()),
        None => match std::error::Error::source(err) {
            // "error connecting to server: Connection refused (os error 111)"
            Some(cause) => secrets.scrub(&format!("{err}: {cause}")),
            None => secrets.scrub(&err.to_string()),
        },
    };
    match err.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            DbError::Refused(format!("{at} refused the login: {text}"))
        }
        Some(_) => DbError::Query(format!("{at}: {text}")),
        None => DbError::Unreachable(format!("cannot connect to {at}: {text}")),
    }
}

impl SqlConn for PgConn {
    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let messages = self.client.simple_query(sql).map_err(|e| {
            let text = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            };
            DbError::Query(self.secrets.scrub(&text))
        })?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }
}
