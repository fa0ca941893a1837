//! Renderer and validator benchmarks (issue 8, BENCHMARKS.md): the
//! `config-v1.1.xml` of the debian-submission deployment (the model is read
//! from fixtures/deployments/debian-submission/case.in, as `generate` does),
//! with and without `--alternatives`, and the render + validate step that
//! `generate` runs per domain, for 1,000 domains.
//!
//!     cargo bench --bench autoconfig

use std::hint::black_box;

use clap::Parser;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailconf::autoconfig::render::render;
use mailconf::autoconfig::validate::validate;
use mailconf::cli::{Cli, Command};
use mailconf::commands::load::load;
use mailconf::model::{Domain, Model};
use mailconf_parsers::Severity;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/deployments/debian-submission/case.in"
);

/// The model of the fixture, as `mailconf inspect --root FIXTURE [extra]`
/// builds it.
fn model(extra: &[&str]) -> Model {
    let mut argv = vec!["mailconf", "inspect", "--root", FIXTURE];
    argv.extend_from_slice(extra);
    let Command::Inspect(args) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let mut loaded = load(&args.model).unwrap_or_else(|_| panic!("{FIXTURE} does not load"));
    let m = loaded.model();
    assert!(!m.domains.is_empty(), "no domain in {FIXTURE}");
    m
}

fn no_errors(xml: &str) -> bool {
    validate(xml).iter().all(|f| f.severity != Severity::Error)
}

fn renamed(d: &Domain, name: &str) -> Domain {
    let mut d = d.clone();
    d.name = name.to_string();
    d.display_name = name.to_string();
    d.display_short_name = name
        .split('.')
        .next()
        .unwrap_or(name)
        .chars()
        .take(12)
        .collect();
    d
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("autoconfig");
    let m = model(&[]);
    let d = m.domains[0].clone();
    let xml = render(&d, &m, None).expect("renders");
    assert!(no_errors(&xml), "{:?}", validate(&xml));
    g.bench_function("render", |b| {
        b.iter(|| render(black_box(&d), black_box(&m), None))
    });
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.bench_function("validate", |b| b.iter(|| validate(black_box(&xml))));

    let alt = model(&["--alternatives"]);
    let doc = Some("https://hosting.example/mail-help");
    let xml_alt = render(&d, &alt, doc).expect("renders");
    // `--alternatives` gives warnings (several entries per protocol), no errors.
    assert!(no_errors(&xml_alt), "{:?}", validate(&xml_alt));
    g.throughput(Throughput::Bytes(xml_alt.len() as u64));
    g.bench_function("render_alternatives", |b| {
        b.iter(|| render(black_box(&d), black_box(&alt), doc))
    });
    g.bench_function("validate_alternatives", |b| {
        b.iter(|| validate(black_box(&xml_alt)))
    });

    let domains: Vec<Domain> = (0..1000)
        .map(|i| renamed(&d, &format!("customer{i}.example")))
        .collect();
    g.throughput(Throughput::Elements(domains.len() as u64));
    g.sample_size(30);
    g.bench_function("render_validate_1000_domains", |b| {
        b.iter(|| {
            for d in &domains {
                let x = render(d, &m, None).expect("renders");
                black_box(validate(&x));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
