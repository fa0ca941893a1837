//! End-to-end cases (issue 4): each `fixtures/deployments/<case>/` holds a
//! server's file tree (`case.in/`), the runs to make (`case.toml`), and the
//! reviewed expectations: the files written (`expected/<run>/`), the
//! diagnostics (`expected/<run>.diagnostics`, one `severity[id] file:line`
//! per line, paths relative to `case.in`) and the exit code. A second run
//! must change nothing (same bytes, same mtimes).
//!
//! `MAILCONF_BLESS=1` rewrites the expectations from the current output;
//! review every change against the case's EXPECTED.md before committing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{Scratch, fixture_dirs, mailconf, text};

#[derive(serde::Deserialize)]
struct Case {
    run: Vec<Run>,
    #[serde(default)]
    cert: Vec<Cert>,
    /// Database servers the case queries (`mysql`, `pgsql`, `ldap`,
    /// `sqlite`), seeded by `.ci/databases.sh` from fixtures/databases/.
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    sqlite: Vec<SqliteDb>,
}

/// An SQLite database built at test time from SQL text (no binary
/// database in the repository).
#[derive(serde::Deserialize)]
struct SqliteDb {
    /// Server path under case.in.
    path: String,
    /// File in fixtures/databases/.
    seed: String,
}

/// Fails with a clear message when a database server the case needs is
/// not running: these cases must run, not be skipped.
fn check_server(name: &str) -> Result<(), String> {
    let port = match name {
        "mysql" => 3306,
        "pgsql" => 5432,
        "ldap" => 389,
        "sqlite" => return Ok(()),
        other => return Err(format!("unknown requirement `{other}`")),
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
        .map(drop)
        .map_err(|e| {
            format!(
                "needs the {name} server on 127.0.0.1:{port} ({e}); start and seed the test databases with `.ci/databases.sh` (part of `.ci/setup`)"
            )
        })
}

/// A certificate made at test time (never committed: no private key in
/// the repository looks real).
#[derive(serde::Deserialize)]
struct Cert {
    /// Server paths under case.in.
    cert: String,
    key: String,
    names: Vec<String>,
    #[serde(default)]
    expired: bool,
}

/// Writes a self-signed certificate and its key under `root`.
pub fn make_cert(root: &Path, cert_path: &str, key_path: &str, names: &[String], expired: bool) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(names.to_vec()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let cert = params.self_signed(&key).unwrap();
    for (path, content) in [(cert_path, cert.pem()), (key_path, key.serialize_pem())] {
        let p = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

#[derive(serde::Deserialize)]
struct Run {
    name: String,
    args: Vec<String>,
    exit: i32,
}

/// Every file under `dir` except mailconf's own bookkeeping, with content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".mailconf") {
            continue;
        }
        out.insert(rel, std::fs::read(e.path()).unwrap());
    }
    out
}

fn mtimes(dir: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

/// `severity[id] path:line` lines from JSON diagnostics, paths relative to
/// the case's root.
fn diagnostics(stderr: &str, root: &Path) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            out.push_str(&format!("unparsable stderr line: {line}\n"));
            continue;
        };
        let sev = v["severity"].as_str().unwrap_or("?");
        let id = v["id"].as_str().unwrap_or("?");
        let at = match v.get("primary") {
            Some(p) if !p.is_null() => {
                let f = p["file"].as_str().unwrap_or("");
                let f = Path::new(f)
                    .strip_prefix(root)
                    .map_or(f.to_string(), |r| r.to_string_lossy().into_owned());
                format!(" {f}:{}", p["line"])
            }
            _ => String::new(),
        };
        out.push_str(&format!("{sev}[{id}]{at}\n"));
    }
    out
}

/// Reads `case.toml` of a case directory.
fn read_case(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"))
}

/// A copy of the case's tree with its certificates generated and its
/// SQLite databases built: (scratch directory, the root in it).
fn prepare(dir: &Path, case: &Case) -> (Scratch, PathBuf) {
    let tree_copy = Scratch::new("deploy-root");
    let root = tree_copy.path().join("case.in");
    crate::util::copy_tree(&dir.join("case.in"), &root);
    for c in &case.cert {
        make_cert(&root, &c.cert, &c.key, &c.names, c.expired);
    }
    for db in &case.sqlite {
        let seed = dir.join("../../databases").join(&db.seed);
        let sql =
            std::fs::read_to_string(&seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
        let path = root.join(db.path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch(&sql))
            .unwrap_or_else(|e| panic!("building {}: {e}", db.path));
    }
    (tree_copy, root)
}

/// The deployment cases that query a database, prepared, with the
/// servers they need checked: (name, scratch, root).
pub fn database_cases() -> Vec<(String, Scratch, PathBuf)> {
    let mut out = Vec::new();
    for dir in fixture_dirs("deployments") {
        let case = read_case(&dir);
        if case.requires.is_empty() && case.sqlite.is_empty() {
            continue;
        }
        for r in &case.requires {
            check_server(r).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (scratch, root) = prepare(&dir, &case);
        out.push((name, scratch, root));
    }
    out
}

fn check_case(dir: PathBuf) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let case = read_case(&dir);
    for r in &case.requires {
        if let Err(e) = check_server(r) {
            return vec![format!("{name}: {e}")];
        }
    }
    let (_tree_copy, root) = prepare(&dir, &case);
    let bless = std::env::var_os("MAILCONF_BLESS").is_some();
    let mut failures = Vec::new();
    for run in case.run {
        let label = format!("{name} run {}", run.name);
        let out = Scratch::new("deploy");
        let outdir = out.path().join("www");
        let go = || {
            mailconf()
                .arg("generate")
                .arg("--root")
                .arg(&root)
                .arg("--out")
                .arg(&outdir)
                .arg("--format")
                .arg("json")
                .args(&run.args)
                .output()
                .unwrap()
        };
        let first = go();
        let got_diags = diagnostics(&text(&first.stderr), &root);
        let got_files = tree(&outdir);
        let exp_dir = dir.join("expected").join(&run.name);
        let exp_diag_path = dir
            .join("expected")
            .join(format!("{}.diagnostics", run.name));
        if bless {
            let _ = std::fs::remove_dir_all(&exp_dir);
            std::fs::create_dir_all(&exp_dir).unwrap();
            for (rel, content) in &got_files {
                let p = exp_dir.join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, content).unwrap();
            }
            std::fs::write(&exp_diag_path, &got_diags).unwrap();
        }
        if first.status.code() != Some(run.exit) {
            failures.push(format!(
                "{label}: exit {:?}, expected {}\nstderr:\n{}",
                first.status.code(),
                run.exit,
                text(&first.stderr)
            ));
        }
        let want_diags = std::fs::read_to_string(&exp_diag_path).unwrap_or_default();
        if got_diags != want_diags {
            failures.push(format!(
                "{label}: diagnostics differ\n--- expected\n{want_diags}--- got\n{got_diags}"
            ));
        }
        let want_files = tree(&exp_dir);
        if got_files != want_files {
            let names =
                |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>().join(", ");
            let mut msg = format!(
                "{label}: files differ\n expected: {}\n got:      {}",
                names(&want_files),
                names(&got_files)
            );
            for (k, v) in &got_files {
                if want_files.get(k).is_some_and(|w| w != v) {
                    msg.push_str(&format!(
                        "\n--- {k} expected\n{}--- got\n{}",
                        text(&want_files[k]),
                        text(v)
                    ));
                }
            }
            failures.push(msg);
        }
        // A second run changes nothing: same exit code, nothing reported as
        // changed, every file keeps its mtime (rule M9.3).
        let before = mtimes(&outdir);
        let second = go();
        if second.status.code() != first.status.code()
            || !second.stdout.is_empty()
            || mtimes(&outdir) != before
        {
            failures.push(format!(
                "{label}: the second run was not a no-op (exit {:?}, stdout {:?})",
                second.status.code(),
                text(&second.stdout)
            ));
        }
    }
    failures
}

#[test]
fn deployment_cases_match_reviewed_expectations() {
    let cases = fixture_dirs("deployments");
    assert!(cases.len() >= 10, "expected at least 10 deployment cases");
    let failures: Vec<String> = crate::util::parallel(cases, 4, check_case)
        .into_iter()
        .flatten()
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
