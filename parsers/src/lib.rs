//! Syntax-only parsers for the configuration files mailconf reads.
//!
//! Every parser here takes text and returns a tree together with the
//! problems it found, side by side: a syntax error never stops a parse and
//! never panics. Positions are byte spans into the text that was given;
//! turning them into `line:column` is left to whoever renders them.
//!
//! Nothing in this crate touches the file system, expands `$name`
//! references against a configuration, or knows what a setting means:
//! that is the job of the resolver in the `mailconf` crate.
//!
//! * [`postfix`]: `main.cf`, `master.cf`, `$name` expressions, match lists,
//!   table references, `postmap` source files and table client files.
//! * [`dovecot`]: `dovecot.conf` and the files it includes, line by line.

pub mod diag;
pub mod dovecot;
pub mod offset_map;
pub mod postfix;
pub mod span;

pub use diag::{Severity, SyntaxDiag};
pub use span::Span;
