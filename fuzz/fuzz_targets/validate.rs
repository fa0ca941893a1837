#![no_main]
//! The autoconfig validator (`mailconf validate`) on arbitrary text. Every
//! finding's offset must be a valid index into the text: the command slices
//! the text there.

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use mailconf::autoconfig::validate::validate;

fuzz_target!(|src: &str| {
    for f in validate(src) {
        common::offset_ok(src, f.offset, f.id);
    }
});
