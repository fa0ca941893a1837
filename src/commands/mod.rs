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

/// Prints diagnostics to stderr: rustc-style (coloured only on a terminal
/// and without `NO_COLOR`), or JSON lines.
pub fn print_diagnostics(diags: &Diagnostics, sources: &SourceMap, as_json: bool) {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    for d in diags.iter() {
        if as_json {
            eprintln!("{}", json::render(d, sources));
        } else {
            eprintln!("{}\n", human::render(d, sources, color));
        }
    }
}
