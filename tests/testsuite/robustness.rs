//! Robustness and security (issue 9): crash safety under SIGKILL,
//! concurrent runs on one output directory, secrets that never reach any
//! output, running as an unprivileged user, and the validator on arbitrary
//! text. The malformed-input corpus is in `malformed.rs`, the parser
//! properties in `parsers/tests/properties.rs`, the fuzzers in `fuzz/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Scratch, copy_tree, mailconf, repo, text};

// ---- helpers --------------------------------------------------------------

/// A scratch directory on a RAM file system when there is one (`/dev/shm`):
/// every mailconf run flushes the output's file system (`syncfs`), which on
/// a busy disk costs seconds and would make hundreds of runs slow. Killing a
/// process tests the same thing on either.
struct FastDir(PathBuf);

impl FastDir {
    fn new(tag: &str) -> FastDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("mailconf-test-{}-{tag}-{n}", std::process::id());
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() && std::fs::create_dir_all(shm.join(&name)).is_ok() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let p = base.join(name);
        std::fs::create_dir_all(&p).unwrap();
        FastDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for FastDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The debian-submission deployment (which hosts example.net through
/// mydestination) plus `n` hosted domains from a `hash:` table listed in
/// virtual_mailbox_domains: `2 * (n + 1)` files.
fn domains_tree(root: &Path, n: usize) {
    copy_tree(
        &repo().join("fixtures/deployments/debian-submission/case.in"),
        root,
    );
    let main = root.join("etc/postfix/main.cf");
    let mut t = std::fs::read_to_string(&main).unwrap();
    t.push_str("virtual_mailbox_domains = hash:/etc/postfix/vdomains\n");
    std::fs::write(&main, t).unwrap();
    let table: String = (0..n).map(|i| format!("d{i:04}.example OK\n")).collect();
    std::fs::write(root.join("etc/postfix/vdomains"), table).unwrap();
}

fn generate_cmd(root: &Path, out: &Path, hostname: &str) -> Command {
    let mut c = mailconf();
    c.arg("generate")
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out)
        .arg("--hostname")
        .arg(hostname);
    c
}

fn generate_ok(root: &Path, out: &Path, hostname: &str) -> Output {
    let r = generate_cmd(root, out, hostname).output().unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "generate --hostname {hostname} failed:\n{}",
        text(&r.stderr)
    );
    r
}

/// Every `config-v1.1.xml` under `out`, relative path to content.
fn config_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(out)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() == "config-v1.1.xml")
        .map(|e| {
            let rel = e.path().strip_prefix(out).unwrap();
            (
                rel.to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

/// Temporary files (`.NAME.mailconf-PID.tmp`) anywhere under `out`.
fn tmp_files(out: &Path) -> Vec<String> {
    walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.path().display().to_string())
        .collect()
}

/// `mailconf validate` on many files at once; all must pass.
fn validate_all(files: &[PathBuf]) {
    for chunk in files.chunks(500) {
        let r = mailconf().arg("validate").args(chunk).output().unwrap();
        assert_eq!(
            r.status.code(),
            Some(0),
            "mailconf validate failed:\n{}",
            text(&r.stderr)
        );
    }
}

/// A small xorshift generator: the tests need no cryptographic quality,
/// only a seed that is printed so that a failure can be replayed
/// (`MAILCONF_TEST_SEED=N`).
struct Rng(u64);

impl Rng {
    fn from_env_or_time() -> Rng {
        let seed = std::env::var("MAILCONF_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("random seed: MAILCONF_TEST_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---- crash safety ------------------------------------------------------------

/// Rule M9.3: a run killed at any moment leaves every file with its old or
/// its new content. 1,000 domains (2,000 files) are generated with one host
/// name; then runs that change every file (another `--hostname`) are killed
/// with SIGKILL after a random delay, at least 100 times. After each kill,
/// every file must be exactly one of the two versions (and pass the
/// validator); when a run got through, the direction is reversed so that
/// later kills again land in the middle of a change. A normal run then
/// finishes the job and `check` finds nothing to do.
#[test]
fn sigkill_at_random_moments_leaves_each_file_old_or_new() {
    const DOMAINS: usize = 1000;
    const KILLS: usize = 100;
    let s = Scratch::new("crash");
    let root = s.path().join("root");
    domains_tree(&root, DOMAINS);
    let fast = FastDir::new("crash");
    let hosts = ["mx-old.example.net", "mx-new.example.net"];

    // The two complete versions, each written by an uninterrupted run.
    let mut refs = Vec::new();
    for h in hosts {
        let o = fast.path().join(format!("ref-{h}"));
        generate_ok(&root, &o, h);
        let files = config_files(&o);
        assert_eq!(files.len(), 2 * (DOMAINS + 1), "two files per domain");
        validate_all(&files.keys().map(|f| o.join(f)).collect::<Vec<_>>());
        refs.push(files);
    }
    assert!(
        refs[0].iter().all(|(k, v)| refs[1][k] != *v),
        "every file must differ between the two host names"
    );

    let out = fast.path().join("www");
    let t = Instant::now();
    generate_ok(&root, &out, hosts[0]);
    let full = t.elapsed();
    let t = Instant::now();
    generate_ok(&root, &out, hosts[0]);
    let noop = t.elapsed();
    eprintln!("a full run takes {full:?}, a run with nothing to write {noop:?}");

    let mut rng = Rng::from_env_or_time();
    let (mut kills, mut finished, mut untouched, mut partial, mut complete) = (0, 0, 0, 0, 0);
    let mut target = 1;
    let (mut lo, mut hi) = (noop.as_secs_f64() * 0.5, full.as_secs_f64() * 1.2);
    let started = Instant::now();
    while kills < KILLS {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "too slow: {kills} kills in {:?}",
            started.elapsed()
        );
        // Most of a run is reading; the writes come at the end. Delays are
        // drawn from [lo, hi], which starts at half the reading time to a
        // little past a full run and then narrows towards the moments that
        // matter: a kill that found nothing written raises `lo` a little,
        // a run that finished lowers `hi` a little.
        let delay = Duration::from_secs_f64(lo + (hi - lo) * rng.unit());
        let mut child = generate_cmd(&root, &out, hosts[target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(st) => {
                assert!(st.success(), "an uninterrupted run failed: {st}");
                finished += 1;
                hi -= (hi - delay.as_secs_f64()) * 0.25;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
        let files = config_files(&out);
        let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&files),
            names(&refs[0]),
            "after a kill at {delay:?}, files are missing or extra"
        );
        let mut new = 0;
        for (p, content) in &files {
            if *content == refs[target][p] {
                new += 1;
            } else {
                assert!(
                    *content == refs[1 - target][p],
                    "after a kill at {delay:?}, {p} is neither the old nor the new version:\n{}",
                    text(content)
                );
            }
        }
        // A sample checked by the validator itself, not only by equality.
        for _ in 0..10 {
            let i = (rng.next() % files.len() as u64) as usize;
            let (p, content) = files.iter().nth(i).unwrap();
            let errors: Vec<_> = mailconf::autoconfig::validate::validate(&text(content))
                .into_iter()
                .filter(|f| f.severity == mailconf_parsers::Severity::Error)
                .map(|f| f.id)
                .collect();
            assert!(errors.is_empty(), "{p} fails validation: {errors:?}");
        }
        if new == 0 {
            untouched += 1;
            lo += (delay.as_secs_f64() - lo) * 0.1;
        } else if new < files.len() {
            partial += 1;
        } else {
            complete += 1;
            target = 1 - target;
        }
        if hi - lo < 0.1 * full.as_secs_f64() {
            // Timing drifted (a busy machine): widen the window again.
            lo = (lo - 0.1 * full.as_secs_f64()).max(0.0);
            hi += 0.1 * full.as_secs_f64();
        }
    }
    eprintln!(
        "{kills} kills and {finished} finished runs in {:?}: {untouched} states with no new file, \
         {partial} with some files new, {complete} with every file new; delays ended in \
         [{lo:.3}, {hi:.3}] s",
        started.elapsed()
    );
    // The kills must have reached the writes at least once, or this test
    // proved nothing about them.
    assert!(
        partial + complete > 0,
        "no kill landed after the first file was replaced; delays too short?"
    );

    // A normal run finishes the job; nothing is left behind.
    generate_ok(&root, &out, hosts[target]);
    assert!(
        config_files(&out) == refs[target],
        "the final run left wrong files"
    );
    assert!(tmp_files(&out).is_empty(), "{:?}", tmp_files(&out));
    let r = mailconf()
        .arg("check")
        .arg("--root")
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .arg("--hostname")
        .arg(hosts[target])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
}

// ---- concurrency -------------------------------------------------------------

/// Four runs at once on one OUT with different host names take turns
/// through `OUT/.mailconf.lock`: every run finds the previous one's
/// complete result (so each reports every file as created or updated),
/// the files end up as one run's complete version, and no temporary file
/// is left.
#[test]
fn concurrent_runs_on_one_out_take_turns() {
    const DOMAINS: usize = 300;
    let s = Scratch::new("concurrent");
    let root = s.path().join("root");
    domains_tree(&root, DOMAINS);
    let fast = FastDir::new("concurrent");
    let hosts = [
        "mx1.example.net",
        "mx2.example.net",
        "mx3.example.net",
        "mx4.example.net",
    ];
    let refs: Vec<BTreeMap<String, Vec<u8>>> = hosts
        .iter()
        .map(|h| {
            let o = fast.path().join(format!("ref-{h}"));
            generate_ok(&root, &o, h);
            config_files(&o)
        })
        .collect();

    let out = fast.path().join("www");
    let children: Vec<_> = hosts
        .iter()
        .map(|h| {
            generate_cmd(&root, &out, h)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (h, o) in hosts.iter().zip(&outputs) {
        assert_eq!(
            o.status.code(),
            Some(0),
            "run {h} failed:\n{}",
            text(&o.stderr)
        );
        let changed = text(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("created ") || l.starts_with("updated "))
            .count();
        assert_eq!(
            changed,
            2 * (DOMAINS + 1),
            "run {h} did not see the previous run's complete result (runs overlapped?):\n{}",
            text(&o.stdout)
        );
    }
    let created: usize = outputs
        .iter()
        .map(|o| {
            text(&o.stdout)
                .lines()
                .filter(|l| l.starts_with("created "))
                .count()
        })
        .sum();
    assert_eq!(
        created,
        2 * (DOMAINS + 1),
        "exactly one run creates the files"
    );
    let files = config_files(&out);
    let winner = refs.iter().position(|r| *r == files);
    assert!(
        winner.is_some(),
        "the files are not one run's complete version (writes interleaved)"
    );
    assert!(tmp_files(&out).is_empty(), "{:?}", tmp_files(&out));
    assert!(out.join(".mailconf.lock").exists());
}

// ---- secrets -----------------------------------------------------------------

const SECRETS: &[&str] = &[
    "Sekr1t-mysql-Pw",
    "Sekr1t-pgsql-Pw",
    "Sekr1t-ldap-BindPw",
    "Sekr1t-relay-Pw",
    "Sekr1t-static-Pw",
    "Sekr1t-connect-Pw",
    "Sekr1t-near-error-Pw",
    "Sekr1t-continued-Pw",
];

/// A tree whose SQL, LDAP and Dovecot settings hold passwords.
fn secrets_tree(root: &Path) {
    copy_tree(
        &repo().join("fixtures/deployments/debian-submission/case.in"),
        root,
    );
    let pf = root.join("etc/postfix");
    let main = pf.join("main.cf");
    let mut t = std::fs::read_to_string(&main).unwrap();
    t.push_str(
        "virtual_mailbox_domains = example.org, mysql:/etc/postfix/mysql-domains.cf, \
         proxy:pgsql:/etc/postfix/pgsql-domains.cf, ldap:/etc/postfix/ldap-domains.cf\n",
    );
    std::fs::write(&main, t).unwrap();
    // Nothing listens on port 1: connections are refused at once.
    std::fs::write(
        pf.join("mysql-domains.cf"),
        "user = postfix\npassword = Sekr1t-mysql-Pw\nhosts = 127.0.0.1:1\ndbname = postfix\n\
         query = SELECT 1 FROM domain WHERE domain='%s'\n",
    )
    .unwrap();
    std::fs::write(
        pf.join("pgsql-domains.cf"),
        "user = postfix\npassword = Sekr1t-pgsql-Pw\nhosts = 127.0.0.1:1\ndbname = postfix\n\
         query = SELECT 1 FROM domain WHERE domain='%s'\n",
    )
    .unwrap();
    std::fs::write(
        pf.join("ldap-domains.cf"),
        "server_host = ldap://127.0.0.1:1\nsearch_base = dc=example,dc=org\n\
         bind = yes\nbind_dn = cn=postfix,dc=example,dc=org\nbind_pw = Sekr1t-ldap-BindPw\n\
         query_filter = (associatedDomain=%s)\nresult_attribute = associatedDomain\n",
    )
    .unwrap();
    let dv = root.join("etc/dovecot");
    std::fs::write(
        dv.join("conf.d/90-secrets.conf"),
        "submission_relay_host = relay.example.net\n\
         submission_relay_user = relay\n\
         submission_relay_password = Sekr1t-relay-Pw\n\
         passdb {\n  driver = static\n  args = nopassword=no password=Sekr1t-static-Pw\n}\n\
         passdb {\n  driver = sql\n  args = /etc/dovecot/dovecot-sql.conf.ext\n}\n",
    )
    .unwrap();
    std::fs::write(
        dv.join("dovecot-sql.conf.ext"),
        "driver = pgsql\n\
         connect = host=127.0.0.1 port=1 dbname=mail user=dovecot password=Sekr1t-connect-Pw\n\
         password_query = SELECT username AS user, password FROM mailbox WHERE username = '%u'\n\
         iterate_query = SELECT username AS user FROM mailbox\n",
    )
    .unwrap();
}

/// Runs every command that prints or writes something over `root` and
/// returns (what was run, everything it printed), plus the output tree.
fn every_output(root: &Path, out: &Path) -> Vec<(String, Vec<u8>)> {
    let runs: Vec<Vec<&str>> = vec![
        vec!["generate"],
        vec!["generate", "--format", "json"],
        vec!["generate", "--dry-run", "--diff"],
        vec!["check", "--diff"],
        vec!["inspect"],
        vec!["inspect", "--format", "json"],
        vec!["doveconf", "-n"],
        vec!["doveconf"],
        vec!["postconf", "-n"],
        vec!["dns"],
        vec!["webserver", "nginx"],
    ];
    let mut got = Vec::new();
    for args in runs {
        let mut c = mailconf();
        c.args(&args).arg("--root").arg(root);
        if matches!(args[0], "generate" | "check" | "webserver") {
            c.arg("--out").arg(out);
        }
        let r = c.output().unwrap();
        let label = args.join(" ");
        assert!(
            !text(&r.stderr).contains("panicked"),
            "`mailconf {label}` panicked:\n{}",
            text(&r.stderr)
        );
        got.push((format!("`mailconf {label}` stdout"), r.stdout));
        got.push((format!("`mailconf {label}` stderr"), r.stderr));
    }
    for e in walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if e.file_type().is_file() {
            got.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    got
}

fn assert_no_secret(outputs: &[(String, Vec<u8>)]) {
    let mut leaks = Vec::new();
    for (what, bytes) in outputs {
        let t = text(bytes);
        for s in SECRETS {
            if let Some(i) = t.find(s) {
                let line_start = t[..i].rfind('\n').map_or(0, |n| n + 1);
                let line_end = t[i..].find('\n').map_or(t.len(), |n| i + n);
                leaks.push(format!("{what}: `{s}` in {:?}", &t[line_start..line_end]));
            }
        }
    }
    assert!(leaks.is_empty(), "passwords leaked:\n{}", leaks.join("\n"));
}

/// Rule M11.3: SQL, LDAP and Dovecot passwords appear in no output of any
/// command, nor in any written file — with a valid configuration.
#[test]
fn passwords_never_appear_in_any_output() {
    let s = Scratch::new("secrets");
    let root = s.path().join("root");
    secrets_tree(&root);
    let outputs = every_output(&root, &s.path().join("www"));
    // The test must see the configuration: it was read (the Dovecot
    // settings are printed by doveconf, with the password masked).
    let doveconf = outputs
        .iter()
        .find(|(w, _)| w == "`mailconf doveconf -n` stdout")
        .map(|(_, b)| text(b))
        .unwrap();
    assert!(
        doveconf.contains("submission_relay_password"),
        "the secrets tree was not read:\n{doveconf}"
    );
    assert_no_secret(&outputs);
}

/// The same when syntax errors sit right at or next to the password
/// lines, so that diagnostics quote those lines: a Postfix client file
/// whose `password` line lost its `=`, one whose password is on a
/// continuation line before a broken line, a Dovecot password continued on
/// the next line with a `#` glued to it (a warning on that very line) and a
/// broken line after it, and a Dovecot password line without `=`.
#[test]
fn passwords_never_appear_in_diagnostics_about_nearby_errors() {
    // Postfix: only the client file is broken (Dovecot loads, so the
    // table is read).
    let s = Scratch::new("secrets-near-error");
    let root = s.path().join("root");
    secrets_tree(&root);
    std::fs::write(
        root.join("etc/postfix/mysql-domains.cf"),
        "user = postfix\npassword Sekr1t-near-error-Pw\nhosts = 127.0.0.1:1\n\
         dbname = postfix\nquery = SELECT 1 FROM domain WHERE domain='%s'\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/postfix/pgsql-domains.cf"),
        "user = postfix\npassword =\n    Sekr1t-continued-Pw\nhosts 127.0.0.1:1\n\
         dbname = postfix\nquery = SELECT 1 FROM domain WHERE domain='%s'\n",
    )
    .unwrap();
    let mut outputs = every_output(&root, &s.path().join("www"));

    // Dovecot: a continued password value next to a broken line, and a
    // password line without `=`.
    let s = Scratch::new("secrets-near-error-dovecot");
    let root = s.path().join("root");
    secrets_tree(&root);
    std::fs::write(
        root.join("etc/dovecot/conf.d/90-secrets.conf"),
        "submission_relay_host = relay.example.net\n\
         submission_relay_password = \\\n  Sekr1t-continued-Pw#rotated in May\n\
         submission_relay_user relay\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/dovecot/conf.d/91-secrets.conf"),
        "submission_relay_password Sekr1t-near-error-Pw\n",
    )
    .unwrap();
    let dovecot = every_output(&root, &s.path().join("www"));
    let generate_err = dovecot
        .iter()
        .find(|(w, _)| w == "`mailconf generate` stderr")
        .map(|(_, b)| text(b))
        .unwrap();
    assert!(
        generate_err.contains("90-secrets.conf:4") && generate_err.contains("91-secrets.conf:1"),
        "the syntax errors next to the passwords are not reported:\n{generate_err}"
    );
    outputs.extend(dovecot);
    assert_no_secret(&outputs);
}

// ---- least privilege ---------------------------------------------------------

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// mailconf only reads the mail configuration: as `nobody` (uid 65534)
/// with a readable tree and an OUT it owns, it works; with one included
/// file unreadable (0600, owned by root) it stops with a clear error that
/// names the file, exit 2, no panic, nothing written.
#[test]
fn runs_as_an_unprivileged_user_and_reports_unreadable_files() {
    if !running_as_root() {
        eprintln!("note: not running as root, cannot switch to an unprivileged user; skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("nobody");
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = s.path().join("root");
    copy_tree(
        &repo().join("fixtures/deployments/debian-submission/case.in"),
        &root,
    );
    // The test binary's directory may be closed to others (/root/...): run
    // a copy.
    let bin = s.path().join("mailconf");
    std::fs::copy(env!("CARGO_BIN_EXE_mailconf"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = s.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let as_nobody = |out: &Path| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("generate")
            .arg("--root")
            .arg(&root)
            .arg("--out")
            .arg(out)
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv (util-linux) is needed")
    };

    let ok = home.join("www-ok");
    let r = as_nobody(&ok);
    assert_eq!(
        r.status.code(),
        Some(0),
        "as nobody with a readable tree:\n{}",
        text(&r.stderr)
    );
    assert_eq!(config_files(&ok).len(), 2);

    let secret = root.join("etc/dovecot/conf.d/10-auth.conf");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&secret, Some(0), Some(0)).unwrap();
    let out = home.join("www");
    let r = as_nobody(&out);
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("10-auth.conf") && err.contains("include_unreadable"),
        "the error must name the unreadable file:\n{err}"
    );
    assert!(
        err.to_lowercase().contains("permission denied"),
        "the error must say why:\n{err}"
    );
    assert!(config_files(&out).is_empty(), "nothing may be written");
}

// ---- the validator on arbitrary text -------------------------------------------

mod validator_properties {
    use mailconf::autoconfig::validate::validate;
    use proptest::prelude::*;
    use proptest::sample::select;

    const FRAGMENTS: &[&str] = &[
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<clientConfig version=\"1.1\">",
        "</clientConfig>",
        "<emailProvider id=\"example.net\">",
        "</emailProvider>",
        "<domain>",
        "</domain>",
        "<incomingServer type=\"imap\">",
        "</incomingServer>",
        "<outgoingServer type=\"smtp\">",
        "</outgoingServer>",
        "<hostname>",
        "</hostname>",
        "<port>",
        "</port>",
        "<socketType>",
        "</socketType>",
        "<username>",
        "</username>",
        "%EMAILADDRESS%",
        "%EMAIL",
        "example.net",
        "993",
        "SSL",
        "<!-- c -->",
        "<![CDATA[x]]>",
        "&amp;",
        "&#x10FFFF;",
        "&#0;",
        "&lol;",
        "<a/>",
        "<",
        ">",
        "/",
        "\"",
        "=",
        " ",
        "\n",
        "\u{feff}",
        "é",
        "😀",
        "\0",
        "xmlns:x=\"u\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// `validate` never panics, and every finding's offset can be used
        /// to slice the text (`mailconf validate` does exactly that).
        #[test]
        fn validate_never_panics_and_offsets_are_char_boundaries(
            src in prop_oneof![
                3 => proptest::collection::vec(select(FRAGMENTS), 0..60).prop_map(|v| v.concat()),
                1 => any::<String>(),
            ]
        ) {
            for f in validate(&src) {
                prop_assert!(f.offset <= src.len(), "{}: offset {} past the end", f.id, f.offset);
                prop_assert!(src.is_char_boundary(f.offset), "{}: offset {} inside a character", f.id, f.offset);
            }
        }
    }
}
