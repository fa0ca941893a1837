//! Read-only clients for the databases that hold Postfix lookup tables and
//! Dovecot's user data (issue 7): MySQL/MariaDB, PostgreSQL, SQLite and
//! LDAP.
//!
//! Each client opens one connection with a bounded time to connect and to
//! answer, in read-only mode where the server has one, and returns every
//! value as text (or `None` for NULL), which is all Postfix itself looks
//! at. No password ever leaves this module: every message built from a
//! server or driver error passes through [`Secrets::scrub`].

pub mod ldap;
pub mod mysql;
pub mod pgsql;
pub mod sqlite;

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

/// Whether and how mailconf may query databases.
#[derive(Clone, Debug)]
pub struct Access {
    pub enabled: bool,
    /// Bound on connecting and on each query.
    pub timeout: Duration,
}

impl Access {
    pub fn disabled() -> Access {
        Access {
            enabled: false,
            ..Access::default()
        }
    }
}

impl Default for Access {
    fn default() -> Access {
        Access {
            enabled: true,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a database could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// No server answered: connection refused, timed out, no such socket
    /// or file.
    Unreachable(String),
    /// The server refused the user name or password.
    Refused(String),
    /// The server answered, but a query failed.
    Query(String),
    /// A setting mailconf cannot honour.
    Unsupported(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unreachable(m)
            | DbError::Refused(m)
            | DbError::Query(m)
            | DbError::Unsupported(m) => f.write_str(m),
        }
    }
}

/// One row: each column as text, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// A read-only SQL connection.
pub trait SqlConn {
    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError>;
}

/// A connection that lives on its own thread, so that connecting and each
/// query have a deadline even where the driver has none (a PostgreSQL
/// server that accepts the login and never answers, a MySQL socket whose
/// server hangs). A call that misses its deadline leaves the thread
/// behind (it ends with the process) and the connection unusable.
pub struct Bounded {
    jobs: mpsc::Sender<Job>,
    deadline: Duration,
    what: String,
    broken: bool,
}

type Job = (String, mpsc::Sender<Result<Vec<Row>, DbError>>);

/// Opens a connection with `connect` on a new thread; `what` names the
/// server in messages. The driver's own time-outs (`timeout`) should fire
/// first; the deadline is a little later, for `tries` endpoints.
pub fn bounded<F>(
    what: String,
    timeout: Duration,
    tries: usize,
    connect: F,
) -> Result<Bounded, DbError>
where
    F: FnOnce() -> Result<Box<dyn SqlConn + Send>, DbError> + Send + 'static,
{
    let grace = Duration::from_secs(2);
    let (jobs, queue) = mpsc::channel::<Job>();
    let (ready, opened) = mpsc::channel();
    std::thread::spawn(move || {
        let mut conn = match connect() {
            Ok(c) => {
                let _ = ready.send(Ok(()));
                c
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        for (sql, reply) in queue {
            let _ = reply.send(conn.rows(&sql));
        }
    });
    let connect_deadline = timeout * u32::try_from(tries.max(1)).unwrap_or(u32::MAX) + grace;
    match opened.recv_timeout(connect_deadline) {
        Ok(Ok(())) => Ok(Bounded {
            jobs,
            deadline: timeout + grace,
            what,
            broken: false,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(DbError::Unreachable(format!(
            "{what} did not complete the connection within {} s",
            connect_deadline.as_secs()
        ))),
    }
}

impl SqlConn for Bounded {
    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, DbError> {
        let gone = || DbError::Unreachable(format!("{} stopped answering", self.what));
        if self.broken {
            return Err(gone());
        }
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send((sql.to_string(), reply))
            .map_err(|_| gone())?;
        match answer.recv_timeout(self.deadline) {
            Ok(r) => r,
            Err(_) => {
                self.broken = true;
                Err(DbError::Unreachable(format!(
                    "{} did not answer a query within {} s",
                    self.what,
                    self.deadline.as_secs()
                )))
            }
        }
    }
}

/// The secrets a client was given, to be cut out of every message.
#[derive(Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Secrets {
        Secrets(
            values
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// `text` with every secret replaced by `****`; also drops the
    /// `password=...` word of a connection string a driver may echo.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            out = replace_secret(&out, s);
        }
        crate::source::redact_secrets(&out)
    }
}

/// `text` with `secret` replaced by `****`. A short secret is replaced
/// only where it stands alone, so that a one-letter password does not
/// mangle every word of a message.
fn replace_secret(text: &str, secret: &str) -> String {
    if secret.chars().count() >= 6 {
        return text.replace(secret, "****");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(secret) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + secret.len()..].chars().next();
        let alone =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..i]);
        out.push_str(if alone { "****" } else { secret });
        rest = &rest[i + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// A network or socket endpoint from a `hosts` or `server_host` list.
// No derived Debug: a URL may hold a password; Debug shows what Display shows.
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String, u16),
    Unix(String),
    /// A URL kept whole (`postgresql://...`, `ldaps://...`).
    Url(String),
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            Endpoint::Tcp(h, p) => write!(f, "{h}:{p}"),
            Endpoint::Unix(p) => write!(f, "unix:{p}"),
            Endpoint::Url(u) => f.write_str(&strip_userinfo(u)),
        }
    }
}

/// A URL without its `user:password@` part (the password may hold `/`
/// or `@`: the host starts after the last `@` of the authority) and
/// without its `?query`, for messages.
pub(crate) fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{rest}")
        }
        None => url.to_string(),
    }
}

/// The password of a `scheme://user:password@host` URL, if it has one.
pub(crate) fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (userinfo, _) = rest.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// Reads a Postfix `hosts` list (`mysql_table(5)`, `pgsql_table(5)`):
/// `unix:/path`, `inet:host[:port]`, `host[:port]`, `[v6]:port`, and URLs
/// with `://`. Separated by commas and/or white space.
pub fn parse_hosts(value: &str, default_port: u16) -> Result<Vec<Endpoint>, String> {
    let mut out = Vec::new();
    for word in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if word.contains("://") {
            out.push(Endpoint::Url(word.to_string()));
        } else if let Some(path) = word.strip_prefix("unix:") {
            out.push(Endpoint::Unix(path.to_string()));
        } else {
            let hp = word.strip_prefix("inet:").unwrap_or(word);
            out.push(host_port(hp, default_port)?);
        }
    }
    Ok(out)
}

fn host_port(hp: &str, default_port: u16) -> Result<Endpoint, String> {
    let bad = || format!("`{hp}` is not host, host:port or [address]:port");
    if let Some(rest) = hp.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok(Endpoint::Tcp(host.to_string(), port));
    }
    match hp.split_once(':') {
        Some((h, p)) if !p.contains(':') => {
            let port = p.parse().map_err(|_| bad())?;
            if h.is_empty() {
                return Err(bad());
            }
            Ok(Endpoint::Tcp(h.to_string(), port))
        }
        Some(_) => Ok(Endpoint::Tcp(hp.to_string(), default_port)),
        None if hp.is_empty() => Err(bad()),
        None => Ok(Endpoint::Tcp(hp.to_string(), default_port)),
    }
}

/// Tries `connect` on each endpoint in turn, as Postfix does when a host
/// fails; the errors of all of them explain a total failure.
pub fn first_reachable<C>(
    endpoints: &[Endpoint],
    mut connect: impl FnMut(&Endpoint) -> Result<C, DbError>,
) -> Result<C, DbError> {
    let mut errors: Vec<DbError> = Vec::new();
    for e in endpoints {
        match connect(e) {
            Ok(c) => return Ok(c),
            // Refused credentials will be refused by every replica too;
            // say so at once.
            Err(err @ (DbError::Refused(_) | DbError::Unsupported(_))) => return Err(err),
            Err(err) => errors.push(err),
        }
    }
    match errors.len() {
        0 => Err(DbError::Unreachable("no server is configured".into())),
        1 => Err(errors.remove(0)),
        _ => Err(DbError::Unreachable(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists() {
        assert_eq!(
            parse_hosts(
                "unix:/run/mysqld/mysqld.sock, inet:db1:3307 db2 [::1]:3308",
                3306
            )
            .unwrap(),
            vec![
                Endpoint::Unix("/run/mysqld/mysqld.sock".into()),
                Endpoint::Tcp("db1".into(), 3307),
                Endpoint::Tcp("db2".into(), 3306),
                Endpoint::Tcp("::1".into(), 3308),
            ]
        );
        assert!(parse_hosts("db:port", 3306).is_err());
        assert_eq!(
            parse_hosts("postgresql://u:pw@db/x?sslmode=require", 5432).unwrap(),
            vec![Endpoint::Url(
                "postgresql://u:pw@db/x?sslmode=require".into()
            )]
        );
        assert_eq!(
            Endpoint::Url("postgresql://u:pw@db/x?sslmode=require".into()).to_string(),
            "postgresql://db/x"
        );
        let odd = "postgresql://u:Ab/Sl@sh-Secret@127.0.0.1/db";
        assert_eq!(strip_userinfo(odd), "postgresql://127.0.0.1/db");
        assert_eq!(url_password(odd), Some("Ab/Sl@sh-Secret"));
        assert_eq!(url_password("ldap://host/"), None);
    }

    #[test]
    fn short_secrets_are_scrubbed_where_they_stand_alone() {
        let s = Secrets::new(["p"]);
        assert_eq!(
            s.scrub("temporarily unavailable, password 'p'"),
            "temporarily unavailable, password '****'"
        );
    }

    /// A connection whose server never answers.
    struct Stuck;

    impl SqlConn for Stuck {
        fn rows(&mut self, _: &str) -> Result<Vec<Row>, DbError> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_query_that_never_ends_is_given_up() {
        let mut c = bounded("test".into(), Duration::from_millis(10), 1, || {
            Ok(Box::new(Stuck) as Box<dyn SqlConn + Send>)
        })
        .unwrap();
        let e = c.rows("SELECT 1").unwrap_err();
        assert!(
            matches!(e, DbError::Unreachable(ref m) if m.contains("did not answer")),
            "{e}"
        );
        // The connection is not used again.
        assert!(matches!(c.rows("SELECT 1"), Err(DbError::Unreachable(_))));
        let e = bounded("test".into(), Duration::from_millis(10), 1, || {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(Box::new(Stuck) as Box<dyn SqlConn + Send>)
        })
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("did not complete the connection"),
            "{e}"
        );
    }

    #[test]
    fn secrets_are_scrubbed() {
        let s = Secrets::new(["hunter2", ""]);
        assert_eq!(
            s.scrub("Access denied (password hunter2) connect=host=x password=other"),
            "Access denied (password ****) connect=host=x password=*****"
        );
    }
}
