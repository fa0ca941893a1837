//! Domains kept in SQL and LDAP databases (issue 7), beyond the
//! deployment cases: secrets never shown, bounded waits, queries turned
//! off, databases left untouched. The servers are the real ones that
//! `.ci/databases.sh` starts and seeds.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::deployments::{database_cases, make_cert};
use crate::util::{Scratch, copy_tree, inspect_domains, mailconf, repo, text};

/// Every password and bind password written in the client files and
/// Dovecot SQL settings under `root`.
fn secrets_in(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(t) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in t.lines() {
            let line = line.trim();
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim();
                if matches!(k, "password" | "bind_pw" | "dnpass") && !v.trim().is_empty() {
                    out.push(v.trim().to_string());
                }
            }
            for word in line.split_whitespace() {
                if let Some(v) = word.strip_prefix("password=") {
                    out.push(v.trim_matches('"').to_string());
                }
            }
        }
    }
    out.retain(|s| s.len() >= 4);
    out.sort();
    out.dedup();
    out
}

fn all_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            s.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    s
}

/// Rule M11.3 and issue 9: no password from a client file reaches stdout,
/// stderr or a written file, whatever the command and format, including
/// when the server refuses the login.
#[test]
fn passwords_never_appear_in_any_output() {
    let cases = database_cases();
    assert!(cases.len() >= 7, "expected the database cases");
    let mut checked = 0;
    for (name, scratch, root) in &cases {
        let secrets = secrets_in(root);
        if secrets.is_empty() {
            // SQLite (mail-in-a-box) has no password.
            continue;
        }
        let out = scratch.path().join("www");
        let runs: Vec<Vec<&str>> = vec![
            vec!["inspect", "--format", "json"],
            vec!["inspect", "--format", "human"],
            vec!["generate", "--format", "json", "--verbose"],
            vec!["generate", "--format", "human", "--verbose", "--diff"],
            vec!["check", "--diff"],
        ];
        for args in runs {
            let mut cmd = mailconf();
            cmd.args(&args).arg("--root").arg(root);
            if args[0] != "inspect" {
                cmd.arg("--out").arg(&out);
            }
            let o = cmd.output().unwrap();
            let shown = format!("{}{}{}", text(&o.stdout), text(&o.stderr), all_text(&out));
            for s in &secrets {
                assert!(
                    !shown.contains(s.as_str()),
                    "{name}: `mailconf {}` shows a password",
                    args.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} runs checked");
}

/// A TCP server that accepts connections and never answers, counting
/// them.
struct Silent {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Silent {
    fn start() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let held = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                held.lock().unwrap().push(c);
            }
        });
        Silent { port, accepted }
    }
}

/// Waits for a child, killing it after `limit` (a hung run fails the test
/// instead of hanging CI; no time is asserted).
fn wait_bounded(mut child: Child, limit: Duration) -> Option<Output> {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            let status = child.wait().unwrap();
            return Some(Output {
                status,
                stdout,
                stderr,
            });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A small server tree: example.com in a hash table, and one more domain
/// table per `tables` entry (`type:path`, content).
fn tree_with_tables(tables: &[(&str, String)]) -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new("db-tree");
    let root = s.path().join("root");
    copy_tree(
        &repo().join("fixtures/deployments/sql-unreachable/case.in"),
        &root,
    );
    make_cert(
        &root,
        "/etc/ssl/certs/mail.example.com.pem",
        "/etc/ssl/private/mail.example.com.key",
        &["mail.example.com".to_string()],
        false,
    );
    let mut list = vec!["hash:/etc/postfix/vdomains".to_string()];
    for (i, (kind, content)) in tables.iter().enumerate() {
        let path = format!("/etc/postfix/extra-{i}.cf");
        std::fs::write(root.join(path.trim_start_matches('/')), content).unwrap();
        list.push(format!("{kind}:{path}"));
    }
    let main = root.join("etc/postfix/main.cf");
    let cf = std::fs::read_to_string(&main).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in cf.lines() {
        if line.starts_with("virtual_mailbox_domains") {
            out.push_str(&format!("virtual_mailbox_domains = {}\n", list.join(", ")));
            skipping = true;
            continue;
        }
        if skipping && line.starts_with(char::is_whitespace) {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(&main, out).unwrap();
    (s, root)
}

/// A server that accepts the connection and never answers costs one
/// bounded wait (`--database-timeout`), is reported, and the domains
/// found elsewhere are still written.
#[test]
fn a_silent_database_server_is_given_up_on() {
    let silent = Silent::start();
    let p = silent.port;
    let (s, root) = tree_with_tables(&[
        (
            "mysql",
            format!(
                "hosts = 127.0.0.1:{p}\nuser = u\npassword = pw-silent-1\ndbname = d\nquery = SELECT d FROM t WHERE d='%s'\n"
            ),
        ),
        (
            "pgsql",
            format!(
                "hosts = 127.0.0.1:{p}\nuser = u\npassword = pw-silent-2\ndbname = d\nquery = SELECT d FROM t WHERE d='%s'\n"
            ),
        ),
        (
            "ldap",
            format!(
                "server_host = ldap://127.0.0.1:{p}\nsearch_base = dc=example\nquery_filter = (domainName=%s)\nresult_attribute = domainName\nbind_dn = cn=x\nbind_pw = pw-silent-3\n"
            ),
        ),
    ]);
    let out = s.path().join("www");
    let child = mailconf()
        .args([
            "generate",
            "--database-timeout",
            "1",
            "--format",
            "json",
            "--root",
        ])
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_bounded(child, Duration::from_secs(120))
        .expect("mailconf kept waiting for a server that never answers");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("\"database_unreachable\"").count(),
        3,
        "one warning per table: {err}"
    );
    for table in ["extra-0.cf", "extra-1.cf", "extra-2.cf"] {
        assert!(err.contains(table), "{table} named: {err}");
    }
    assert!(!err.contains("pw-silent"), "{err}");
    assert!(
        out.join("example.com/mail/config-v1.1.xml").is_file(),
        "the domain of the hash table is written"
    );
    assert!(silent.accepted.load(Ordering::SeqCst) >= 3);
}

/// `--no-query-databases` (for a copy of another server's /etc) contacts
/// no server and says which tables were not read.
#[test]
fn no_query_databases_contacts_nothing() {
    let silent = Silent::start();
    let p = silent.port;
    let (s, root) = tree_with_tables(&[(
        "proxy:mysql",
        format!(
            "hosts = 127.0.0.1:{p}\nuser = u\npassword = pw\ndbname = d\nquery = SELECT d FROM t WHERE d='%s'\n"
        ),
    )]);
    let o = mailconf()
        .args(["generate", "--no-query-databases", "--root"])
        .arg(&root)
        .arg("--out")
        .arg(s.path().join("www"))
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("warning[domains_not_enumerable]"), "{err}");
    assert!(err.contains("proxy:mysql:/etc/postfix/extra-0.cf"), "{err}");
    assert!(err.contains("database queries are turned off"), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(silent.accepted.load(Ordering::SeqCst), 0);
}

/// The same with `query_databases = false` in mailconf.toml.
#[test]
fn the_config_file_can_turn_queries_off() {
    let silent = Silent::start();
    let p = silent.port;
    let (_s, root) = tree_with_tables(&[(
        "mysql",
        format!(
            "hosts = 127.0.0.1:{p}\nuser = u\npassword = pw\ndbname = d\nquery = SELECT d FROM t WHERE d='%s'\n"
        ),
    )]);
    std::fs::create_dir_all(root.join("etc/mailconf")).unwrap();
    std::fs::write(
        root.join("etc/mailconf/mailconf.toml"),
        "query_databases = false\n",
    )
    .unwrap();
    let o = mailconf()
        .args(["inspect", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(text(&o.stderr).contains("database queries are turned off"));
    assert_eq!(silent.accepted.load(Ordering::SeqCst), 0);
}

/// SQLite files are opened read-only: not a byte or an mtime changes.
#[test]
fn an_sqlite_database_is_left_untouched() {
    let cases = database_cases();
    let (_, scratch, root) = cases
        .iter()
        .find(|(n, _, _)| n == "mail-in-a-box")
        .expect("the mail-in-a-box case");
    let db = root.join("home/user-data/mail/users.sqlite");
    let before = (
        std::fs::read(&db).unwrap(),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    let o = mailconf()
        .args(["generate", "--root"])
        .arg(root)
        .arg("--out")
        .arg(scratch.path().join("www"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let after = (
        std::fs::read(&db).unwrap(),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    assert!(before == after, "the SQLite database changed");
    assert!(
        !root
            .join("home/user-data/mail/users.sqlite-journal")
            .exists()
    );
}

/// Dovecot 2.4's SQL userdb (`sql_driver`, `sqlite_path`, `userdb sql {
/// iterate_query }`) stands in for a Postfix domain table that cannot be
/// read: the domains of its users are written, with a note.
#[test]
fn dovecot_users_stand_in_for_an_unreadable_table() {
    let s = Scratch::new("d24-sql");
    let root = s.path().join("root");
    copy_tree(
        &repo().join("fixtures/deployments/dovecot24/case.in"),
        &root,
    );
    std::fs::write(
        root.join("etc/dovecot/conf.d/auth-passwdfile.conf.ext"),
        "sql_driver = sqlite\nsqlite_path = /var/lib/mail/users.sqlite\n\
         passdb sql {\n  query = SELECT username AS user, password FROM users WHERE username = '%{user}'\n}\n\
         userdb sql {\n  query = SELECT home FROM users WHERE username = '%{user}'\n  iterate_query = SELECT username AS user FROM users\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("var/lib/mail")).unwrap();
    rusqlite::Connection::open(root.join("var/lib/mail/users.sqlite"))
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE users(username TEXT, password TEXT, home TEXT);
                 INSERT INTO users VALUES ('a@example.com', 'x', '/h'), ('b@Example.ORG', 'y', '/h');",
            )
        })
        .unwrap();
    // Nothing listens on port 1: the Postfix table cannot be read.
    std::fs::write(
        root.join("etc/postfix/pg.cf"),
        "hosts = 127.0.0.1:1\nuser = u\npassword = secret-pg-1\ndbname = d\nquery = SELECT name FROM domains WHERE name='%s'\n",
    )
    .unwrap();
    let main = root.join("etc/postfix/main.cf");
    let cf = std::fs::read_to_string(&main).unwrap().replace(
        "virtual_mailbox_domains = example.com example.net",
        "virtual_mailbox_domains = pgsql:/etc/postfix/pg.cf",
    );
    assert!(cf.contains("pgsql:/etc/postfix/pg.cf"));
    std::fs::write(&main, cf).unwrap();
    let o = mailconf()
        .args(["inspect", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    let err = text(&o.stderr);
    // inspect's JSON carries the diagnostics.
    assert!(out.contains("\"database_unreachable\""), "{out}");
    assert!(out.contains("\"domains_from_dovecot\""), "{out}");
    assert!(!format!("{out}{err}").contains("secret-pg-1"));
    assert_eq!(inspect_domains(&o.stdout), ["example.com", "example.org"]);
}

/// `--prune` acts only on a complete list of domains: while a domain
/// database cannot be read, the files of its domains stay (a hook run
/// during a database restart must not unpublish every domain).
#[test]
fn prune_waits_for_every_domain_table() {
    let cases = database_cases();
    let (_, scratch, root) = cases
        .iter()
        .find(|(n, _, _)| n == "postfixadmin")
        .expect("the postfixadmin case");
    let out = scratch.path().join("www");
    let generate = || {
        mailconf()
            .args(["generate", "--prune", "--root"])
            .arg(root)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = generate();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let file = out.join("example.org/mail/config-v1.1.xml");
    assert!(file.is_file(), "example.org comes from the database");
    // The database is down (here: the client file points at a closed port).
    let cf = root.join("etc/postfix/sql/mysql_virtual_domains_maps.cf");
    let good = std::fs::read_to_string(&cf).unwrap();
    std::fs::write(&cf, format!("{good}\nhosts = 127.0.0.1:1\n")).unwrap();
    let down = generate();
    let err = text(&down.stderr);
    assert_eq!(down.status.code(), Some(0), "{err}");
    assert!(err.contains("warning[database_unreachable]"), "{err}");
    assert!(err.contains("warning[prune_skipped]"), "{err}");
    assert!(file.is_file(), "pruned while the database was down");
    // Back up: nothing to prune, nothing changed.
    std::fs::write(&cf, good).unwrap();
    let up = generate();
    assert_eq!(up.status.code(), Some(0));
    assert!(!text(&up.stderr).contains("prune_skipped"));
    assert!(file.is_file());
}

/// Client files written to trip mailconf up (review of issue 7): a
/// password continued on the next line or inside a URL, an LDAP URL
/// without a host, a second statement after `;`, a `dbpath` that leaves
/// `--root`. Each gives a warning naming its file; nothing panics, nothing
/// leaks, nothing outside `--root` is opened.
#[test]
fn hostile_client_files_are_refused_cleanly() {
    let outside = Scratch::new("outside-root");
    let outside_db = outside.path().join("h.sqlite");
    rusqlite::Connection::open(&outside_db)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE d(name TEXT); INSERT INTO d VALUES ('host-only.example');",
            )
        })
        .unwrap();
    let ups = "../".repeat(30);
    let (s, root) = tree_with_tables(&[
        (
            "mysql",
            "hosts = 127.0.0.1:3306\nuser = postfix\npassword =\n    Contd-Secret-77\ndbname = postfix\nquery = SELECT domain FROM domain WHERE domain='%s'\n".to_string(),
        ),
        (
            "pgsql",
            "hosts = postgresql://modoboa:Ab/Sl@sh-Secret-88@127.0.0.1/modoboa\nquery = SELECT name FROM admin_domain WHERE name='%s'\n".to_string(),
        ),
        (
            "ldap",
            "server_host = ldap:/x://\nsearch_base = dc=example\nquery_filter = (domainName=%s)\nbind_pw = Ldap-Secret-99\n".to_string(),
        ),
        (
            "mysql",
            "hosts = 127.0.0.1:3306\nuser = postfix\npassword = fake-password-2\ndbname = postfix\nquery = SELECT domain FROM domain WHERE domain='%s'; DELETE FROM domain\n".to_string(),
        ),
        (
            "sqlite",
            format!("dbpath = {ups}{}\nquery = SELECT name FROM d WHERE name='%s'\n", outside_db.display()),
        ),
    ]);
    let out = s.path().join("www");
    for format in ["human", "json"] {
        let o = mailconf()
            .args([
                "generate",
                "--format",
                format,
                "--database-timeout",
                "3",
                "--root",
            ])
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        for secret in [
            "Contd-Secret-77",
            "Sl@sh-Secret-88",
            "Ab/Sl",
            "Ldap-Secret-99",
        ] {
            assert!(!err.contains(secret), "{format}: {secret} shown:\n{err}");
        }
        // Each table's warning, with the file it names (JSON: one line
        // each; human: the header line and the ` --> ` line after it).
        let warnings: Vec<String> = if format == "json" {
            err.lines().map(str::to_string).collect()
        } else {
            err.split("\n\n").map(str::to_string).collect()
        };
        for (i, ids) in [
            (0, &["database_login_refused"][..]),
            // The URL's `@` in the password confuses the client's parser:
            // refused or unreachable, the password stays hidden.
            (1, &["database_login_refused", "database_unreachable"][..]),
            (2, &["database_unsupported"][..]),
            (3, &["database_unsupported"][..]),
            (4, &["database_unreachable"][..]),
        ] {
            let file = format!("extra-{i}.cf");
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&file) && ids.iter().any(|id| w.contains(id))),
                "{format}: {ids:?} for {file}:\n{err}"
            );
        }
        assert!(err.contains("leaves the --root directory"), "{err}");
        assert!(err.contains("more than one statement"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out.join("host-only.example").exists(),
            "a file outside --root was read"
        );
        assert!(out.join("example.com/mail/config-v1.1.xml").is_file());
    }
}
