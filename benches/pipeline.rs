//! In-process pipeline benchmarks (issue 8, BENCHMARKS.md) on the synthetic
//! hosting tree of N domains (tools/bench/synth.rs), without the process
//! start and without writing: reading the configuration and building the
//! model (`load` + `model`), rendering and validating every file
//! (`files`), and planning against an up-to-date output tree, the
//! "nothing changed" path (`plan_unchanged`). Use it to check a fix quickly;
//! tools/bench/run.sh measures whole processes.
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
use mailconf::commands::generate::files;
use mailconf::commands::load::load;
use mailconf::diag::Diagnostics;
use mailconf::output::tree;

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
        let written = files(&model, false, None, &mut diags);
        assert_eq!(written.len() as u64, 2 * n, "files");
        std::fs::create_dir_all(&out).expect("create out");
        let plan = tree::plan(&out, &written, false);
        assert!(
            tree::apply(&out, &plan, &written).is_empty(),
            "writing the output tree failed"
        );

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
                black_box(files(model, false, None, &mut d))
            })
        });
        g.bench_with_input(
            BenchmarkId::new("plan_unchanged", n),
            &written,
            |b, written| {
                b.iter(|| {
                    let p = tree::plan(&out, written, false);
                    assert!(!p.has_changes());
                    black_box(p)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
