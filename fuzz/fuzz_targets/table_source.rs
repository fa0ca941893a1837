#![no_main]
//! postmap source files (hash:, btree:, lmdb:, cdb:, texthash:).

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::table_source::{first_wins, parse_table_source};

fuzz_target!(|src: &str| {
    let (records, diags) = parse_table_source(src);
    common::diags_ok(src, &diags);
    for r in &records {
        common::span_ok(src, r.key_span, "key");
        assert!(!r.value.is_empty());
    }
    let n = records.len();
    let (kept, dups) = first_wins(records, true);
    common::diags_ok(src, &dups);
    assert_eq!(kept.len() + dups.len(), n);
});
