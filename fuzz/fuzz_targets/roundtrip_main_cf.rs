#![no_main]
//! main.cf round trip: parse, print every assignment back as one
//! `name = value` line, parse again: the same names and values in the same
//! order, and no new errors.

use libfuzzer_sys::fuzz_target;
use mailconf_parsers::postfix::main_cf::parse_main_cf;

fuzz_target!(|src: &str| {
    let (cf, _) = parse_main_cf(src);
    let mut printed = String::new();
    for a in &cf.assignments {
        printed.push_str(&a.name);
        printed.push_str(" = ");
        printed.push_str(&a.value);
        printed.push('\n');
    }
    let (again, diags) = parse_main_cf(&printed);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "printed text has errors: {diags:?}\n{printed:?}"
    );
    let pairs = |c: &mailconf_parsers::postfix::main_cf::MainCf| {
        c.assignments
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&cf), pairs(&again), "printed:\n{printed:?}");
});
