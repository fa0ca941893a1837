//! Physical lines to logical lines, the way Postfix's `readllines()` does it.
//!
//! * a line that is empty, only whitespace, or whose first non-blank
//!   character is `#` is dropped, wherever it appears (also between a line
//!   and its continuation);
//! * a line that starts with whitespace is appended, verbatim and without
//!   the newline, to the logical line before it;
//! * a logical line that would itself start with whitespace (nothing to
//!   continue) is dropped with a warning.
//!
//! There is no other escape: a trailing backslash and a `#` after text are
//! ordinary characters.

use crate::diag::SyntaxDiag;
use crate::offset_map::OffsetMap;
use crate::postfix::is_space;
use crate::span::Span;

/// One logical line: the joined text and where each piece came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalLine {
    pub text: String,
    /// Covers every physical line that went into `text`.
    pub span: Span,
    map: OffsetMap,
}

impl LogicalLine {
    /// Where byte `offset` of [`LogicalLine::text`] sits in the file.
    pub fn file_offset(&self, offset: usize) -> usize {
        self.map.file_offset(offset)
    }

    /// A span of [`LogicalLine::text`] as a span of the file.
    pub fn file_span(&self, span: Span) -> Span {
        self.map.file_span(span)
    }

    /// The text-to-file map of the part of this line that starts at
    /// `offset`: used by values that are parsed further (`$name`
    /// expressions, lists).
    pub fn sub_map(&self, offset: usize) -> OffsetMap {
        self.map.from_offset(offset)
    }

    fn new(text: &str, start: usize) -> LogicalLine {
        LogicalLine {
            text: text.to_string(),
            span: Span::new(start, start + text.len()),
            map: OffsetMap::contiguous(start),
        }
    }

    fn append(&mut self, text: &str, start: usize) {
        self.map.pieces.push((self.text.len(), start));
        self.text.push_str(text);
        self.span.end = start + text.len();
    }
}

/// Splits `src` into logical lines. Indented lines with nothing to continue
/// are reported (id `leading_whitespace`) and left out.
pub fn logical_lines(src: &str) -> (Vec<LogicalLine>, Vec<SyntaxDiag>) {
    let mut out: Vec<LogicalLine> = Vec::new();
    let mut diags = Vec::new();
    // A logical line that started with whitespace: collected, then dropped.
    let mut orphan: Option<LogicalLine> = None;
    let mut pos = 0;
    for raw in src.split_inclusive('\n') {
        let start = pos;
        pos += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let bytes = line.as_bytes();
        let first = bytes.iter().position(|&b| !is_space(b));
        let Some(first) = first else { continue };
        if bytes[first] == b'#' {
            continue;
        }
        if first > 0 {
            // A continuation line: appended verbatim, leading blanks included.
            let target = match (&mut orphan, out.last_mut()) {
                (Some(o), _) => Some(o),
                (None, Some(last)) => Some(last),
                (None, None) => None,
            };
            match target {
                Some(l) => l.append(line, start),
                None => orphan = Some(LogicalLine::new(line, start)),
            }
            continue;
        }
        if let Some(o) = orphan.take() {
            diags.push(orphan_diag(&o));
        }
        out.push(LogicalLine::new(line, start));
    }
    if let Some(o) = orphan.take() {
        diags.push(orphan_diag(&o));
    }
    (out, diags)
}

fn orphan_diag(line: &LogicalLine) -> SyntaxDiag {
    SyntaxDiag::warning(
        "leading_whitespace",
        line.span,
        "this line starts with whitespace but there is nothing before it to continue; Postfix ignores it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_do_not_end_a_continuation() {
        let src = "a = one\n# c\n  two\n\n   # indented\n\tthree\nb = x\n";
        let (lines, diags) = logical_lines(src);
        assert!(diags.is_empty());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "a = one  two\tthree");
        // "two" starts at file offset of line 3 + 2.
        let two = lines[0].text.find("two").unwrap();
        assert_eq!(&src[lines[0].file_offset(two)..][..3], "two");
        let three = lines[0].text.find("three").unwrap();
        assert_eq!(&src[lines[0].file_offset(three)..][..5], "three");
    }

    #[test]
    fn indented_first_line_is_dropped_with_a_warning() {
        let (lines, diags) = logical_lines("  x = 1\n  more\ny = 2\n");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "y = 2");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].id, "leading_whitespace");
        assert_eq!(diags[0].span, Span::new(0, 14));
    }

    #[test]
    fn backslash_and_inner_hash_are_data() {
        let (lines, _) = logical_lines("a = b \\\nc = d # e\n");
        assert_eq!(lines[0].text, "a = b \\");
        assert_eq!(lines[1].text, "c = d # e");
    }

    #[test]
    fn sub_map_follows_pieces() {
        let src = "name = a,\n  b\n";
        let (lines, _) = logical_lines(src);
        let l = &lines[0];
        let v = l.text.find('a').unwrap();
        let map = l.sub_map(v);
        let b_in_value = l.text[v..].find('b').unwrap();
        assert_eq!(&src[map.file_offset(b_in_value)..][..1], "b");
        assert_eq!(&src[map.file_offset(0)..][..1], "a");
    }
}
