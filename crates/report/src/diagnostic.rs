//! Rejections as rustc-style diagnostics: the kernel's message, the source
//! line it happened on, the instruction, the path that led there and a
//! hint of what usually fixes it.

use std::fmt::Write;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::{
    catalogue::classify,
    causal::{account, is_rule_class, rule},
    record::{Record, SourceLocation},
    text::render_record,
    trace::Trace,
};

/// What the renderer knows besides the record.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiagnosticContext<'a> {
    /// The failing instruction in the kernel's syntax (`(61) r0 = *(u32 *)(r0 +0)`).
    pub insn_text: Option<&'a str>,
    /// The whole source file, when it could be read.
    pub source_file: Option<&'a str>,
    /// The failing path, when known.
    pub trace: Option<&'a Trace>,
    /// The path was read from a log (the kernel's), not recorded by
    /// bpfcheck's own walk.
    pub trace_from_log: bool,
    /// When bpfcheck's walk did not reach the failure: where the register
    /// the error names was defined, from the instructions alone.
    pub static_account: Option<&'a crate::CausalAccount>,
}

/// How many earlier source lines are shown above the failing one.
const CONTEXT_LINES: u32 = 2;
/// How many steps of the path are shown.
const TRACE_STEPS: usize = 6;

/// The lines to show and the line number of the first: up to
/// [`CONTEXT_LINES`] lines before the failing one from the file, when the
/// file's line is the one the compiler saw; else the line BTF carries.
fn source_window(loc: &SourceLocation, file: Option<&str>) -> Option<(u32, String, bool)> {
    let btf_line = loc.text.as_deref().map(str::trim_end);
    if let Some(file) = file {
        let lines: Vec<&str> = file.lines().collect();
        let idx = usize::try_from(loc.line).ok()?.checked_sub(1)?;
        if let Some(line) = lines.get(idx) {
            let same = btf_line.is_none_or(|b| b.trim() == line.trim());
            if same {
                let first = loc.line.saturating_sub(CONTEXT_LINES).max(1);
                let start = usize::try_from(first - 1).ok()?;
                let text = lines[start..=idx].join("\n");
                return Some((first, text, false));
            }
        }
        // The file on disk is not the one compiled: trust BTF.
        return btf_line.map(|b| (loc.line, b.to_owned(), true));
    }
    btf_line.map(|b| (loc.line, b.to_owned(), false))
}

/// The span to underline in the window's last line: the token starting at
/// the column, or the whole line when there is no column.
fn span(window: &str, column: u32) -> std::ops::Range<usize> {
    let line_start = window.rfind('\n').map_or(0, |i| i + 1);
    let line = &window[line_start..];
    let indent = line.len() - line.trim_start().len();
    let whole = line_start + indent..window.len().max(line_start + indent);
    let Some(col) = usize::try_from(column).ok().and_then(|c| c.checked_sub(1)) else {
        return whole;
    };
    if col >= line.len() || !line.is_char_boundary(col) {
        return whole;
    }
    let token = line[col..]
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(line.len() - col, |(i, _)| i)
        .max(1);
    let end = (col + token).min(line.len());
    // Keep the end on a character boundary.
    let end = (end..=line.len())
        .find(|&e| line.is_char_boundary(e))
        .unwrap_or(line.len());
    line_start + col..line_start + end
}

fn errno_suffix(r: &Record) -> String {
    r.errno
        .map(|e| format!(" ({})", crate::text::errno_name(e)))
        .unwrap_or_default()
}

/// One record for a reader: rejections as a diagnostic (with colour when
/// `color`), other verdicts as [`render_record`] prints them.
pub fn render_diagnostic(r: &Record, cx: &DiagnosticContext<'_>, color: bool) -> String {
    if r.verdict != "rejected" {
        return render_record(r);
    }
    let class = classify(r.error.as_deref(), r.error_code.as_deref());
    let title = r
        .error
        .clone()
        .unwrap_or_else(|| "refused before verification (no verifier log)".to_owned());
    let id = class
        .map(|c| c.id.to_owned())
        .or_else(|| r.error_code.clone())
        .unwrap_or_else(|| "rejected".to_owned());
    let at = r
        .error_insn
        .map(|i| format!(" at insn {i}"))
        .unwrap_or_default();
    let context = format!(
        "program `{}` ({}) on kernel {}: rejected{}{at}",
        r.program,
        r.prog_type,
        r.profile_name(),
        errno_suffix(r)
    );
    let mut group = Group::with_title(Level::ERROR.primary_title(title.as_str()).id(id.as_str()));
    let window = r
        .source
        .as_ref()
        .and_then(|loc| source_window(loc, cx.source_file).map(|w| (loc, w)));
    let mut notes: Vec<String> = Vec::new();
    match &window {
        Some((loc, (first, text, stale))) => {
            let label = match r.error_insn {
                Some(i) => format!("insn {i} is here"),
                None => "here".to_owned(),
            };
            group = group.element(
                Snippet::source(text.as_str())
                    .line_start(usize::try_from(*first).unwrap_or(1))
                    .path(loc.file.as_str())
                    .fold(false)
                    .annotation(
                        AnnotationKind::Primary
                            .span(span(text, loc.column))
                            .label(label),
                    ),
            );
            if *stale {
                notes.push(format!(
                    "{} has changed since the object was built: showing the line the compiler recorded",
                    loc.file
                ));
            }
        }
        None => {
            let origin = match r.error_insn {
                Some(i) => format!("{}:{}+{i}", r.object, r.program),
                None => format!("{}:{}", r.object, r.program),
            };
            group = group.element(Origin::path(origin));
            if r.source.is_none() {
                notes.push("the program has no line info (for C, build with `clang -g` to see the source line)".to_owned());
            }
        }
    }
    let mut messages = vec![Level::NOTE.message(context)];
    if let (Some(i), Some(insn)) = (r.error_insn, cx.insn_text) {
        messages.push(Level::NOTE.message(format!("insn {i}: {insn}")));
    }
    messages.extend(notes.into_iter().map(|n| Level::NOTE.message(n)));
    let hint = class.map(|c| c.help.to_owned()).or_else(|| r.hint.clone());
    if let Some(h) = &hint {
        messages.push(Level::HELP.message(h.clone()));
    }
    group = group.elements(messages);
    let mut report = vec![group];
    let explained = match (cx.trace, r.error.as_deref()) {
        (Some(t), Some(msg)) => t.explaining(msg, TRACE_STEPS),
        _ => Vec::new(),
    };
    let account = match (cx.trace, r.error.as_deref()) {
        _ if is_rule_class(class) => r
            .error_insn
            .zip(cx.insn_text)
            .map(|(i, text)| rule(i, text.to_owned(), r.source.clone())),
        (Some(t), Some(msg)) => {
            account(msg, class, r.error_insn, t, r.processed_per_insn.as_deref())
        }
        _ => None,
    };
    // Without a walk of its own, bpfcheck's account is the definitions of
    // the named register; a path read from a log follows it, labelled.
    let static_first = cx.trace_from_log || cx.trace.is_none();
    if let Some(a) = cx
        .static_account
        .filter(|_| static_first && !is_rule_class(class))
    {
        report.push(Group::with_title(
            Level::NOTE.secondary_title(a.describe(class)),
        ));
    }
    if let Some(a) = &account {
        let mut text = a.describe(class);
        if cx.trace_from_log && !matches!(a.cause, crate::Cause::Rule { .. }) {
            text = text.replacen("the path bpfcheck walked", "the path the log shows", 1);
            text = text.replacen("on the failing path:", "on the path the log shows:", 1);
        }
        report.push(Group::with_title(Level::NOTE.secondary_title(text)));
    } else if !explained.is_empty() {
        let mut lines = String::new();
        for step in &explained {
            let _ = write!(lines, "\n  insn {:<4} {}", step.insn, step.text);
            if let Some(s) = &step.source {
                let _ = write!(lines, "    ({}:{})", s.file, s.line);
            }
            for c in &step.reg_changes {
                let _ = write!(lines, "\n             {} = {}", c.reg, c.value);
            }
        }
        report.push(Group::with_title(Level::NOTE.secondary_title(format!(
            "where the values came from, on the failing path:{lines}"
        ))));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = renderer.render(&report);
    out.push('\n');
    if let Some(log) = &r.log {
        out.push_str("  log:\n");
        for line in log.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}
