//! Diagnostics: what mailconf tells the administrator about the
//! configuration it read (rule M11).
//!
//! Every diagnostic has a severity, a stable snake_case id (documented in
//! `docs/diagnostics.md`), a message, and where a file is the cause, a
//! position in that file. Renderers live in [`human`] (rustc-style, with
//! the source line) and [`json`] (one object per line).

pub mod human;
pub mod json;

pub use mailconf_parsers::Severity;
use mailconf_parsers::{Span, SyntaxDiag};

use std::collections::HashMap;

use crate::source::FileId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub text: String,
}

impl Label {
    pub fn new(file: FileId, span: Span, text: impl Into<String>) -> Label {
        Label {
            file,
            span,
            text: text.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub id: &'static str,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            id,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn error(id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, id, message)
    }

    pub fn warning(id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, id, message)
    }

    pub fn note(id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Note, id, message)
    }

    pub fn at(mut self, file: FileId, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label::new(file, span, label));
        self
    }

    pub fn also(mut self, file: FileId, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label::new(file, span, label));
        self
    }

    pub fn note_text(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// A parser's finding in file `file`.
    pub fn from_syntax(file: FileId, d: SyntaxDiag) -> Diagnostic {
        let mut out = Diagnostic::new(d.severity, d.id, d.message).at(file, d.span, "");
        for (span, label) in d.related {
            out = out.also(file, span, label);
        }
        out
    }
}

/// "An error was reported in the diagnostics; stop." Carries nothing: the
/// diagnostic itself says what went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fatal;

/// How many diagnostics with the same id and file are kept; the rest are
/// counted in one `diagnostics_truncated` note. A table with a million bad
/// lines must not print a million lines (or keep them in memory).
pub const MAX_REPEATS: usize = 20;

/// Collected diagnostics, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// Per (id, file): how many were pushed, and the index of the note
    /// that counts those left out.
    repeats: HashMap<RepeatKey, (usize, Option<usize>)>,
}

/// A diagnostic id and the file it is about.
type RepeatKey = (&'static str, Option<FileId>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        let file = d.primary.as_ref().map(|l| l.file);
        let (seen, note) = self.repeats.entry((d.id, file)).or_default();
        *seen += 1;
        if *seen <= MAX_REPEATS {
            self.list.push(d);
            return;
        }
        let left_out = *seen - MAX_REPEATS;
        let message = format!(
            "{left_out} more `{}` diagnostic(s) like the ones above for this file are not shown; the last is here",
            d.id
        );
        match *note {
            Some(i) => {
                let n = &mut self.list[i];
                n.message = message;
                n.primary = d.primary;
            }
            None => {
                *note = Some(self.list.len());
                self.list.push(Diagnostic {
                    primary: d.primary,
                    ..Diagnostic::new(d.severity, "diagnostics_truncated", message)
                });
            }
        }
    }

    pub fn extend_syntax(&mut self, file: FileId, diags: impl IntoIterator<Item = SyntaxDiag>) {
        for d in diags {
            self.push(Diagnostic::from_syntax(file, d));
        }
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.list {
            self.push(d);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}
