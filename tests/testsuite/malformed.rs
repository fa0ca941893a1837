//! The malformed-input corpus (issue 9): every `fixtures/malformed/<case>/`
//! is a small server tree (`case.in/`) with one defect, or a
//! `config-v1.1.xml` for `mailconf validate`, plus `case.toml` (what the
//! case is, extra arguments, a generator for inputs too big to commit) and
//! `expected.txt`, the reviewed golden file:
//!
//! ```text
//! # comments: why each position is the right one
//! exit 2
//! error[missing_equals] etc/postfix/main.cf:10:14
//! ```
//!
//! One `severity[id] path:line:col` line per diagnostic of
//! `--format json`, in output order, paths relative to `case.in` (or to
//! the case directory for `validate`); a diagnostic without a file is
//! just `severity[id]`. When one `severity[id] path` occurs more than
//! [`COLLAPSE`] times (a table of a million bad lines), its occurrences
//! are written as one line at the place of the first:
//! `severity[id] FIRST .. LAST (N times)`.
//!
//! Every tree gets a valid certificate for mx.example.net at test time
//! ([`certificate`]). Each case runs under a CPU-time limit
//! ([`CPU_LIMIT_SECS`], `ulimit -t`), a wall-clock limit ([`TIME_LIMIT`])
//! and an address-space limit (`ulimit -v`, [`MEMORY_LIMIT_KB`]), in JSON
//! and in human format (the human renderer quotes the source and must not
//! panic either), and must not panic. A `generate` that fails (exit 2) must leave OUT without
//! any file but mailconf's own bookkeeping; one that succeeds must write
//! only files that pass `validate`.
//!
//! `MAILCONF_BLESS=1` rewrites `expected.txt` from the current output,
//! keeping its comment lines: review every change by hand, the golden
//! files say what is right, not what mailconf happens to print.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Scratch, copy_tree, fixture_dirs, parallel, text};

/// CPU-time limit for one mailconf run (`ulimit -t`): the bound on work,
/// which a busy machine does not stretch.
const CPU_LIMIT_SECS: u64 = 20;
/// Wall-clock limit for one mailconf run: the bound on waiting (a run that
/// blocks uses no CPU). Above the CPU limit, so that a loaded machine (the
/// whole test suite runs in parallel) does not make a case fail.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// Address-space limit for one mailconf run (2 GiB).
const MEMORY_LIMIT_KB: u64 = 2 * 1024 * 1024;
/// More occurrences than this of one `severity[id] path` are collapsed.
const COLLAPSE: usize = 10;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    /// `generate` (default) or `validate`.
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    /// A generator below, for inputs too big to commit.
    generate: Option<String>,
    /// `validate` only: the file to check (default `config-v1.1.xml`).
    file: Option<String>,
}

struct Outcome {
    code: Option<i32>,
    /// Set when the process was killed by a signal (abort, segfault).
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Outcome {
    fn stderr_text(&self) -> String {
        let t = std::fs::read(&self.stderr).unwrap_or_default();
        // Enough to see what happened, not a million lines.
        let t = &t[..t.len().min(4000)];
        text(t)
    }

    fn panicked(&self) -> bool {
        let f = std::fs::File::open(&self.stderr).unwrap();
        BufReader::new(f)
            .split(b'\n')
            .map_while(Result::ok)
            .any(|l| l.windows(9).any(|w| w == b"panicked " || w == b"overflowe"))
    }

    fn problem(&self) -> Option<String> {
        if self.timed_out {
            return Some(format!("did not finish within {TIME_LIMIT:?} (killed)"));
        }
        match self.signal {
            Some(24) => {
                return Some(format!(
                    "used more than {CPU_LIMIT_SECS} s of CPU time (killed by SIGXCPU)"
                ));
            }
            Some(s) => return Some(format!("killed by signal {s} (crash or abort)")),
            None => {}
        }
        if self.panicked() || self.code == Some(101) {
            return Some("panicked".into());
        }
        None
    }
}

/// Runs mailconf with `args` under the time and memory limits, stdout and
/// stderr to files in `dir`.
fn run_limited(args: &[&std::ffi::OsStr], dir: &Path, tag: &str) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let stdout = dir.join(format!("{tag}.stdout"));
    let stderr = dir.join(format!("{tag}.stderr"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KB} && ulimit -t {CPU_LIMIT_SECS} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_mailconf"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break (s, false);
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        elapsed: start.elapsed(),
        stdout,
        stderr,
    }
}

/// `severity[id] path:line:col` lines from JSON diagnostics, paths
/// relative to `base`, large groups collapsed.
fn diagnostics(stderr: &Path, base: &Path) -> Vec<String> {
    let base = format!("{}/", base.display());
    let mut lines: Vec<(String, String)> = Vec::new();
    let f = std::fs::File::open(stderr).unwrap();
    for line in BufReader::new(f).split(b'\n').map_while(Result::ok) {
        let line = text(&line);
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            let cut: String = line.chars().take(200).collect();
            lines.push((String::new(), format!("unparsable stderr line: {cut}")));
            continue;
        };
        let head = format!(
            "{}[{}]",
            v["severity"].as_str().unwrap_or("?"),
            v["id"].as_str().unwrap_or("?")
        );
        match v.get("primary") {
            Some(p) if !p.is_null() => {
                let f = p["file"].as_str().unwrap_or("?");
                let f = f.strip_prefix(&base).unwrap_or(f);
                lines.push((
                    format!("{head} {f}"),
                    format!("{f}:{}:{}", p["line"], p["column"]),
                ));
            }
            _ => lines.push((head, String::new())),
        }
    }
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (k, _) in &lines {
        *count.entry(k.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    let mut done: HashMap<&str, ()> = HashMap::new();
    for (k, at) in &lines {
        let n = count[k.as_str()];
        if n <= COLLAPSE {
            let head = k.split(' ').next().unwrap_or("");
            out.push(if at.is_empty() {
                head.to_string()
            } else {
                format!("{head} {at}")
            });
        } else if done.insert(k.as_str(), ()).is_none() {
            let last = &lines.iter().rev().find(|(k2, _)| k2 == k).unwrap().1;
            let head = k.split(' ').next().unwrap_or("");
            out.push(format!("{head} {at} .. {last} ({n} times)"));
        }
    }
    out
}

/// Every file under `dir` (symbolic links included), relative.
fn files_under(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

fn append(path: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(s.as_bytes()).unwrap();
}

/// Inputs too big to commit, made at test time. `root` is the copied
/// `case.in`, `dir` the scratch directory that holds it.
fn generate(name: &str, root: &Path, dir: &Path) {
    const N: usize = 100_000;
    let main = root.join("etc/postfix/main.cf");
    let master = root.join("etc/postfix/master.cf");
    let dovecot = root.join("etc/dovecot/dovecot.conf");
    let xml = dir.join("config-v1.1.xml");
    match name {
        // main.cf line 10: ten million `x`, a blank, `y`.
        "main-10mb-line" => append(&main, &format!("{} y\n", "x".repeat(10_000_000))),
        // main.cf lines 10-12.
        "main-deep-nesting" => append(
            &main,
            &format!(
                "a = yes\ndeep = {}example.org{}\nvirtual_mailbox_domains = $deep\n",
                "${a?".repeat(N),
                "}".repeat(N)
            ),
        ),
        // Line i+1 of vdomains, by i % 4: a key with `/`, a key with an
        // unbalanced quote, a key without a value, a key with a control
        // character.
        "table-1m-garbage" => {
            let mut s = String::with_capacity(24_000_000);
            for i in 0..1_000_000 {
                match i % 4 {
                    0 => s.push_str(&format!("x{i}/y.example OK\n")),
                    1 => s.push_str(&format!("\"q{i}.example OK\n")),
                    2 => s.push_str(&format!("v{i}.example\n")),
                    _ => s.push_str(&format!("c\u{1}{i}.example OK\n")),
                }
            }
            std::fs::write(root.join("etc/postfix/vdomains"), s).unwrap();
        }
        // 100,000 `-o` lines after the submission service's last one.
        "master-100k-arguments" => {
            let t = std::fs::read_to_string(&master).unwrap();
            let anchor = "  -o smtpd_sasl_auth_enable=yes\n";
            let at = t.find(anchor).unwrap() + anchor.len();
            let extra =
                "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n".repeat(N);
            std::fs::write(&master, format!("{}{extra}{}", &t[..at], &t[at..])).unwrap();
        }
        // dovecot.conf lines 23-100022.
        "dovecot-deep-nesting" => {
            let s: String = (0..N).map(|i| format!("namespace n{i} {{\n")).collect();
            append(&dovecot, &s);
        }
        // dovecot.conf line 23.
        "dovecot-10mb-line" => append(&dovecot, &format!("{}\n", "x".repeat(10_000_000))),
        "dovecot-include-fifo" => {
            let st = Command::new("mkfifo")
                .arg(root.join("etc/dovecot/fifo.conf"))
                .status()
                .unwrap();
            assert!(st.success(), "mkfifo failed");
        }
        "xml-deep-nesting" => {
            let t = std::fs::read_to_string(&xml).unwrap();
            let anchor = "<emailProvider id=\"example.net\">\n";
            let deep = format!("{}{}\n", "<a>".repeat(N), "</a>".repeat(N));
            std::fs::write(&xml, t.replacen(anchor, &format!("{anchor}{deep}"), 1)).unwrap();
        }
        "xml-10mb-value" => {
            let t = std::fs::read_to_string(&xml).unwrap();
            let long = format!("<displayName>{}</displayName>", "x".repeat(10_000_000));
            std::fs::write(
                &xml,
                t.replacen("<displayName>example.net</displayName>", &long, 1),
            )
            .unwrap();
        }
        other => panic!("unknown generator `{other}`"),
    }
}

/// The certificate and key every tree names (`/etc/ssl/certs/mx.pem`,
/// `/etc/ssl/private/mx.key`), made at test time: valid for
/// mx.example.net, so that the trees are clean apart from their defect.
fn certificate(root: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["mx.example.net".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    for (path, content) in [
        ("etc/ssl/certs/mx.pem", cert.pem()),
        ("etc/ssl/private/mx.key", key.serialize_pem()),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

struct Expected {
    comments: Vec<String>,
    exit: i32,
    diags: Vec<String>,
}

fn read_expected(path: &Path) -> Result<Expected, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut exp = Expected {
        comments: Vec::new(),
        exit: -1,
        diags: Vec::new(),
    };
    for l in t.lines() {
        if l.starts_with('#') || l.trim().is_empty() {
            exp.comments.push(l.to_string());
        } else if let Some(code) = l.strip_prefix("exit ") {
            exp.exit = code.trim().parse().map_err(|_| format!("bad line {l:?}"))?;
        } else {
            exp.diags.push(l.to_string());
        }
    }
    if exp.exit < 0 {
        return Err(format!("{}: no `exit N` line", path.display()));
    }
    Ok(exp)
}

fn argv(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    v.iter().map(|a| a.as_os_str()).collect()
}

fn check_case(dir: PathBuf) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
    assert!(!case.description.is_empty());
    let scratch = Scratch::new("malformed");
    let s = scratch.path();
    let validate = case.command.as_deref() == Some("validate");
    let mut fail = Vec::new();

    // Inputs, copied so that generators and the FIFO never touch fixtures/.
    let root = s.join("root");
    let base: PathBuf;
    let mut json_args: Vec<std::ffi::OsString> = Vec::new();
    let mut human_args: Vec<std::ffi::OsString> = Vec::new();
    let out = s.join("out");
    let out_human = s.join("out-human");
    if validate {
        base = s.join("files");
        std::fs::create_dir_all(&base).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), base.join(e.file_name())).unwrap();
            }
        }
        if let Some(g) = &case.generate {
            generate(g, &root, &base);
        }
        let file = base.join(case.file.as_deref().unwrap_or("config-v1.1.xml"));
        json_args.extend(["validate".into(), "--format".into(), "json".into()]);
        json_args.push(file.clone().into());
        human_args.push("validate".into());
        human_args.push(file.into());
    } else {
        base = root.clone();
        copy_tree(&dir.join("case.in"), &root);
        certificate(&root);
        if let Some(g) = &case.generate {
            generate(g, &root, s);
        }
        for (args, o) in [(&mut json_args, &out), (&mut human_args, &out_human)] {
            args.extend(["generate".into(), "--root".into()]);
            args.push(root.clone().into());
            args.push("--out".into());
            args.push(o.clone().into());
        }
        json_args.extend(["--format".into(), "json".into()]);
        for a in &case.args {
            json_args.push(a.into());
            human_args.push(a.into());
        }
    }
    let json = run_limited(&argv(&json_args), s, "json");
    if json.elapsed > Duration::from_secs(5) {
        eprintln!("{name}: the JSON run took {:?}", json.elapsed);
    }
    if let Some(p) = json.problem() {
        fail.push(format!(
            "{name}: {p} after {:?}\n{}",
            json.elapsed,
            json.stderr_text()
        ));
    }
    let got = diagnostics(&json.stderr, &base);
    let expected_path = dir.join("expected.txt");
    if std::env::var_os("MAILCONF_BLESS").is_some() && json.problem().is_none() {
        let old = read_expected(&expected_path)
            .map(|e| e.comments)
            .unwrap_or_default();
        let mut t = String::new();
        for c in old {
            t.push_str(&c);
            t.push('\n');
        }
        t.push_str(&format!("exit {}\n", json.code.unwrap_or(-1)));
        for d in &got {
            t.push_str(d);
            t.push('\n');
        }
        std::fs::write(&expected_path, t).unwrap();
    }
    let exp = match read_expected(&expected_path) {
        Ok(e) => e,
        Err(e) => {
            fail.push(format!("{name}: {e}"));
            return fail;
        }
    };
    if json.code != Some(exp.exit) {
        fail.push(format!(
            "{name}: exit {:?}, expected {}\n{}",
            json.code,
            exp.exit,
            json.stderr_text()
        ));
    }
    if got != exp.diags {
        fail.push(format!(
            "{name}: diagnostics differ\n--- expected\n{}\n--- got\n{}",
            exp.diags.join("\n"),
            got.join("\n")
        ));
    }

    // The human renderer quotes the source: it must not panic either.
    if json.problem().is_none() {
        let human = run_limited(&argv(&human_args), s, "human");
        if human.elapsed > Duration::from_secs(5) {
            eprintln!("{name}: the human run took {:?}", human.elapsed);
        }
        if let Some(p) = human.problem() {
            fail.push(format!(
                "{name}: human output: {p} after {:?}\n{}",
                human.elapsed,
                human.stderr_text()
            ));
        } else if human.code != json.code {
            fail.push(format!(
                "{name}: human output exits {:?}, JSON output {:?}",
                human.code, json.code
            ));
        }
    }

    // What was written.
    if !validate {
        for (o, run) in [(&out, "JSON run"), (&out_human, "human run")] {
            let files = files_under(o);
            if files.iter().any(|f| f.contains(".tmp")) {
                fail.push(format!(
                    "{name}: {run}: temporary files left in OUT: {files:?}"
                ));
            }
            if exp.exit == 2 {
                let written: Vec<&String> = files
                    .iter()
                    .filter(|f| !matches!(f.as_str(), ".mailconf.lock" | ".mailconf-manifest"))
                    .collect();
                if !written.is_empty() {
                    fail.push(format!(
                        "{name}: {run}: the run failed (exit 2) but wrote {written:?} into OUT"
                    ));
                }
                let stdout = std::fs::read_to_string(&json.stdout).unwrap_or_default();
                if !stdout.is_empty() && o == &out {
                    fail.push(format!(
                        "{name}: the run failed but reported changes: {stdout}"
                    ));
                }
            } else {
                for f in files.iter().filter(|f| f.ends_with("config-v1.1.xml")) {
                    let t = std::fs::read_to_string(o.join(f)).unwrap();
                    let errors: Vec<_> = mailconf::autoconfig::validate::validate(&t)
                        .into_iter()
                        .filter(|f| f.severity == mailconf_parsers::Severity::Error)
                        .map(|f| f.id)
                        .collect();
                    if !errors.is_empty() {
                        fail.push(format!("{name}: {run}: {f} fails validation: {errors:?}"));
                    }
                }
            }
        }
    }
    fail
}

#[test]
fn malformed_inputs_give_the_reviewed_diagnostics_in_bounded_time_and_memory() {
    let cases = fixture_dirs("malformed");
    assert!(
        cases.len() >= 40,
        "the corpus needs at least 40 cases, has {}",
        cases.len()
    );
    let only = std::env::var("MAILCONF_MALFORMED_ONLY").ok();
    let cases: Vec<PathBuf> = cases
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| c.file_name().unwrap().to_string_lossy().contains(o))
        })
        .collect();
    let failures: Vec<String> = parallel(cases, 2, check_case)
        .into_iter()
        .flatten()
        .collect();
    assert!(
        failures.is_empty(),
        "{} problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
