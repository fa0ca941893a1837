//! In-process pipeline benchmarks (issue 8, BENCHMARKS.md) on the synthetic
//! hosting tree of N domains (tools/bench/synth.rs), without the process
//! start and without writing: reading the configuration and building the
//! model (`load` + `model`), rendering and validating every file
//! (`files`), and the "nothing changed" path without the process:
//! render, validate and compare every file with an up-to-date output tree
//! (`unchanged`). Use it to check a fix quickly; tools/bench/run.sh
//! measures whole processes.
//!
//!     cargo bench --bench pipeline              # N = 1,000 and 10,000
//!     BENCH_NS=1000,100000 cargo bench --bench pipeline

#[path = "../tools/bench/synth.rs"]
mod synth;

use std::hint::black_box;
use std::path::PathBuf;

use clap::Parser;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailconf::cli::{Cli, Command, ModelArgs};
use mailconf::commands::generate::{domain_file, offer_all};
use mailconf::commands::load::load;
use mailconf::diag::Diagnostics;
use mailconf::model::Model;
use mailconf::output::tree::{Mode, Tree};

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn model_args(root: &std::path::Path) -> ModelArgs {
    let cli = Cli::parse_from([
        "mailconf",
        "inspect",
        "--root",
        root.to_str().expect("utf-8 path"),
    ]);
    match cli.command {
        Command::Inspect(a) => a.model,
        _ => unreachable!(),
    }
}

fn ns() -> Vec<u64> {
    std::env::var("BENCH_NS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|x| x.trim().replace('_', "").parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1_000, 10_000])
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    for n in ns() {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "mailconf-bench-pipeline-{n}-{}",
            std::process::id()
        )));
        let _ = std::fs::remove_dir_all(&dir.0);
        let root = dir.0.join("root");
        let out = dir.0.join("out");
        synth::write_tree(&root, n).expect("write the synthetic tree");
        let args = model_args(&root);

        let mut loaded = load(&args)
            .unwrap_or_else(|_| panic!("the synthetic tree of {n} domains does not load"));
        let model = loaded.model();
        assert_eq!(model.domains.len() as u64, n, "hosted domains");
        let mut diags = Diagnostics::default();
        std::fs::create_dir_all(&out).expect("create out");
        let mut tree = Tree::new(&out, Mode::Write, false);
        assert!(offer_all(&model, false, None, &mut tree, &mut diags));
        tree.finish(false);
        assert!(tree.failed().is_empty(), "writing the output tree failed");
        assert_eq!(tree.changes().count() as u64, 2 * n, "files");

        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new("load_model", n), &args, |b, args| {
            b.iter(|| {
                let mut l = load(args).ok().expect("loads");
                let m = l.model();
                black_box((m, l))
            })
        });
        g.bench_with_input(BenchmarkId::new("files", n), &model, |b, model| {
            b.iter(|| {
                let mut d = Diagnostics::default();
                let files: Vec<String> = model
                    .domains
                    .iter()
                    .filter_map(|dom| domain_file(dom, model, false, None, &mut d))
                    .collect();
                black_box(files)
            })
        });
        g.bench_with_input(
            BenchmarkId::new("unchanged", n),
            &model,
            |b, model: &Model| {
                b.iter(|| {
                    let mut d = Diagnostics::default();
                    let mut t = Tree::new(&out, Mode::Compare, false);
                    offer_all(model, false, None, &mut t, &mut d);
                    t.finish(false);
                    assert!(!t.has_changes());
                    black_box(t.changes().count())
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
