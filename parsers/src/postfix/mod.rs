//! Postfix syntaxes.
//!
//! `main.cf`, `master.cf`, `postmap` source files and SQL/LDAP table client
//! files share one line discipline ([`lines`]): `#` lines and blank lines
//! vanish, and a line that starts with whitespace continues the previous
//! one. On top of it sit the per-file grammars and the value grammars
//! (`$name` expressions, match lists, table references).

pub mod expr;
pub mod lines;
pub mod list;
pub mod main_cf;
pub mod master_cf;
pub mod table_ref;
pub mod table_source;

/// ASCII `isspace()`, the whitespace class Postfix uses when it reads
/// configuration lines: space, TAB, LF, VT, FF and CR.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}
