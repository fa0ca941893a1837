//! rustc-style rendering with the source lines, through annotate-snippets.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Diagnostic, Label, Severity};
use crate::source::SourceMap;

/// Renders one diagnostic. `color` adds ANSI styles (only for a terminal,
/// and never when `NO_COLOR` is set: the caller decides).
pub fn render(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    // The id goes into the title the way rustc shows error codes.
    let title = level.primary_title(d.message.as_str()).id(d.id);
    let mut group = Group::with_title(title);
    let mut labels: Vec<(&Label, bool)> = Vec::new();
    if let Some(p) = &d.primary {
        labels.push((p, true));
    }
    labels.extend(d.secondary.iter().map(|l| (l, false)));
    // One snippet per file, in order of first mention.
    let mut files: Vec<crate::source::FileId> = Vec::new();
    for (l, _) in &labels {
        if !files.contains(&l.file) {
            files.push(l.file);
        }
    }
    for file in files {
        let f = sources.get(file);
        let mine: Vec<&(&Label, bool)> = labels.iter().filter(|(l, _)| l.file == file).collect();
        let first = mine
            .iter()
            .map(|(l, _)| f.line_col(l.span.start).0)
            .min()
            .unwrap_or(1);
        let last = mine
            .iter()
            .map(|(l, _)| f.line_col(l.span.end.max(l.span.start)).0)
            .max()
            .unwrap_or(first);
        // Only the lines that matter are handed to the renderer, so that a
        // huge file costs nothing.
        let start = f.line_range(first).start;
        let end = f.line_range(last).end;
        let window = &f.display_text()[start..end];
        let mut snippet = Snippet::source(window)
            .line_start(first)
            .path(f.path.to_string_lossy().into_owned());
        for (l, primary) in mine {
            // A span from a parser may end inside a multi-byte character
            // (a byte offset into assembled text): widen it to whole
            // characters, which the renderer needs.
            let s = floor_char(window, l.span.start.clamp(start, end) - start);
            let e = ceil_char(window, l.span.end.clamp(start, end) - start).max(s);
            let kind = if *primary {
                AnnotationKind::Primary
            } else {
                AnnotationKind::Context
            };
            snippet = snippet.annotation(kind.span(s..e).label(l.text.as_str()));
        }
        group = group.element(snippet);
    }
    let mut report = vec![group];
    for n in &d.notes {
        report.push(Group::with_title(Level::NOTE.secondary_title(n.as_str())));
    }
    if let Some(h) = &d.help {
        report.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&report)
}

/// One line per diagnostic: `path:line:col: warning[id]: message`, for logs.
pub fn render_short(d: &Diagnostic, sources: &SourceMap) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    match &d.primary {
        Some(l) => format!(
            "{}: {sev}[{}]: {}",
            sources.location(l.file, l.span),
            d.id,
            d.message
        ),
        None => format!("{sev}[{}]: {}", d.id, d.message),
    }
}

/// The largest char boundary of `s` at or before `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or after `i`.
fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
