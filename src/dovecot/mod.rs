//! The Dovecot half of the resolver: reads `dovecot.conf` and everything
//! it includes, in the 2.3 or the 2.4 syntax, into a tree of sections and
//! settings (`tree`), knows the built-in defaults of both series
//! (`defaults`), and answers what mailconf asks: protocols, listeners, TLS,
//! authentication (`settings`). `doveconf` prints it in doveconf's terms.

pub mod defaults;
pub mod doveconf;
pub mod glob;
pub mod settings;
pub mod tree;
pub mod units;
pub mod user_db;

pub use tree::{DovecotConf, Node, Setting, Version};
