//! Differential tests: `mailconf doveconf` against the real `doveconf` on
//! every tree under `fixtures/dovecot/` (issue 3, rule M1.4).
//!
//! * Dovecot 2.3 trees: `mailconf doveconf -h NAME` prints exactly what
//!   `doveconf -h NAME` prints (Dovecot 2.3.19 from Debian 12) for every
//!   setting the fixture lists; a tree doveconf refuses makes mailconf exit 2.
//! * Dovecot 2.4 trees: the values must be the documented ones recorded in
//!   the fixture's `[expected]` table (each with the documentation it comes
//!   from); when `.ci/setup` could install the 2.4 doveconf, whether the
//!   tree is accepted is also checked against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{fixture_dirs, mailconf, parallel, run_required, text};

#[derive(serde::Deserialize)]
struct Case {
    #[allow(dead_code)]
    about: String,
    version: String,
    doveconf: String,
    #[serde(default)]
    settings: Vec<String>,
    #[serde(default)]
    expected: BTreeMap<String, String>,
}

fn case(dir: &Path) -> Case {
    let t = std::fs::read_to_string(dir.join("case.toml")).unwrap();
    toml::from_str(&t).unwrap_or_else(|e| panic!("{}/case.toml: {e}", dir.display()))
}

/// Trees where the local doveconf's verdict depends on which Dovecot
/// packages are installed, not on the file: mailconf reads a server's
/// configuration and knows every Debian package's settings (rule M1.4,
/// dovecot-grammar.md §8.4), so it accepts them.
const MODULE_DEPENDENT: &[&str] = &["046-protocol-sieve-unknown-fatal"];

fn doveconf24() -> Option<PathBuf> {
    let p = std::env::var_os("DOVECONF24")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/dovecot24/bin/doveconf24"));
    p.exists().then_some(p)
}

fn ours(conf: &Path, args: &[&str]) -> std::process::Output {
    mailconf()
        .arg("doveconf")
        .arg("--dovecot-conf")
        .arg(conf)
        .args(args)
        .current_dir("/")
        .output()
        .unwrap()
}

fn compare(dir: PathBuf) -> (usize, Vec<String>) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let c = case(&dir);
    let conf = dir.join("dovecot.conf");
    let mut failures = Vec::new();
    let mut compared = 0;
    let fatal = c.doveconf == "fatal";
    let module_dependent = MODULE_DEPENDENT.contains(&name.as_str());
    // Accepted or refused.
    let mine = ours(&conf, &["-n"]);
    compared += 1;
    let mine_fails = mine.status.code() == Some(2);
    if mine_fails != (fatal && !module_dependent) {
        failures.push(format!(
            "{name}: case.toml says {}, mailconf doveconf -n exited {:?}:\n{}",
            c.doveconf,
            mine.status.code(),
            text(&mine.stderr)
        ));
    }
    let oracle: Option<Command> = if c.version == "2.3" {
        let mut cmd = Command::new("doveconf");
        cmd.arg("-c").arg(&conf);
        Some(cmd)
    } else {
        doveconf24().map(|p| {
            let mut cmd = Command::new(p);
            cmd.arg("-c").arg(&conf);
            cmd
        })
    };
    if let Some(mut cmd) = oracle {
        let theirs = run_required(cmd.arg("-n").current_dir("/"), "dovecot-core");
        if theirs.status.success() == fatal {
            failures.push(format!(
                "{name}: case.toml says {}, but doveconf {} -n exited {:?}",
                c.doveconf,
                c.version,
                theirs.status.code()
            ));
        }
    }
    if fatal {
        return (compared, failures);
    }
    if c.version == "2.3" {
        for s in c.settings.iter().filter(|s| !s.starts_with("-f ")) {
            compared += 1;
            let theirs = run_required(
                Command::new("doveconf")
                    .arg("-c")
                    .arg(&conf)
                    .arg("-h")
                    .arg(s)
                    .current_dir("/"),
                "dovecot-core",
            );
            let mine = ours(&conf, &["-h", s]);
            // mailconf hides secrets that doveconf's -h shows (rule M11.3).
            let key = s.rsplit('/').next().unwrap_or(s);
            let theirs_masked = text(&theirs.stdout)
                .strip_suffix('\n')
                .map(|v| format!("{}\n", mailconf::dovecot::doveconf::mask_value(key, v)))
                .unwrap_or_default();
            if theirs_masked.as_bytes() != mine.stdout || !mine.status.success() {
                failures.push(format!(
                    "{name}: -h {s}: doveconf printed {:?}, mailconf printed {:?} (exit {:?})",
                    text(&theirs.stdout),
                    text(&mine.stdout),
                    mine.status.code()
                ));
            }
        }
    } else {
        for (s, want) in &c.expected {
            if s.starts_with("-f ") || s == "passdb" || s == "userdb" {
                continue;
            }
            compared += 1;
            let mine = ours(&conf, &["-h", s]);
            let got = text(&mine.stdout);
            if got.strip_suffix('\n') != Some(want.as_str()) {
                failures.push(format!(
                    "{name}: -h {s}: documented value {want:?}, mailconf printed {got:?}"
                ));
            }
        }
    }
    (compared, failures)
}

#[test]
fn mailconf_doveconf_agrees_with_doveconf() {
    let fixtures = fixture_dirs("dovecot");
    assert!(
        fixtures.len() >= 40,
        "expected at least 40 Dovecot fixtures"
    );
    let results = parallel(fixtures, 4, compare);
    let compared: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `path = value` lines of a `doveconf -n` style text, for the parts of the
/// configuration mailconf models: top-level settings, filters
/// (`protocol`, `local`, `remote`, `local_name`) and their settings,
/// services with their listeners, and passdb/userdb. Other sections
/// (namespaces, mailboxes, dicts, plugins) are left out: mailconf does not
/// know their per-element defaults, so its -n shows more of them than
/// doveconf does (documented in `mailconf doveconf --help`).
fn is_filter(label: &str) -> bool {
    matches!(
        label.split(' ').next(),
        Some("protocol" | "local" | "remote" | "local_name")
    )
}

fn flatten(text: &str) -> std::collections::BTreeSet<String> {
    use mailconf_parsers::dovecot::{Dialect, Item, parse_conf};
    let (items, _) = parse_conf(text, Dialect::default());
    let mut out = std::collections::BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    let mut counters: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new()];
    let modelled = |stack: &[String]| {
        stack.iter().all(|s| {
            let kind = s.split(' ').next().unwrap_or("");
            matches!(
                kind,
                "service"
                    | "inet_listener"
                    | "passdb"
                    | "userdb"
                    | "protocol"
                    | "local"
                    | "remote"
                    | "local_name"
            )
        })
    };
    for item in items {
        match item {
            Item::Open { kind, name, .. } => {
                let label = match name {
                    Some(n) => format!("{kind} {n}"),
                    None => {
                        let c = counters
                            .last_mut()
                            .unwrap()
                            .entry(kind.clone())
                            .or_insert(0);
                        *c += 1;
                        format!("{kind} #{c}")
                    }
                };
                stack.push(label);
                counters.push(BTreeMap::new());
            }
            Item::Close { .. } => {
                stack.pop();
                counters.pop();
            }
            Item::Assign { key, value, .. } => {
                if modelled(&stack) {
                    // doveconf prints filters outermost (`protocol imap {
                    // service x { } }`) whatever the order written.
                    let mut path: Vec<&String> = stack.iter().filter(|s| is_filter(s)).collect();
                    path.extend(stack.iter().filter(|s| !is_filter(s)));
                    let path: Vec<&str> = path.iter().map(|s| s.as_str()).collect();
                    out.insert(format!("{}/{key} = {}", path.join("/"), value.text()));
                }
            }
            Item::Include { .. } => {}
        }
    }
    out
}

#[test]
fn mailconf_doveconf_n_lists_what_doveconf_n_lists() {
    let mut failures = Vec::new();
    for dir in fixture_dirs("dovecot") {
        let c = case(&dir);
        if c.version != "2.3" || c.doveconf == "fatal" {
            continue;
        }
        let conf = dir.join("dovecot.conf");
        let theirs = run_required(
            Command::new("doveconf")
                .arg("-c")
                .arg(&conf)
                .arg("-n")
                .current_dir("/"),
            "dovecot-core",
        );
        let mine = ours(&conf, &["-n"]);
        let (t, m) = (flatten(&text(&theirs.stdout)), flatten(&text(&mine.stdout)));
        if t != m {
            let only_t: Vec<_> = t.difference(&m).collect();
            let only_m: Vec<_> = m.difference(&t).collect();
            failures.push(format!(
                "{}:\n  only doveconf: {only_t:?}\n  only mailconf: {only_m:?}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
