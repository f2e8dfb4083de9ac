//! The assembler's one error type: where in the text, and what was expected.

use std::fmt;

/// A syntax or range error, located at a 1-based line and column (columns
/// count characters, not bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column of the offending character.
    pub column: usize,
    /// What went wrong, usually "expected X, found Y".
    pub message: String,
}

impl AsmError {
    /// An error at `line` (1-based) and `column` (1-based).
    pub fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for AsmError {}
