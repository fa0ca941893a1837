#![no_main]
//! main.cf (and SQL/LDAP table client files, same syntax).

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::main_cf::parse_main_cf;

fuzz_target!(|src: &str| {
    let (cf, diags) = parse_main_cf(src);
    common::diags_ok(src, &diags);
    for a in &cf.assignments {
        common::span_ok(src, a.span, "assignment");
        common::span_ok(src, a.name_span, "name");
        common::span_ok(src, a.value_span, "value");
        assert_eq!(&src[a.name_span.range()], a.name, "name span");
        assert!(a.span.start <= a.name_span.start && a.value_span.end <= a.span.end);
        // Every byte of the value maps back into the file.
        for (i, _) in a.value.char_indices() {
            common::offset_ok(src, a.value_file_offset(i), "value offset");
        }
        let _ = cf.get(&a.name);
    }
});
