//! mailconf's integration tests: one binary (ripgrep's and cargo's habit),
//! one module per area.

mod cli;
mod databases;
mod deployments;
mod docs;
mod malformed;
mod oracle_doveconf;
mod oracle_postconf;
mod robustness;
mod util;
