//! The verifier log as the kernel writes it (`kernel/bpf/log.c`): which
//! lines appear at which level, and the statistics trailer.

use bpfcheck_uapi::VerifierStats;

/// `BPF_LOG_LEVEL1`: the failing path.
pub const LOG_LEVEL1: u32 = 1;
/// `BPF_LOG_LEVEL2`: every path.
pub const LOG_LEVEL2: u32 = 2;
/// `BPF_LOG_STATS`: verification time and stack depth.
pub const LOG_STATS: u32 = 4;

/// An in-memory verifier log.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    level: u32,
    text: String,
}

impl Log {
    pub(crate) fn new(level: u32) -> Self {
        Self {
            level,
            text: String::new(),
        }
    }

    /// Whether anything is written at all (`bpf_verifier_log_needed`).
    pub(crate) fn enabled(&self) -> bool {
        self.level != 0
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

    pub(crate) fn into_text(self) -> String {
        self.text
    }
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
        out.push_str(&format!("verification time {time_us} usec\nstack depth "));
        let depths = stats.stack_depth.as_deref().unwrap_or(&[]);
        let joined: Vec<String> = depths.iter().map(u32::to_string).collect();
        out.push_str(&joined.join("+"));
        out.push('\n');
    }
    out.push_str(&stats.trailer());
    out.push('\n');
    out
}
