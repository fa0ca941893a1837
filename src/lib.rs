//! mailconf: from a server's Postfix and Dovecot configuration to the
//! Mozilla autoconfig files its mail clients need. See ARCHITECTURE.md for
//! the map of this crate.

pub mod autoconfig;
pub mod certs;
pub mod cli;
pub mod commands;
pub mod db;
pub mod diag;
pub mod dovecot;
pub mod host;
pub mod model;
pub mod options;
pub mod output;
pub mod postfix;
pub mod source;
