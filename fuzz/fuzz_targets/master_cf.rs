#![no_main]
//! master.cf, with both readings of the `-o` arguments.

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::master_cf::{
    daemon_overrides, parse_master_cf, postconf_args, split_nameval, split_words, strip_braces,
};

fuzz_target!(|src: &str| {
    let (cf, diags) = parse_master_cf(src);
    common::diags_ok(src, &diags);
    for e in &cf.entries {
        common::span_ok(src, e.span, "entry");
        assert!(e.words.len() >= 8);
        for w in &e.words {
            common::span_ok(src, w.span, "word");
        }
        let _ = (e.service(), e.type_word(), e.command(), e.args());
        let (overrides, d) = daemon_overrides(e);
        common::diags_ok(src, &d);
        for o in &overrides {
            common::span_ok(src, o.span, "override");
        }
        let (_argv, d) = postconf_args(e);
        common::diags_ok(src, &d);
    }
    for (s, e) in split_words(src) {
        assert!(s < e && e <= src.len());
        let w = &src[s..e];
        let _ = strip_braces(w);
        let _ = split_nameval(w);
    }
});
