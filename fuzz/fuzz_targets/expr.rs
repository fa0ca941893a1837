#![no_main]
//! `$name` expressions: `parse` on the whole text and on a sub-range (as
//! the evaluator does for a taken branch), and `scan`.

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::Span;
use mailconf_parsers::postfix::expr::{parse, scan};

fn check(src: &str, range: Span) {
    match parse(src, range) {
        Ok(nodes) => {
            for n in &nodes {
                for s in n.spans() {
                    common::span_ok(src, s, "node");
                    assert!(
                        s.start >= range.start && s.end <= range.end,
                        "node span {s:?} leaves the range {range:?}"
                    );
                }
            }
        }
        Err(e) => {
            common::span_ok(src, e.span, e.message());
            assert!(
                e.span.start >= range.start && e.span.end <= range.end,
                "error span {:?} leaves the range {range:?}",
                e.span
            );
        }
    }
}

fuzz_target!(|data: (u16, u16, &str)| {
    let (a, b, src) = data;
    check(src, Span::new(0, src.len()));
    // A sub-range on character boundaries, as the evaluator passes a branch.
    if !src.is_empty() {
        let mut s = a as usize % (src.len() + 1);
        let mut e = b as usize % (src.len() + 1);
        if s > e {
            std::mem::swap(&mut s, &mut e);
        }
        while !src.is_char_boundary(s) {
            s -= 1;
        }
        while !src.is_char_boundary(e) {
            e += 1;
        }
        check(src, Span::new(s, e));
    }
    let (names, errors) = scan(src);
    for m in names {
        common::span_ok(src, m.name, "mention");
    }
    for e in errors {
        common::span_ok(src, e.span, e.message());
    }
});
