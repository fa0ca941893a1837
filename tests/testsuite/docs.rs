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
