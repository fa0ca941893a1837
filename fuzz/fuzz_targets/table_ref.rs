#![no_main]
//! `type:name` references and inline / union blocks.

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::table_ref::{block_members, parse_inline, parse_table_ref};

fuzz_target!(|src: &str| {
    if let Some(t) = parse_table_ref(src) {
        let _ = t.unproxied();
        let _ = block_members(t.name);
        let (_, d) = parse_inline(t.name);
        for d in d {
            assert!(d.span.end <= t.name.len());
        }
    }
    let _ = block_members(src);
    let _ = parse_inline(src);
});
