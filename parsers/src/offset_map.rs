//! Offsets in assembled text back to offsets in the file.

use crate::span::Span;

/// Maps offsets in a string that was assembled from several pieces of a
/// file back to file offsets: `pieces` holds `(offset in text, offset in
/// file)` at the start of each piece, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap {
    pub(crate) pieces: Vec<(usize, usize)>,
}

impl OffsetMap {
    /// A map for text that is a contiguous copy of the file at `file_start`.
    pub fn contiguous(file_start: usize) -> OffsetMap {
        OffsetMap {
            pieces: vec![(0, file_start)],
        }
    }

    fn piece(&self, offset: usize) -> (usize, usize) {
        let idx = match self.pieces.binary_search_by(|p| p.0.cmp(&offset)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        self.pieces.get(idx).copied().unwrap_or((0, 0))
    }

    pub fn file_offset(&self, offset: usize) -> usize {
        let (text_at, file_at) = self.piece(offset);
        file_at + offset.saturating_sub(text_at)
    }

    pub fn file_span(&self, span: Span) -> Span {
        let start = self.file_offset(span.start);
        let end = if span.is_empty() {
            start
        } else {
            self.file_offset(span.end - 1) + 1
        };
        Span::new(start, end)
    }

    /// The map of the text that starts at `offset` of this one.
    pub fn from_offset(&self, offset: usize) -> OffsetMap {
        let mut pieces = vec![(0, self.file_offset(offset))];
        pieces.extend(
            self.pieces
                .iter()
                .filter(|p| p.0 > offset)
                .map(|&(t, f)| (t - offset, f)),
        );
        OffsetMap { pieces }
    }
}
