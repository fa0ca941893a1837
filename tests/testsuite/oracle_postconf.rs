//! Differential tests: `mailconf postconf` against the real `postconf`
//! (Postfix 3.7 from Debian) on every tree under `fixtures/postfix/`
//! (issue 2, rules M1.4 and M2.3). Standard output must be byte for byte
//! the same; for a configuration that postconf refuses, both must fail
//! (postconf with 1, mailconf with 2) and print nothing on stdout.

use std::process::Command;

use crate::util::{Scratch, copy_tree, fixture_dirs, mailconf, run_required, text};

#[derive(serde::Deserialize)]
struct Case {
    #[allow(dead_code)]
    about: String,
    #[serde(default)]
    params: Vec<String>,
    postconf: String,
    #[serde(default)]
    postconf_m: Option<String>,
    /// Parameters whose expanded value depends on the machine's network
    /// interfaces (`$mynetworks`); compared without -x only.
    #[serde(default)]
    host_dependent: Vec<String>,
}

fn case(dir: &std::path::Path) -> Case {
    let t = std::fs::read_to_string(dir.join("case.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    // `postconf_M` in the files; serde field names are lower case.
    let t = t.replace("postconf_M", "postconf_m");
    toml::from_str(&t).unwrap_or_else(|e| panic!("{}/case.toml: {e}", dir.display()))
}

#[test]
fn mailconf_postconf_agrees_with_postconf() {
    let fixtures = fixture_dirs("postfix");
    assert!(
        fixtures.len() >= 40,
        "expected at least 40 Postfix fixtures"
    );
    // postconf sleeps a second before it exits on a fatal error, so the
    // fixtures run on many threads even on a small machine.
    let results = crate::util::parallel(fixtures, 16, compare_fixture);
    let compared: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn compare_fixture(dir: std::path::PathBuf) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut compared = 0;
    {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let c = case(&dir);
        let scratch = Scratch::new("pf");
        copy_tree(&dir, scratch.path());
        let cfg = scratch.path().to_string_lossy().into_owned();
        let mut flag_sets: Vec<Vec<String>> = vec![
            vec!["-n".into()],
            vec!["-n".into(), "-x".into()],
            vec!["-M".into()],
            vec!["-P".into()],
            vec!["-P".into(), "-x".into()],
        ];
        for p in &c.params {
            flag_sets.push(vec!["-h".into(), p.clone()]);
            if !c.host_dependent.contains(p) {
                flag_sets.push(vec!["-x".into(), "-h".into(), p.clone()]);
                flag_sets.push(vec!["-d".into(), p.clone()]);
            }
        }
        for flags in flag_sets {
            let theirs = run_required(
                Command::new("postconf").arg("-c").arg(&cfg).args(&flags),
                "postfix",
            );
            let ours = mailconf()
                .arg("postconf")
                .arg("--postfix-dir")
                .arg(&cfg)
                .args(&flags)
                .output()
                .unwrap();
            compared += 1;
            // case.toml records what the fixture is about: whether `-n`
            // (and `-M`/`-P`) fail. Other flags follow postconf itself
            // (`-d` does not read main.cf; `-x` may meet a loop that `-n`
            // never evaluates).
            let expect_fatal = match flags[0].as_str() {
                "-M" | "-P" => Some(c.postconf_m.as_deref().unwrap_or(&c.postconf) == "fatal"),
                "-n" if flags.len() == 1 => Some(c.postconf == "fatal"),
                _ => None,
            };
            let problem = if expect_fatal.is_some_and(|f| theirs.status.success() == f) {
                Some(format!(
                    "case.toml says postconf is {}, but postconf exited {:?}",
                    if expect_fatal == Some(true) {
                        "fatal"
                    } else {
                        "ok"
                    },
                    theirs.status.code()
                ))
            } else if !theirs.status.success() {
                (ours.status.code() != Some(2) || !ours.stdout.is_empty()).then(|| {
                    format!(
                        "postconf fails here ({}), mailconf must exit 2 with empty stdout; got {:?} and stdout:\n{}",
                        text(&theirs.stderr).trim(),
                        ours.status.code(),
                        text(&ours.stdout)
                    )
                })
            } else if !ours.status.success() {
                Some(format!(
                    "mailconf failed ({:?}):\n{}",
                    ours.status.code(),
                    text(&ours.stderr)
                ))
            } else if ours.stdout != theirs.stdout {
                Some(format!(
                    "stdout differs\n--- postconf\n{}--- mailconf\n{}",
                    text(&theirs.stdout),
                    text(&ours.stdout)
                ))
            } else {
                None
            };
            if let Some(p) = problem {
                failures.push(format!("{name}: {}: {p}", flags.join(" ")));
            }
        }
    }
    (compared, failures)
}
