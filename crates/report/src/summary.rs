//! The corpus runner's summary: how far bpfcheck agrees with the kernel,
//! broken down by program type and by the kernel's error message, with the
//! disagreements and the verification times of both sides.

use std::{collections::BTreeMap, fmt::Write};

use serde::{Deserialize, Serialize};

use crate::record::Record;

/// Counts for one slice of the corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Programs compared.
    pub programs: u64,
    /// The kernel accepted.
    pub kernel_accepted: u64,
    /// The kernel rejected.
    pub kernel_rejected: u64,
    /// bpfcheck could not judge.
    pub unsupported: u64,
    /// Same verdict.
    pub verdict: u64,
    /// Same first error line, among the kernel's rejections.
    pub error: u64,
    /// Same processed-instruction count.
    pub insns_processed: u64,
    /// Same total and peak state counts.
    pub states: u64,
    /// Same log after normalisation.
    pub log: u64,
}

impl Tally {
    fn add(&mut self, r: &Record) {
        let Some(k) = r.live() else { return };
        let Some(a) = r.agree else { return };
        self.programs += 1;
        if k.verdict == "accepted" {
            self.kernel_accepted += 1;
        } else {
            self.kernel_rejected += 1;
            self.error += u64::from(a.error && r.verdict == "rejected");
        }
        self.unsupported += u64::from(r.verdict == "unsupported");
        self.verdict += u64::from(a.verdict);
        self.insns_processed += u64::from(a.insns_processed);
        self.states +=
            u64::from(r.total_states == k.total_states && r.peak_states == k.peak_states);
        self.log += u64::from(a.log);
    }
}

/// One program on which the two sides differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    /// `object:program`.
    pub program: String,
    /// What differs, in one line.
    pub reason: String,
}

/// A slow program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slow {
    /// `object:program`.
    pub program: String,
    /// Microseconds.
    pub us: u64,
}

/// The whole summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Every program.
    pub total: Tally,
    /// By program type.
    pub by_prog_type: BTreeMap<String, Tally>,
    /// By the kernel's error line with numbers as `N` (`(accepted)` for
    /// acceptances).
    pub by_kernel_error: BTreeMap<String, Tally>,
    /// Programs where verdict or error differ (unsupported verdicts excluded).
    pub disagreements: Vec<Disagreement>,
    /// Unsupported features and how many programs needed each.
    pub unsupported_features: BTreeMap<String, u64>,
    /// Sum of bpfcheck's verification times, microseconds.
    pub bpfcheck_us: u64,
    /// Sum of the kernel's `verification time`s, microseconds.
    pub kernel_us: u64,
    /// The five slowest programs for bpfcheck.
    pub slowest_bpfcheck: Vec<Slow>,
    /// The five slowest programs for the kernel.
    pub slowest_kernel: Vec<Slow>,
}

/// A kernel message with its stand-alone numbers replaced by `N`, so that
/// `jump out of range from insn 1 to 7` and `… 3 to 9` count together,
/// while `ld_imm64`, `JMP32` or `R0` keep their digits.
pub fn message_class(msg: &str) -> String {
    msg.split(' ')
        .map(|word| {
            let core = word.trim_end_matches([',', ':', ')', '.']);
            let digits = core.strip_prefix('-').unwrap_or(core);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                format!("N{}", &word[core.len()..])
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(r: &Record) -> String {
    format!("{}:{}", r.object, r.program)
}

fn disagreement(r: &Record) -> Option<String> {
    let k = r.live()?;
    let a = r.agree?;
    if r.verdict == "unsupported" {
        return None;
    }
    if !a.verdict {
        let why = r.error.as_deref().or(k.error.as_deref()).unwrap_or("");
        return Some(format!(
            "verdict: bpfcheck {}, kernel {} ({why})",
            r.verdict, k.verdict
        ));
    }
    if !a.error {
        return Some(format!(
            "error: bpfcheck `{}`, kernel `{}`",
            r.error.as_deref().unwrap_or("-"),
            k.error.as_deref().unwrap_or("-")
        ));
    }
    None
}

fn slowest(mut v: Vec<Slow>) -> Vec<Slow> {
    v.sort_by(|a, b| b.us.cmp(&a.us).then_with(|| a.program.cmp(&b.program)));
    v.truncate(5);
    v
}

impl Summary {
    /// Summarises `diff` records (others are ignored).
    pub fn of(records: &[Record]) -> Self {
        let mut s = Self::default();
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for r in records {
            let Some(k) = r.live() else { continue };
            s.total.add(r);
            s.by_prog_type
                .entry(r.prog_type.clone())
                .or_default()
                .add(r);
            let key = k
                .error
                .as_deref()
                .map_or_else(|| format!("({})", k.verdict), message_class);
            s.by_kernel_error.entry(key).or_default().add(r);
            if let Some(reason) = disagreement(r) {
                s.disagreements.push(Disagreement {
                    program: label(r),
                    reason,
                });
            }
            if let Some(u) = &r.unsupported {
                *s.unsupported_features.entry(u.feature.clone()).or_default() += 1;
            }
            let (a, b) = (r.duration_us.unwrap_or(0), k.duration_us.unwrap_or(0));
            s.bpfcheck_us += a;
            s.kernel_us += b;
            ours.push(Slow {
                program: label(r),
                us: a,
            });
            theirs.push(Slow {
                program: label(r),
                us: b,
            });
        }
        s.slowest_bpfcheck = slowest(ours);
        s.slowest_kernel = slowest(theirs);
        s
    }

    /// The summary as a plain-text table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let pct = |n: u64, d: u64| {
            if d == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}%", 100.0 * n as f64 / d as f64)
            }
        };
        let row = |out: &mut String, name: &str, t: &Tally| {
            let _ = writeln!(
                out,
                "{name:<44} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
                t.programs,
                t.kernel_accepted,
                t.kernel_rejected,
                t.unsupported,
                pct(t.verdict, t.programs),
                pct(t.error, t.kernel_rejected),
                pct(t.insns_processed, t.programs),
                pct(t.states, t.programs),
                pct(t.log, t.programs),
            );
        };
        let header = format!(
            "{:<44} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            "", "progs", "k-acc", "k-rej", "unsup", "verdict", "error", "insns", "states", "log"
        );
        out.push_str(&header);
        row(&mut out, "ALL", &self.total);
        out.push_str("\nby program type\n");
        for (k, t) in &self.by_prog_type {
            row(&mut out, k, t);
        }
        out.push_str("\nby kernel error\n");
        for (k, t) in &self.by_kernel_error {
            let name: String = k.chars().take(44).collect();
            row(&mut out, &name, t);
        }
        if !self.unsupported_features.is_empty() {
            out.push_str("\nunsupported (bpfcheck cannot judge yet)\n");
            for (f, n) in &self.unsupported_features {
                let _ = writeln!(out, "  {n:>6}  {f}");
            }
        }
        let _ = writeln!(out, "\ndisagreements: {}", self.disagreements.len());
        for d in &self.disagreements {
            let _ = writeln!(out, "  {}: {}", d.program, d.reason);
        }
        let ratio = if self.kernel_us == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}", self.bpfcheck_us as f64 / self.kernel_us as f64)
        };
        let _ = writeln!(
            out,
            "\nverification time: bpfcheck {} us, kernel {} us, ratio {ratio}",
            self.bpfcheck_us, self.kernel_us
        );
        for (who, list) in [
            ("bpfcheck", &self.slowest_bpfcheck),
            ("kernel", &self.slowest_kernel),
        ] {
            let _ = writeln!(out, "slowest for {who}:");
            for s in list {
                let _ = writeln!(out, "  {:>8} us  {}", s.us, s.program);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_classed_away() {
        assert_eq!(
            message_class("jump out of range from insn 1 to 17"),
            "jump out of range from insn N to N"
        );
        assert_eq!(message_class("R0 !read_ok"), "R0 !read_ok");
        assert_eq!(
            message_class("invalid bpf_ld_imm64 insn"),
            "invalid bpf_ld_imm64 insn"
        );
        assert_eq!(
            message_class("value_size=8 off=8, x -4"),
            "value_size=8 off=8, x N"
        );
        assert_eq!(message_class("unknown opcode e4"), "unknown opcode e4");
    }
}
