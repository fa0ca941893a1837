//! Problems found while parsing, returned beside the tree.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// One syntax problem. `id` is a stable snake_case name (it appears in the
/// tool's output and in its documentation); `span` points into the text that
/// was parsed; `related` carries secondary positions in the same text (an
/// earlier definition, the start of an unclosed block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxDiag {
    pub severity: Severity,
    pub id: &'static str,
    pub span: Span,
    pub message: String,
    pub related: Vec<(Span, String)>,
}

impl SyntaxDiag {
    pub fn error(id: &'static str, span: Span, message: impl Into<String>) -> SyntaxDiag {
        SyntaxDiag::new(Severity::Error, id, span, message)
    }

    pub fn warning(id: &'static str, span: Span, message: impl Into<String>) -> SyntaxDiag {
        SyntaxDiag::new(Severity::Warning, id, span, message)
    }

    pub fn note(id: &'static str, span: Span, message: impl Into<String>) -> SyntaxDiag {
        SyntaxDiag::new(Severity::Note, id, span, message)
    }

    fn new(severity: Severity, id: &'static str, span: Span, message: impl Into<String>) -> Self {
        SyntaxDiag {
            severity,
            id,
            span,
            message: message.into(),
            related: Vec::new(),
        }
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> SyntaxDiag {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
