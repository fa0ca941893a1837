//! The Postfix half of the resolver: reads `main.cf` and `master.cf`,
//! applies defaults, `$name` expansion and master.cf `-o` overrides exactly
//! as Postfix 3.x does (rule M1.4), and reads lookup tables to list
//! domains (rule M2.4).

pub mod candidates;
pub mod client_file;
pub mod conf;
pub mod db_table;
pub mod defaults;
pub mod expand;
pub mod inet;
pub mod known;
pub mod postconf;
pub mod tables;

pub use conf::PostfixConf;
