//! The man page and shell completions, generated from the same clap
//! definition as `--help`, so they cannot drift apart.

use clap::CommandFactory;

use super::{EXIT_ERROR, EXIT_OK};
use crate::cli::{Cli, CompletionsArgs};

pub fn man() -> i32 {
    let cmd = Cli::command();
    let mut out = Vec::new();
    if clap_mangen::Man::new(cmd).render(&mut out).is_err() {
        return EXIT_ERROR;
    }
    super::emit(&String::from_utf8_lossy(&out));
    EXIT_OK
}

pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mailconf", &mut out);
    super::emit(&String::from_utf8_lossy(&out));
    EXIT_OK
}
