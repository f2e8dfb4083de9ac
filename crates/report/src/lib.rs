//! Reporting: the record bpfcheck writes for every (input, program,
//! kernel), and its renderings as text, JSON and SARIF 2.1.0.
//!
//! The JSON record is a stable, versioned schema ([`SCHEMA_VERSION`];
//! documented in the README): fields are added, never renamed or removed
//! within a major version. This crate holds data and formatting only; it
//! knows nothing of how verdicts are reached, and reads no files.
//!
//! Implemented:
//! - [`render_diagnostic`]: a rejection as a rustc-style diagnostic
//!   (`annotate-snippets`): the kernel's error line, the source line with
//!   context when the caller has the file (else the line BTF carries), the
//!   instruction, the path from a [`Trace`], and the catalogue's hint;
//! - the catalogue of rejection classes ([`CATALOGUE`], [`classify`]),
//!   keyed by the kernel's message patterns and bpfcheck's error codes;
//! - [`CausalAccount`] ([`account`]): a rejection explained by class from
//!   bpfcheck's own walk (the values the failing instruction found, the
//!   steps that made them, the reference or lock still held, the loop, the
//!   hottest instructions, or the rule an instruction breaks by itself);
//! - [`Trace`]: the failing path as data, from bpfcheck's verifier
//!   ([`Record::trace`]) or read from a kernel-format log
//!   ([`Trace::from_kernel_log`]), and [`processed_insns`] for per-line cost
//!   from a level-2 log;
//! - SARIF 2.1.0 ([`to_sarif`]) with a rule per class and source locations;
//! - veristat-style tables ([`render_stats`], [`Filter`], [`sort_records`])
//!   and comparisons of two runs ([`compare`], [`render_compare`]).
//!
//! Not implemented: classification of messages outside the catalogue
//! (such rejections get no hint and their error code as SARIF rule), and
//! accounts of rejections that name no register on programs bpfcheck
//! cannot walk (a reference leak after a kfunc, a special map field).

#![deny(missing_docs)]

mod catalogue;
mod causal;
mod diagnostic;
mod record;
mod sarif;
mod stats;
mod summary;
mod text;
mod trace;

pub use catalogue::{CATALOGUE, RejectionClass, class_by_id, classify};
pub use causal::{
    Branch, CausalAccount, Cause, account, definitions, first_named_reg, is_rule_class, rule,
};
pub use diagnostic::{DiagnosticContext, render_diagnostic};
pub use record::{
    Agreement, KernelField, KernelSide, Record, SCHEMA_VERSION, SourceLocation, UnsupportedInfo,
};
pub use sarif::to_sarif;
pub use stats::{
    Filter, INSN_LIMIT, NEAR_LIMIT_PERCENT, ProgramChange, SourceLineCost, StatsField, StatsFormat,
    compare, render_compare, render_stats, render_top_lines, sort_records,
};
pub use summary::{Disagreement, Slow, Summary, Tally, message_class};
pub use text::{render_diff, render_matrix, render_record};
pub use trace::{RegChange, Trace, TraceStep, processed_insns};

/// Renders records as pretty JSON, one array, with a trailing newline.
pub fn to_json(records: &[Record]) -> String {
    let mut s =
        serde_json::to_string_pretty(records).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
