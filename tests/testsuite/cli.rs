//! The commands end to end: exit codes (M11.2), errors with file:line:col
//! that leave existing output alone (M1.3, M9.3), check, validate, the
//! configuration file (M8), prune, and output safety (M9.4).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::util::{Scratch, copy_tree, mailconf, repo, text};

fn case_root(name: &str) -> PathBuf {
    repo()
        .join("fixtures/deployments")
        .join(name)
        .join("case.in")
}

fn generate(root: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    mailconf()
        .arg("generate")
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_path_buf(),
                std::fs::read(e.path()).unwrap(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn syntax_error_names_file_line_column_exits_2_and_keeps_old_files() {
    let s = Scratch::new("syntax");
    let root = s.path().join("root");
    copy_tree(&case_root("debian-submission"), &root);
    let out = s.path().join("www");
    assert!(generate(&root, &out, &[]).status.success());
    let before = snapshot(&out);
    // A main.cf line without `=` (E05) ...
    let main = root.join("etc/postfix/main.cf");
    let mut t = std::fs::read_to_string(&main).unwrap();
    t.push_str("foo bar\n");
    std::fs::write(&main, &t).unwrap();
    let line = t.lines().count();
    let r = generate(&root, &out, &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = text(&r.stderr);
    assert!(err.contains(&format!("main.cf:{line}:5")), "{err}");
    assert!(err.contains("error[missing_equals]"), "{err}");
    assert_eq!(
        snapshot(&out),
        before,
        "existing files must stay as they were"
    );
    // ... and a Dovecot section opened without `{` in an included file.
    std::fs::write(&main, t.replace("foo bar\n", "")).unwrap();
    let conf = root.join("etc/dovecot/conf.d/10-auth.conf");
    let mut d = std::fs::read_to_string(&conf).unwrap();
    d.push_str("service imap-login\n");
    std::fs::write(&conf, &d).unwrap();
    let r = generate(&root, &out, &[]);
    assert_eq!(r.status.code(), Some(2));
    let err = text(&r.stderr);
    assert!(
        err.contains(&format!("10-auth.conf:{}:19", d.lines().count())),
        "{err}"
    );
    assert!(err.contains("error[expecting_brace]"), "{err}");
    assert_eq!(snapshot(&out), before);
}

#[test]
fn check_reports_changes_with_exit_1_and_a_diff() {
    let s = Scratch::new("check");
    let out = s.path().join("www");
    let root = case_root("debian-submission");
    let check = |extra: &[&str]| {
        mailconf()
            .arg("check")
            .arg("--root")
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let r = check(&[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stdout).contains("would create"));
    assert!(!out.exists(), "check writes nothing");
    assert!(generate(&root, &out, &[]).status.success());
    let r = check(&[]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    assert!(r.stdout.is_empty());
    // An edited file is a change, shown as a unified diff.
    let f = out.join("example.net/mail/config-v1.1.xml");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("<port>993</port>", "<port>143</port>");
    std::fs::write(&f, t).unwrap();
    let r = check(&["--diff"]);
    assert_eq!(r.status.code(), Some(1));
    let d = text(&r.stdout);
    assert!(
        d.contains("-      <port>143</port>") && d.contains("+      <port>993</port>"),
        "{d}"
    );
}

#[test]
fn validate_exit_codes_and_element_lines() {
    let s = Scratch::new("validate");
    let out = s.path().join("www");
    assert!(
        generate(&case_root("debian-submission"), &out, &[])
            .status
            .success()
    );
    let good = out.join("example.net/mail/config-v1.1.xml");
    let r = mailconf().arg("validate").arg(&good).output().unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let bad = s.path().join("bad.xml");
    let t = std::fs::read_to_string(&good).unwrap().replacen(
        "<socketType>SSL</socketType>",
        "<socketType>plain</socketType>",
        1,
    );
    std::fs::write(&bad, &t).unwrap();
    let line = t.lines().position(|l| l.contains("plain")).unwrap() + 1;
    let r = mailconf().arg("validate").arg(&bad).output().unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains(&format!("bad.xml:{line}:")),
        "{}",
        text(&r.stderr)
    );
    assert!(text(&r.stderr).contains("error[plain_socket]"));
    let r = mailconf()
        .arg("validate")
        .arg(s.path().join("missing.xml"))
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn the_example_configuration_file_loads_and_applies() {
    let s = Scratch::new("config");
    // Every commented setting of docs/mailconf.toml, uncommented.
    let example = std::fs::read_to_string(repo().join("docs/mailconf.toml")).unwrap();
    let mut all = String::new();
    for l in example.lines() {
        if let Some(rest) = l.strip_prefix("# ")
            && (rest.contains(" = ") || rest.starts_with('['))
        {
            all.push_str(rest);
            all.push('\n');
        }
    }
    let cfg = s.path().join("mailconf.toml");
    std::fs::write(&cfg, &all).unwrap();
    let r = mailconf()
        .args(["inspect", "--format", "json", "--root"])
        .arg(case_root("debian-submission"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let names = crate::util::inspect_domains(&r.stdout);
    assert!(
        names.iter().any(|n| n == "example.org") && names.iter().any(|n| n == "example.net"),
        "{names:?}"
    );
    let org = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "example.org")
        .unwrap();
    assert_eq!(org["hosts"]["imap"]["value"], "imap.example.org");
    assert_eq!(org["hosts"]["smtp"]["value"], "mail.example.org");
    assert_eq!(org["display_name"], "Example Org");
    let net = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "example.net")
        .unwrap();
    assert_eq!(net["hosts"]["smtp"]["value"], "smtp.example.com");
    assert_eq!(net["display_name"], "Example Mail");
    // A misspelt key is an error with its line and column.
    std::fs::write(&cfg, "hostname = \"mail.example.com\"\nhostnmae = \"x\"\n").unwrap();
    let r = mailconf()
        .args(["inspect", "--root"])
        .arg(case_root("debian-submission"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(
        text(&r.stderr).contains("mailconf.toml:2:1"),
        "{}",
        text(&r.stderr)
    );
}

#[test]
fn prune_removes_only_files_mailconf_wrote() {
    let s = Scratch::new("prune");
    let out = s.path().join("www");
    let root = case_root("debian-submission");
    assert!(
        generate(&root, &out, &["--domain", "old.example"])
            .status
            .success()
    );
    assert!(out.join("old.example/mail/config-v1.1.xml").exists());
    std::fs::create_dir_all(out.join("other.example/mail")).unwrap();
    std::fs::write(out.join("other.example/mail/config-v1.1.xml"), "not mine").unwrap();
    let r = generate(&root, &out, &[]);
    assert!(r.status.success());
    assert!(
        out.join("old.example/mail/config-v1.1.xml").exists(),
        "kept without --prune (M9.4)"
    );
    // A dry run says what would go, with the old text as a diff, and
    // leaves it there.
    let r = generate(&root, &out, &["--prune", "--dry-run", "--diff"]);
    assert!(r.status.success());
    let said = text(&r.stdout);
    assert!(
        said.contains("would remove ") && said.contains("old.example/mail/config-v1.1.xml"),
        "{said}"
    );
    assert!(
        said.contains("--- a/old.example/mail/config-v1.1.xml")
            && said.contains("-    <domain>old.example</domain>"),
        "{said}"
    );
    assert!(
        !said.contains("would create") && !said.contains("would update"),
        "nothing else changes: {said}"
    );
    assert!(out.join("old.example/mail/config-v1.1.xml").exists());
    let r = generate(&root, &out, &["--prune"]);
    assert!(r.status.success());
    assert!(text(&r.stdout).contains("removed"), "{}", text(&r.stdout));
    assert!(!out.join("old.example").exists());
    let manifest = std::fs::read_to_string(out.join(".mailconf-manifest")).unwrap();
    assert!(!manifest.contains("old.example"), "{manifest}");
    assert!(
        manifest.contains("\nexample.net/mail/config-v1.1.xml\n"),
        "{manifest}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("other.example/mail/config-v1.1.xml")).unwrap(),
        "not mine"
    );
    assert!(out.join("example.net/mail/config-v1.1.xml").exists());
}

/// A run that cannot make the files (here: submission turned off, so no
/// outgoing server, M4.3) is an error and must not prune: the files
/// written before are still the best there is (M9.3). It used to remove
/// every file it owned.
#[test]
fn prune_removes_nothing_when_the_run_fails() {
    let s = Scratch::new("prune-fail");
    let root = s.path().join("root");
    copy_tree(&case_root("debian-submission"), &root);
    let out = s.path().join("www");
    assert!(generate(&root, &out, &[]).status.success());
    let before = snapshot(&out);
    assert!(before.len() >= 3, "{before:?}");
    let master = root.join("etc/postfix/master.cf");
    let text_before = std::fs::read_to_string(&master).unwrap();
    let off: String = text_before
        .lines()
        .map(|l| {
            if l.starts_with("submission") {
                format!("#{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(off, text_before, "the fixture has submission services");
    std::fs::write(&master, off).unwrap();
    let r = generate(&root, &out, &["--prune"]);
    assert_eq!(r.status.code(), Some(2), "{}", text(&r.stderr));
    assert!(
        text(&r.stderr).contains("error[domain_incomplete]"),
        "{}",
        text(&r.stderr)
    );
    assert_eq!(text(&r.stdout), "", "nothing created, updated or removed");
    assert_eq!(snapshot(&out), before, "OUT untouched (M9.3)");
}

/// Files 0644 and directories 0755 (M9.2), OUT and its new parents
/// included, whatever the umask of the hook that runs mailconf: under
/// umask 077 the web server could not read them otherwise.
#[test]
fn files_are_0644_and_directories_0755_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    for umask in ["077", "000", "022"] {
        let s = Scratch::new("modes");
        let out = s.path().join("srv/autoconfig");
        let r = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_mailconf"))
            .arg("generate")
            .arg("--root")
            .arg(case_root("debian-submission"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", text(&r.stderr));
        let mut seen = (0, 0);
        for e in walkdir::WalkDir::new(s.path().join("srv")) {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_dir() {
                seen.0 += 1;
                assert_eq!(mode, 0o755, "umask {umask}: {}", e.path().display());
            } else if name.ends_with(".xml") {
                seen.1 += 1;
                assert_eq!(mode, 0o644, "umask {umask}: {}", e.path().display());
            }
        }
        // srv, autoconfig, example.net, mail, .well-known, autoconfig, mail.
        assert_eq!(seen, (7, 2), "umask {umask}");
    }
}

#[test]
fn symlinks_inside_out_are_not_followed_and_out_must_be_a_directory() {
    let s = Scratch::new("symlink");
    let out = s.path().join("www");
    let victim = s.path().join("passwd");
    std::fs::write(&victim, "root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::create_dir_all(out.join("example.net/mail")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("example.net/mail/config-v1.1.xml")).unwrap();
    let outside = s.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("example.net/.well-known")).unwrap();
    let r = generate(&case_root("debian-submission"), &out, &[]);
    assert_eq!(r.status.code(), Some(0));
    assert!(
        text(&r.stderr).contains("warning[output_blocked]"),
        "{}",
        text(&r.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert!(
        std::fs::symlink_metadata(out.join("example.net/mail/config-v1.1.xml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // OUT itself a symbolic link: refused.
    let link = s.path().join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let r = generate(&case_root("debian-submission"), &link, &[]);
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r.stderr).contains("error[out_unusable]"));
}

/// M9.3: what stands at a file's place and is not a regular file reached
/// through real directories is reported and left alone, even when reading
/// through it would find the very text mailconf would write (the fast
/// path through `openat2` must hand every such case to the slow one).
#[test]
fn things_in_the_way_are_reported_and_never_read_through() {
    let s = Scratch::new("in-the-way");
    let good = s.path().join("good");
    let r = generate(&case_root("debian-submission"), &good, &[]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let out = s.path().join("www");
    // A symlinked directory leading to a file that holds exactly the
    // expected text, inside OUT (a link leaving OUT would be refused for
    // that alone, a link as the last component by O_NOFOLLOW alone).
    std::fs::create_dir_all(out.join("example.net")).unwrap();
    std::fs::create_dir_all(out.join("twin")).unwrap();
    std::fs::copy(
        good.join("example.net/mail/config-v1.1.xml"),
        out.join("twin/config-v1.1.xml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../twin", out.join("example.net/mail")).unwrap();
    // A FIFO: opening it would hang (or release a writer).
    let fifo_dir = out.join("example.net/.well-known/autoconfig/mail");
    std::fs::create_dir_all(&fifo_dir).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(fifo_dir.join("config-v1.1.xml"))
        .status()
        .unwrap();
    assert!(st.success());
    let r = generate(&case_root("debian-submission"), &out, &[]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let err = text(&r.stderr);
    assert_eq!(err.matches("warning[output_blocked]").count(), 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(
        std::fs::symlink_metadata(out.join("example.net/mail"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(fifo_dir.join("config-v1.1.xml"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn hostile_domain_names_never_become_paths_or_markup() {
    let s = Scratch::new("hostile");
    let root = s.path().join("root");
    copy_tree(&case_root("hash-multidomain"), &root);
    let hostile = [
        "../../etc",
        "a/b.example",
        "with space.example",
        "nul\u{0}.example",
        "lt<.example",
        "amp&.example",
        &format!("{}.example", "l".repeat(64)),
        &format!("{}.example", ["abcdefghij"; 29].join(".")),
        "раураl.example",
        "-lead.example",
    ];
    let table = root.join("etc/postfix/vmailbox_domains");
    let mut t = std::fs::read_to_string(&table).unwrap();
    for h in &hostile {
        t.push_str(&format!("{h} OK\n"));
    }
    std::fs::write(&table, t).unwrap();
    let out = s.path().join("www");
    let r = generate(&root, &out, &[]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let warnings = text(&r.stderr)
        .matches("warning[invalid_domain_name]")
        .count();
    // The fixture has two invalid names of its own; a key cannot contain a
    // space (it ends the key: `with` is then a short host name, left out
    // without a warning).
    assert_eq!(warnings, hostile.len() - 1 + 2, "{}", text(&r.stderr));
    // Only directories named like DNS names, nothing outside OUT.
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".mailconf")
                || name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'-'),
            "{name:?}"
        );
    }
    assert!(!s.path().join("etc").exists());
    for e in walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
    {
        let t = std::fs::read_to_string(e.path()).unwrap_or_default();
        assert!(!t.contains("<.example") && !t.contains("&.example"));
    }
    // The confusable Cyrillic name, if accepted at all, is written as an
    // A-label, never as raw Unicode.
    assert!(!out.join("раураl.example").exists());
}

/// Issue 5: per-domain host names from SNI, certificate checks with both
/// file names, `check --strict`, and a note for an unreadable certificate.
#[test]
fn certificates_decide_and_check_host_names() {
    let s = Scratch::new("certs");
    let root = s.path().join("root");
    copy_tree(&case_root("sni-multidomain"), &root);
    let make = |cert: &str, key: &str, names: &[&str], expired: bool| {
        crate::deployments::make_cert(
            &root,
            cert,
            key,
            &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            expired,
        )
    };
    make(
        "/etc/ssl/mail/mx.hosting.example.pem",
        "/etc/ssl/private/mx.hosting.example.key",
        &["mx.hosting.example"],
        false,
    );
    make(
        "/etc/ssl/mail/example.com.pem",
        "/etc/ssl/private/example.com.key",
        &["mail.example.com", "imap.example.com"],
        false,
    );
    make(
        "/etc/ssl/mail/example.net.pem",
        "/etc/ssl/private/example.net.key",
        &["mail.example.net"],
        true,
    );
    make(
        "/etc/ssl/mail/example.net-imap.pem",
        "/etc/ssl/private/example.net-imap.key",
        &["webmail.example.net"],
        false,
    );
    // shop.example's certificate is missing: a note, and no guess.
    let out = s.path().join("www");
    let check = |extra: &[&str]| {
        mailconf()
            .arg("check")
            .arg("--root")
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let r = check(&["--format", "json"]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "changes pending, warnings allowed"
    );
    let err = text(&r.stderr);
    let mismatch = err
        .lines()
        .find(|l| l.contains("\"cert_name_mismatch\""))
        .expect(&err);
    assert!(
        mismatch.contains("50-sni.conf") && mismatch.contains("example.net-imap.pem"),
        "both file names: {mismatch}"
    );
    let expired = err
        .lines()
        .find(|l| l.contains("\"cert_expired\""))
        .expect(&err);
    assert!(
        expired.contains("sni_maps") && expired.contains("example.net.pem"),
        "{expired}"
    );
    let note = err
        .lines()
        .find(|l| l.contains("\"cert_unreadable\""))
        .expect(&err);
    assert!(
        note.contains("\"note\"") && note.contains("shop.example.pem"),
        "{note}"
    );
    // --strict turns the warnings into a failing exit status.
    assert_eq!(check(&["--strict"]).status.code(), Some(2));
    // The names: SNI where configured, myhostname elsewhere.
    let r = mailconf()
        .args(["inspect", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let host = |d: &str, p: &str| {
        v["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == d)
            .unwrap()["hosts"][p]["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(host("example.com", "imap"), "mail.example.com");
    assert_eq!(host("example.com", "smtp"), "mail.example.com");
    assert_eq!(
        host("shop.example", "smtp"),
        "mail.shop.example",
        "the .shop.example parent key takes Dovecot's name"
    );
    assert_eq!(host("other.example", "imap"), "mx.hosting.example");
}

/// Every page mailconf(1) refers to exists: `mailconf man COMMAND` renders
/// mailconf-COMMAND(1) with that command's own options (the Debian package
/// installs them all).
#[test]
fn man_pages_cover_every_command() {
    let list = mailconf().args(["man", "--list"]).output().unwrap();
    assert_eq!(list.status.code(), Some(0));
    let commands: Vec<String> = text(&list.stdout).lines().map(str::to_string).collect();
    for c in [
        "generate",
        "check",
        "inspect",
        "validate",
        "dns",
        "webserver",
    ] {
        assert!(commands.iter().any(|x| x == c), "{c} in {commands:?}");
    }
    assert!(!commands.iter().any(|x| x == "help" || x == "man"));
    let main = text(&mailconf().arg("man").output().unwrap().stdout);
    for c in &commands {
        assert!(
            main.contains(&format!("mailconf\\-{}(1)", c.replace('-', "\\-"))),
            "mailconf(1) refers to mailconf-{c}(1)"
        );
        let page = mailconf().args(["man", c]).output().unwrap();
        assert_eq!(page.status.code(), Some(0), "{c}");
        let roff = text(&page.stdout);
        assert!(
            roff.contains(&format!(".TH mailconf-{c} 1")),
            "{c}: {}",
            &roff[..200.min(roff.len())]
        );
    }
    let generate = text(
        &mailconf()
            .args(["man", "generate"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(generate.contains("\\-\\-out") && generate.contains("\\-\\-prune"));
    let bad = mailconf().args(["man", "nope"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
