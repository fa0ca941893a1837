//! Parser benchmarks (issue 8, BENCHMARKS.md): a 10,000-line main.cf, a
//! 100,000-domain postmap table source, the Dovecot files of the synthetic
//! hosting tree one by one, and the whole Dovecot tree as mailconf reads it
//! (includes, defaults, sections; from a temporary directory).
//!
//!     cargo bench --bench parsers

#[path = "../tools/bench/synth.rs"]
mod synth;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailconf::diag::Diagnostics;
use mailconf::dovecot::DovecotConf;
use mailconf::source::{Root, SourceMap};
use mailconf_parsers::Severity;
use mailconf_parsers::dovecot::conf::{Dialect, parse_conf};
use mailconf_parsers::postfix::main_cf::parse_main_cf;
use mailconf_parsers::postfix::master_cf::parse_master_cf;
use mailconf_parsers::postfix::table_source::{first_wins, parse_table_source};

fn postfix(c: &mut Criterion) {
    let mut g = c.benchmark_group("postfix");

    let main_cf = synth::big_main_cf(10_000);
    let (parsed, diags) = parse_main_cf(&main_cf);
    assert!(
        diags.is_empty(),
        "synthetic main.cf has syntax problems: {diags:?}"
    );
    assert!(parsed.assignments.len() > 3000);
    g.throughput(Throughput::Bytes(main_cf.len() as u64));
    g.bench_function("main_cf_10k_lines", |b| {
        b.iter(|| parse_main_cf(black_box(&main_cf)))
    });

    let master = synth::POSTFIX_MASTER_CF;
    g.throughput(Throughput::Bytes(master.len() as u64));
    g.bench_function("master_cf_debian", |b| {
        b.iter(|| parse_master_cf(black_box(master)))
    });

    let table = synth::vmailbox_domains(100_000);
    let (records, diags) = parse_table_source(&table);
    assert_eq!(records.len(), 100_000);
    assert!(
        diags.is_empty(),
        "synthetic table has syntax problems: {:?}",
        &diags[..1]
    );
    g.throughput(Throughput::Bytes(table.len() as u64));
    g.sample_size(20);
    g.bench_function("table_source_100k", |b| {
        b.iter(|| parse_table_source(black_box(&table)))
    });
    g.bench_function("table_source_100k_first_wins", |b| {
        b.iter(|| first_wins(parse_table_source(black_box(&table)).0, true))
    });
    g.finish();
}

/// A temporary directory removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str, n: u64) -> TempTree {
        let dir =
            std::env::temp_dir().join(format!("mailconf-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        synth::write_tree(&dir, n).expect("write the synthetic tree");
        TempTree(dir)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dovecot(c: &mut Criterion) {
    let mut g = c.benchmark_group("dovecot");
    let files: Vec<(&str, &str)> = synth::dovecot_files()
        .into_iter()
        .filter(|(p, _)| p.starts_with("etc/dovecot/"))
        .collect();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    for (p, t) in &files {
        let (_, diags) = parse_conf(t, Dialect::default());
        let errors: Vec<_> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{p}: {errors:?}");
    }
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("conf_files_parse", |b| {
        b.iter(|| {
            for (_, t) in &files {
                black_box(parse_conf(black_box(t), Dialect::default()));
            }
        })
    });

    let tree = TempTree::new("dovecot", 10);
    let root = Root::new(&tree.0);
    {
        let mut sources = SourceMap::default();
        let mut diags = Diagnostics::default();
        let conf = DovecotConf::load(&root, None, &mut sources, &mut diags);
        assert!(
            conf.is_some() && !diags.has_errors(),
            "the synthetic Dovecot tree does not load"
        );
    }
    g.bench_function("tree_load", |b| {
        b.iter(|| {
            let mut sources = SourceMap::default();
            let mut diags = Diagnostics::default();
            let conf = DovecotConf::load(&root, None, &mut sources, &mut diags);
            black_box((conf, sources, diags))
        })
    });
    g.bench_function("tree_load_and_check", |b| {
        b.iter(|| {
            let mut sources = SourceMap::default();
            let mut diags = Diagnostics::default();
            let conf = DovecotConf::load(&root, None, &mut sources, &mut diags);
            if let Some(d) = &conf {
                d.check(&mut diags);
            }
            black_box((conf, sources, diags))
        })
    });
    g.finish();
}

criterion_group!(benches, postfix, dovecot);
criterion_main!(benches);
