//! Reporting: the record bpfcheck writes for every (input, program,
//! kernel), and its renderings as text, JSON and SARIF 2.1.0.
//!
//! The JSON record is a stable, versioned schema ([`SCHEMA_VERSION`];
//! documented in the README): fields are added, never renamed or removed
//! within a major version. This crate holds data and formatting only; it
//! knows nothing of how verdicts are reached.

#![deny(missing_docs)]

mod record;
mod sarif;
mod summary;
mod text;

pub use record::{Agreement, KernelField, KernelSide, Record, SCHEMA_VERSION, UnsupportedInfo};
pub use sarif::to_sarif;
pub use summary::{Disagreement, Slow, Summary, Tally, message_class};
pub use text::{render_diff, render_matrix, render_record};

/// Renders records as pretty JSON, one array, with a trailing newline.
pub fn to_json(records: &[Record]) -> String {
    let mut s =
        serde_json::to_string_pretty(records).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
