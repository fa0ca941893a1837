//! `mailconf validate FILE...` (rule M10).

use mailconf_parsers::Span;

use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::autoconfig::validate::validate;
use crate::cli::{Format, ValidateArgs};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::source::{SourceMap, first_bad_byte, read_text};

pub fn run(args: &ValidateArgs) -> i32 {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut unreadable = false;
    for f in &args.files {
        let (text, lossy) = match read_text(f) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "file_unreadable",
                    format!("cannot read {}: {e}", f.display()),
                ));
                unreadable = true;
                continue;
            }
        };
        let bad_byte = first_bad_byte(&text, lossy);
        let id = sources.add(f.clone(), text);
        if let Some(at) = bad_byte {
            diags.push(
                Diagnostic::error(
                    "xml_not_well_formed",
                    "this byte is not UTF-8: an XML parser (Thunderbird's) rejects the whole file",
                )
                .at(id, Span::char_at(&sources.get(id).text, at), ""),
            );
        }
        for finding in validate(&sources.get(id).text) {
            let end = sources.get(id).text[finding.offset..]
                .find('>')
                .map_or(finding.offset, |e| finding.offset + e + 1);
            diags.push(
                Diagnostic::new(finding.severity, finding.id, finding.message).at(
                    id,
                    Span::new(finding.offset, end),
                    "",
                ),
            );
        }
    }
    print_diagnostics(&diags, &sources, args.format == Format::Json);
    let errors = diags
        .iter()
        .any(|d| d.severity == Severity::Error && d.id != "file_unreadable");
    if unreadable {
        EXIT_ERROR
    } else if errors {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}
