#![no_main]
//! Postfix match lists.

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::list::{parse_list, tokens};

fuzz_target!(|src: &str| {
    let (entries, diags) = parse_list(src);
    common::diags_ok(src, &diags);
    for e in &entries {
        common::span_ok(src, e.span, "entry");
    }
    for t in tokens(src) {
        common::span_ok(src, t, "token");
        assert!(!t.is_empty());
    }
});
