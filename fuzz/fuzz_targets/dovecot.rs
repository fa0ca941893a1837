#![no_main]
//! One Dovecot file, in both dialects (2.3 and 2.4).

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::dovecot::{Dialect, Item, parse_conf};

fuzz_target!(|src: &str| {
    for v2_4 in [false, true] {
        let (items, diags) = parse_conf(src, Dialect { v2_4 });
        common::diags_ok(src, &diags);
        for i in &items {
            common::span_ok(src, i.span(), "item");
            match i {
                Item::Assign {
                    key_span,
                    value_span,
                    value,
                    ..
                } => {
                    common::span_ok(src, *key_span, "key");
                    common::span_ok(src, *value_span, "value");
                    let _ = value.text();
                }
                Item::Open {
                    kind_span,
                    name_span,
                    ..
                } => {
                    common::span_ok(src, *kind_span, "kind");
                    common::span_ok(src, *name_span, "name");
                }
                Item::Include { .. } | Item::Close { .. } => {}
            }
        }
    }
});
