use clap::Parser;

use mailconf::cli::{Cli, Command};
use mailconf::commands;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                commands::EXIT_ERROR
            } else {
                commands::EXIT_OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match &cli.command {
        Command::Postconf(a) => commands::postconf::run(a),
        Command::Doveconf(a) => commands::doveconf::run(a),
        Command::Generate(a) => commands::generate::run(a, false),
        Command::Check(a) => commands::generate::run(a, true),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Dns(a) => commands::dns::run(a),
        Command::Webserver(a) => commands::webserver::run(a),
        Command::Completions(a) => commands::extras::completions(a),
        Command::Man(a) => commands::extras::man(a),
    };
    std::process::exit(code);
}
