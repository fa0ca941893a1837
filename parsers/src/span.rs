//! Byte spans into a source text.

use std::ops::Range;

/// A half-open byte range `start..end` into the text a parser was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at `at`, for "something is missing here".
    pub const fn at(at: usize) -> Span {
        Span { start: at, end: at }
    }

    /// The span of the one character of `text` that starts at byte `at`
    /// (empty at the end of `text`), so that a span never ends inside a
    /// multi-byte character.
    pub fn char_at(text: &str, at: usize) -> Span {
        let len = text
            .get(at..)
            .and_then(|rest| rest.chars().next())
            .map_or(0, char::len_utf8);
        Span::new(at, at + len)
    }

    /// The smallest span of whole characters of `text` that covers this
    /// one (byte-wise parsers report one byte; a renderer must not cut a
    /// character).
    pub fn widen_to_chars(self, text: &str) -> Span {
        let mut start = self.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = self.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        Span::new(start, end)
    }

    pub const fn len(self) -> usize {
        self.end - self.start
    }

    pub const fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub const fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// The same span moved right by `by` bytes (used when a sub-parser
    /// worked on a slice that starts at `by`).
    pub const fn shift(self, by: usize) -> Span {
        Span {
            start: self.start + by,
            end: self.end + by,
        }
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Span {
        Span::new(r.start, r.end)
    }
}
