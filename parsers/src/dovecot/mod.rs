//! Dovecot configuration syntax (`dovecot.conf` and every file it
//! includes), 2.3 and 2.4.
//!
//! A file is parsed into a flat list of [`conf::Item`]s: assignments,
//! section openings and closings, and include lines. Nesting is not
//! checked here, because Dovecot lets a section opened in one file be
//! closed by the file that included it; the resolver, which follows
//! includes, builds the tree.

pub mod conf;

pub use conf::{Dialect, Item, Value, parse_conf};
