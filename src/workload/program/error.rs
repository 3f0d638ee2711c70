//! A mistake in a program's text, found before any run: what is wrong and where.

use super::ast::Span;

/// A syntax, name, type or lock error in a thread's `code` (or a `check`), at `span`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProgramError {
    /// Byte offsets of the offending token in the code string.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl ProgramError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> ProgramError {
        ProgramError {
            span,
            message: message.into(),
        }
    }
}

/// The line and column (both from 1, the column in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
