//! Writes a synthetic server tree of N hosted domains (see synth.rs):
//!
//!     cargo bench --bench gen-tree -- --domains N --out DIR
//!
//! DIR must not exist or be empty. Deterministic: the same N gives the
//! same bytes. Built as a `harness = false` bench target so that it needs
//! no entry of its own in Cargo.toml; `cargo bench` without arguments runs
//! it with `--bench` only, and `cargo test --benches` with no argument;
//! both do nothing.

#[path = "synth.rs"]
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str =
    "usage: gen-tree --domains N --out DIR   (or: gen-tree --print FILE --domains N)";

fn main() -> ExitCode {
    let mut n: Option<u64> = None;
    let mut out: Option<PathBuf> = None;
    let mut print: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--domains" | "-n" => n = args.next().and_then(|v| v.replace('_', "").parse().ok()),
            "--out" | "-o" => out = args.next().map(PathBuf::from),
            "--print" => print = args.next(),
            // Passed by `cargo bench` to every bench target.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("gen-tree: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(file) = print {
        let n = n.unwrap_or(1000);
        let text = if file == "big-main.cf" {
            Some(synth::big_main_cf(n as usize))
        } else {
            synth::tree_files(n)
                .into_iter()
                .find(|(p, _)| *p == file)
                .map(|(_, t)| t)
        };
        return match text {
            Some(t) => {
                print!("{t}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("gen-tree: no file {file:?} in the tree");
                ExitCode::from(2)
            }
        };
    }
    let (Some(n), Some(out)) = (n, out) else {
        // `cargo bench` runs every bench target with `--bench`, and
        // `cargo test --benches` with no argument: nothing to do then.
        if std::env::args().skip(1).all(|a| a == "--bench") {
            return ExitCode::SUCCESS;
        }
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if out.exists()
        && std::fs::read_dir(&out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        eprintln!("gen-tree: {} exists and is not empty", out.display());
        return ExitCode::from(2);
    }
    match synth::write_tree(&out, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-tree: {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}
