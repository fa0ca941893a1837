//! Checks shared by the fuzz targets: every span a parser returns must lie
//! inside the text it was given and start and end on UTF-8 character
//! boundaries (diagnostics slice the text with it; annotate-snippets and
//! `mailconf validate` panic otherwise).
//!
//! `MAILCONF_FUZZ_LAX=1` skips the character-boundary check, so that a
//! known boundary bug does not stop a campaign looking for other crashes.

#![allow(dead_code)]

use mailconf_parsers::{Span, SyntaxDiag};

fn lax() -> bool {
    static LAX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LAX.get_or_init(|| std::env::var_os("MAILCONF_FUZZ_LAX").is_some())
}

#[track_caller]
pub fn span_ok(src: &str, span: Span, what: &str) {
    assert!(
        span.start <= span.end && span.end <= src.len(),
        "{what}: span {}..{} outside the input (len {})",
        span.start,
        span.end,
        src.len()
    );
    if !lax() {
        assert!(
            src.is_char_boundary(span.start) && src.is_char_boundary(span.end),
            "{what}: span {}..{} is not on character boundaries of {:?}",
            span.start,
            span.end,
            src
        );
    }
}

#[track_caller]
pub fn offset_ok(src: &str, at: usize, what: &str) {
    span_ok(src, Span::at(at), what);
}

#[track_caller]
pub fn diags_ok(src: &str, diags: &[SyntaxDiag]) {
    for d in diags {
        span_ok(src, d.span, d.id);
        for (s, _) in &d.related {
            span_ok(src, *s, d.id);
        }
    }
}
