//! The verifier log as the kernel writes it (`kernel/bpf/log.c`): which
//! lines appear at which level, and the statistics trailer.
//!
//! The kernel edits its log in place in two ways, both reproduced here:
//! at level 1 it truncates the log back to where a branch was queued when
//! it starts walking that branch (so only the failing path remains), and it
//! replaces an instruction line's newline by padding and `;` to append the
//! registers the instruction changed.

use bpfcheck_uapi::VerifierStats;

use crate::linfo::SourceLines;

/// `BPF_LOG_LEVEL1`: the failing path.
pub const LOG_LEVEL1: u32 = 1;
/// `BPF_LOG_LEVEL2`: every path.
pub const LOG_LEVEL2: u32 = 2;
/// `BPF_LOG_STATS`: verification time and stack depth.
pub const LOG_STATS: u32 = 4;

/// `BPF_LOG_MIN_ALIGNMENT` and `BPF_LOG_ALIGNMENT`.
const MIN_ALIGNMENT: usize = 8;
const ALIGNMENT: usize = 40;

/// An in-memory verifier log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    level: u32,
    text: String,
    /// The program's line info, for `verbose_linfo`.
    sources: SourceLines,
    /// Set when something the kernel would have written here is not
    /// modelled, so the text must not be offered as the kernel's.
    inexact: bool,
}

impl Log {
    pub(crate) fn new(level: u32) -> Self {
        Self {
            level,
            text: String::new(),
            sources: SourceLines::default(),
            inexact: false,
        }
    }

    /// Gives the log the program's line table.
    pub(crate) fn set_source_lines(&mut self, sources: SourceLines) {
        self.sources = sources;
    }

    /// Whether the program has line info.
    pub(crate) fn has_source_lines(&self) -> bool {
        !self.sources.is_empty()
    }

    /// `verbose_linfo`: `prefix` and the source line of instruction `insn`
    /// when it is new since the last one printed.
    pub(crate) fn source_line(&mut self, insn: usize, prefix: &str) {
        if !self.enabled() {
            return;
        }
        if let Some(line) = self.sources.next_for(insn) {
            self.text.push_str(prefix);
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    /// Forgets the last source line printed (`env->prev_linfo = NULL`).
    pub(crate) fn reset_source_lines(&mut self) {
        self.sources.reset();
    }

    /// Marks the text as not the kernel's (see [`Log::is_exact`]).
    pub(crate) fn mark_inexact(&mut self) {
        self.inexact = true;
    }

    /// Whether the text is exactly what the kernel would have written.
    pub(crate) fn is_exact(&self) -> bool {
        !self.inexact
    }

    /// Whether anything is written at all (`bpf_verifier_log_needed`).
    pub(crate) fn enabled(&self) -> bool {
        self.level != 0
    }

    /// Whether level-1 material (instructions and states) is written.
    pub(crate) fn level1(&self) -> bool {
        self.level & (LOG_LEVEL1 | LOG_LEVEL2) != 0
    }

    /// Whether the statistics lines of `BPF_LOG_STATS` are written.
    pub(crate) fn stats(&self) -> bool {
        self.level & LOG_STATS != 0
    }

    /// Whether level-2 material is written.
    pub(crate) fn level2(&self) -> bool {
        self.level & LOG_LEVEL2 != 0
    }

    /// Appends one line (the newline is added here).
    pub(crate) fn line(&mut self, s: &str) {
        if self.enabled() {
            self.text.push_str(s);
            self.text.push('\n');
        }
    }

    /// Appends text as is.
    pub(crate) fn push(&mut self, s: &str) {
        if self.enabled() {
            self.text.push_str(s);
        }
    }

    /// The current end of the log (`log.end_pos`).
    pub(crate) fn pos(&self) -> usize {
        self.text.len()
    }

    /// Cuts the log back to `pos` (`bpf_vlog_reset`). The log is ASCII, so
    /// any byte position is a character boundary.
    pub(crate) fn truncate(&mut self, pos: usize) {
        if pos <= self.text.len() && self.text.is_char_boundary(pos) {
            self.text.truncate(pos);
        }
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// `vlog_alignment`: the padding width after an instruction text of
/// `printed` bytes (newline included), before the `;`.
pub(crate) fn alignment(printed: usize) -> usize {
    let target = (printed + MIN_ALIGNMENT / 2).max(ALIGNMENT);
    target.div_ceil(MIN_ALIGNMENT) * MIN_ALIGNMENT - printed - 1
}

/// Renders the lines `print_verification_stats` appends. `verification
/// time` is the caller's measurement: the verifier itself is a pure function
/// and reads no clock.
pub fn stats_trailer(level: u32, stats: &VerifierStats, time_us: u64) -> String {
    let mut out = String::new();
    if level == 0 {
        return out;
    }
    if level & LOG_STATS != 0 {
        out.push_str(&format!("verification time {time_us} usec\n"));
        out.push_str(&stats.level4_lines());
    }
    out.push_str(&stats.trailer());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::alignment;

    #[test]
    fn alignment_matches_the_kernel_columns() {
        // "0: (b7) r0 = 0\n" is 15 bytes; the kernel pads to column 38.
        assert_eq!(14 + alignment(15), 38);
        // Long lines move to the next multiple of 8.
        assert_eq!(alignment(40), 7);
    }
}
