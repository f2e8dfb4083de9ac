//! The statistics the verifier reports at the end of its log
//! (`print_verification_stats`), as a value and as parsed from a log.

/// The figures of the `processed … insns` trailer, plus the `log_level & 4`
/// lines when present.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifierStats {
    /// Instructions the verifier walked (`insn_processed`).
    pub insns_processed: u64,
    /// The complexity limit printed in the trailer.
    pub insn_limit: u64,
    /// Largest number of states kept at one instruction.
    pub max_states_per_insn: u64,
    /// States ever added to the explored list.
    pub total_states: u64,
    /// Largest number of states alive at once.
    pub peak_states: u64,
    /// Longest read-mark walk (`longest_mark_read_walk`).
    pub mark_read: u64,
    /// `verification time N usec`, when log level bit 4 was set.
    pub verification_time_us: Option<u64>,
    /// `stack depth A+B…`, one entry per subprogram, when log level bit 4 was set.
    pub stack_depth: Option<Vec<u32>>,
    /// 7.x's ` max M` ending the `stack depth` line (`env->max_stack_depth`:
    /// the deepest call chain `check_max_stack_depth` measured, 0 when the
    /// walk failed before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stack_depth: Option<u32>,
    /// 7.x's `insns processed N+M…`: the instructions processed in the main
    /// program's frames and its callees', then the same for each global
    /// function in subprogram order (`subprog_info[i].insns_total`). `Some`
    /// exactly when the kernel prints the 7.x form of the statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insns_by_function: Option<Vec<u64>>,
}

impl VerifierStats {
    /// Finds the stats in a verifier log. The trailer is the last
    /// `processed` line (a rotating log may have lost everything before it);
    /// returns `None` when the log holds none.
    pub fn parse_log(log: &str) -> Option<Self> {
        let mut stats: Option<Self> = None;
        let mut time = None;
        let mut depth = None;
        let mut max = None;
        let mut by_function = None;
        for line in log.lines() {
            if let Some(rest) = line.strip_prefix("verification time ") {
                time = rest
                    .strip_suffix(" usec")
                    .and_then(|n| n.trim().parse().ok());
            } else if let Some(rest) = line.strip_prefix("stack depth ") {
                let (list, m) = match rest.split_once(" max ") {
                    Some((list, m)) => (list, m.trim().parse().ok()),
                    None => (rest, None),
                };
                max = m;
                depth = list
                    .split('+')
                    .map(|n| n.trim().parse().ok())
                    .collect::<Option<Vec<u32>>>();
            } else if let Some(rest) = line.strip_prefix("insns processed ") {
                by_function = rest
                    .split('+')
                    .map(|n| n.trim().parse().ok())
                    .collect::<Option<Vec<u64>>>();
            } else if let Some(s) = Self::parse_trailer(line) {
                stats = Some(s);
            }
        }
        stats.map(|mut s| {
            s.verification_time_us = time;
            s.stack_depth = depth;
            s.max_stack_depth = max;
            s.insns_by_function = by_function;
            s
        })
    }

    /// Parses `processed N insns (limit L) max_states_per_insn M total_states T peak_states P mark_read R`.
    pub fn parse_trailer(line: &str) -> Option<Self> {
        let w: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| {
            w.get(i)
                .and_then(|s| s.trim_end_matches(')').parse::<u64>().ok())
        };
        if w.first() != Some(&"processed")
            || w.get(2) != Some(&"insns")
            || w.get(3) != Some(&"(limit")
        {
            return None;
        }
        let field = |name: &str| w.iter().position(|x| *x == name).and_then(|i| num(i + 1));
        Some(Self {
            insns_processed: num(1)?,
            insn_limit: num(4)?,
            max_states_per_insn: field("max_states_per_insn")?,
            total_states: field("total_states")?,
            peak_states: field("peak_states")?,
            mark_read: field("mark_read").unwrap_or(0),
            verification_time_us: None,
            stack_depth: None,
            max_stack_depth: None,
            insns_by_function: None,
        })
    }

    /// The lines `BPF_LOG_STATS` adds after `verification time`, each with
    /// its newline: `stack depth A+B…`, and in 7.x's form (when
    /// [`VerifierStats::insns_by_function`] is known) ` max M` and `insns
    /// processed N+M…`.
    pub fn level4_lines(&self) -> String {
        let depths: Vec<String> = self
            .stack_depth
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(u32::to_string)
            .collect();
        let mut depths = depths.join("+");
        if depths.is_empty() && self.insns_by_function.is_some() {
            // 7.x prints the main program's depth unconditionally.
            depths.push('0');
        }
        let mut out = format!("stack depth {depths}");
        if let Some(by_function) = &self.insns_by_function {
            let insns: Vec<String> = by_function.iter().map(u64::to_string).collect();
            out.push_str(&format!(
                " max {}\ninsns processed {}",
                self.max_stack_depth.unwrap_or(0),
                insns.join("+")
            ));
        }
        out.push('\n');
        out
    }

    /// The trailer line as the kernel prints it (without the newline).
    pub fn trailer(&self) -> String {
        format!(
            "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {} mark_read {}",
            self.insns_processed,
            self.insn_limit,
            self.max_states_per_insn,
            self.total_states,
            self.peak_states,
            self.mark_read
        )
    }
}

/// Whether a log line is one of those the verifier adds only at log level
/// bit 4 (`BPF_LOG_STATS`): `verification time N usec`, `stack depth …`,
/// and 7.x's `insns processed N` (`N+M…` with global subprograms).
pub fn is_level4_line(line: &str) -> bool {
    line.starts_with("verification time ")
        || line.starts_with("stack depth ")
        || line.strip_prefix("insns processed ").is_some_and(|n| {
            let n = n.trim_end();
            !n.is_empty()
                && n.split('+')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Whether a log line belongs to the statistics the verifier appends after
/// verification, successful or not: the `processed N insns (limit …)`
/// trailer and the [`is_level4_line`] lines.
pub fn is_stats_line(line: &str) -> bool {
    is_level4_line(line) || (line.starts_with("processed ") && line.contains(" insns (limit "))
}

/// A log without its [`is_level4_line`] lines, for callers that asked the
/// kernel for statistics only to measure it. A message the kernel wrote
/// without its newline has the first of those lines run on from it: the
/// message is kept, as unterminated as the kernel left it.
pub fn strip_level4_lines(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    for l in log.lines() {
        if is_level4_line(l) {
            continue;
        }
        match l
            .find("verification time ")
            .filter(|&at| at > 0 && is_level4_line(&l[at..]))
        {
            Some(at) => out.push_str(&l[..at]),
            None => {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

/// The index of the last instruction line (`N: (xx) …`) of a log: the
/// instruction the verifier was at when it stopped.
pub fn last_insn_of_log(log: &str) -> Option<u32> {
    log.lines().rev().find_map(|l| {
        let (num, rest) = l.split_once(": (")?;
        let b = rest.as_bytes();
        if b.len() >= 3 && b[2] == b')' && b[..2].iter().all(u8::is_ascii_hexdigit) {
            num.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_trailer() {
        let log = "0: R1=ctx() R10=fp0\nverification time 17 usec\nstack depth 8+0\nprocessed 11 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        let s = VerifierStats::parse_log(log).unwrap();
        assert_eq!(s.insns_processed, 11);
        assert_eq!(s.insn_limit, 1_000_000);
        assert_eq!(s.total_states, 1);
        assert_eq!(s.verification_time_us, Some(17));
        assert_eq!(s.stack_depth, Some(vec![8, 0]));
        assert_eq!(s.trailer(), log.lines().last().unwrap());
        assert_eq!(s.level4_lines(), "stack depth 8+0\n");
    }

    #[test]
    fn parses_and_prints_the_7x_statistics() {
        let log = "verification time 17 usec\nstack depth 8+0+16 max 24\ninsns processed 11+5\nprocessed 16 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        let s = VerifierStats::parse_log(log).unwrap();
        assert_eq!(s.stack_depth, Some(vec![8, 0, 16]));
        assert_eq!(s.max_stack_depth, Some(24));
        assert_eq!(s.insns_by_function, Some(vec![11, 5]));
        assert_eq!(
            s.level4_lines(),
            "stack depth 8+0+16 max 24\ninsns processed 11+5\n"
        );
    }

    #[test]
    fn stats_lines_of_every_era() {
        assert!(is_level4_line("verification time 12 usec"));
        assert!(is_level4_line("stack depth 8+0"));
        assert!(is_level4_line("insns processed 12"));
        assert!(is_level4_line("insns processed 2+0+17"));
        assert!(!is_level4_line("insns processed 2+"));
        assert!(!is_level4_line("insns processed by x"));
        assert!(is_stats_line(
            "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"
        ));
        assert!(!is_stats_line("R0 !read_ok"));
        assert_eq!(
            strip_level4_lines("x\nverification time 1 usec\nstack depth 0\nprocessed 1 insns\n"),
            "x\nprocessed 1 insns\n"
        );
        let log = "0: (b7) r0 = 0                        ; R0=0\n1: (07) r1 += 1\nBPF_ALU uses reserved fields\n";
        assert_eq!(last_insn_of_log(log), Some(1));
        assert_eq!(last_insn_of_log("unknown opcode 8d\n"), None);
    }

    #[test]
    fn no_trailer_no_stats() {
        assert_eq!(VerifierStats::parse_log("unknown opcode 8d\n"), None);
        assert_eq!(VerifierStats::parse_trailer("processed x insns"), None);
    }
}
