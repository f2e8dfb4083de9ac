//! Reading the verifier's log: which line is the error.

use bpfcheck_uapi::is_stats_line;

/// Whether a line is part of the state dump the infinite-loop detector
/// prints after its message (`cur state: …`, `old state: …`).
fn is_loop_state_dump(line: &str) -> bool {
    line.starts_with("cur state:") || line.starts_with("old state:")
}

/// The verifier's error line in a rejected program's log.
///
/// The rule: the last line that is not blank, not part of the statistics
/// trailer (`processed N insns (limit …) …`, and with log level 4
/// `verification time N usec`, `stack depth …` and 7.x's `insns processed
/// N`; see [`bpfcheck_uapi::is_stats_line`]) and not the
/// `cur state:` / `old state:` dump that follows `infinite loop detected at
/// insn N`. Observed on 6.18 at log levels 1, 2, 4 and 6: the verifier stops
/// at the first error and prints nothing else after it. When one check
/// prints two lines (`invalid access to map value,
/// value_size=8 off=8 size=8` then `R0 min value is outside of the allowed
/// memory range`; 6.18's `Unreleased reference id=2 alloc_insn=4` then
/// `BPF_EXIT instruction in main prog would lead to reference leak`) this
/// picks the second; the full log stays available for matching earlier
/// lines.
///
/// A message the kernel writes without its newline (`insn %d cannot call
/// exception cb directly`) has the first statistics line run on from it;
/// that tail is cut off.
///
/// Returns `None` for a log with no such line (no log requested, or the
/// load failed before the verifier ran, e.g. on a bad attribute).
pub fn error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !is_stats_line(l) && !is_loop_state_dump(l))
        .map(|l| without_stats_tail(l).to_owned())
}

/// `l` without a statistics line that runs on from it.
fn without_stats_tail(l: &str) -> &str {
    ["verification time ", "processed "]
        .iter()
        .filter_map(|head| l.find(head))
        .filter(|&at| at > 0 && is_stats_line(&l[at..]))
        .min()
        .map_or(l, |at| &l[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_trailer_and_blank_lines() {
        let log = "0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(error_line(log).as_deref(), Some("R0 !read_ok"));
        let with_stats = "R2 !read_ok\nverification time 5 usec\nstack depth 0\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n\n";
        assert_eq!(error_line(with_stats).as_deref(), Some("R2 !read_ok"));
        assert_eq!(error_line(""), None);
        let looping = "1: (15) if r0 == 0x0 goto pc-2        ; R0=0\n0: (b7) r0 = 0\ninfinite loop detected at insn 1\ncur state: R0=0 R1=ctx() R10=fp0\nold state: R0=P0 R1=ctx() R10=fp0\nprocessed 10 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        assert_eq!(
            error_line(looping).as_deref(),
            Some("infinite loop detected at insn 1")
        );
        assert_eq!(
            error_line(
                "processed 1 insns (limit 1) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
            ),
            None
        );
        let run_on = "insn 3 cannot call exception cb directlyverification time 92 usec\nstack depth 0+0\nprocessed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(
            error_line(run_on).as_deref(),
            Some("insn 3 cannot call exception cb directly")
        );
        let level1 = "insn 3 cannot call exception cb directlyprocessed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(
            error_line(level1).as_deref(),
            Some("insn 3 cannot call exception cb directly")
        );
    }
}
