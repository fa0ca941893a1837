//! The man page and shell completions, generated from the same clap
//! definition as `--help`, so they cannot drift apart.

use clap::CommandFactory;

use super::{EXIT_ERROR, EXIT_OK};
use crate::cli::{Cli, CompletionsArgs, ManArgs};

/// The visible subcommands: each has its own page, which mailconf(1)
/// refers to as mailconf-COMMAND(1).
fn documented(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
}

pub fn man(args: &ManArgs) -> i32 {
    let mut cmd = Cli::command();
    cmd.build();
    if args.list {
        for c in documented(&cmd) {
            super::emit(&format!("{}\n", c.get_name()));
        }
        return EXIT_OK;
    }
    let page = match &args.command {
        None => cmd,
        Some(name) => match documented(&cmd).find(|c| c.get_name() == name) {
            Some(c) => {
                let full = format!("mailconf-{}", c.get_name());
                c.clone()
                    .name(full.clone())
                    .bin_name(full)
                    .version(env!("CARGO_PKG_VERSION"))
            }
            None => {
                eprintln!("error: no command `{name}`; `mailconf man --list` lists the pages");
                return EXIT_ERROR;
            }
        },
    };
    let mut out = Vec::new();
    if clap_mangen::Man::new(page).render(&mut out).is_err() {
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
