//! The documentation keeps up with the code.

use crate::util::repo;

/// Every diagnostic id the code can emit is listed in docs/diagnostics.md
/// (rule M11.1: ids are stable and documented).
#[test]
fn every_diagnostic_id_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/diagnostics.md")).unwrap();
    let mut missing = Vec::new();
    for dir in ["src", "parsers/src"] {
        for e in walkdir::WalkDir::new(repo().join(dir)) {
            let e = e.unwrap();
            if e.path().extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            for marker in [
                "Diagnostic::error(",
                "Diagnostic::warning(",
                "Diagnostic::note(",
                "SyntaxDiag::error(",
                "SyntaxDiag::warning(",
                "SyntaxDiag::note(",
                "c.err(",
                "c.warn(",
                "self.err(",
                "expand_diag(&err, ",
                "expand_diag(e, ",
            ] {
                for (i, _) in text.match_indices(marker) {
                    let rest = text[i + marker.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let id: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if !id.is_empty() && !doc.contains(&format!("`{id}`")) {
                        missing.push(format!("{id} ({})", e.path().display()));
                    }
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "not in docs/diagnostics.md: {missing:?}"
    );
}

/// The README's quick start shows the real output of its command.
#[test]
fn readme_quick_start_is_true() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let xml_start = readme.find("```xml\n").expect("an xml block") + "```xml\n".len();
    let xml = &readme[xml_start..xml_start + readme[xml_start..].find("```").unwrap()];
    assert!(readme.contains("cargo run --release -- generate --root fixtures/deployments/debian-submission/case.in --out /tmp/autoconfig-demo"));
    let out = crate::util::Scratch::new("readme");
    let dir = out.path().join("autoconfig-demo");
    let run = crate::util::mailconf()
        .args(["generate", "--root"])
        .arg(repo().join("fixtures/deployments/debian-submission/case.in"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout)
        .replace(&dir.display().to_string(), "/tmp/autoconfig-demo");
    for line in stdout.lines() {
        assert!(readme.contains(line), "README does not show: {line}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("example.net/mail/config-v1.1.xml")).unwrap(),
        xml
    );
}
