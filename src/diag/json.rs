//! JSON lines: one object per diagnostic (schema in `docs/json.md`).

use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::SourceMap;

#[derive(Serialize)]
pub struct JsonLabel {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub label: String,
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub severity: &'static str,
    pub id: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<JsonLabel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonLabel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn label(l: &super::Label, sources: &SourceMap) -> JsonLabel {
    let f = sources.get(l.file);
    let (line, column) = f.line_col(l.span.start);
    let (end_line, end_column) = f.line_col(l.span.end);
    JsonLabel {
        file: f.path.to_string_lossy().into_owned(),
        line,
        column,
        end_line,
        end_column,
        label: l.text.clone(),
    }
}

pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    JsonDiagnostic {
        severity: severity_name(d.severity),
        id: d.id,
        message: d.message.clone(),
        primary: d.primary.as_ref().map(|l| label(l, sources)),
        related: d.secondary.iter().map(|l| label(l, sources)).collect(),
        notes: d.notes.clone(),
        help: d.help.clone(),
    }
}

pub fn render(d: &Diagnostic, sources: &SourceMap) -> String {
    serde_json::to_string(&to_json(d, sources)).unwrap_or_default()
}
