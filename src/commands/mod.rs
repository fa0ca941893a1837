//! One module per subcommand. Each returns the process exit code; only
//! `main.rs` exits.

pub mod dns;
pub mod doveconf;
pub mod extras;
pub mod generate;
pub mod inspect;
pub mod load;
pub mod postconf;
pub mod validate;
pub mod webserver;

use std::io::IsTerminal;

use crate::diag::{Diagnostics, human, json};
use crate::source::SourceMap;

/// Exit codes (rule M11.2).
pub const EXIT_OK: i32 = 0;
pub const EXIT_CHANGES: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// Writes to standard output; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes to standard error, ignoring a closed pipe.
fn emit_err(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints diagnostics to stderr: rustc-style (coloured only on a terminal
/// and without `NO_COLOR`), or JSON lines.
pub fn print_diagnostics(diags: &Diagnostics, sources: &SourceMap, as_json: bool) {
    print_diagnostics_filtered(diags, sources, as_json, true);
}

/// The same; `notes` false leaves notes out of the human form (hooks run
/// generate often; its notes are for `--verbose` and `inspect`).
pub fn print_diagnostics_filtered(
    diags: &Diagnostics,
    sources: &SourceMap,
    as_json: bool,
    notes: bool,
) {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    for d in diags.iter() {
        if !as_json && !notes && d.severity == crate::diag::Severity::Note {
            continue;
        }
        if as_json {
            emit_err(&format!("{}\n", json::render(d, sources)));
        } else {
            emit_err(&format!("{}\n\n", human::render(d, sources, color)));
        }
    }
}
